//! Python builtins (`print`, `len`, `range`, ...) and the methods of `str`,
//! `list`, `tuple` and `dict`. Images, PIL, numpy, matplotlib and math live in
//! [`crate::imaging`].


use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::ops::{key_position, length, norm_index, position};
use crate::values::{compare, equal, render, Meter, Seq, Value};

const BUILTINS: [&str; 27] = [
    "print", "len", "range", "min", "max", "abs", "round", "int", "float", "str", "repr", "bool", "list", "tuple",
    "sum", "enumerate", "zip", "sorted", "reversed", "any", "all", "format", "divmod", "display", "dict", "map", "filter",
];

/// True for the builtin function names.
pub fn is_builtin(n: &str) -> bool {
    BUILTINS.contains(&n)
}

/// Call arguments with Python-style checking.
pub struct Args {
    /// Function name for messages.
    pub f: String,
    /// Positional arguments.
    pub pos: Vec<Value>,
    /// Keyword arguments not yet consumed.
    pub kw: Vec<(String, Value)>,
}

impl Args {
    /// Wraps call arguments.
    pub fn new(f: &str, pos: Vec<Value>, kw: Vec<(String, Value)>) -> Self {
        Self { f: f.to_string(), pos, kw }
    }
    /// Positional `i` or keyword `name`.
    pub fn get(&mut self, i: usize, name: &str) -> Option<Value> {
        if let Some(k) = self.kw.iter().position(|(n, _)| n == name) {
            return Some(self.kw.remove(k).1);
        }
        self.pos.get(i).cloned()
    }
    /// Like `get`, but required.
    pub fn req(&mut self, i: usize, name: &str) -> PyResult<Value> {
        self.get(i, name).ok_or_else(|| PyErr::new("TypeError", format!("{}() missing required argument: '{name}'", self.f)))
    }
    /// Keyword-only argument.
    pub fn kw(&mut self, name: &str) -> Option<Value> {
        self.kw.iter().position(|(n, _)| n == name).map(|k| self.kw.remove(k).1)
    }
    /// Rejects leftover keywords and too many positionals.
    pub fn done(&self, max_pos: usize) -> PyResult<()> {
        if let Some((k, _)) = self.kw.first() {
            return err("TypeError", format!("{}() got an unexpected keyword argument '{k}'", self.f));
        }
        if self.pos.len() > max_pos {
            return err("TypeError", format!("{}() takes at most {max_pos} positional arguments ({} given)", self.f, self.pos.len()));
        }
        Ok(())
    }
}

/// A number argument.
pub fn num(v: &Value, what: &str) -> PyResult<f64> {
    v.as_f64().ok_or_else(|| PyErr::new("TypeError", format!("{what} must be a number, not '{}'", v.type_name())))
}

/// An integer argument.
pub fn int(v: &Value, what: &str) -> PyResult<i64> {
    v.as_int().ok_or_else(|| PyErr::new("TypeError", format!("{what} must be an integer, not '{}'", v.type_name())))
}

/// Fails for values that cannot be dict keys (charged per element: a key
/// may be a tuple of shared tuples).
pub fn hashable(k: &Value, m: &mut Meter) -> PyResult<()> {
    m.elems(1)?;
    match k {
        Value::List(_) | Value::Dict(_) => err("TypeError", format!("unhashable type: '{}'", k.type_name())),
        Value::Tuple(s) => s.items.iter().try_for_each(|x| hashable(x, m)),
        _ => Ok(()),
    }
}

fn dict_get<'v>(d: &'v Seq, k: &Value, m: &mut Meter) -> PyResult<Option<&'v Value>> {
    Ok(key_position(&d.items, k, m)?.and_then(|i| d.items[i].as_seq()).and_then(|p| p.get(1)))
}

/// `o[k]` with a single key.
pub fn get_item(o: &Value, k: &Value, m: &mut Meter) -> PyResult<Value> {
    match o {
        Value::List(s) | Value::Tuple(s) => {
            let i = k.as_int().ok_or_else(|| PyErr::new("TypeError", format!("{} indices must be integers or slices, not {}", o.type_name(), k.type_name())))?;
            Ok(s.items.get(norm_index(i, s.items.len(), o.type_name())?).cloned().unwrap_or(Value::None))
        }
        Value::Str(s) => {
            let i = k.as_int().ok_or_else(|| PyErr::new("TypeError", "string indices must be integers"))?;
            // Character positions: one pass over the string to count, one to find.
            m.bytes(2 * s.len())?;
            let n = s.chars().count();
            Ok(Value::str(s.chars().nth(norm_index(i, n, "string")?).map(String::from).unwrap_or_default()))
        }
        Value::Dict(d) => match dict_get(d, k, m)? {
            Some(v) => Ok(v.clone()),
            None => Err(PyErr::new("KeyError", render(k, true, 200, m).unwrap_or_default())),
        },
        Value::Range(a, _, st) => {
            let i = k.as_int().ok_or_else(|| PyErr::new("TypeError", "range indices must be integers"))?;
            let n = length(o, m)? as usize;
            let j = norm_index(i, n, "range object")? as i64;
            Ok(Value::Int(a.saturating_add(j.saturating_mul(*st))))
        }
        Value::Array(_) => err("NotImplementedError", "numpy indexing is not supported in this sandbox; crop the image instead"),
        _ => err("TypeError", format!("'{}' object is not subscriptable", o.type_name())),
    }
}

const STR_METHODS: [&str; 22] = [
    "upper", "lower", "strip", "lstrip", "rstrip", "split", "join", "replace", "startswith", "endswith", "format",
    "find", "count", "title", "capitalize", "isdigit", "zfill", "center", "ljust", "rjust", "splitlines", "index",
];
pub use crate::containers::{mutate_in_place, sort_by_keys, sort_keys, sort_values};

const LIST_METHODS: [&str; 10] = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "index", "count"];
const DICT_METHODS: [&str; 6] = ["keys", "values", "items", "get", "update", "copy"];

/// `o.name` for non-image values (images and modules are delegated).
pub fn get_attr(it: &mut Interp, o: &Value, name: &str) -> PyResult<Value> {
    let method = |ok: bool| -> PyResult<Value> {
        if ok {
            Ok(Value::Method(Box::new(o.clone()), name.into()))
        } else {
            err("AttributeError", format!("'{}' object has no attribute '{name}'", o.type_name()))
        }
    };
    match o {
        Value::Str(_) => method(STR_METHODS.contains(&name)),
        Value::List(_) => method(LIST_METHODS.contains(&name) || name == "copy"),
        Value::Tuple(_) => method(name == "index" || name == "count"),
        Value::Dict(_) => method(DICT_METHODS.contains(&name)),
        Value::Float(_) => method(name == "is_integer"),
        Value::Exception(_, m) if name == "args" => {
            Value::tuple(if m.is_empty() { vec![] } else { vec![Value::Str(m.clone())] })
        }
        Value::Image(_) | Value::Array(_) | Value::Module(_) | Value::Enhancer(..) | Value::Draw(_) => crate::imaging::get_attr(it, o, name),
        // `plt.cm.gray`, `np.mean.x`: a module function has no attributes here.
        Value::Func(q) if q.contains('.') => crate::modules::not_embedded(&crate::modules::qualified(q), name),
        _ => method(false),
    }
}

fn min_max(it: &mut Interp, f: &str, mut a: Args) -> PyResult<Value> {
    let default = a.kw("default");
    let key = a.kw("key").filter(|k| !matches!(k, Value::None));
    a.done(usize::MAX)?;
    let items = if a.pos.len() == 1 { it.collect(&a.pos[0])? } else { std::mem::take(&mut a.pos) };
    let keys = match &key {
        Some(k) => sort_keys(it, k, &items)?,
        None => items.clone(),
    };
    // The first of equal extremes wins, as in CPython.
    let mut best: Option<(Value, Value)> = None;
    for (k, x) in keys.into_iter().zip(items) {
        best = Some(match best {
            None => (k, x),
            Some(b) => {
                let o = compare(&k, &b.0, &mut it.meter)?;
                if (f == "max" && o == std::cmp::Ordering::Greater) || (f == "min" && o == std::cmp::Ordering::Less) { (k, x) } else { b }
            }
        });
    }
    best.map(|b| b.1).or(default).ok_or_else(|| PyErr::new("ValueError", format!("{f}() arg is an empty sequence")))
}

/// Calls a builtin or module function by qualified name.
pub fn call_func(it: &mut Interp, f: &str, pos: Vec<Value>, kw: Vec<(String, Value)>) -> PyResult<Value> {
    if f.contains('.') {
        return crate::imaging::call_module_func(it, f, pos, kw);
    }
    let cap = it.limits.max_str_bytes;
    let mut a = Args::new(f, pos, kw);
    let one = |a: &mut Args| -> PyResult<Value> {
        a.done(1)?;
        a.pos.first().cloned().ok_or_else(|| PyErr::new("TypeError", format!("{}() takes exactly one argument (0 given)", a.f)))
    };
    Ok(match f {
        "display" => {
            for v in std::mem::take(&mut a.pos) {
                crate::imaging::display(it, &v)?;
            }
            Value::None
        }
        "print" => {
            let sep = a.kw("sep").map(|v| render(&v, false, cap, &mut it.meter)).transpose()?.unwrap_or_else(|| " ".into());
            let end = a.kw("end").map(|v| render(&v, false, cap, &mut it.meter)).transpose()?.unwrap_or_else(|| "\n".into());
            a.kw("flush");
            a.done(usize::MAX)?;
            let mut s = String::new();
            for (i, v) in a.pos.iter().enumerate() {
                if i > 0 {
                    s.push_str(&sep);
                }
                s.push_str(&render(v, false, cap, &mut it.meter)?);
                if s.len() > cap {
                    return err("MemoryError", format!("printed text longer than {cap} bytes"));
                }
            }
            s.push_str(&end);
            it.write(&s);
            Value::None
        }
        "len" => Value::Int(length(&one(&mut a)?, &mut it.meter)?),
        "range" => {
            a.done(3)?;
            let ints: Vec<i64> = a.pos.iter().map(|v| int(v, "range() argument")).collect::<PyResult<_>>()?;
            let (start, stop, step) = match ints.as_slice() {
                [b] => (0, *b, 1),
                [x, b] => (*x, *b, 1),
                [x, b, s] => (*x, *b, *s),
                _ => return err("TypeError", "range expected 1 to 3 integer arguments"),
            };
            if step == 0 {
                return err("ValueError", "range() arg 3 must not be zero");
            }
            Value::Range(start, stop, step)
        }
        "min" | "max" => return min_max(it, f, a),
        "abs" => match one(&mut a)? {
            Value::Float(x) => Value::Float(x.abs()),
            v => Value::Int(int(&v, "abs() argument")?.checked_abs().ok_or_else(|| PyErr::new("OverflowError", "integer overflow in abs()"))?),
        },
        "round" => {
            let x = a.req(0, "number")?;
            let nd = a.get(1, "ndigits");
            a.done(2)?;
            round(&x, nd.as_ref())?
        }
        "int" => {
            let v = one(&mut a)?;
            if let Value::Str(s) = &v {
                it.meter.new_str(s.len())?;
            }
            to_int(&v)?
        }
        "float" => match one(&mut a)? {
            Value::Str(s) => {
                it.meter.bytes(s.len())?;
                Value::Float(s.trim().parse::<f64>().map_err(|_| PyErr::new("ValueError", format!("could not convert string to float: {}", crate::values::str_repr(&s))))?)
            }
            v => Value::Float(num(&v, "float() argument")?),
        },
        "str" => match a.pos.is_empty() { true => Value::str(""), false => Value::str(render(&one(&mut a)?, false, cap, &mut it.meter)?) },
        "repr" => Value::str(render(&one(&mut a)?, true, cap, &mut it.meter)?),
        "bool" => {
            a.done(1)?;
            Value::Bool(match a.pos.first() {
                Some(v) => crate::ndarray::truth(v)?,
                None => false,
            })
        }
        "list" | "tuple" => {
            let items = match a.pos.is_empty() { true => vec![], false => { let v = one(&mut a)?; it.collect(&v)? } };
            if f == "list" { Value::list(items)? } else { Value::tuple(items)? }
        }
        "dict" => {
            a.done(0)?;
            let pairs = std::mem::take(&mut a.kw).into_iter().map(|(k, v)| Value::tuple(vec![Value::str(k), v])).collect::<PyResult<_>>()?;
            Value::Dict(Seq::new(pairs)?)
        }
        "sum" => {
            let src = a.req(0, "iterable")?;
            let mut acc = a.get(1, "start").unwrap_or(Value::Int(0));
            a.done(2)?;
            for x in it.collect(&src)? {
                it.tick()?;
                acc = crate::ops::binop(crate::ast::BinOp::Add, &acc, &x, it.limits.max_seq_len, cap, &mut it.meter)?;
            }
            acc
        }
        "enumerate" => {
            let src = a.req(0, "iterable")?;
            let start = a.get(1, "start").map(|v| int(&v, "start")).transpose()?.unwrap_or(0);
            a.done(2)?;
            let items = it.collect(&src)?;
            // One new pair per item.
            it.meter.new_seq(3 * items.len())?;
            let items = items.into_iter().enumerate().map(|(i, x)| Value::tuple(vec![Value::Int(start.saturating_add(i as i64)), x])).collect::<PyResult<_>>()?;
            Value::list(items)?
        }
        "zip" => {
            a.done(usize::MAX)?;
            let cols: Vec<Vec<Value>> = a.pos.iter().map(|v| it.collect(v)).collect::<PyResult<_>>()?;
            let n = cols.iter().map(Vec::len).min().unwrap_or(0);
            it.meter.new_seq(n.saturating_mul(cols.len() + 1))?;
            let rows = (0..n).map(|i| Value::tuple(cols.iter().filter_map(|c| c.get(i).cloned()).collect())).collect::<PyResult<_>>()?;
            Value::list(rows)?
        }
        "sorted" => {
            let src = a.req(0, "iterable")?;
            let reverse = a.kw("reverse").is_some_and(|v| v.truthy());
            let key = a.kw("key").filter(|k| !matches!(k, Value::None));
            a.done(1)?;
            let items = it.collect(&src)?;
            match key {
                Some(k) => {
                    let keys = sort_keys(it, &k, &items)?;
                    Value::list(sort_by_keys(items, keys, reverse, &mut it.meter)?)?
                }
                None => Value::list(sort_values(items, reverse, &mut it.meter)?)?,
            }
        }
        // Eager lists rather than iterators: `list(map(...))`, loops and
        // `sorted(map(...))` behave the same; printing one shows the list.
        "map" => {
            let func = a.req(0, "function")?;
            a.done(usize::MAX)?;
            let cols: Vec<Vec<Value>> = a.pos.iter().skip(1).map(|v| it.collect(v)).collect::<PyResult<_>>()?;
            if cols.is_empty() {
                return err("TypeError", "map() must have at least two arguments.");
            }
            let n = cols.iter().map(Vec::len).min().unwrap_or(0);
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                it.tick()?;
                let args = cols.iter().filter_map(|c| c.get(i).cloned()).collect();
                out.push(it.call(func.clone(), args, vec![])?);
            }
            Value::list(out)?
        }
        "filter" => {
            let (func, src) = (a.req(0, "function")?, a.req(1, "iterable")?);
            a.done(2)?;
            let mut out = Vec::new();
            for x in it.collect(&src)? {
                it.tick()?;
                let keep = match &func {
                    Value::None => x.truthy(),
                    f => it.call(f.clone(), vec![x.clone()], vec![])?.truthy(),
                };
                if keep {
                    out.push(x);
                }
            }
            Value::list(out)?
        }
        "reversed" => {
            let v = one(&mut a)?;
            let mut items = it.collect(&v)?;
            items.reverse();
            Value::list(items)?
        }
        "any" | "all" => {
            let v = one(&mut a)?;
            let items = it.collect(&v)?;
            it.meter.elems(items.len())?;
            Value::Bool(if f == "any" { items.iter().any(Value::truthy) } else { items.iter().all(Value::truthy) })
        }
        "format" => {
            let v = a.req(0, "value")?;
            let spec = a.get(1, "format_spec").map(|s| render(&s, false, cap, &mut it.meter)).transpose()?.unwrap_or_default();
            a.done(2)?;
            Value::str(crate::format::format_value(&v, &spec, cap, &mut it.meter)?)
        }
        "divmod" => {
            let (x, y) = (a.req(0, "a")?, a.req(1, "b")?);
            a.done(2)?;
            let q = crate::ops::binop(crate::ast::BinOp::FloorDiv, &x, &y, 0, 0, &mut it.meter)?;
            let r = crate::ops::binop(crate::ast::BinOp::Mod, &x, &y, 0, 0, &mut it.meter)?;
            Value::tuple(vec![q, r])?
        }
        _ => return err("NameError", format!("name '{f}' is not defined")),
    })
}

fn to_int(v: &Value) -> PyResult<Value> {
    Ok(Value::Int(match v {
        Value::Float(f) if f.is_nan() => return err("ValueError", "cannot convert float NaN to integer"),
        Value::Float(f) if f.is_infinite() => return err("OverflowError", "cannot convert float infinity to integer"),
        Value::Float(f) if f.abs() >= 9.2e18 => return err("OverflowError", "int too large (64-bit integers only)"),
        Value::Float(f) => f.trunc() as i64,
        Value::Str(s) => s.trim().replace('_', "").parse::<i64>().map_err(|_| {
            PyErr::new("ValueError", format!("invalid literal for int() with base 10: {}", crate::values::str_repr(s)))
        })?,
        _ => int(v, "int() argument")?,
    }))
}

fn round(x: &Value, nd: Option<&Value>) -> PyResult<Value> {
    let nd = match nd {
        None | Some(Value::None) => None,
        Some(v) => Some(int(v, "ndigits")?),
    };
    match (x, nd) {
        (Value::Float(f), None) => to_int(&Value::Float(f.round_ties_even())),
        (Value::Float(f), Some(n)) if (0..=300).contains(&n) => {
            Ok(Value::Float(format!("{:.*}", n as usize, f).parse().unwrap_or(*f)))
        }
        (Value::Float(f), Some(n)) => {
            let p = 10f64.powi(n.clamp(-400, 400).unsigned_abs() as i32);
            Ok(Value::Float(if n < 0 { (f / p).round_ties_even() * p } else { *f }))
        }
        (_, Some(n)) if n < 0 => {
            let i = int(x, "round() argument")? as i128;
            let p = 10i128.checked_pow(n.unsigned_abs().min(38) as u32).unwrap_or(i128::MAX);
            let q = ((i as f64 / p as f64).round_ties_even() as i128).saturating_mul(p);
            Ok(Value::Int(i64::try_from(q).map_err(|_| PyErr::new("OverflowError", "integer overflow in round()"))?))
        }
        _ => Ok(Value::Int(int(x, "round() argument")?)),
    }
}

/// Calls a method on a receiver.
pub fn call_method(it: &mut Interp, recv: Value, m: &str, pos: Vec<Value>, kw: Vec<(String, Value)>) -> PyResult<Value> {
    match &recv {
        Value::Str(s) => crate::strings::str_method(it, s, m, Args::new(m, pos, kw)),
        Value::List(_) | Value::Tuple(_) | Value::Dict(_) => {
            let mut a = Args::new(m, pos, kw);
            let items: &[Value] = recv.as_seq().unwrap_or(&[]);
            match (m, &recv) {
                ("index" | "count", _) => {
                    let x = a.req(0, "value")?;
                    a.done(1)?;
                    if m == "count" {
                        let mut n = 0;
                        for y in items {
                            n += equal(&x, y, &mut it.meter)? as i64;
                        }
                        return Ok(Value::Int(n));
                    }
                    position(items, &x, &mut it.meter)?.map(|p| Value::Int(p as i64)).ok_or_else(|| PyErr::new("ValueError", "value is not in list"))
                }
                ("copy", _) => Ok(recv.clone()),
                (_, Value::Dict(d)) => {
                    let pairs = |it: &mut Interp| -> PyResult<Vec<(Value, Value)>> {
                        it.meter.new_seq(3 * d.items.len())?;
                        Ok(d.items.iter().filter_map(|kv| kv.as_seq()).filter_map(|p| Some((p.first()?.clone(), p.get(1)?.clone()))).collect())
                    };
                    match m {
                        "keys" => Value::list(pairs(it)?.into_iter().map(|p| p.0).collect()),
                        "values" => Value::list(pairs(it)?.into_iter().map(|p| p.1).collect()),
                        "items" => Value::list(pairs(it)?.into_iter().map(|(k, v)| Value::tuple(vec![k, v])).collect::<PyResult<_>>()?),
                        "get" => {
                            let k = a.req(0, "key")?;
                            let d2 = a.get(1, "default").unwrap_or(Value::None);
                            a.done(2)?;
                            Ok(dict_get(d, &k, &mut it.meter)?.cloned().unwrap_or(d2))
                        }
                        _ => err("NotImplementedError", format!("dict.{m}() only works on a variable in this sandbox")),
                    }
                }
                _ => err("NotImplementedError", format!("list.{m}() only works on a variable in this sandbox (e.g. boxes.{m}(...))")),
            }
        }
        Value::Float(f) if m == "is_integer" => Ok(Value::Bool(f.fract() == 0.0)),
        _ => crate::imaging::call_method(it, recv, m, pos, kw),
    }
}

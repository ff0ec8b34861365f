//! Arithmetic, comparison and subscript semantics (Python rules on 64-bit ints).

use std::sync::Arc;

use crate::ast::{BinOp, CmpOp};
use crate::error::{err, PyErr, PyResult};
use crate::values::{compare_op, equal, range_len, Meter, Seq, Value};

fn overflow<T>() -> PyResult<T> {
    err("OverflowError", "integer result too large (64-bit integers only)")
}

fn unsupported<T>(op: &str, a: &Value, b: &Value) -> PyResult<T> {
    err("TypeError", format!("unsupported operand type(s) for {op}: '{}' and '{}'", a.type_name(), b.type_name()))
}

fn sym(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+", BinOp::Sub => "-", BinOp::Mul => "*", BinOp::Div => "/", BinOp::FloorDiv => "//",
        BinOp::Mod => "%", BinOp::Pow => "** or pow()", BinOp::BitAnd => "&", BinOp::BitOr => "|",
        BinOp::BitXor => "^", BinOp::Shl => "<<", BinOp::Shr => ">>",
    }
}

fn float_ok(f: f64) -> PyResult<Value> {
    if f.is_infinite() {
        return err("OverflowError", "(34, 'Numerical result out of range')");
    }
    Ok(Value::Float(f))
}

/// Repeats a sequence/string `n` times within the caps (paid for before it is built).
fn repeat(v: &Value, n: i64, max_len: usize, max_str: usize, m: &mut Meter) -> PyResult<Value> {
    let n = n.max(0) as u64;
    match v {
        Value::Str(s) => {
            if (s.len() as u64).saturating_mul(n) > max_str as u64 {
                return err("MemoryError", format!("string would be longer than {max_str} bytes"));
            }
            m.new_str(s.len() * n as usize)?;
            Ok(Value::str(s.repeat(n as usize)))
        }
        Value::List(s) | Value::Tuple(s) => {
            if (s.items.len() as u64).saturating_mul(n) > max_len as u64 {
                return err("MemoryError", format!("sequence would have more than {max_len} elements"));
            }
            m.new_seq(s.items.len() * n as usize)?;
            let mut items = Vec::with_capacity(s.items.len() * n as usize);
            for _ in 0..n {
                items.extend(s.items.iter().cloned());
            }
            let seq = Seq::new(items)?;
            Ok(if matches!(v, Value::List(_)) { Value::List(seq) } else { Value::Tuple(seq) })
        }
        _ => err("TypeError", format!("can't multiply sequence by non-int of type '{}'", v.type_name())),
    }
}

/// Evaluates `a <op> b`; new strings and sequences are paid for on `m`
/// before they are built.
pub fn binop(op: BinOp, a: &Value, b: &Value, max_len: usize, max_str: usize, m: &mut Meter) -> PyResult<Value> {
    use Value::*;
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return int_op(op, x, y);
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return float_op(op, x, y);
    }
    match (op, a, b) {
        (BinOp::Add, Str(x), Str(y)) => {
            if x.len() + y.len() > max_str {
                return err("MemoryError", format!("string would be longer than {max_str} bytes"));
            }
            m.new_str(x.len() + y.len())?;
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(x);
            s.push_str(y);
            Ok(Value::str(s))
        }
        (BinOp::Add, List(x), List(y)) | (BinOp::Add, Tuple(x), Tuple(y)) => {
            if x.items.len() + y.items.len() > max_len {
                return err("MemoryError", format!("sequence would have more than {max_len} elements"));
            }
            m.new_seq(x.items.len() + y.items.len())?;
            let seq = Seq::new(x.items.iter().chain(&y.items).cloned().collect())?;
            Ok(if matches!(a, List(_)) { List(seq) } else { Tuple(seq) })
        }
        (BinOp::Mul, Str(_) | List(_) | Tuple(_), n) if n.as_int().is_some() => repeat(a, n.as_int().unwrap_or(0), max_len, max_str, m),
        (BinOp::Mul, n, Str(_) | List(_) | Tuple(_)) if n.as_int().is_some() => repeat(b, n.as_int().unwrap_or(0), max_len, max_str, m),
        (BinOp::Mod, Str(_), _) => err("TypeError", "'%' string formatting is not supported in this sandbox; use f-strings"),
        (BinOp::Add, Str(_), _) | (BinOp::Add, _, Str(_)) => err(
            "TypeError",
            format!("can only concatenate str (not \"{}\") to str", if matches!(a, Str(_)) { b.type_name() } else { a.type_name() }),
        ),
        (_, Array(_), _) | (_, _, Array(_)) => {
            err("NotImplementedError", "numpy arrays can only be combined with operators in an expression here (not inside sum() etc.)")
        }
        _ => unsupported(sym(op), a, b),
    }
}

fn int_op(op: BinOp, x: i64, y: i64) -> PyResult<Value> {
    let r = match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::Div => {
            if y == 0 {
                return err("ZeroDivisionError", "division by zero");
            }
            return Ok(Value::Float(x as f64 / y as f64));
        }
        BinOp::FloorDiv | BinOp::Mod => {
            if y == 0 {
                return err("ZeroDivisionError", "integer division or modulo by zero");
            }
            let q = x.checked_div(y);
            let r = x.checked_rem(y);
            let (Some(mut q), Some(mut r)) = (q, r) else { return overflow() };
            if r != 0 && ((r < 0) != (y < 0)) {
                q -= 1;
                r += y;
            }
            Some(if op == BinOp::FloorDiv { q } else { r })
        }
        BinOp::Pow => {
            if y < 0 {
                if x == 0 {
                    return err("ZeroDivisionError", "0.0 cannot be raised to a negative power");
                }
                return float_ok((x as f64).powf(y as f64));
            }
            match x {
                0 | 1 => Some(if y == 0 { 1 } else { x }),
                -1 => Some(if y % 2 == 0 { 1 } else { -1 }),
                _ => u32::try_from(y).ok().and_then(|e| x.checked_pow(e)),
            }
        }
        BinOp::BitAnd => Some(x & y),
        BinOp::BitOr => Some(x | y),
        BinOp::BitXor => Some(x ^ y),
        BinOp::Shl | BinOp::Shr => {
            if y < 0 {
                return err("ValueError", "negative shift count");
            }
            if op == BinOp::Shr {
                Some(if y >= 64 { if x < 0 { -1 } else { 0 } } else { x >> y })
            } else if x == 0 {
                Some(0)
            } else if y >= 63 {
                None
            } else {
                let v = x << y;
                (v >> y == x).then_some(v)
            }
        }
    };
    r.map(Value::Int).map_or_else(overflow, Ok)
}

fn float_op(op: BinOp, x: f64, y: f64) -> PyResult<Value> {
    match op {
        BinOp::Add => float_ok(x + y),
        BinOp::Sub => float_ok(x - y),
        BinOp::Mul => float_ok(x * y),
        BinOp::Div if y == 0.0 => err("ZeroDivisionError", "float division by zero"),
        BinOp::Div => float_ok(x / y),
        BinOp::FloorDiv if y == 0.0 => err("ZeroDivisionError", "float floor division by zero"),
        BinOp::FloorDiv => float_ok((x / y).floor()),
        BinOp::Mod if y == 0.0 => err("ZeroDivisionError", "float modulo"),
        BinOp::Mod => {
            let mut r = x % y;
            if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
                r += y;
            }
            Ok(Value::Float(r))
        }
        BinOp::Pow => {
            if x == 0.0 && y < 0.0 {
                return err("ZeroDivisionError", "0.0 cannot be raised to a negative power");
            }
            if x < 0.0 && y.fract() != 0.0 && y.is_finite() {
                return err("ValueError", "complex results are not supported in this sandbox");
            }
            let r = x.powf(y);
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return err("OverflowError", "(34, 'Numerical result out of range')");
            }
            Ok(Value::Float(r))
        }
        _ => err("TypeError", format!("unsupported operand type(s) for {}: 'float' and 'float'", sym(op))),
    }
}

/// Evaluates one comparison (charged per element and byte compared).
pub fn cmpop(op: CmpOp, a: &Value, b: &Value, m: &mut Meter) -> PyResult<bool> {
    use std::cmp::Ordering::*;
    Ok(match op {
        CmpOp::Eq => equal(a, b, m)?,
        CmpOp::Ne => !equal(a, b, m)?,
        CmpOp::Lt => compare_op(a, b, "<", m)? == Less,
        CmpOp::Le => compare_op(a, b, "<=", m)? != Greater,
        CmpOp::Gt => compare_op(a, b, ">", m)? == Greater,
        CmpOp::Ge => compare_op(a, b, ">=", m)? != Less,
        CmpOp::In => contains(b, a, m)?,
        CmpOp::NotIn => !contains(b, a, m)?,
        CmpOp::Is => identical(a, b, m)?,
        CmpOp::IsNot => !identical(a, b, m)?,
    })
}

fn identical(a: &Value, b: &Value, m: &mut Meter) -> PyResult<bool> {
    Ok(match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::None | Value::Bool(_), _) | (_, Value::None | Value::Bool(_)) => false,
        (Value::Image(x), Value::Image(y)) => Arc::ptr_eq(x, y),
        _ => equal(a, b, m)?,
    })
}

/// The key of a dict's `(key, value)` pair.
pub fn pair_key(kv: &Value) -> Option<&Value> {
    kv.as_seq().and_then(|p| p.first())
}

/// Position of the first item equal to `x` (charged per comparison).
pub fn position(items: &[Value], x: &Value, m: &mut Meter) -> PyResult<Option<usize>> {
    for (i, v) in items.iter().enumerate() {
        if equal(v, x, m)? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Position of the dict pair whose key equals `k` (charged per comparison).
pub fn key_position(pairs: &[Value], k: &Value, m: &mut Meter) -> PyResult<Option<usize>> {
    for (i, kv) in pairs.iter().enumerate() {
        if let Some(key) = pair_key(kv) {
            if equal(key, k, m)? {
                return Ok(Some(i));
            }
        }
    }
    Ok(None)
}

fn contains(container: &Value, x: &Value, m: &mut Meter) -> PyResult<bool> {
    match container {
        Value::Str(s) => match x {
            Value::Str(n) => {
                // The search reads the haystack about once (two-way matching),
                // and one string is at most `max_str_bytes`.
                m.bytes(s.len())?;
                Ok(s.contains(&**n))
            }
            _ => err("TypeError", format!("'in <string>' requires string as left operand, not {}", x.type_name())),
        },
        Value::List(s) | Value::Tuple(s) => Ok(position(&s.items, x, m)?.is_some()),
        Value::Dict(s) => Ok(key_position(&s.items, x, m)?.is_some()),
        Value::Range(a, b, st) => Ok(x.as_int().is_some_and(|v| {
            let (a, b, st, v) = (*a as i128, *b as i128, *st as i128, v as i128);
            (if st > 0 { a <= v && v < b } else { b < v && v <= a }) && (v - a) % st == 0
        })),
        _ => err("TypeError", format!("argument of type '{}' is not iterable", container.type_name())),
    }
}

/// Normalises a Python index against a length.
pub fn norm_index(i: i64, len: usize, what: &str) -> PyResult<usize> {
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if j < 0 || j >= n {
        return Err(PyErr::new("IndexError", format!("{what} index out of range")));
    }
    Ok(j as usize)
}

/// Indices selected by `[start:stop:step]` on a sequence of `len` elements.
pub fn slice_indices(len: usize, start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> PyResult<Vec<usize>> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return err("ValueError", "slice step cannot be zero");
    }
    let n = len as i64;
    let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let adj = |v: Option<i64>, default: i64| match v {
        None => default,
        Some(v) if v < 0 => (v.saturating_add(n)).max(lower),
        Some(v) => v.min(upper),
    };
    let start = adj(start, if step > 0 { lower } else { upper });
    let stop = adj(stop, if step > 0 { upper } else { lower });
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i = i.saturating_add(step);
    }
    Ok(out)
}

/// `len(v)` (counting a string's characters is charged per byte).
pub fn length(v: &Value, m: &mut Meter) -> PyResult<i64> {
    Ok(match v {
        Value::Str(s) => {
            m.bytes(s.len())?;
            s.chars().count() as i64
        }
        Value::List(s) | Value::Tuple(s) | Value::Dict(s) => s.items.len() as i64,
        Value::Range(a, b, s) => range_len(*a, *b, *s).min(i64::MAX as u64) as i64,
        Value::Array(a) => a.shape.first().copied().unwrap_or(0) as i64,
        _ => return err("TypeError", format!("object of type '{}' has no len()", v.type_name())),
    })
}

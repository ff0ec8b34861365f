//! In-place list and dict methods (`boxes.append(b)`) and sorting.

use std::sync::Arc;

use crate::builtins::int;
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::ops::{key_position, norm_index, pair_key, position};
use crate::values::{compare, Meter, Seq, Value};

/// List/dict methods that mutate a variable in place (`boxes.append(b)`).
/// Returns `None` when `var.m` is not such a call.
pub fn mutate_in_place(it: &mut Interp, var: &str, m: &str, a: &[Value], kw: &[(String, Value)]) -> PyResult<Option<Value>> {
    let is_list = matches!(m, "append" | "extend" | "insert" | "pop" | "remove" | "clear" | "sort" | "reverse");
    let is_dict = m == "update";
    if !is_list && !is_dict {
        return Ok(None);
    }
    let fits = |cur: &Value| (is_list && matches!(cur, Value::List(_))) || (is_dict && matches!(cur, Value::Dict(_)));
    // Only a name that holds a list/dict is looked up as a mutable variable, so
    // `s.upper()` on a captured string never trips the captured-variable check.
    if !it.lookup(var).is_ok_and(|v| fits(&v)) {
        return Ok(None);
    }
    if !kw.is_empty() && m != "sort" {
        return err("TypeError", format!("{m}() takes no keyword arguments"));
    }
    let mut kw = kw.to_vec();
    let keys = match kw.iter().position(|(k, _)| k == "key") {
        Some(p) => match kw.remove(p).1 {
            Value::None => None,
            f => {
                let cur = it.lookup(var)?;
                let items = cur.as_seq().unwrap_or(&[]);
                Some(sort_keys(it, &f, items)?)
            }
        },
        None => None,
    };
    let max = it.limits.max_seq_len;
    let Some(cur) = it.var_mut(var)? else { return Ok(None) };
    if !fits(cur) {
        return Ok(None);
    }
    let mut v = std::mem::replace(cur, Value::None);
    let r = mutate(it, &mut v, m, a, &kw, max, keys);
    if let Some(slot) = it.var_mut(var)? {
        *slot = v;
    }
    r.map(Some)
}

/// The `i`th argument of list method `m`.
fn arg_ref<'v>(a: &'v [Value], i: usize, m: &str) -> PyResult<&'v Value> {
    a.get(i).ok_or_else(|| PyErr::new("TypeError", format!("{m}() missing a required argument")))
}

/// `key(x)` for every item, each call charged to the budgets.
pub fn sort_keys(it: &mut Interp, key: &Value, items: &[Value]) -> PyResult<Vec<Value>> {
    let mut keys = Vec::with_capacity(items.len());
    for x in items {
        it.tick()?;
        keys.push(it.call(key.clone(), vec![x.clone()], vec![])?);
    }
    Ok(keys)
}

/// `compare` for a sort: the first error is kept in `failure` and every
/// later comparison answers `Equal` without work, so a sort stopped by a
/// limit ends at once.
fn sort_cmp(a: &Value, b: &Value, failure: &mut Option<PyErr>, m: &mut Meter) -> std::cmp::Ordering {
    if failure.is_some() {
        return std::cmp::Ordering::Equal;
    }
    compare(a, b, m).unwrap_or_else(|e| {
        *failure = Some(e);
        std::cmp::Ordering::Equal
    })
}

/// Sorts `items` by precomputed `keys` (stable, Python ordering of the keys;
/// `reverse` flips comparisons so equal keys keep their order, as in CPython).
/// Every comparison is charged on `m`.
pub fn sort_by_keys(items: Vec<Value>, keys: Vec<Value>, reverse: bool, m: &mut Meter) -> PyResult<Vec<Value>> {
    if let Some(first) = keys.first() {
        for k in &keys {
            compare(first, k, m)?;
        }
    }
    let mut pairs: Vec<(Value, Value)> = keys.into_iter().zip(items).collect();
    let mut failure = None;
    pairs.sort_by(|a, b| {
        let o = sort_cmp(&a.0, &b.0, &mut failure, m);
        if reverse { o.reverse() } else { o }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(pairs.into_iter().map(|p| p.1).collect())
}

fn mutate(it: &mut Interp, v: &mut Value, m: &str, a: &[Value], kw: &[(String, Value)], max: usize, keys: Option<Vec<Value>>) -> PyResult<Value> {
    let (Value::List(s) | Value::Dict(s)) = v else { return Ok(Value::None) };
    // Checks that read the body come before the copy-on-write below.
    let found = match m {
        "remove" => position(&s.items, arg_ref(a, 0, m)?, &mut it.meter)?,
        _ => None,
    };
    it.cow(s)?;
    let seq = Arc::make_mut(s);
    let arg = |i: usize| a.get(i).ok_or_else(|| PyErr::new("TypeError", format!("{m}() missing a required argument")));
    let grow = |seq: &mut Seq, x: &Value| -> PyResult<()> {
        if seq.items.len() >= max {
            return err("MemoryError", format!("more than {max} elements (sandbox limit)"));
        }
        seq.depth = seq.depth.max(x.depth() + 1);
        if seq.depth > crate::values::MAX_VALUE_DEPTH {
            return err("RecursionError", "containers nested too deeply");
        }
        Ok(())
    };
    match m {
        "append" => {
            let x = arg(0)?.clone();
            grow(seq, &x)?;
            seq.items.push(x);
        }
        "extend" | "update" => {
            let src = arg(0)?;
            let items: Vec<Value> = match (m, src) {
                ("update", Value::Dict(d)) | ("extend", Value::List(d) | Value::Tuple(d)) => {
                    if m == "extend" && seq.items.len().saturating_add(d.items.len()) > max {
                        return err("MemoryError", format!("more than {max} elements (sandbox limit)"));
                    }
                    it.meter.new_seq(d.items.len())?;
                    d.items.clone()
                }
                ("extend", Value::Range(x, y, z)) => {
                    let n = crate::values::range_len(*x, *y, *z);
                    if n as usize > max {
                        return err("MemoryError", format!("more than {max} elements (sandbox limit)"));
                    }
                    it.meter.new_seq(n as usize)?;
                    (0..n as i64).map(|i| Value::Int(x + i * z)).collect()
                }
                _ => return err("TypeError", format!("'{}' object is not iterable here", src.type_name())),
            };
            for x in items {
                grow(seq, &x)?;
                if m == "update" {
                    let k = pair_key(&x).cloned().unwrap_or(Value::None);
                    if let Some(p) = key_position(&seq.items, &k, &mut it.meter)? {
                        seq.items[p] = x;
                        continue;
                    }
                }
                seq.items.push(x);
            }
        }
        "insert" => {
            let i = int(arg(0)?, "index")?;
            let x = arg(1)?.clone();
            grow(seq, &x)?;
            let n = seq.items.len() as i64;
            let at = if i < 0 { (i + n).max(0) } else { i.min(n) } as usize;
            // The elements after `at` move.
            it.meter.elems(seq.items.len() - at)?;
            seq.items.insert(at, x);
        }
        "pop" => {
            if seq.items.is_empty() {
                return err("IndexError", "pop from empty list");
            }
            let i = match a.first() { Some(v) => int(v, "index")?, None => -1 };
            let at = norm_index(i, seq.items.len(), "pop")?;
            it.meter.elems(seq.items.len() - at)?;
            return Ok(seq.items.remove(at));
        }
        "remove" => {
            let Some(p) = found else {
                return err("ValueError", "list.remove(x): x not in list");
            };
            seq.items.remove(p);
        }
        "clear" => seq.items.clear(),
        "reverse" => {
            it.meter.elems(seq.items.len())?;
            seq.items.reverse();
        }
        "sort" => {
            let reverse = kw.iter().any(|(k, v)| k == "reverse" && v.truthy());
            if let Some((k, _)) = kw.iter().find(|(k, _)| k != "reverse") {
                return err("TypeError", format!("sort() keyword '{k}' is not supported in this sandbox"));
            }
            let items = std::mem::take(&mut seq.items);
            // On a failed comparison (a TypeError or a limit) the list keeps
            // its elements, in their old order.
            let sorted = match keys {
                Some(keys) => sort_by_keys(items.clone(), keys, reverse, &mut it.meter),
                None => sort_values(items.clone(), reverse, &mut it.meter),
            };
            match sorted {
                Ok(v) => seq.items = v,
                Err(e) => {
                    seq.items = items;
                    return Err(e);
                }
            }
        }
        _ => {}
    }
    Ok(Value::None)
}

/// Sorts values with Python ordering (errors for mixed types), each
/// comparison charged on `m`.
pub fn sort_values(mut items: Vec<Value>, reverse: bool, m: &mut Meter) -> PyResult<Vec<Value>> {
    if let Some(first) = items.first() {
        for x in &items {
            compare(first, x, m)?;
        }
    }
    let mut failure = None;
    items.sort_by(|a, b| sort_cmp(a, b, &mut failure, m));
    if let Some(e) = failure {
        return Err(e);
    }
    if reverse {
        items.reverse();
    }
    Ok(items)
}


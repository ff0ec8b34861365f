//! Iteration, assignment targets and subscripts.

use std::sync::Arc;

use super::Interp;
use crate::ast::*;
use crate::error::{err, PyErr, PyResult};
use crate::ops::{norm_index, slice_indices};
use crate::values::{Seq, Value};

/// Lazy iteration over an iterable value.
pub enum Iter {
    /// List/tuple elements (dict pairs yield keys).
    Seq(Arc<Seq>, usize, bool),
    /// Range state: next, stop, step.
    Range(i64, i64, i64),
    /// Characters from a byte offset.
    Chars(Arc<str>, usize),
}

impl Iterator for Iter {
    type Item = Value;
    fn next(&mut self) -> Option<Value> {
        match self {
            Iter::Seq(s, i, keys) => {
                let v = s.items.get(*i)?;
                *i += 1;
                if *keys {
                    return v.as_seq().and_then(|p| p.first()).cloned();
                }
                Some(v.clone())
            }
            Iter::Range(cur, stop, step) => {
                if (*step > 0 && *cur >= *stop) || (*step < 0 && *cur <= *stop) {
                    return None;
                }
                let v = *cur;
                *cur = cur.saturating_add(*step);
                if *cur == v {
                    *stop = v; // saturated: stop after this one
                }
                Some(Value::Int(v))
            }
            Iter::Chars(s, pos) => {
                let c = s.get(*pos..)?.chars().next()?;
                *pos += c.len_utf8();
                Some(Value::str(c.to_string()))
            }
        }
    }
}

impl Interp<'_> {
    /// An iterator over an iterable value.
    pub fn iterate(&self, v: &Value) -> PyResult<Iter> {
        Ok(match v {
            Value::List(s) | Value::Tuple(s) => Iter::Seq(s.clone(), 0, false),
            Value::Dict(s) => Iter::Seq(s.clone(), 0, true),
            Value::Range(a, b, s) => Iter::Range(*a, *b, *s),
            Value::Str(s) => Iter::Chars(s.clone(), 0),
            _ => return err("TypeError", format!("'{}' object is not iterable", v.type_name())),
        })
    }

    /// Collects an iterable into a vector, within the element cap.
    pub fn collect(&mut self, v: &Value) -> PyResult<Vec<Value>> {
        let mut out = Vec::new();
        for x in self.iterate(v)? {
            out.push(x);
            if out.len() % 4096 == 0 {
                self.check_len(out.len())?;
                self.check_time()?;
            }
        }
        self.check_len(out.len())?;
        Ok(out)
    }

    /// Binds a value to a target.
    pub fn assign(&mut self, t: &Target, v: Value) -> PyResult<()> {
        match t {
            Target::Name(n) => self.set_var(n, v),
            Target::Tuple(ts) => {
                let items = match &v {
                    Value::List(_) | Value::Tuple(_) | Value::Str(_) | Value::Range(..) | Value::Dict(_) => self.collect(&v)?,
                    _ => return err("TypeError", format!("cannot unpack non-iterable {} object", v.type_name())),
                };
                if items.len() != ts.len() {
                    return if items.len() > ts.len() {
                        err("ValueError", format!("too many values to unpack (expected {})", ts.len()))
                    } else {
                        err("ValueError", format!("not enough values to unpack (expected {}, got {})", ts.len(), items.len()))
                    };
                }
                for (t, x) in ts.iter().zip(items) {
                    self.assign(t, x)?;
                }
            }
            Target::Subscript(obj, idx) => {
                let Expr::Name(var) = obj else {
                    return err("NotImplementedError", "item assignment is only supported on a variable (x[i] = v) in this sandbox");
                };
                let key = match idx {
                    Index::Single(e) => self.eval(e)?,
                    _ => return err("NotImplementedError", "slice assignment is not supported in this sandbox"),
                };
                let mut cur = self.lookup(var)?;
                match &mut cur {
                    Value::List(s) => {
                        let Some(i) = key.as_int() else {
                            return err("TypeError", format!("list indices must be integers or slices, not {}", key.type_name()));
                        };
                        let i = norm_index(i, s.items.len(), "list assignment")?;
                        let seq = Arc::make_mut(s);
                        seq.depth = seq.depth.max(v.depth() + 1);
                        if let Some(slot) = seq.items.get_mut(i) {
                            *slot = v;
                        }
                    }
                    Value::Dict(s) => {
                        let seq = Arc::make_mut(s);
                        let pair = Value::tuple(vec![key.clone(), v])?;
                        seq.depth = seq.depth.max(pair.depth() + 1);
                        match seq.items.iter().position(|kv| kv.as_seq().and_then(|p| p.first()).is_some_and(|k| crate::values::equal(k, &key))) {
                            Some(i) => seq.items[i] = pair,
                            None => {
                                self.check_len(seq.items.len() + 1)?;
                                seq.items.push(pair);
                            }
                        }
                        if seq.depth > crate::values::MAX_VALUE_DEPTH {
                            return err("RecursionError", "containers nested too deeply");
                        }
                    }
                    Value::Array(a) => {
                        let Value::Array(mask) = &key else {
                            return err("NotImplementedError", "numpy item assignment is only supported with a boolean mask (arr[mask] = value) in this sandbox");
                        };
                        let mask = mask.clone();
                        crate::ndarray::mask_assign(self, Arc::make_mut(a), &mask, &v)?;
                    }
                    other => return err("TypeError", format!("'{}' object does not support item assignment", other.type_name())),
                }
                if cur.depth() > crate::values::MAX_VALUE_DEPTH {
                    return err("RecursionError", "containers nested too deeply");
                }
                self.rebind(var, cur)?;
            }
        }
        Ok(())
    }

    /// `o[idx]`.
    pub fn subscript(&mut self, o: &Value, idx: &Index) -> PyResult<Value> {
        if let Value::Array(a) = o {
            if let Index::Single(e) = idx {
                return match self.eval(e)? {
                    Value::Array(mask) => crate::ndarray::mask_index(self, a, &mask),
                    v => {
                        let ix = value_ix(v)?;
                        crate::ndarray::index(self, a, &[ix])
                    }
                };
            }
            let parts = match idx {
                Index::Multi(v) => v.as_slice(),
                one => std::slice::from_ref(one),
            };
            let mut ixs = Vec::with_capacity(parts.len());
            for p in parts {
                ixs.push(self.array_index(p)?);
            }
            return crate::ndarray::index(self, a, &ixs);
        }
        match idx {
            Index::Single(e) => {
                let k = self.eval(e)?;
                crate::builtins::get_item(o, &k)
            }
            Index::Slice(a, b, c) => {
                let mut bound = |x: &Option<Expr>| -> PyResult<Option<i64>> {
                    match x {
                        None => Ok(None),
                        Some(e) => match self.eval(e)? {
                            Value::None => Ok(None),
                            v => v.as_int().map(Some).ok_or_else(|| PyErr::new("TypeError", "slice indices must be integers or None")),
                        },
                    }
                };
                let (a, b, c) = (bound(a)?, bound(b)?, bound(c)?);
                match o {
                    Value::List(s) | Value::Tuple(s) => {
                        let items = slice_indices(s.items.len(), a, b, c)?.into_iter().filter_map(|i| s.items.get(i).cloned()).collect();
                        if matches!(o, Value::List(_)) { Value::list(items) } else { Value::tuple(items) }
                    }
                    Value::Str(s) => {
                        let chars: Vec<char> = s.chars().collect();
                        Ok(Value::str(slice_indices(chars.len(), a, b, c)?.into_iter().filter_map(|i| chars.get(i)).collect::<String>()))
                    }
                    Value::Array(_) => err("NotImplementedError", "numpy slicing is not supported in this sandbox; crop the image instead"),
                    _ => err("TypeError", format!("'{}' object is not subscriptable", o.type_name())),
                }
            }
            Index::Multi(_) => match o {
                Value::Array(_) => err("NotImplementedError", "numpy indexing is not supported in this sandbox; crop the image instead"),
                Value::Dict(_) => err("NotImplementedError", "tuple dict keys written without parentheses are not supported"),
                _ => err("TypeError", format!("{} indices must be integers or slices, not tuple", o.type_name())),
            },
        }
    }

}

impl Interp<'_> {
    fn array_index(&mut self, idx: &Index) -> PyResult<crate::ndarray::Ix> {
        let mut bound = |x: &Option<Expr>| -> PyResult<Option<i64>> {
            match x {
                None => Ok(None),
                Some(e) => match self.eval(e)? {
                    Value::None => Ok(None),
                    v => v.as_int().map(Some).ok_or_else(|| PyErr::new("TypeError", "slice indices must be integers or None")),
                },
            }
        };
        match idx {
            Index::Single(e) => value_ix(self.eval(e)?),
            Index::Slice(a, b, c) => Ok(crate::ndarray::Ix::Range(bound(a)?, bound(b)?, bound(c)?)),
            Index::Multi(_) => err("IndexError", "nested index tuples are not supported"),
        }
    }
}

fn value_ix(v: Value) -> PyResult<crate::ndarray::Ix> {
    match v {
        v if v.as_int().is_some() => Ok(crate::ndarray::Ix::At(v.as_int().unwrap_or(0))),
        Value::Array(_) => err("NotImplementedError", "a boolean mask must be the only index in this sandbox (arr[mask])"),
        v => err("NotImplementedError", format!("numpy indexing with a '{}' is not supported in this sandbox (integers, slices and boolean masks only)", v.type_name())),
    }
}

pub(super) fn target_names(t: &Target) -> Vec<String> {
    match t {
        Target::Name(n) => vec![n.clone()],
        Target::Tuple(ts) => ts.iter().flat_map(target_names).collect(),
        Target::Subscript(..) => vec![],
    }
}

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

    /// Collects an iterable into a vector, within the element cap; charged
    /// per element (and paid for as a new container of that length).
    pub fn collect(&mut self, v: &Value) -> PyResult<Vec<Value>> {
        // Lengths known up front are refused or paid for before any copying.
        let known = match v {
            Value::List(s) | Value::Tuple(s) | Value::Dict(s) => Some(s.items.len()),
            Value::Range(a, b, st) => Some(crate::values::range_len(*a, *b, *st).min(usize::MAX as u64) as usize),
            _ => None,
        };
        if let Some(n) = known {
            self.check_len(n)?;
            self.meter.new_seq(n)?;
        }
        let mut out = Vec::with_capacity(known.unwrap_or(0));
        for x in self.iterate(v)? {
            out.push(x);
            if out.len() % 1024 == 0 {
                self.check_len(out.len())?;
                if known.is_none() {
                    self.meter.new_seq(1024)?;
                }
            }
        }
        self.check_len(out.len())?;
        if known.is_none() {
            // Characters of a string: each became a new one-character string.
            self.meter.new_seq(out.len() % 1024)?;
            self.meter.alloc(out.len() as u64 * 24)?;
        }
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
                // The value is taken out of its variable while it changes, so
                // the change is made in place (a copy only when the body is
                // shared, which is paid for) and put back afterwards, also on
                // error: the checks come before any change.
                let taken = match self.var_mut(var)? {
                    Some(slot) => Some(std::mem::replace(slot, Value::None)),
                    None => None,
                };
                let was_taken = taken.is_some();
                let mut cur = match taken {
                    Some(c) => c,
                    None => self.lookup(var)?,
                };
                let r = self.set_item(&mut cur, key, v);
                if was_taken {
                    if let Some(slot) = self.var_mut(var)? {
                        *slot = cur;
                    }
                } else if r.is_ok() {
                    self.rebind(var, cur)?;
                }
                r?;
            }
        }
        Ok(())
    }

    /// `cur[key] = v` on a value taken out of its variable.
    fn set_item(&mut self, cur: &mut Value, key: Value, v: Value) -> PyResult<()> {
        match cur {
            Value::List(s) => {
                let Some(i) = key.as_int() else {
                    return err("TypeError", format!("list indices must be integers or slices, not {}", key.type_name()));
                };
                let i = norm_index(i, s.items.len(), "list assignment")?;
                if v.depth() + 1 > crate::values::MAX_VALUE_DEPTH {
                    return err("RecursionError", "containers nested too deeply");
                }
                self.cow(s)?;
                let seq = Arc::make_mut(s);
                seq.depth = seq.depth.max(v.depth() + 1);
                if let Some(slot) = seq.items.get_mut(i) {
                    *slot = v;
                }
            }
            Value::Dict(s) => {
                crate::builtins::hashable(&key, &mut self.meter)?;
                let found = crate::ops::key_position(&s.items, &key, &mut self.meter)?;
                if found.is_none() {
                    self.check_len(s.items.len() + 1)?;
                }
                let pair = Value::tuple(vec![key, v])?;
                if pair.depth() + 1 > crate::values::MAX_VALUE_DEPTH {
                    return err("RecursionError", "containers nested too deeply");
                }
                self.cow(s)?;
                let seq = Arc::make_mut(s);
                seq.depth = seq.depth.max(pair.depth() + 1);
                match found {
                    Some(i) => seq.items[i] = pair,
                    None => seq.items.push(pair),
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
        Ok(())
    }

    /// Pays for the copy `Arc::make_mut` is about to make of a shared
    /// container body (nothing when this value is its only holder).
    pub fn cow(&mut self, s: &Arc<Seq>) -> PyResult<()> {
        if Arc::strong_count(s) > 1 {
            self.meter.new_seq(s.items.len())?;
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
                crate::builtins::get_item(o, &k, &mut self.meter)
            }
            Index::Slice(a, b, c) => {
                let (a, b, c) = (self.slice_bound(a)?, self.slice_bound(b)?, self.slice_bound(c)?);
                match o {
                    Value::List(s) | Value::Tuple(s) => {
                        let idx = slice_indices(s.items.len(), a, b, c)?;
                        self.meter.new_seq(idx.len())?;
                        let items = idx.into_iter().filter_map(|i| s.items.get(i).cloned()).collect();
                        if matches!(o, Value::List(_)) { Value::list(items) } else { Value::tuple(items) }
                    }
                    Value::Str(s) => {
                        // Decoding to characters costs 4 bytes per character, then the slice.
                        self.meter.bytes(s.len())?;
                        self.meter.alloc(4 * s.len() as u64)?;
                        let chars: Vec<char> = s.chars().collect();
                        let idx = slice_indices(chars.len(), a, b, c)?;
                        self.meter.new_str(4 * idx.len())?;
                        Ok(Value::str(idx.into_iter().filter_map(|i| chars.get(i)).collect::<String>()))
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

    /// One bound of `a:b:c`, for sequences and arrays alike: absent or `None`
    /// is open; anything but an integer is Python's `TypeError`.
    fn slice_bound(&mut self, x: &Option<Expr>) -> PyResult<Option<i64>> {
        match x {
            None => Ok(None),
            Some(e) => match self.eval(e)? {
                Value::None => Ok(None),
                v => v.as_int().map(Some).ok_or_else(|| PyErr::new("TypeError", "slice indices must be integers or None or have an __index__ method")),
            },
        }
    }

    fn array_index(&mut self, idx: &Index) -> PyResult<crate::ndarray::Ix> {
        match idx {
            Index::Single(e) => value_ix(self.eval(e)?),
            Index::Slice(a, b, c) => Ok(crate::ndarray::Ix::Range(self.slice_bound(a)?, self.slice_bound(b)?, self.slice_bound(c)?)),
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

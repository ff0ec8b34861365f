//! Methods of `str`.

use crate::builtins::{int, Args};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::Value;

/// A string argument, copied (and charged on `m` for the copy).
fn text(v: &Value, what: &str, m: &mut crate::values::Meter) -> PyResult<String> {
    match v {
        Value::Str(s) => {
            m.new_str(s.len())?;
            Ok(s.to_string())
        }
        _ => err("TypeError", format!("{what} must be str, not {}", v.type_name())),
    }
}

fn capped(s: String, cap: usize) -> PyResult<Value> {
    if s.len() > cap {
        return err("MemoryError", format!("string longer than {cap} bytes"));
    }
    Ok(Value::str(s))
}

/// Calls `s.m(...)`. Every method is charged for reading the receiver once,
/// and for the strings and lists it returns.
pub fn str_method(it: &mut Interp, s: &str, m: &str, mut a: Args) -> PyResult<Value> {
    let cap = it.limits.max_str_bytes;
    it.meter.bytes(s.len())?;
    if m == "format" {
        let (pos, kw) = (std::mem::take(&mut a.pos), std::mem::take(&mut a.kw));
        return Ok(Value::str(crate::format::format_template(s, &pos, &kw, cap, &mut it.meter)?));
    }
    let r = match m {
        "upper" => Value::str(s.to_uppercase()),
        "lower" => Value::str(s.to_lowercase()),
        "title" | "capitalize" => {
            let mut out = String::new();
            let mut start = true;
            for (i, c) in s.chars().enumerate() {
                let up = if m == "title" { start } else { i == 0 };
                if up { out.extend(c.to_uppercase()) } else { out.extend(c.to_lowercase()) }
                start = !c.is_alphabetic();
            }
            Value::str(out)
        }
        "strip" | "lstrip" | "rstrip" => {
            let chars = a.get(0, "chars").filter(|v| !matches!(v, Value::None)).map(|v| text(&v, "chars", &mut it.meter)).transpose()?;
            // A set, so a long `chars` costs once rather than once per character stripped.
            let set: Option<std::collections::HashSet<char>> = chars.map(|cs| cs.chars().collect());
            let pat = |c: char| set.as_ref().map_or(c.is_whitespace(), |cs| cs.contains(&c));
            Value::str(match m {
                "strip" => s.trim_matches(pat),
                "lstrip" => s.trim_start_matches(pat),
                _ => s.trim_end_matches(pat),
            })
        }
        "split" => {
            let sep = a.get(0, "sep").filter(|v| !matches!(v, Value::None)).map(|v| text(&v, "sep", &mut it.meter)).transpose()?;
            let maxsplit = a.get(1, "maxsplit").map(|v| int(&v, "maxsplit")).transpose()?.unwrap_or(-1);
            let n = if maxsplit < 0 { usize::MAX } else { maxsplit as usize + 1 };
            let parts: Vec<Value> = match &sep {
                Some(p) if p.is_empty() => return err("ValueError", "empty separator"),
                Some(p) => s.splitn(n, p.as_str()).map(Value::str).collect(),
                None if maxsplit < 0 => s.split_whitespace().map(Value::str).collect(),
                None => {
                    let mut out = Vec::new();
                    let mut rest = s.trim_start();
                    while !rest.is_empty() {
                        if out.len() + 1 == n {
                            out.push(Value::str(rest));
                            break;
                        }
                        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                        out.push(Value::str(&rest[..end]));
                        rest = rest[end..].trim_start();
                    }
                    out
                }
            };
            it.check_len(parts.len())?;
            it.meter.new_seq(parts.len())?;
            it.meter.alloc(s.len() as u64)?;
            Value::list(parts)?
        }
        "splitlines" => {
            let parts: Vec<Value> = s.lines().map(Value::str).collect();
            it.check_len(parts.len())?;
            it.meter.new_seq(parts.len())?;
            it.meter.alloc(s.len() as u64)?;
            Value::list(parts)?
        }
        "join" => {
            let src = a.req(0, "iterable")?;
            let items = it.collect(&src)?;
            // The length is known before anything is copied.
            let mut total = s.len().saturating_mul(items.len().saturating_sub(1));
            for v in &items {
                match v {
                    Value::Str(x) => total = total.saturating_add(x.len()),
                    _ => return err("TypeError", format!("sequence item must be str, not {}", v.type_name())),
                }
            }
            if total > cap {
                return err("MemoryError", format!("string longer than {cap} bytes"));
            }
            it.meter.new_str(total)?;
            let mut out = String::with_capacity(total);
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(s);
                }
                if let Value::Str(x) = v {
                    out.push_str(x);
                }
            }
            return Ok(Value::str(out));
        }
        "replace" => {
            let (old, new) = (text(&a.req(0, "old")?, "old", &mut it.meter)?, text(&a.req(1, "new")?, "new", &mut it.meter)?);
            let count = s.matches(old.as_str()).count().max(if old.is_empty() { s.chars().count() + 1 } else { 0 });
            if (s.len() + count.saturating_mul(new.len())) > cap {
                return err("MemoryError", format!("string longer than {cap} bytes"));
            }
            it.meter.new_str(s.len() + count.saturating_mul(new.len()))?;
            return Ok(Value::str(s.replace(old.as_str(), &new)));
        }
        "startswith" | "endswith" => {
            let p = a.req(0, "prefix")?;
            let pats: Vec<String> = match &p {
                Value::Tuple(t) => t.items.iter().map(|v| text(v, "prefix", &mut it.meter)).collect::<PyResult<_>>()?,
                v => vec![text(v, "prefix", &mut it.meter)?],
            };
            Value::Bool(pats.iter().any(|x| if m == "startswith" { s.starts_with(x.as_str()) } else { s.ends_with(x.as_str()) }))
        }
        "find" | "index" | "count" => {
            let sub = text(&a.req(0, "sub")?, "substring", &mut it.meter)?;
            if m == "count" {
                Value::Int(if sub.is_empty() { s.chars().count() as i64 + 1 } else { s.matches(sub.as_str()).count() as i64 })
            } else {
                match s.find(sub.as_str()) {
                    Some(b) => Value::Int(s[..b].chars().count() as i64),
                    None if m == "find" => Value::Int(-1),
                    None => return err("ValueError", "substring not found"),
                }
            }
        }
        "isdigit" => Value::Bool(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
        "zfill" | "center" | "ljust" | "rjust" => {
            let w = int(&a.req(0, "width")?, "width")?.clamp(0, cap as i64) as usize;
            let fill = a.get(1, "fillchar").map(|v| text(&v, "fillchar", &mut it.meter)).transpose()?.and_then(|f| f.chars().next()).unwrap_or(if m == "zfill" { '0' } else { ' ' });
            let n = s.chars().count();
            let pad = w.saturating_sub(n);
            let f = |k: usize| fill.to_string().repeat(k);
            let out = match m {
                "zfill" => match s.strip_prefix('-') {
                    Some(rest) => format!("-{}{rest}", f(pad)),
                    None => format!("{}{s}", f(pad)),
                },
                "ljust" => format!("{s}{}", f(pad)),
                "rjust" => format!("{}{s}", f(pad)),
                _ => format!("{}{s}{}", f(pad / 2), f(pad - pad / 2)),
            };
            let r = capped(out, cap)?;
            if let Value::Str(x) = &r {
                it.meter.new_str(x.len())?;
            }
            return Ok(r);
        }
        _ => return err("AttributeError", format!("'str' object has no attribute '{m}'")),
    };
    match r {
        Value::Str(x) if x.len() > cap => Err(PyErr::new("MemoryError", format!("string longer than {cap} bytes"))),
        Value::Str(x) => {
            // Results are at most a few times the receiver (case mapping),
            // itself at most `cap`: paid for once made.
            it.meter.new_str(x.len())?;
            Ok(Value::Str(x))
        }
        v => Ok(v),
    }
}

//! Methods of `str`.

use crate::builtins::{int, Args};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::Value;

fn text(v: &Value, what: &str) -> PyResult<String> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        _ => err("TypeError", format!("{what} must be str, not {}", v.type_name())),
    }
}

fn capped(s: String, cap: usize) -> PyResult<Value> {
    if s.len() > cap {
        return err("MemoryError", format!("string longer than {cap} bytes"));
    }
    Ok(Value::str(s))
}

/// Calls `s.m(...)`.
pub fn str_method(it: &mut Interp, s: &str, m: &str, mut a: Args) -> PyResult<Value> {
    let cap = it.limits.max_str_bytes;
    if m == "format" {
        let (pos, kw) = (std::mem::take(&mut a.pos), std::mem::take(&mut a.kw));
        return Ok(Value::str(crate::format::format_template(s, &pos, &kw, cap)?));
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
            let chars = a.get(0, "chars").filter(|v| !matches!(v, Value::None)).map(|v| text(&v, "chars")).transpose()?;
            let pat = |c: char| chars.as_ref().map_or(c.is_whitespace(), |cs| cs.contains(c));
            Value::str(match m {
                "strip" => s.trim_matches(pat),
                "lstrip" => s.trim_start_matches(pat),
                _ => s.trim_end_matches(pat),
            })
        }
        "split" => {
            let sep = a.get(0, "sep").filter(|v| !matches!(v, Value::None)).map(|v| text(&v, "sep")).transpose()?;
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
            Value::list(parts)?
        }
        "splitlines" => Value::list(s.lines().map(Value::str).collect())?,
        "join" => {
            let src = a.req(0, "iterable")?;
            let mut out = String::new();
            for (i, v) in it.collect(&src)?.iter().enumerate() {
                if i > 0 {
                    out.push_str(s);
                }
                out.push_str(&text(v, "sequence item")?);
                if out.len() > cap {
                    return err("MemoryError", format!("string longer than {cap} bytes"));
                }
            }
            Value::str(out)
        }
        "replace" => {
            let (old, new) = (text(&a.req(0, "old")?, "old")?, text(&a.req(1, "new")?, "new")?);
            let count = s.matches(old.as_str()).count().max(if old.is_empty() { s.chars().count() + 1 } else { 0 });
            if (s.len() + count.saturating_mul(new.len())) > cap {
                return err("MemoryError", format!("string longer than {cap} bytes"));
            }
            Value::str(s.replace(old.as_str(), &new))
        }
        "startswith" | "endswith" => {
            let p = a.req(0, "prefix")?;
            let pats: Vec<String> = match &p {
                Value::Tuple(t) => t.items.iter().map(|v| text(v, "prefix")).collect::<PyResult<_>>()?,
                v => vec![text(v, "prefix")?],
            };
            Value::Bool(pats.iter().any(|x| if m == "startswith" { s.starts_with(x.as_str()) } else { s.ends_with(x.as_str()) }))
        }
        "find" | "index" | "count" => {
            let sub = text(&a.req(0, "sub")?, "substring")?;
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
            let fill = a.get(1, "fillchar").map(|v| text(&v, "fillchar")).transpose()?.and_then(|f| f.chars().next()).unwrap_or(if m == "zfill" { '0' } else { ' ' });
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
            return capped(out, cap);
        }
        _ => return err("AttributeError", format!("'str' object has no attribute '{m}'")),
    };
    match r {
        Value::Str(x) if x.len() > cap => Err(PyErr::new("MemoryError", format!("string longer than {cap} bytes"))),
        v => Ok(v),
    }
}

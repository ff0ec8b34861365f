//! Format specs (`{x:.2f}`, `{n:>5d}`, `{p:.1%}`) and `str.format` templates.

use crate::error::{err, PyResult};
use crate::values::{render, Meter, Value};

/// Widest field or precision a spec may ask for.
const MAX_WIDTH: usize = 1000;

/// Applies a format spec to a value, like Python's `format(v, spec)`
/// (rendering charged on `m`).
pub fn format_value(v: &Value, spec: &str, cap: usize, m: &mut Meter) -> PyResult<String> {
    if spec.is_empty() {
        return render(v, false, cap, m);
    }
    m.bytes(spec.len())?;
    let c: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let (mut fill, mut align) = (' ', None::<char>);
    if c.len() >= 2 && matches!(c[1], '<' | '>' | '^' | '=') {
        fill = c[0];
        align = Some(c[1]);
        i = 2;
    } else if matches!(c.first(), Some('<' | '>' | '^' | '=')) {
        align = c.first().copied();
        i = 1;
    }
    let mut sign = '-';
    if let Some(&s @ ('+' | '-' | ' ')) = c.get(i) {
        sign = s;
        i += 1;
    }
    if c.get(i) == Some(&'#') {
        i += 1;
    }
    if c.get(i) == Some(&'0') {
        if align.is_none() {
            fill = '0';
            align = Some('=');
        }
        i += 1;
    }
    let num = |i: &mut usize| -> PyResult<Option<usize>> {
        let start = *i;
        while c.get(*i).is_some_and(|d| d.is_ascii_digit()) {
            *i += 1;
        }
        if *i == start {
            return Ok(None);
        }
        let s: String = c[start..*i].iter().collect();
        match s.parse::<usize>() {
            Ok(n) if n <= MAX_WIDTH => Ok(Some(n)),
            _ => err("ValueError", format!("format width/precision {s} is too large (limit {MAX_WIDTH})")),
        }
    };
    let width = num(&mut i)?.unwrap_or(0);
    let mut grouping = None;
    if let Some(&g @ (',' | '_')) = c.get(i) {
        grouping = Some(g);
        i += 1;
    }
    let mut precision = None;
    if c.get(i) == Some(&'.') {
        i += 1;
        precision = Some(num(&mut i)?.ok_or_else(|| crate::error::PyErr::new("ValueError", "Format specifier missing precision"))?);
    }
    let ty = c.get(i).copied();
    if c.len() > i + 1 {
        return err("ValueError", format!("Invalid format specifier '{spec}' for object of type '{}'", v.type_name()));
    }
    let is_num = matches!(v, Value::Int(_) | Value::Float(_) | Value::Bool(_));
    let body = match (ty, v) {
        (Some('s') | None, Value::Str(s)) => {
            m.new_str(s.len())?;
            match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            }
        }
        (Some('s'), _) | (None, _) if !is_num => render(v, false, cap, m)?,
        (Some('d' | 'n'), Value::Int(_) | Value::Bool(_)) => group(&v.as_int().unwrap_or(0).abs().to_string(), grouping),
        (Some('x' | 'X' | 'o' | 'b'), Value::Int(_) | Value::Bool(_)) => {
            let n = v.as_int().unwrap_or(0).unsigned_abs();
            match ty {
                Some('x') => format!("{n:x}"),
                Some('X') => format!("{n:X}"),
                Some('o') => format!("{n:o}"),
                _ => format!("{n:b}"),
            }
        }
        (None, Value::Int(_) | Value::Bool(_)) if precision.is_none() => group(&v.as_int().unwrap_or(0).abs().to_string(), grouping),
        (Some('f' | 'F' | 'e' | 'E' | 'g' | 'G' | '%') | None, _) if is_num => {
            let f = v.as_f64().unwrap_or(0.0).abs();
            float_body(f, ty, precision, grouping)
        }
        (None, _) => render(v, false, cap, m)?,
        (Some(t), _) => {
            return err("ValueError", format!("Unknown format code '{t}' for object of type '{}'", v.type_name()));
        }
    };
    let negative = is_num && v.as_f64().is_some_and(|f| f.is_sign_negative() && !f.is_nan());
    let sign_str = if !is_num {
        ""
    } else if negative {
        "-"
    } else {
        match sign { '+' => "+", ' ' => " ", _ => "" }
    };
    let align = align.unwrap_or(if is_num { '>' } else { '<' });
    let len = sign_str.chars().count() + body.chars().count();
    let pad = width.saturating_sub(len);
    let fills = |n: usize| fill.to_string().repeat(n);
    Ok(match align {
        '<' => format!("{sign_str}{body}{}", fills(pad)),
        '^' => format!("{}{sign_str}{body}{}", fills(pad / 2), fills(pad - pad / 2)),
        '=' => format!("{sign_str}{}{body}", fills(pad)),
        _ => format!("{}{sign_str}{body}", fills(pad)),
    })
}

fn group(digits: &str, sep: Option<char>) -> String {
    let Some(sep) = sep else { return digits.to_string() };
    let (int, rest) = digits.split_at(digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len()));
    let mut out = String::new();
    for (k, ch) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(sep);
        }
        out.push(ch);
    }
    out + rest
}

fn exp_fix(s: String) -> String {
    // Rust writes 1.5e3 / 1.5e-3; Python writes 1.5e+03 / 1.5e-03.
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = if let Some(d) = e.strip_prefix('-') { ('-', d) } else { ('+', e) };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

fn float_body(f: f64, ty: Option<char>, precision: Option<usize>, grouping: Option<char>) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return "inf".into();
    }
    match ty {
        Some('f' | 'F') => group(&format!("{:.*}", precision.unwrap_or(6), f), grouping),
        Some('%') => group(&format!("{:.*}%", precision.unwrap_or(6), f * 100.0), grouping),
        Some('e') => exp_fix(format!("{:.*e}", precision.unwrap_or(6), f)),
        Some('E') => exp_fix(format!("{:.*e}", precision.unwrap_or(6), f)).to_uppercase(),
        None if precision.is_none() => group(&crate::values::float_repr(f), grouping),
        _ => {
            // 'g' (and no type with a precision): significant digits, trailing zeros removed.
            let p = precision.unwrap_or(6).max(1);
            let sci = format!("{:.*e}", p - 1, f);
            let exp: i64 = sci.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
            let strip = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
            if exp >= -4 && exp < p as i64 {
                group(&strip(format!("{:.*}", (p as i64 - 1 - exp).max(0) as usize, f)), grouping)
            } else {
                let (m, _) = sci.split_once('e').unwrap_or((&sci, ""));
                exp_fix(format!("{}e{exp}", strip(m.to_string())))
            }
        }
    }
}

/// `template.format(*args, **kwargs)` for `{}`, `{0}`, `{name}` fields with
/// specs (charged on `m` for the template and every field).
pub fn format_template(t: &str, args: &[Value], kwargs: &[(String, Value)], cap: usize, m: &mut Meter) -> PyResult<String> {
    m.alloc(4 * t.len() as u64)?;
    let chars: Vec<char> = t.chars().collect();
    let (mut out, mut i, mut auto) = (String::new(), 0usize, 0usize);
    while let Some(&c) = chars.get(i) {
        match c {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '}' => return err("ValueError", "Single '}' encountered in format string"),
            '{' => {
                let Some(len) = chars[i + 1..].iter().position(|&d| d == '}') else {
                    return err("ValueError", "Single '{' encountered in format string");
                };
                let field: String = chars[i + 1..i + 1 + len].iter().collect();
                let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
                let (name, conv) = name.split_once('!').map(|(n, c)| (n, Some(c))).unwrap_or((name, None));
                // `{0.attr}` / `{0[key]}`: no reflection through format fields.
                if let Some(p) = name.find(['.', '[']) {
                    let rest = name[p + 1..].trim_end_matches(']');
                    if rest.starts_with('_') || rest.contains("._") || rest.contains("[_") {
                        let attr = rest.split(['.', '[']).find(|a| a.starts_with('_')).unwrap_or(rest);
                        return err("AttributeError", format!("access to '{attr}' is not allowed"));
                    }
                    if name.as_bytes()[p] == b'.' {
                        return err("NotImplementedError", "attribute access in format fields is not supported in this sandbox; use an f-string");
                    }
                }
                let v = if name.is_empty() {
                    auto += 1;
                    args.get(auto - 1)
                } else if let Ok(k) = name.parse::<usize>() {
                    args.get(k)
                } else {
                    kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
                };
                let Some(v) = v else {
                    return err("IndexError", format!("Replacement index {name:?} out of range for positional args tuple"));
                };
                let s = match conv {
                    Some("r") => format_value(&Value::str(render(v, true, cap, m)?), spec, cap, m)?,
                    _ => format_value(v, spec, cap, m)?,
                };
                out.push_str(&s);
                i += len + 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
        if out.len() > cap {
            return err("MemoryError", format!("formatted string longer than {cap} bytes"));
        }
    }
    m.new_str(out.len())?;
    Ok(out)
}

//! `<tool_call>` bodies: JSON or JSON5, the OpenAI wrappers, and code tools
//! (CodeVision / TruthEYE2) turned into code actions.

use serde_json::{Map, Value};

use super::{invalid, json_type, parse_json_loose, strip_fences, strip_outer_fence, CODE_TOOLS, IMAGE_INDEX_EXPECTED, IMAGE_INDEX_KEYS};
use crate::action::{Action, CodeSource, FormatError};

/// Parses the body of a `<tool_call>` tag.
pub(super) fn parse_tool_call(body: &str) -> Result<Action, FormatError> {
    let text = strip_outer_fence(body);
    if text.is_empty() {
        return Err(invalid("the tool call is empty"));
    }
    let value = parse_json_loose(text).map_err(invalid)?;
    let obj = match value {
        Value::Object(o) => o,
        Value::Array(mut items) => match items.len() {
            1 => match items.pop() {
                Some(Value::Object(o)) => o,
                Some(other) => {
                    return Err(invalid(format!(
                        "expected a JSON object {{\"name\": …, \"arguments\": {{…}}}}, got an array of {}",
                        json_type(&other)
                    )))
                }
                None => return Err(invalid("the tool call is an empty array")),
            },
            0 => return Err(invalid("the tool call is an empty array")),
            n => {
                return Err(FormatError::MultipleActions {
                    count: n,
                    kinds: vec!["tool_call"; n].join(", "),
                })
            }
        },
        other => {
            return Err(invalid(format!(
                "expected a JSON object {{\"name\": …, \"arguments\": {{…}}}}, got {}",
                json_type(&other)
            )))
        }
    };
    // OpenAI wrapper: {"type": "function", "function": {"name": …, "arguments": "…"}}.
    let obj = match (obj.contains_key("name"), obj.get("function")) {
        (false, Some(Value::Object(f))) => f.clone(),
        _ => obj,
    };
    let name = match obj.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
        Some(Value::String(_)) => return Err(invalid("\"name\" is empty")),
        Some(other) => return Err(invalid(format!("\"name\" must be a string, got {}", json_type(other)))),
        None => return Err(invalid("missing \"name\"")),
    };
    let arguments = match obj.get("arguments").or_else(|| obj.get("parameters")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(Value::String(s)) => {
            let inner = strip_outer_fence(s);
            if inner.is_empty() {
                Map::new()
            } else {
                match parse_json_loose(inner) {
                    Ok(Value::Object(a)) => a,
                    Ok(other) => {
                        return Err(invalid(format!(
                            "\"arguments\" must be an object (or a string holding one), got a string holding {}",
                            json_type(&other)
                        )))
                    }
                    Err(e) => return Err(invalid(format!("\"arguments\" string is not JSON: {e}"))),
                }
            }
        }
        Some(other) => {
            return Err(invalid(format!("\"arguments\" must be an object, got {}", json_type(other))))
        }
    };

    let lname = name.to_ascii_lowercase();
    if !CODE_TOOLS.contains(&lname.as_str()) {
        return Ok(Action::ToolCall { name, arguments });
    }
    let got = || arguments.keys().cloned().collect::<Vec<_>>();
    let code = match arguments.get("code") {
        Some(Value::String(c)) => strip_fences(c),
        Some(_) => {
            return Err(FormatError::BadArguments { tool: name.clone(), expected: "code (a string)".into(), got: got() })
        }
        None => return Err(FormatError::BadArguments { tool: name.clone(), expected: "code".into(), got: got() }),
    };
    if code.is_empty() {
        return Err(FormatError::EmptyCode);
    }
    let image_index = image_index(&name, &arguments)?;
    Ok(Action::Code { code: code.to_string(), image_index, source: CodeSource::ToolCall { name } })
}

fn image_index(tool: &str, args: &Map<String, Value>) -> Result<Option<usize>, FormatError> {
    let bad = || FormatError::BadArguments {
        tool: tool.to_string(),
        expected: IMAGE_INDEX_EXPECTED.into(),
        got: args.keys().cloned().collect(),
    };
    let Some(v) = IMAGE_INDEX_KEYS.iter().find_map(|k| args.get(*k)) else { return Ok(None) };
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                usize::try_from(u).map(Some).map_err(|_| bad())
            } else {
                match n.as_f64() {
                    Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(Some(f as usize)),
                    _ => Err(bad()),
                }
            }
        }
        Value::String(s) => s.trim().parse::<usize>().map(Some).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

//! Runs the protocol parser over a corpus of real-looking model outputs
//! (`tests/corpus/model_outputs.jsonl`) and checks every expectation.

use serde_json::Value;
use trutheye_core::action::{Action, CodeSource, FormatError, ParsedMessage};
use trutheye_core::protocol::parse;

const MIN_ENTRIES: usize = 45;

struct Entry {
    name: String,
    bytes: Vec<u8>,
    expect: Value,
}

fn corpus() -> Vec<Entry> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/model_outputs.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
            let name = v["name"].as_str().unwrap_or_else(|| panic!("line {}: no name", i + 1)).to_string();
            let bytes = match (v.get("text"), v.get("text_hex")) {
                (Some(Value::String(t)), None) => t.as_bytes().to_vec(),
                (None, Some(Value::String(h))) => decode_hex(h).unwrap_or_else(|| panic!("{name}: bad text_hex")),
                _ => panic!("{name}: needs exactly one of text, text_hex"),
            };
            let expect = v.get("expect").cloned().unwrap_or_else(|| panic!("{name}: no expect"));
            Entry { name, bytes, expect }
        })
        .collect()
}

fn decode_hex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}

fn error_kind(e: &FormatError) -> String {
    serde_json::to_value(e).expect("FormatError serializes")["kind"].as_str().expect("kind tag").to_string()
}

/// Checks one entry; `Err` carries what went wrong.
fn check(entry: &Entry) -> Result<(), String> {
    let got = parse(&entry.bytes);
    let expect = &entry.expect;

    if let Some(kind) = expect.get("error").and_then(Value::as_str) {
        return match &got {
            Err(e) if error_kind(e) == kind => {
                if e.feedback().trim().is_empty() {
                    return Err("empty feedback".into());
                }
                Ok(())
            }
            Err(e) => Err(format!("expected error {kind}, got error {e:?}")),
            Ok(m) => Err(format!("expected error {kind}, got {m:?}")),
        };
    }

    let msg: ParsedMessage = got.map_err(|e| format!("expected success, got {e:?}"))?;

    // Round-trip through serde_json.
    let json = serde_json::to_string(&msg).map_err(|e| format!("serialize: {e}"))?;
    let back: ParsedMessage = serde_json::from_str(&json).map_err(|e| format!("deserialize {json}: {e}"))?;
    if back != msg {
        return Err(format!("round trip changed {msg:?} into {back:?}"));
    }

    if let Some(needle) = expect.get("think_contains").and_then(Value::as_str) {
        match &msg.think {
            Some(t) if t.contains(needle) => {}
            other => return Err(format!("think {other:?} does not contain {needle:?}")),
        }
    }

    let kind = expect.get("ok").and_then(Value::as_str).ok_or("expect has neither ok nor error")?;
    match (kind, &msg.action) {
        ("code", Action::Code { code, image_index, source }) => {
            let needle = expect["code_contains"].as_str().ok_or("code_contains missing")?;
            if !code.contains(needle) {
                return Err(format!("code {code:?} does not contain {needle:?}"));
            }
            if code.contains("```") {
                return Err(format!("code still has fences: {code:?}"));
            }
            let want_idx = expect.get("image_index").and_then(Value::as_u64).map(|n| n as usize);
            if *image_index != want_idx {
                return Err(format!("image_index {image_index:?}, expected {want_idx:?}"));
            }
            let via = expect["via"].as_str().ok_or("via missing")?;
            match (via, source) {
                ("tag", CodeSource::Tag) => {}
                ("tool_call", CodeSource::ToolCall { name }) => {
                    if let Some(t) = expect.get("tool").and_then(Value::as_str) {
                        if t != name {
                            return Err(format!("tool {name:?}, expected {t:?}"));
                        }
                    }
                }
                _ => return Err(format!("source {source:?}, expected via {via}")),
            }
        }
        ("tool_call", Action::ToolCall { name, arguments }) => {
            let want = expect["name"].as_str().ok_or("name missing")?;
            if name != want {
                return Err(format!("tool name {name:?}, expected {want:?}"));
            }
            let want_args = expect.get("arguments").cloned().unwrap_or(Value::Object(Default::default()));
            if Value::Object(arguments.clone()) != want_args {
                return Err(format!("arguments {arguments:?}, expected {want_args}"));
            }
        }
        ("answer", Action::Answer(a)) => {
            let want = expect["label"].as_str().ok_or("label missing")?;
            if a.label.as_str() != want {
                return Err(format!("label {:?}, expected {want}", a.label));
            }
            let want_bbox: Option<Vec<f64>> = match expect.get("bbox") {
                None | Some(Value::Null) => None,
                Some(Value::Array(xs)) => Some(xs.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()),
                Some(other) => return Err(format!("bad bbox expectation {other}")),
            };
            if a.bbox.map(|b| b.to_vec()) != want_bbox {
                return Err(format!("bbox {:?}, expected {want_bbox:?}", a.bbox));
            }
        }
        (kind, action) => return Err(format!("expected {kind}, got {action:?}")),
    }
    Ok(())
}

#[test]
fn corpus_expectations_hold() {
    let entries = corpus();
    assert!(entries.len() >= MIN_ENTRIES, "corpus has {} entries, need at least {MIN_ENTRIES}", entries.len());
    let mut names = std::collections::HashSet::new();
    for e in &entries {
        assert!(names.insert(e.name.as_str()), "duplicate corpus name {}", e.name);
    }
    let failures: Vec<String> =
        entries.iter().filter_map(|e| check(e).err().map(|why| format!("  {}: {why}", e.name))).collect();
    assert!(failures.is_empty(), "{} of {} corpus entries failed:\n{}", failures.len(), entries.len(), failures.join("\n"));
}

#[test]
fn every_format_error_has_feedback() {
    let all = [
        FormatError::Empty,
        FormatError::NonUtf8 { valid_up_to: 3 },
        FormatError::NoAction,
        FormatError::UnclosedTag { tag: "code".into() },
        FormatError::UnopenedTag { tag: "answer".into() },
        FormatError::MultipleActions { count: 2, kinds: "code, answer".into() },
        FormatError::InvalidToolCall { detail: "expected value at line 1 column 1".into() },
        FormatError::BadArguments { tool: "code_image_tool".into(), expected: "code".into(), got: vec!["script".into()] },
        FormatError::BadArguments { tool: "python".into(), expected: "code".into(), got: vec![] },
        FormatError::EmptyCode,
        FormatError::BadAnswer { text: "maybe".into() },
        FormatError::MalformedAnswer { detail: "the score for `tampered` is null".into() },
    ];
    for e in &all {
        let fb = e.feedback();
        assert!(!fb.trim().is_empty(), "{e:?} has empty feedback");
        assert!(!e.to_string().trim().is_empty(), "{e:?} has empty message");
        // Errors serialize with a snake_case kind tag and round-trip.
        let json = serde_json::to_string(e).expect("serialize");
        let back: FormatError = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(&back, e);
    }
}

#[test]
fn every_error_kind_is_in_the_corpus() {
    let kinds: std::collections::HashSet<String> = corpus()
        .iter()
        .filter_map(|e| e.expect.get("error").and_then(Value::as_str).map(str::to_string))
        .collect();
    for k in [
        "empty",
        "non_utf8",
        "no_action",
        "unclosed_tag",
        "unopened_tag",
        "multiple_actions",
        "invalid_tool_call",
        "bad_arguments",
        "empty_code",
        "bad_answer",
        "malformed_answer",
    ] {
        assert!(kinds.contains(k), "no corpus entry expects error {k}");
    }
}

#[test]
fn non_utf8_reports_offset() {
    assert_eq!(parse(b"<answer>real\xff</answer>"), Err(FormatError::NonUtf8 { valid_up_to: 12 }));
}

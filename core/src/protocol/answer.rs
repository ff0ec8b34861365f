//! `<answer>` bodies: a JSON (or JSON5) verdict object or list, or free text
//! naming exactly one label with an optional box.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{parse_json_loose, strip_outer_fence, truncate_chars, BAD_ANSWER_CHARS};
use crate::action::{Answer, FormatError};
use crate::verdict::{Label, Scores, VerdictLabel};

/// Parses the body of an `<answer>` tag; `words` are a harness's own answer
/// words (whole answers such as `A`), tried first.
pub(super) fn parse_answer(body: &str, words: &BTreeMap<String, VerdictLabel>) -> Result<Answer, FormatError> {
    let text = unbox(body.trim());
    let bad = || FormatError::BadAnswer { text: truncate_chars(text, BAD_ANSWER_CHARS) };
    let inner = strip_outer_fence(text);
    if inner.is_empty() {
        return Err(bad());
    }
    let bare = inner.strip_suffix('.').unwrap_or(inner).trim();
    if let Some((_, label)) = words.iter().find(|(w, _)| w.trim().eq_ignore_ascii_case(bare)) {
        return Ok(Answer { label: *label, bbox: None, scores: None, explanation: None });
    }
    if inner.starts_with('{') || inner.starts_with('[') {
        if let Ok(v) = parse_json_loose(inner) {
            match answer_from_json(&v) {
                Ok(Some(a)) => return Ok(a),
                Ok(None) => {}
                Err(detail) => return Err(FormatError::MalformedAnswer { detail }),
            }
        }
    }
    match answer_from_text(inner) {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(bad()),
        Err(detail) => Err(FormatError::MalformedAnswer { detail }),
    }
}

/// The content of the last `\boxed{…}` in `text` (braces balanced; to the end
/// when it never closes), as Thyme's and PyVision's harnesses read an answer
/// written `\boxed{C}`; the text itself when there is none.
fn unbox(text: &str) -> &str {
    const OPEN: &str = "\\boxed{";
    let Some(i) = text.rfind(OPEN) else { return text };
    let rest = text.get(i + OPEN.len()..).unwrap_or("");
    let mut depth = 1usize;
    for (j, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return rest.get(..j).unwrap_or("").trim();
                }
            }
            _ => {}
        }
    }
    rest.trim()
}

/// Looks up the first of `keys` in `o`, keys compared case-insensitively.
fn get_ci<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| o.iter().find(|(ok, _)| ok.eq_ignore_ascii_case(k)).map(|(_, v)| v))
}

/// The answer a JSON body gives: `Ok(None)` when it is not an answer object
/// (free-text parsing is tried next), `Err` with what is wrong when its scores
/// or box are malformed.
fn answer_from_json(v: &Value) -> Result<Option<Answer>, String> {
    match v {
        Value::Object(o) => answer_from_object(o),
        Value::Array(items) if !items.is_empty() => {
            let mut answers = Vec::with_capacity(items.len());
            for item in items {
                let Some(o) = item.as_object() else { return Ok(None) };
                match answer_from_object(o)? {
                    Some(a) => answers.push(a),
                    None => return Ok(None),
                }
            }
            let mut iter = answers.into_iter();
            let Some(mut first) = iter.next() else { return Ok(None) };
            for a in iter {
                if a.label != first.label {
                    return Ok(None);
                }
                first.bbox = match (first.bbox, a.bbox) {
                    (Some(x), Some(y)) => {
                        Some([x[0].min(y[0]), x[1].min(y[1]), x[2].max(y[2]), x[3].max(y[3])])
                    }
                    (x, y) => x.or(y),
                };
                if first.scores.is_none() {
                    first.scores = a.scores;
                }
                if first.explanation.is_none() {
                    first.explanation = a.explanation;
                }
            }
            Ok(Some(first))
        }
        _ => Ok(None),
    }
}

/// Keys a box may be given under.
const BOX_KEYS: &[&str] = &["bbox", "box", "bbox_2d", "bounding_box"];

fn answer_from_object(o: &Map<String, Value>) -> Result<Option<Answer>, String> {
    // Scores and box are checked first: a malformed one is what the model is told about.
    let scores = match get_ci(o, &["scores", "score", "probabilities", "probs"]) {
        Some(v) => parse_scores(v)?,
        None => None,
    };
    let bbox = match BOX_KEYS.iter().find_map(|k| get_ci(o, &[k]).map(|v| (*k, v))) {
        Some((key, v)) => bbox_from_value(v).map_err(|why| format!("`{key}` {why}"))?,
        None => None,
    };
    let label = match get_ci(o, &["label", "class", "answer", "verdict", "prediction"]) {
        Some(Value::String(s)) => match VerdictLabel::parse(s).or_else(|| label_from_text(s)) {
            Some(l) => l,
            None => return Ok(None),
        },
        Some(_) => return Ok(None),
        None => match scores {
            Some(sc) => VerdictLabel::from(sc.argmax()),
            None => return Ok(None),
        },
    };
    let explanation = match get_ci(o, &["explanation", "reason", "reasoning", "rationale"]) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    Ok(Some(Answer { label, bbox, scores, explanation }))
}

fn number(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// Shows a JSON value in an error message (at most 60 characters). `NaN` and
/// `Infinity` read as JSON5 arrive here as `null`.
fn shown(v: &Value) -> String {
    let s = match v {
        Value::Null => "NaN, Infinity or null".to_string(),
        other => other.to_string(),
    };
    truncate_chars(&s, 60)
}

/// Per-class scores: an object whose label keys (`authentic`, `real`,
/// `synthetic`, `tampered`, and the binary `fake`, which is checked but not
/// kept) hold finite numbers in 0..=1. Other keys are ignored, as is a value
/// that is not an object (a single `"score": 0.9`). `Err` names the bad score.
fn parse_scores(v: &Value) -> Result<Option<Scores>, String> {
    let Some(o) = v.as_object() else { return Ok(None) };
    let mut scores = Scores::default();
    let mut any = false;
    for (k, val) in o {
        let Some(parsed) = VerdictLabel::parse(k) else { continue };
        let x = match number(val) {
            Some(x) if (0.0..=1.0).contains(&x) => x,
            Some(x) => return Err(format!("the score for `{k}` is {x}; scores are probabilities between 0 and 1")),
            None => return Err(format!("the score for `{k}` is {}; scores must be finite numbers between 0 and 1", shown(val))),
        };
        let label = match parsed {
            VerdictLabel::Real => Label::Authentic,
            l => match l.three_class() {
                Some(l) => l,
                None => continue,
            },
        };
        match label {
            Label::Authentic => scores.authentic = x,
            Label::Synthetic => scores.synthetic = x,
            Label::Tampered => scores.tampered = x,
        }
        any = true;
    }
    Ok(any.then_some(scores))
}

const BOX_SHAPE: &str = "must be [x1, y1, x2, y2]: four finite numbers, x1 <= x2 and y1 <= y2, in image_clue_0 pixels";

/// A box value: `Ok(None)` when there is none (`null`, `[]`, a string without
/// digits such as `"none"`), `Err` with what is wrong when it is not
/// `[x1, y1, x2, y2]` (also `[[x1, y1], [x2, y2]]`, `{x1, y1, x2, y2}`, or a
/// string holding such a list).
fn bbox_from_value(v: &Value) -> Result<Option<[f64; 4]>, String> {
    let b = match v {
        Value::Null => return Ok(None),
        Value::Array(items) if items.is_empty() => return Ok(None),
        Value::Array(items) => {
            let mut nums = Vec::with_capacity(4);
            let mut count = 0usize;
            for item in items {
                let inner: &[Value] = match item {
                    Value::Array(inner) => inner,
                    other => std::slice::from_ref(other),
                };
                for x in inner {
                    count += 1;
                    match number(x) {
                        Some(n) => nums.push(n),
                        None => return Err(format!("{BOX_SHAPE}; it holds {}", shown(x))),
                    }
                }
            }
            match <[f64; 4]>::try_from(nums) {
                Ok(b) => b,
                Err(_) => return Err(format!("{BOX_SHAPE}; it holds {count} number{}", if count == 1 { "" } else { "s" })),
            }
        }
        Value::Object(o) => {
            let mut b = [0.0; 4];
            for (slot, keys) in b.iter_mut().zip([["x1", "xmin", "left"], ["y1", "ymin", "top"], ["x2", "xmax", "right"], ["y2", "ymax", "bottom"]]) {
                match get_ci(o, &keys).map(|x| (x, number(x))) {
                    Some((_, Some(n))) => *slot = n,
                    Some((x, None)) => return Err(format!("{BOX_SHAPE}; `{}` is {}", keys[0], shown(x))),
                    None => return Err(format!("{BOX_SHAPE}; `{}` is missing", keys[0])),
                }
            }
            b
        }
        Value::String(s) => match find_bbox(s) {
            Some((b, _, _)) => b,
            None if !s.chars().any(|c| c.is_ascii_digit()) => return Ok(None),
            None => return Err(format!("{BOX_SHAPE}; it is the text {}", shown(v))),
        },
        other => return Err(format!("{BOX_SHAPE}; it is {}", shown(other))),
    };
    check_box_order(b)?;
    Ok(Some(b))
}

fn check_box_order(b: [f64; 4]) -> Result<(), String> {
    if b[2] < b[0] || b[3] < b[1] {
        return Err(format!("{BOX_SHAPE}; it is [{}, {}, {}, {}]", b[0], b[1], b[2], b[3]));
    }
    Ok(())
}

/// In free text, a box keyword (`bbox`, `bbox_2d`, `box`, `bounding_box`)
/// followed by a bracketed group holding some numbers, but not four
/// (`bbox_2d: [10, 20, 30]`): the message for it.
fn malformed_text_box(text: &str) -> Option<String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let lower = text.to_ascii_lowercase();
    let mut search = 0;
    while let Some(off) = lower.get(search..)?.find("box") {
        let at = search + off;
        search = at + 3;
        let start = lower.get(..at)?.rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
        let end = lower.get(at..)?.find(|c: char| !is_word(c)).map_or(lower.len(), |i| at + i);
        let key = lower.get(start..end)?;
        if !BOX_KEYS.contains(&key) {
            continue;
        }
        let rest = lower.get(end..)?;
        let group = rest.trim_start_matches([' ', '\t', ':', '=', '"', '\'']);
        if !group.starts_with(['[', '(']) {
            continue;
        }
        let len = group
            .char_indices()
            .find(|&(i, c)| i >= MAX_BBOX_SPAN || !(c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+' | ' ' | '\t' | '\n' | '\r' | '[' | ']' | '(' | ')')))
            .map_or(group.len(), |(i, _)| i);
        let count = group
            .get(..len)?
            .split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
            .filter(|p| p.parse::<f64>().is_ok_and(f64::is_finite))
            .count();
        if count > 0 && count != 4 {
            return Some(format!("`{key}` {BOX_SHAPE}; it holds {count} number{}", if count == 1 { "" } else { "s" }));
        }
    }
    None
}

/// Longest text scanned for one bracketed box, in bytes.
const MAX_BBOX_SPAN: usize = 256;

/// The first bracketed group of exactly four numbers: returns the box and the byte
/// range it covers.
fn find_bbox(text: &str) -> Option<([f64; 4], usize, usize)> {
    let span_char = |c: char| c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+' | ' ' | '\t' | '\n' | '\r' | '[' | ']' | '(' | ')');
    let mut search = 0;
    while let Some(off) = text.get(search..)?.find(['[', '(']) {
        let start = search + off;
        let rest = text.get(start..)?;
        // A box never needs more than MAX_BBOX_SPAN bytes; the cap keeps `[[[[…` linear.
        let len = rest
            .char_indices()
            .find(|&(i, c)| i >= MAX_BBOX_SPAN || !span_char(c))
            .map_or(rest.len(), |(i, _)| i);
        let span = rest.get(..len)?;
        let nums: Vec<f64> = span
            .split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .collect();
        if let Ok(b) = <[f64; 4]>::try_from(nums) {
            return Some((b, start, start + len));
        }
        search = start + 1;
    }
    None
}

/// Words that do not make an answer text "say more" than its label and box.
const FILLER: &[&str] = &[
    "bbox", "box", "bbox_2d", "bounding_box", "bounding", "label", "answer", "final", "verdict", "class",
    "prediction", "box_start", "box_end", "ref", "object_ref_start", "object_ref_end",
];

/// Chinese label words searched inside CJK text (longest first). Single-character
/// words (`真`, `假`) only count when they are the whole token.
const CJK_WORDS: &[(&str, VerdictLabel)] = &[
    ("ai生成", VerdictLabel::Synthetic),
    ("真实", VerdictLabel::Authentic),
    ("合成", VerdictLabel::Synthetic),
    ("生成", VerdictLabel::Synthetic),
    ("篡改", VerdictLabel::Tampered),
    ("伪造", VerdictLabel::Tampered),
];

const NEGATIONS: &[&str] = &["not", "no", "non", "isn't", "wasn't", "aren't", "never", "neither", "nor", "without"];
const CJK_NEGATIONS: &[char] = &['未', '不', '没', '无', '非'];

fn tokens(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '\'')))
        .map(|t| t.trim_matches(|c| matches!(c, '-' | '_' | '\'')))
        .filter(|t| !t.is_empty())
        .collect()
}

/// Every label word in `text`, and whether any of them is negated.
fn label_words(text: &str) -> (Vec<VerdictLabel>, bool) {
    let toks = tokens(text);
    let mut found = Vec::new();
    let mut negated = false;
    for (k, tok) in toks.iter().enumerate() {
        if let Some(l) = VerdictLabel::parse(tok) {
            found.push(l);
            if k > 0 && toks.get(k - 1).is_some_and(|p| NEGATIONS.contains(&p.to_lowercase().as_str())) {
                negated = true;
            }
            continue;
        }
        if tok.is_ascii() {
            continue;
        }
        let lower = tok.to_lowercase();
        let mut i = 0;
        let mut prev: Option<char> = None;
        while let Some(rest) = lower.get(i..) {
            let Some(c) = rest.chars().next() else { break };
            if let Some((w, l)) = CJK_WORDS.iter().find(|(w, _)| rest.starts_with(w)) {
                found.push(*l);
                if prev.is_some_and(|p| CJK_NEGATIONS.contains(&p)) {
                    negated = true;
                }
                prev = w.chars().last();
                i += w.len();
            } else {
                prev = Some(c);
                i += c.len_utf8();
            }
        }
    }
    (found, negated)
}

/// Exactly one label named in `text` (a three-class word with its consistent
/// binary word counts as the three-class one).
fn label_from_text(text: &str) -> Option<VerdictLabel> {
    let (found, negated) = label_words(text);
    if negated {
        return None;
    }
    let mut three: Option<VerdictLabel> = None;
    let mut binary: Option<VerdictLabel> = None;
    for l in found {
        let slot = if l.three_class().is_some() { &mut three } else { &mut binary };
        match slot {
            Some(prev) if *prev != l => return None,
            _ => *slot = Some(l),
        }
    }
    match (three, binary) {
        (Some(t), Some(b)) if t.binary() != b.binary() => None,
        (Some(t), _) => Some(t),
        (None, b) => b,
    }
}

/// A free-text answer: `Ok(None)` when it does not name exactly one label,
/// `Err` when its box is malformed (a keyword such as `bbox` before a group
/// that is not four numbers, or a box with x2 < x1 or y2 < y1).
fn answer_from_text(text: &str) -> Result<Option<Answer>, String> {
    let (bbox, rest) = match find_bbox(text) {
        Some((b, start, end)) => {
            check_box_order(b)?;
            (Some(b), format!("{} {}", text.get(..start).unwrap_or(""), text.get(end..).unwrap_or("")))
        }
        None => {
            if let Some(why) = malformed_text_box(text) {
                return Err(why);
            }
            (None, text.to_string())
        }
    };
    let Some(label) = label_from_text(&rest) else { return Ok(None) };
    let says_more = tokens(&rest).iter().any(|t| {
        VerdictLabel::parse(t).is_none()
            && !FILLER.contains(&t.to_lowercase().as_str())
            && t.parse::<f64>().is_err()
    });
    let explanation = says_more.then(|| text.trim().to_string());
    Ok(Some(Answer { label, bbox, scores: None, explanation }))
}

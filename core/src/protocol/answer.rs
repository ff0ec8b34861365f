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
            if let Some(a) = answer_from_json(&v) {
                return Ok(a);
            }
        }
    }
    answer_from_text(inner).ok_or_else(bad)
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

fn answer_from_json(v: &Value) -> Option<Answer> {
    match v {
        Value::Object(o) => answer_from_object(o),
        Value::Array(items) if !items.is_empty() => {
            let mut answers = Vec::with_capacity(items.len());
            for item in items {
                answers.push(answer_from_object(item.as_object()?)?);
            }
            let mut iter = answers.into_iter();
            let mut first = iter.next()?;
            for a in iter {
                if a.label != first.label {
                    return None;
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
            Some(first)
        }
        _ => None,
    }
}

fn answer_from_object(o: &Map<String, Value>) -> Option<Answer> {
    let scores = get_ci(o, &["scores", "score", "probabilities", "probs"]).and_then(parse_scores);
    let label = match get_ci(o, &["label", "class", "answer", "verdict", "prediction"]) {
        Some(Value::String(s)) => VerdictLabel::parse(s).or_else(|| label_from_text(s))?,
        Some(_) => return None,
        None => VerdictLabel::from(scores?.argmax()),
    };
    let bbox = get_ci(o, &["bbox", "box", "bbox_2d", "bounding_box"]).and_then(bbox_from_value);
    let explanation = match get_ci(o, &["explanation", "reason", "reasoning", "rationale"]) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    Some(Answer { label, bbox, scores, explanation })
}

fn number(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

fn parse_scores(v: &Value) -> Option<Scores> {
    let o = v.as_object()?;
    let mut scores = Scores::default();
    let mut any = false;
    for (k, val) in o {
        let label = match VerdictLabel::parse(k) {
            Some(VerdictLabel::Real) => Label::Authentic,
            Some(l) => match l.three_class() {
                Some(l) => l,
                None => continue,
            },
            None => continue,
        };
        let Some(x) = number(val) else { continue };
        let x = x as f64;
        if !x.is_finite() {
            continue;
        }
        match label {
            Label::Authentic => scores.authentic = x,
            Label::Synthetic => scores.synthetic = x,
            Label::Tampered => scores.tampered = x,
        }
        any = true;
    }
    any.then_some(scores)
}

fn bbox_from_value(v: &Value) -> Option<[f64; 4]> {
    match v {
        Value::Array(items) => {
            let mut nums = Vec::with_capacity(4);
            for item in items {
                match item {
                    Value::Array(inner) => {
                        for x in inner {
                            nums.push(number(x)?);
                        }
                    }
                    other => nums.push(number(other)?),
                }
                if nums.len() > 4 {
                    return None;
                }
            }
            <[f64; 4]>::try_from(nums).ok()
        }
        Value::Object(o) => Some([
            number(get_ci(o, &["x1", "xmin", "left"])?)?,
            number(get_ci(o, &["y1", "ymin", "top"])?)?,
            number(get_ci(o, &["x2", "xmax", "right"])?)?,
            number(get_ci(o, &["y2", "ymax", "bottom"])?)?,
        ]),
        Value::String(s) => find_bbox(s).map(|(b, _, _)| b),
        _ => None,
    }
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

fn answer_from_text(text: &str) -> Option<Answer> {
    let (bbox, rest) = match find_bbox(text) {
        Some((b, start, end)) => {
            (Some(b), format!("{} {}", text.get(..start).unwrap_or(""), text.get(end..).unwrap_or("")))
        }
        None => (None, text.to_string()),
    };
    let label = label_from_text(&rest)?;
    let says_more = tokens(&rest).iter().any(|t| {
        VerdictLabel::parse(t).is_none()
            && !FILLER.contains(&t.to_lowercase().as_str())
            && t.parse::<f64>().is_err()
    });
    let explanation = says_more.then(|| text.trim().to_string());
    Some(Answer { label, bbox, scores: None, explanation })
}

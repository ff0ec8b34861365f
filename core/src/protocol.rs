//! The model-output protocol parser: one assistant message in, exactly one
//! [`Action`] (plus the optional reasoning) out, or a [`FormatError`] whose
//! `feedback()` the loop sends back to the model.
//!
//! # Accepted grammar
//!
//! ```text
//! message   := text* think? text* action text*
//! think     := "<think>" any "</think>"
//! action    := "<code>" code "</code>"
//!            | "<tool_call>" json "</tool_call>"
//!            | "<answer>" answer "</answer>"
//! ```
//!
//! * **Tags** are matched exactly (`<code>`, not `< code >` or `<code lang=py>`) but
//!   ASCII case-insensitively (`<CODE>`, `<Tool_Call>`). Text outside tags is
//!   ignored; a `<` that does not start one of the eight known tags is plain text
//!   (`a < b and c > d` is fine anywhere).
//! * **Think.** The trimmed inner text of `<think>…</think>` becomes
//!   [`ParsedMessage::think`] (several blocks are joined by a blank line; an empty
//!   block gives `None`). Tags *inside* a closed think block are ignored, so a model
//!   may mention `<answer>` while reasoning.
//!   - An unclosed `<think>` is accepted when an action tag follows it (models
//!     sometimes forget `</think>`): the think text runs up to that action tag. It is
//!     `UnclosedTag{tag:"think"}` only when the message carries no action at all
//!     (this is also what runaway `<think>\n<think>\n…` repetition gives).
//!   - When the first think tag in the message is a `</think>`, everything before
//!     it is the think text, including any tags it mentions (Qwen3 / DeepSeek-R1
//!     chat templates pre-fill the opening `<think>` in the prompt). Any other stray
//!     `</think>` is ignored.
//! * **Actions.** Inside an action tag only its own closing tag is looked for, so
//!   code may contain `<`, `>` or even other tag names. An action tag that never
//!   closes is `UnclosedTag`; a closing action tag with no opening one (outside any
//!   block) is `UnopenedTag`. More than one action tag is `MultipleActions` (checked
//!   before the contents are interpreted). None is `NoAction` — including a bare
//!   fenced ```` ```python ```` block without tags.
//! * **`<code>`** (PyVision / ForenAgent): markdown fences (```` ```python ````,
//!   ```` ``` ````) are stripped; the fenced block is taken when prose surrounds
//!   it. Empty code is `EmptyCode`. Gives `Action::Code{image_index: None, source:
//!   Tag}`.
//! * **`<tool_call>`** (Qwen / ms-swift): a JSON object, parsed with `serde_json`
//!   and, failing that, as JSON5 (single quotes, trailing commas, unquoted keys,
//!   comments). A ```` ```json ```` fence inside is stripped. The object needs a
//!   non-empty string `name`; `arguments` (alias `parameters`) is an object, a
//!   string holding a JSON object (OpenAI style), or absent/null/empty string (an
//!   empty object). The OpenAI wrapper `{"type":"function","function":{…}}` and a
//!   one-element array `[{…}]` are unwrapped; an array of several calls is
//!   `MultipleActions`. Anything else is `InvalidToolCall{detail}` (with the
//!   serde_json error message when it is not JSON at all).
//!   - **Code tools** (`code_image_tool`, `code_image_python_executor`, `python`,
//!     `code_interpreter`, `python_executor`; case-insensitive, CodeVision /
//!     TruthEYE2) become `Action::Code{source: ToolCall{name}}`. The code comes from
//!     the string argument `code` only (fences stripped; empty is `EmptyCode`;
//!     missing, e.g. `python_code`/`script`, or not a string is
//!     `BadArguments{expected:"code"}`). The image index comes from the first of
//!     `img_idx`, `image_index`, `image_idx` present: a non-negative integer, an
//!     integral float, or a numeric string; `null` means none; anything else is
//!     `BadArguments{expected:"image_index (a non-negative integer)"}`.
//!   - Every other name is `Action::ToolCall{name, arguments}` with the arguments
//!     as given (the registry validates them against the tool's schema).
//! * **`<answer>`**: fences stripped, then
//!   1. JSON / JSON5 object with a label under `label|class|answer|verdict|prediction`
//!      (keys case-insensitive), a box under `bbox|box|bbox_2d|bounding_box` (4
//!      numbers, `[[x1,y1],[x2,y2]]`, or `{x1,y1,x2,y2}`), optional `scores`
//!      (`{authentic, synthetic, tampered}`; `real` counts as authentic) and
//!      `explanation|reason|reasoning|rationale`. With no label but scores, the
//!      label is the scores' argmax. A JSON list of such objects (Qwen grounding
//!      `[{"bbox_2d": […], "label": "tampered"}]`) must agree on one label; its box
//!      is the union of the boxes. A malformed box is dropped (`bbox: None`)
//!      rather than failing the answer.
//!   2. Otherwise free text: the first bracketed group of exactly 4 numbers
//!      (`[12, 30, 200, 310]`, `(12,30),(200,310)`, `[[12,30],[200,310]]`) is the
//!      box, and the rest must name exactly one label (words via
//!      [`VerdictLabel::parse`], Chinese words found inside CJK text). A
//!      three-class word plus its consistent binary word (`fake, tampered`) counts as
//!      the three-class one. Two different labels (`real or fake? fake`), a negated
//!      label (`not tampered`, `未篡改`) or none is `BadAnswer{text}` (the first
//!      80 characters). When the text says more than the label and the box, the
//!      whole text is kept as the explanation.
//! * **Bytes**: invalid UTF-8 is `NonUtf8{valid_up_to}`; empty or whitespace is
//!   `Empty`.
//!
//! The parser never panics; JSON5 parsing (recursive, no depth limit) is skipped
//! for bodies nested deeper than [`MAX_JSON_DEPTH`].

use serde_json::{Map, Value};

use crate::action::{Action, Answer, CodeSource, FormatError, ParsedMessage};
use crate::verdict::{Label, Scores, VerdictLabel};

/// Tool names whose calls are code actions (CodeVision / TruthEYE2 style).
pub const CODE_TOOLS: &[&str] = &[
    "code_image_tool",
    "code_image_python_executor",
    "python",
    "code_interpreter",
    "python_executor",
];

/// Deepest bracket nesting handed to the JSON5 parser.
pub const MAX_JSON_DEPTH: usize = 64;

/// Longest `BadAnswer` text, in characters.
const BAD_ANSWER_CHARS: usize = 80;

/// Longest `InvalidToolCall` detail, in characters.
const DETAIL_CHARS: usize = 240;

const IMAGE_INDEX_KEYS: &[&str] = &["img_idx", "image_index", "image_idx"];
const IMAGE_INDEX_EXPECTED: &str = "image_index (a non-negative integer)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Think,
    Code,
    ToolCall,
    Answer,
}

impl Tag {
    const ALL: [Tag; 4] = [Tag::Think, Tag::Code, Tag::ToolCall, Tag::Answer];

    fn name(self) -> &'static str {
        match self {
            Tag::Think => "think",
            Tag::Code => "code",
            Tag::ToolCall => "tool_call",
            Tag::Answer => "answer",
        }
    }
}

/// One known tag found in the text. `start`/`end` are byte offsets of `<` and one
/// past `>`; both are ASCII, so both are char boundaries.
#[derive(Clone, Copy, Debug)]
struct TagHit {
    tag: Tag,
    close: bool,
    start: usize,
    end: usize,
}

/// The known tag starting at byte `i` (which holds `<`), if any.
fn tag_at(bytes: &[u8], i: usize) -> Option<TagHit> {
    let rest = bytes.get(i..)?;
    if rest.first() != Some(&b'<') {
        return None;
    }
    let (close, off) = if rest.get(1) == Some(&b'/') { (true, 2) } else { (false, 1) };
    for tag in Tag::ALL {
        let n = tag.name().as_bytes();
        let name_end = off + n.len();
        if let (Some(cand), Some(&b'>')) = (rest.get(off..name_end), rest.get(name_end)) {
            if cand.eq_ignore_ascii_case(n) {
                return Some(TagHit { tag, close, start: i, end: i + name_end + 1 });
            }
        }
    }
    None
}

/// The next known tag at or after byte `from`.
fn next_tag(s: &str, from: usize) -> Option<TagHit> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        let off = bytes.get(i..)?.iter().position(|&b| b == b'<')?;
        i += off;
        if let Some(hit) = tag_at(bytes, i) {
            return Some(hit);
        }
        i += 1;
    }
    None
}

/// The next closing tag of `tag` at or after `from`, skipping everything else.
fn find_close(s: &str, from: usize, tag: Tag) -> Option<TagHit> {
    let mut pos = from;
    while let Some(hit) = next_tag(s, pos) {
        if hit.close && hit.tag == tag {
            return Some(hit);
        }
        pos = hit.end;
    }
    None
}

/// The next opening action tag (code, tool_call, answer) at or after `from`.
fn find_open_action(s: &str, from: usize) -> Option<TagHit> {
    let mut pos = from;
    while let Some(hit) = next_tag(s, pos) {
        if !hit.close && hit.tag != Tag::Think {
            return Some(hit);
        }
        pos = hit.end;
    }
    None
}

/// Parses one assistant message (raw bytes as the policy produced them) into its
/// reasoning and exactly one action. See the [module documentation](self) for the
/// grammar. Never panics.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, FormatError> {
    let s = std::str::from_utf8(raw).map_err(|e| FormatError::NonUtf8 { valid_up_to: e.valid_up_to() })?;
    if s.trim().is_empty() {
        return Err(FormatError::Empty);
    }

    let mut thinks: Vec<&str> = Vec::new();
    let mut actions: Vec<(Tag, &str)> = Vec::new();
    let mut pos = 0;
    // Prefilled `<think>` (the chat template opened it): when the first think tag
    // is a `</think>`, everything before it is reasoning, whatever tags it mentions.
    let mut scan = 0;
    while let Some(hit) = next_tag(s, scan) {
        if hit.tag == Tag::Think {
            if hit.close {
                thinks.push(s.get(..hit.start).unwrap_or(""));
                pos = hit.end;
            }
            break;
        }
        scan = hit.end;
    }
    while let Some(hit) = next_tag(s, pos) {
        match (hit.tag, hit.close) {
            // A stray `</think>` elsewhere is harmless.
            (Tag::Think, true) => pos = hit.end,
            (Tag::Think, false) => {
                if let Some(close) = find_close(s, hit.end, Tag::Think) {
                    thinks.push(s.get(hit.end..close.start).unwrap_or(""));
                    pos = close.end;
                } else if let Some(action) = find_open_action(s, hit.end) {
                    // Forgotten `</think>`: the reasoning runs up to the action.
                    thinks.push(s.get(hit.end..action.start).unwrap_or(""));
                    pos = action.start;
                } else if actions.is_empty() {
                    return Err(FormatError::UnclosedTag { tag: Tag::Think.name().to_string() });
                } else {
                    // A trailing runaway `<think>` after the action: ignore it.
                    break;
                }
            }
            (tag, true) => return Err(FormatError::UnopenedTag { tag: tag.name().to_string() }),
            (tag, false) => match find_close(s, hit.end, tag) {
                Some(close) => {
                    actions.push((tag, s.get(hit.end..close.start).unwrap_or("")));
                    pos = close.end;
                }
                None => return Err(FormatError::UnclosedTag { tag: tag.name().to_string() }),
            },
        }
    }

    let (tag, body) = match actions.as_slice() {
        [] => return Err(FormatError::NoAction),
        [one] => *one,
        many => {
            return Err(FormatError::MultipleActions {
                count: many.len(),
                kinds: many.iter().map(|(t, _)| t.name()).collect::<Vec<_>>().join(", "),
            })
        }
    };

    let action = match tag {
        Tag::Code => {
            let code = strip_fences(body);
            if code.is_empty() {
                return Err(FormatError::EmptyCode);
            }
            Action::Code { code: code.to_string(), image_index: None, source: CodeSource::Tag }
        }
        Tag::ToolCall => parse_tool_call(body)?,
        Tag::Answer => Action::Answer(parse_answer(body)?),
        Tag::Think => return Err(FormatError::NoAction), // not reachable: think is never an action
    };

    let think = thinks.iter().map(|t| t.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n\n");
    Ok(ParsedMessage { think: if think.is_empty() { None } else { Some(think) }, action })
}

/// Removes markdown code fences: the first fenced block when there is one (the
/// language word on the opening line dropped), an unclosed opening fence, or a
/// dangling closing fence. Returns the trimmed result.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    let Some(i) = t.find("```") else { return t };
    let after = t.get(i + 3..).unwrap_or("");
    // Drop the rest of the opening line (language tag); a one-line "```x```" keeps x.
    let body = match after.find('\n') {
        Some(nl) if after.get(nl + 1..).is_some_and(|b| b.contains("```")) || i == 0 => {
            after.get(nl + 1..).unwrap_or("")
        }
        Some(_) => after,
        None => after,
    };
    if let Some(j) = body.find("```") {
        return body.get(..j).unwrap_or("").trim();
    }
    if i == 0 {
        // Opening fence that never closes.
        return body.trim();
    }
    // A dangling closing fence after the code.
    t.get(..i).unwrap_or("").trim()
}

/// Removes one fence wrapping the whole text (```` ```json ```` … ```` ``` ````):
/// the opening line and a final closing fence. Used for JSON bodies, whose strings
/// may themselves contain fenced code, so inner fences are left alone.
fn strip_outer_fence(s: &str) -> &str {
    let t = s.trim();
    let Some(rest) = t.strip_prefix("```") else { return t };
    let body = match rest.find('\n') {
        Some(nl) => rest.get(nl + 1..).unwrap_or(""),
        // One line: "```{…}```" — keep everything after the backticks.
        None => rest,
    };
    let body = body.trim();
    body.strip_suffix("```").unwrap_or(body).trim()
}

fn truncate_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Maximum bracket nesting of `s` (brackets inside strings are counted too; this
/// is only a guard).
fn nesting_depth(s: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in s.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// JSON first, then JSON5. On failure, the serde_json message.
fn parse_json_loose(s: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(s) {
        Ok(v) => Ok(v),
        Err(e) => {
            if nesting_depth(s) <= MAX_JSON_DEPTH {
                if let Ok(v) = json5::from_str::<Value>(s) {
                    return Ok(v);
                }
            }
            Err(e.to_string())
        }
    }
}

fn invalid(detail: impl Into<String>) -> FormatError {
    FormatError::InvalidToolCall { detail: truncate_chars(&detail.into(), DETAIL_CHARS) }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_tool_call(body: &str) -> Result<Action, FormatError> {
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

// ---------------------------------------------------------------- answers

fn parse_answer(body: &str) -> Result<Answer, FormatError> {
    let text = body.trim();
    let bad = || FormatError::BadAnswer { text: truncate_chars(text, BAD_ANSWER_CHARS) };
    let inner = strip_outer_fence(text);
    if inner.is_empty() {
        return Err(bad());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ParsedMessage {
        match parse(s.as_bytes()) {
            Ok(m) => m,
            Err(e) => panic!("{s:?} failed: {e:?}"),
        }
    }

    fn err(s: &str) -> FormatError {
        match parse(s.as_bytes()) {
            Ok(m) => panic!("{s:?} parsed: {m:?}"),
            Err(e) => e,
        }
    }

    fn label(s: &str) -> VerdictLabel {
        match ok(s).action {
            Action::Answer(a) => a.label,
            other => panic!("{s:?}: not an answer: {other:?}"),
        }
    }

    #[test]
    fn protocol_basic_shapes() {
        let m = ok("<think> look </think><code>```python\nx = 1\n```</code>");
        assert_eq!(m.think.as_deref(), Some("look"));
        assert_eq!(m.action, Action::Code { code: "x = 1".into(), image_index: None, source: CodeSource::Tag });
        assert_eq!(label("<answer>Tampered.</answer>"), VerdictLabel::Tampered);
        assert_eq!(label("<ANSWER>fake, tampered</ANSWER>"), VerdictLabel::Tampered);
        assert_eq!(label("<answer>图像存在篡改痕迹</answer>"), VerdictLabel::Tampered);
        assert!(matches!(err("<answer>未篡改</answer>"), FormatError::BadAnswer { .. }));
        assert!(matches!(err("<answer>not tampered</answer>"), FormatError::BadAnswer { .. }));
        assert_eq!(
            err("<answer>x</answer><answer>y</answer>"),
            FormatError::MultipleActions { count: 2, kinds: "answer, answer".into() }
        );
        // Prefilled think.
        let m = ok("reasoning here</think>\n<answer>real</answer>");
        assert_eq!(m.think.as_deref(), Some("reasoning here"));
        // Forgotten </think>.
        let m = ok("<think>hmm <answer>synthetic</answer>");
        assert_eq!(m.think.as_deref(), Some("hmm"));
        assert_eq!(err("<think>hmm"), FormatError::UnclosedTag { tag: "think".into() });
        // Qwen2-VL box tokens.
        let m = ok("<answer>tampered <|box_start|>(12,30),(200,310)<|box_end|></answer>");
        match m.action {
            Action::Answer(a) => {
                assert_eq!(a.bbox, Some([12.0, 30.0, 200.0, 310.0]));
                assert_eq!(a.explanation, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn protocol_strip_fences() {
        assert_eq!(strip_fences("```python\na\nb\n```"), "a\nb");
        assert_eq!(strip_fences("```\na\n```"), "a");
        assert_eq!(strip_fences("```print(1)```"), "print(1)");
        assert_eq!(strip_fences("Here:\n```py\na\n```\nthanks"), "a");
        assert_eq!(strip_fences("```python\na"), "a");
        assert_eq!(strip_fences("a\n```"), "a");
        assert_eq!(strip_fences("```python\n```"), "");
        assert_eq!(strip_fences("plain"), "plain");
        assert_eq!(strip_outer_fence("```json\n{\"c\": \"```py\\nx\\n```\"}\n```"), "{\"c\": \"```py\\nx\\n```\"}");
        assert_eq!(strip_outer_fence("{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(strip_outer_fence("```{\"a\": 1}```"), "{\"a\": 1}");
    }

    /// Deterministic 64-bit LCG (Knuth's MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }

    const PIECES: &[&str] = &[
        "<think>", "</think>", "<code>", "</code>", "<tool_call>", "</tool_call>", "<answer>", "</answer>", "```",
        "```python\n", "{", "}", "[", "]", "\"", "'", ":", ",", "name", "arguments", "code", "img_idx", "tampered",
        "real", "fake", "篡改", "未", "é", "🙂", "<", ">", "/", "\n", " ", "0", "-1", "1e999", "NaN", "[[[[",
    ];

    fn corpus_texts() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for line in include_str!("../tests/corpus/model_outputs.jsonl").lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            if let Some(t) = v.get("text").and_then(Value::as_str) {
                out.push(t.as_bytes().to_vec());
            }
        }
        out
    }

    #[test]
    fn protocol_fuzz_never_panics() {
        let mut rng = Lcg(0x7275_7468_6579_6521);
        // Pure random bytes, and random splices of protocol pieces.
        for _ in 0..3000 {
            let len = rng.below(200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = parse(&bytes);
            let mut s = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(4) == 0 {
                    s.push(rng.next() as u8);
                } else {
                    s.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
                }
            }
            let _ = parse(&s);
        }
        // Mutations and truncations of the corpus.
        let corpus = corpus_texts();
        assert!(!corpus.is_empty());
        for _ in 0..4000 {
            let mut t = corpus[rng.below(corpus.len())].clone();
            for _ in 0..=rng.below(4) {
                let n = t.len();
                match rng.below(6) {
                    0 => t.truncate(rng.below(n + 1)),
                    1 if n > 0 => {
                        let i = rng.below(n);
                        t[i] = rng.next() as u8;
                    }
                    2 if n > 0 => {
                        t.remove(rng.below(n));
                    }
                    3 => {
                        let i = rng.below(n + 1);
                        let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                        t.splice(i..i, piece.iter().copied());
                    }
                    4 if n > 0 => {
                        let a = rng.below(n);
                        let b = a + rng.below(n - a + 1);
                        let chunk = t[a..b].to_vec();
                        t.extend_from_slice(&chunk);
                    }
                    _ => {
                        let i = rng.below(n + 1);
                        t.drain(..i);
                    }
                }
            }
            if let Ok(m) = parse(&t) {
                // Whatever parses must serialize.
                assert!(serde_json::to_string(&m).is_ok());
            }
        }
        // Deep nesting must not overflow the stack.
        let deep = format!("<tool_call>{}</tool_call>", "[".repeat(100_000));
        assert!(matches!(parse(deep.as_bytes()), Err(FormatError::InvalidToolCall { .. })));
        let deep = format!("<answer>{}tampered</answer>", "{".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_ok());
        // Pathological inputs stay fast (no quadratic scans).
        let start = std::time::Instant::now();
        for body in ["[".repeat(200_000), "(1,".repeat(60_000), "<".repeat(200_000), "<think>".repeat(30_000)] {
            let _ = parse(format!("<answer>{body}</answer>").as_bytes());
            let _ = parse(body.as_bytes());
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
    }
}

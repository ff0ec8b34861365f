//! The model-output protocol parser: one assistant message in, exactly one
//! [`Action`] (plus the optional reasoning) out, or a [`FormatError`] whose
//! `feedback()` the loop sends back to the model.
//!
//! # Accepted grammar
//!
//! ```text
//! message   := text* think? text* (action text* | last)
//! think     := "<think>" any "</think>"
//! action    := "<code>" code "</code>"
//!            | "<tool_call>" json "</tool_call>"
//!            | "<answer>" answer "</answer>"
//! last      := "<tool_call>" json            (to the end: the stop string was dropped)
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
//!   closes is `UnclosedTag`, except a last `<tool_call>` whose body runs to the
//!   end of the message, holds no other known tag and is a complete JSON value:
//!   that is generation stopped at the stop string `</tool_call>`, which
//!   servers and some harnesses (DeepEyes) drop, so it is the call. A closing action tag with no opening one (outside any
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
//!      is the union of the boxes. `null`, `[]` or a text without digits
//!      (`"none"`) is no box. A malformed box (not four finite numbers, or
//!      x2 < x1 or y2 < y1) or a malformed score (under a label key, not a finite
//!      number in 0..=1: `NaN`, `Infinity`, `null`, `85`, `"high"`) is
//!      `MalformedAnswer{detail}`, whose feedback names the field and what is
//!      wrong, so the model can fix it; other score keys are ignored.
//!   2. Otherwise free text: the first bracketed group of exactly 4 numbers
//!      (`[12, 30, 200, 310]`, `(12,30),(200,310)`, `[[12,30],[200,310]]`) is the
//!      box, and the rest must name exactly one label (words via
//!      [`VerdictLabel::parse`], Chinese words found inside CJK text). A
//!      three-class word plus its consistent binary word (`fake, tampered`) counts as
//!      the three-class one. Two different labels (`real or fake? fake`), a negated
//!      label (`not tampered`, `未篡改`) or none is `BadAnswer{text}` (the first
//!      80 characters). When the text says more than the label and the box, the
//!      whole text is kept as the explanation. A box keyword followed by a
//!      bracketed group of numbers that are not four (`bbox_2d: [10, 20, 30]`),
//!      or a box with x2 < x1 or y2 < y1, is `MalformedAnswer{detail}`.
//! * **Bytes**: invalid UTF-8 is `NonUtf8{valid_up_to}`; empty or whitespace is
//!   `Empty`.
//!
//! The parser never panics; JSON5 parsing (recursive, no depth limit) is skipped
//! for bodies nested deeper than [`MAX_JSON_DEPTH`].

use serde_json::Value;

use crate::action::{Action, CodeSource, FormatError, ParsedMessage};
use crate::config::AnswerSettings;

mod answer;
pub mod image_tags;
mod terminal;
mod tool_call;
#[cfg(test)]
mod tests;

use answer::parse_answer;
pub use terminal::escape_controls;
use tool_call::parse_tool_call;

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

/// Whether an unclosed `<tool_call>` whose body starts at `from` is the last
/// thing in the message: no other known tag follows, and the rest is a complete
/// JSON value (a truncated body is still `UnclosedTag`: the model ran out of
/// tokens, it did not stop at the closing tag).
fn unclosed_call_ends_message(s: &str, from: usize) -> bool {
    let rest = s.get(from..).unwrap_or("");
    if next_tag(rest, 0).is_some() {
        return false;
    }
    let body = strip_outer_fence(rest);
    !body.is_empty() && parse_json_loose(body).is_ok()
}

/// Parses one assistant message (raw bytes as the policy produced them) into its
/// reasoning and exactly one action. See the [module documentation](self) for the
/// grammar. Never panics.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, FormatError> {
    parse_with(raw, &AnswerSettings::default())
}

/// [`parse`], with a harness's own answer words (`[answer] labels` of a config):
/// an answer that is exactly one of them (ignoring case and a trailing period)
/// has its label before the built-in rules are tried.
pub fn parse_with(raw: &[u8], answer: &AnswerSettings) -> Result<ParsedMessage, FormatError> {
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
                // The stop-string case: generation stopped at `</tool_call>` and the
                // server (or the harness, as DeepEyes' does) left it out.
                None if tag == Tag::ToolCall && unclosed_call_ends_message(s, hit.end) => {
                    actions.push((tag, s.get(hit.end..).unwrap_or("")));
                    break;
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
        Tag::Answer => Action::Answer(parse_answer(body, &answer.labels)?),
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

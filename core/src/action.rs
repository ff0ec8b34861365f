//! Parsed model actions and the format errors the loop feeds back.

use serde::{Deserialize, Serialize};

use crate::verdict::{Scores, VerdictLabel};

/// Where a code action came from in the model's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "via")]
pub enum CodeSource {
    /// A `<code>…</code>` block (PyVision / ForenAgent).
    Tag,
    /// A code tool call such as `code_image_tool` (CodeVision / TruthEYE2).
    ToolCall {
        /// The tool name the model used.
        name: String,
    },
}

/// The answer part of a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The label stated.
    pub label: VerdictLabel,
    /// A box, when the model gave one (pixel coordinates, may be fractional or out of range).
    pub bbox: Option<[f64; 4]>,
    /// Per-class scores, when given.
    pub scores: Option<Scores>,
    /// Any free text inside the answer beside the label.
    pub explanation: Option<String>,
}

/// One action parsed from an assistant message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Action {
    /// Image-operation code to run in the PVR sandbox.
    Code {
        /// The code, with markdown fences removed.
        code: String,
        /// The image the code targets (`img_idx` / `image_index`), when given.
        image_index: Option<usize>,
        /// How the model wrote it.
        source: CodeSource,
    },
    /// A call to a registry tool (forensic operator or basic image tool).
    ToolCall {
        /// Tool name.
        name: String,
        /// Arguments object.
        arguments: serde_json::Map<String, serde_json::Value>,
    },
    /// The final answer.
    Answer(Answer),
}

impl Action {
    /// Short kind name used in logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Code { .. } => "code",
            Action::ToolCall { .. } => "tool_call",
            Action::Answer(_) => "answer",
        }
    }
}

/// A successfully parsed assistant message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParsedMessage {
    /// Contents of `<think>…</think>`, when present.
    pub think: Option<String>,
    /// The single action the message carries.
    pub action: Action,
}

/// Why a message could not be turned into exactly one action. Each variant has a
/// short feedback text the loop sends back to the model.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FormatError {
    /// The message is empty or whitespace.
    #[error("the message is empty")]
    Empty,
    /// The message is not valid UTF-8.
    #[error("the message is not valid UTF-8 (first bad byte at offset {valid_up_to})")]
    NonUtf8 {
        /// Offset of the first invalid byte.
        valid_up_to: usize,
    },
    /// No `<code>`, `<tool_call>` or `<answer>` found.
    #[error("no action found: expected one <code>…</code>, <tool_call>…</tool_call> or <answer>…</answer>")]
    NoAction,
    /// A tag opened and never closed.
    #[error("<{tag}> is opened but never closed")]
    UnclosedTag {
        /// The tag name.
        tag: String,
    },
    /// A closing tag with no opening tag.
    #[error("</{tag}> closes a tag that was never opened")]
    UnopenedTag {
        /// The tag name.
        tag: String,
    },
    /// More than one action in one message.
    #[error("{count} actions in one message ({kinds}); write exactly one action per turn")]
    MultipleActions {
        /// How many.
        count: usize,
        /// Their kinds, comma-separated.
        kinds: String,
    },
    /// The tool call body is not a JSON object with a name.
    #[error("the tool call is not valid JSON: {detail}")]
    InvalidToolCall {
        /// What was wrong.
        detail: String,
    },
    /// A code tool call without usable `code`.
    #[error("tool `{tool}` needs argument `{expected}`{}", got_hint(.got))]
    BadArguments {
        /// The tool.
        tool: String,
        /// The argument that is needed.
        expected: String,
        /// The argument names the model gave.
        got: Vec<String>,
    },
    /// `<code>` with nothing in it.
    #[error("the code block is empty")]
    EmptyCode,
    /// An answer whose label is not one of the allowed words.
    #[error("the answer `{text}` is not one of authentic, synthetic, tampered (or real, fake)")]
    BadAnswer {
        /// The answer text (truncated).
        text: String,
    },
    /// An answer whose scores or box are malformed: a score that is not a
    /// finite number in 0..=1 (`NaN`, `Infinity`), a box that is not
    /// `[x1, y1, x2, y2]` with x1 <= x2 and y1 <= y2.
    #[error("the answer is malformed: {detail}")]
    MalformedAnswer {
        /// What is wrong, naming the field.
        detail: String,
    },
}

fn got_hint(got: &[String]) -> String {
    if got.is_empty() {
        String::new()
    } else {
        format!(" (got {})", got.join(", "))
    }
}

impl FormatError {
    /// Feedback the loop sends to the model, in the style of a tool error.
    pub fn feedback(&self) -> String {
        format!(
            "Format error: {self}. Reply with <think>…</think> followed by exactly one of \
             <code>…</code>, <tool_call>{{\"name\": …, \"arguments\": {{…}}}}</tool_call>, \
             or <answer>authentic|synthetic|tampered</answer>."
        )
    }
}

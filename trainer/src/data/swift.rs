//! The ms-swift 3.x agent SFT format: `{"messages": [...], "images": [...],
//! "tools": "<JSON string>"}` with roles `system`, `user`, `assistant`,
//! `tool_call` (content: `{"name": ..., "arguments": {...}}` as a JSON string)
//! and `tool_response`. Each `<image>` in a message consumes the next entry of
//! `images`, in order.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use trutheye_core::protocol::image_tags::{count_image_tags, with_images, IMAGE_TAG};

/// One message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwiftMessage {
    /// `system`, `user`, `assistant`, `tool_call` or `tool_response`.
    pub role: String,
    /// The text (with `<image>` placeholders).
    pub content: String,
}

impl SwiftMessage {
    /// A message with `role` and `content`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
}

/// One training sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwiftSample {
    /// The conversation.
    pub messages: Vec<SwiftMessage>,
    /// Absolute image paths, one per `<image>` in order.
    pub images: Vec<String>,
    /// The tool schemas as a JSON string (ms-swift's `tools` is a string).
    pub tools: String,
}

/// The content of a `tool_call` message (compact JSON). Written by hand so `name`
/// comes before `arguments`, as the Hermes/Qwen template shows it (serde_json sorts keys).
pub fn tool_call_content(name: &str, arguments: &Map<String, Value>) -> String {
    let name = serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into());
    let args = serde_json::to_string(arguments).unwrap_or_else(|_| "{}".into());
    format!("{{\"name\":{name},\"arguments\":{args}}}")
}

/// The arguments of a code-tool call as CodeVision/TruthEYE2 write them.
pub fn code_arguments(code: &str, image_index: Option<usize>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("code".into(), Value::String(code.to_string()));
    if let Some(i) = image_index {
        m.insert("image_index".into(), json!(i));
    }
    m
}

/// The schema of a code tool (`code_image_tool`, `code_image_python_executor`),
/// in the same function format as `tool_list`.
pub fn code_tool_schema(name: &str) -> Value {
    json!({"type": "function", "function": {
        "name": name,
        "description": "Run Python image-operation code in the sandbox. The images are preloaded as image_clue_0, image_clue_1, ...; print(...) output and shown images come back.",
        "parameters": {"type": "object", "properties": {
            "code": {"type": "string", "description": "the Python code"},
            "image_index": {"type": "integer", "minimum": 0, "description": "which image_clue_k the code works on (default 0)"}
        }, "required": ["code"]}
    }})
}

/// The text of an assistant message before its `<tool_call>` tag (trimmed), found
/// ASCII-case-insensitively as the protocol parser matches tags.
pub fn text_before_tool_call(message: &str) -> &str {
    let lower = message.to_ascii_lowercase();
    match lower.find("<tool_call>") {
        // Lower-casing ASCII keeps byte offsets, so the index is valid in `message`.
        Some(i) => message.get(..i).unwrap_or("").trim(),
        None => message.trim(),
    }
}

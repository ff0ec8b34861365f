//! ms-swift SFT samples (`messages` with `<image>` placeholders, `images`)
//! as chat messages in the form Qwen2.5-VL was trained on: tool calls as
//! `<tool_call>` blocks in the assistant turn, tool responses as user turns
//! in `<tool_response>` blocks (ms-swift's hermes agent template).

use crate::TrainError;
use std::path::Path;

use trutheye_model::qwen25vl::{ChatMessage, ChatPart};

use crate::data::swift::{SwiftSample, IMAGE_TAG};

/// Reads a JSONL file of samples; a bad line is an error naming its number.
pub fn read_samples(path: &Path) -> Result<Vec<SwiftSample>, TrainError> {
    let text = trutheye_core::input::read_text_bounded(path, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| TrainError::Run(e.to_string()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str::<SwiftSample>(l).map_err(|e| TrainError::Run(format!("{}:{}: {e}", path.display(), i + 1))))
        .collect()
}

/// Converts one sample, loading its images (relative paths against `base`).
pub fn to_chat(sample: &SwiftSample, base: &Path) -> Result<Vec<ChatMessage>, TrainError> {
    let mut images = sample.images.iter();
    let mut out: Vec<ChatMessage> = Vec::new();
    for m in &sample.messages {
        let (role, text) = match m.role.as_str() {
            "tool_call" => ("assistant", format!("<tool_call>\n{}\n</tool_call>", m.content)),
            "tool_response" | "tool" => ("user", format!("<tool_response>\n{}\n</tool_response>", m.content)),
            r @ ("system" | "user" | "assistant") => (r, m.content.clone()),
            other => return Err(TrainError::Run(format!("unknown role `{other}`"))),
        };
        let mut parts = Vec::new();
        for (k, piece) in text.split(IMAGE_TAG).enumerate() {
            if k > 0 {
                let p = images.next().ok_or_else(|| TrainError::Run("more <image> tags than images".to_string()))?;
                let path = if Path::new(p).is_absolute() { Path::new(p).to_path_buf() } else { base.join(p) };
                // Pillow's pixels (libjpeg-turbo for JPEG), as ms-swift would have loaded them.
                let img = trutheye_core::ImageBuf::open(&path, trutheye_core::image::DEFAULT_MAX_PIXELS).map_err(|e| TrainError::Run(e.to_string()))?;
                parts.push(ChatPart::Image(img.rgb));
            }
            if !piece.is_empty() {
                parts.push(ChatPart::Text(piece.to_string()));
            }
        }
        // A tool call continues the assistant turn before it.
        match out.last_mut() {
            Some(prev) if role == "assistant" && prev.role == "assistant" && m.role == "tool_call" => {
                prev.parts.push(ChatPart::Text("\n".into()));
                prev.parts.extend(parts);
            }
            _ => out.push(ChatMessage { role: role.into(), parts }),
        }
    }
    if images.next().is_some() {
        return Err(TrainError::Run("more images than <image> tags".to_string()));
    }
    Ok(out)
}

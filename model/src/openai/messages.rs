//! The conversation as an OpenAI chat request: text parts and images as
//! base64 PNG data URLs, observations in the configured role.

use crate::ModelError;
use std::io::Cursor;

use base64::Engine;
use image::{imageops, RgbImage};
use serde_json::{json, Value};
use trutheye_core::{Conversation, ReplyLimits, Role};

use super::config::OpenAiConfig;

/// `data:image/png;base64,…` of `img`, downscaled to at most `max_pixels` (0: as is).
pub fn data_url(img: &RgbImage, max_pixels: u64) -> Result<String, ModelError> {
    let pixels = img.width() as u64 * img.height() as u64;
    let scaled;
    let img = if max_pixels > 0 && pixels > max_pixels {
        let s = (max_pixels as f64 / pixels as f64).sqrt();
        let (w, h) = (((img.width() as f64 * s) as u32).max(1), ((img.height() as f64 * s) as u32).max(1));
        scaled = imageops::resize(img, w, h, imageops::FilterType::CatmullRom);
        &scaled
    } else {
        img
    };
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| ModelError::Server(format!("cannot encode an image as PNG: {e}")))?;
    Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&png)))
}

/// The request body for the conversation so far.
pub fn request_body(conv: &Conversation, cfg: &OpenAiConfig, limits: ReplyLimits) -> Result<Value, ModelError> {
    let mut messages = Vec::with_capacity(conv.messages.len());
    for m in &conv.messages {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => cfg.observation_role.as_str(),
        };
        if m.images.is_empty() || m.role == Role::Assistant || m.role == Role::System {
            messages.push(json!({"role": role, "content": m.text}));
            continue;
        }
        let mut parts = Vec::with_capacity(m.images.len() + 1);
        for &i in &m.images {
            let img = conv.images.get(i).ok_or_else(|| ModelError::Server(format!("message refers to image {i}, which the conversation does not hold")))?;
            parts.push(json!({"type": "image_url", "image_url": {"url": data_url(&img.rgb, cfg.max_image_pixels)?}}));
        }
        parts.push(json!({"type": "text", "text": m.text}));
        messages.push(json!({"role": role, "content": parts}));
    }
    let mut body = json!({
        "model": cfg.model,
        "messages": messages,
        "max_tokens": limits.max_tokens,
        "temperature": cfg.temperature,
        "stream": false,
    });
    let o = body.as_object_mut().ok_or_else(|| ModelError::Server("request body is not an object".to_string()))?;
    if !cfg.stop.is_empty() {
        o.insert("stop".into(), json!(cfg.stop));
    }
    if let Some(p) = cfg.top_p {
        o.insert("top_p".into(), json!(p));
    }
    if let Some(s) = cfg.seed {
        o.insert("seed".into(), json!(s));
    }
    Ok(body)
}

/// What a chat completion said.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The assistant text, with the matched stop string put back.
    pub text: String,
    /// `usage.completion_tokens`, when given.
    pub tokens: Option<u32>,
}

/// Reads a `/chat/completions` response body. Servers drop the stop string that
/// ended generation (vLLM names it in `stop_reason`); the parser needs the closing
/// tag, so it is appended again. A missing `content` (null) is an empty reply,
/// which the loop feeds back to the model as a format error.
pub fn parse_completion(body: &str, stop: &[String]) -> Result<Completion, ModelError> {
    let v: Value = serde_json::from_str(body).map_err(|e| ModelError::Server(format!("malformed JSON from the server ({e}): {}", excerpt(body))))?;
    if let Some(err) = v.get("error") {
        return Err(ModelError::Server(format!("server error: {}", err.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| err.to_string()))));
    }
    let choice = v.pointer("/choices/0").ok_or_else(|| ModelError::Server(format!("no `choices[0]` in the server's reply: {}", excerpt(body))))?;
    let mut text = match choice.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => return Err(ModelError::Server(format!("`message.content` is not a string: {}", excerpt(&other.to_string())))),
    };
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let matched = choice.get("stop_reason").and_then(Value::as_str).map(str::to_string);
    if finish == Some("stop") {
        // vLLM names the stop string; OpenAI does not, so infer it from an open tag.
        let s = matched.or_else(|| stop.iter().find(|s| closes_open_tag(&text, s)).cloned());
        if let Some(s) = s.filter(|s| stop.contains(s) && !text.ends_with(s.as_str())) {
            text.push_str(&s);
        }
    }
    let tokens = v.pointer("/usage/completion_tokens").and_then(Value::as_u64).map(|t| t.min(u32::MAX as u64) as u32);
    Ok(Completion { text, tokens })
}

/// Whether `stop` is a closing tag (`</x>`) whose opening tag is left open in `text`.
fn closes_open_tag(text: &str, stop: &str) -> bool {
    let Some(name) = stop.strip_prefix("</").and_then(|s| s.strip_suffix('>')) else { return false };
    let open = format!("<{name}>");
    text.rfind(&open).is_some_and(|i| !text[i..].contains(stop))
}

/// The first 200 characters of a body, on one line.
pub fn excerpt(s: &str) -> String {
    let one: String = s.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().count() > 200 {
        format!("{one}…")
    } else {
        one
    }
}

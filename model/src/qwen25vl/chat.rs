//! Tokenizer and chat template: messages to token ids, with each image's
//! `<|image_pad|>` expanded to as many tokens as the tower gives it.
//!
//! The checkpoint's own Jinja template is rendered (with the settings
//! transformers uses: trim_blocks, lstrip_blocks) so fine-tunes with a
//! changed template are honoured; Qwen2.5-VL's stock template is the fallback.

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use minijinja::{context, Environment};
use serde_json::{json, Value};
use tokenizers::Tokenizer;

use super::config::PreprocessorConfig;
use super::preprocess::{preprocess, PixelPatches};
use super::ModelError;

/// Qwen2.5-VL's stock chat template (used when the checkpoint has none).
const STOCK_TEMPLATE: &str = "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const IMAGE_PAD: &str = "<|image_pad|>";

/// One part of a message.
#[derive(Clone, Debug)]
pub enum ChatPart {
    /// Text.
    Text(String),
    /// An image, in the message where it appears.
    Image(Arc<RgbImage>),
}

/// A chat message.
#[derive(Clone, Debug)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, or `tool`.
    pub role: String,
    /// Parts in order.
    pub parts: Vec<ChatPart>,
}

impl ChatMessage {
    /// A text-only message.
    pub fn text(role: &str, text: impl Into<String>) -> Self {
        Self { role: role.into(), parts: vec![ChatPart::Text(text.into())] }
    }
}

/// A tokenized prompt with its images preprocessed.
#[derive(Clone, Debug)]
pub struct Prompt {
    /// The rendered template, before image-token expansion.
    pub text: String,
    /// Token ids.
    pub ids: Vec<u32>,
    /// The images, in prompt order.
    pub images: Vec<PixelPatches>,
}

/// Tokenizer plus template.
pub struct ChatTemplate {
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    template: String,
    /// Whether the template came from the checkpoint (else the stock one).
    pub from_checkpoint: bool,
    merge: usize,
}

impl ChatTemplate {
    /// Reads `tokenizer.json` and the template (`chat_template.jinja`,
    /// `chat_template.json`, or `tokenizer_config.json`'s `chat_template`).
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| ModelError::Tokenizer(format!("{}: {e}", tok_path.display())))?;
        let template = find_template(dir)?;
        let from_checkpoint = template.is_some();
        if !from_checkpoint {
            tracing::warn!(dir = %dir.display(), "no chat template in the checkpoint; using Qwen2.5-VL's stock template");
        }
        let merge = PreprocessorConfig::load(dir)?.merge_size;
        Ok(Self { tokenizer, template: template.unwrap_or_else(|| STOCK_TEMPLATE.to_string()), from_checkpoint, merge })
    }

    /// Renders `messages` (with the generation prompt when `generation_prompt`).
    pub fn render(&self, messages: &[ChatMessage], generation_prompt: bool) -> Result<String, ModelError> {
        let msgs: Vec<Value> = messages
            .iter()
            .map(|m| {
                let only_text = m.parts.len() == 1 && matches!(m.parts[0], ChatPart::Text(_));
                let content = if only_text {
                    match &m.parts[0] {
                        ChatPart::Text(t) => json!(t),
                        ChatPart::Image(_) => json!(null),
                    }
                } else {
                    Value::Array(
                        m.parts
                            .iter()
                            .map(|p| match p {
                                ChatPart::Text(t) => json!({"type": "text", "text": t}),
                                ChatPart::Image(_) => json!({"type": "image"}),
                            })
                            .collect(),
                    )
                };
                json!({"role": m.role, "content": content})
            })
            .collect();
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        minijinja_contrib::add_to_environment(&mut env);
        let tmpl = env.template_from_str(&self.template).map_err(|e| ModelError::Tokenizer(format!("chat template: {e}")))?;
        tmpl.render(context! { messages => msgs, add_generation_prompt => generation_prompt })
            .map_err(|e| ModelError::Tokenizer(format!("rendering the chat template: {e}")))
    }

    /// Renders, preprocesses the images and tokenizes.
    pub fn prompt(&self, messages: &[ChatMessage], pre: &PreprocessorConfig, generation_prompt: bool) -> Result<Prompt, ModelError> {
        let text = self.render(messages, generation_prompt)?;
        let mut images = Vec::new();
        for m in messages {
            for p in &m.parts {
                if let ChatPart::Image(img) = p {
                    images.push(preprocess(img, pre)?);
                }
            }
        }
        let ids = self.tokenize_expanded(&text, &images)?;
        Ok(Prompt { text, ids, images })
    }

    /// Tokenizes `text`, expanding the k-th `<|image_pad|>` to image k's token count.
    pub fn tokenize_expanded(&self, text: &str, images: &[PixelPatches]) -> Result<Vec<u32>, ModelError> {
        let pieces: Vec<&str> = text.split(IMAGE_PAD).collect();
        if pieces.len() - 1 != images.len() {
            return Err(ModelError::Input(format!("the template placed {} image slots for {} images", pieces.len() - 1, images.len())));
        }
        let mut expanded = String::with_capacity(text.len());
        for (i, piece) in pieces.iter().enumerate() {
            expanded.push_str(piece);
            if let Some(img) = images.get(i) {
                expanded.push_str(&IMAGE_PAD.repeat(img.tokens(self.merge)));
            }
        }
        self.encode(&expanded)
    }

    /// Token ids of `text` (special tokens recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids` (special tokens kept: the parser needs the tags as written).
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.tokenizer.decode(ids, false).map_err(|e| ModelError::Tokenizer(e.to_string()))
    }

    /// The id of a special token such as `<|im_end|>`.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }
}

fn find_template(dir: &Path) -> Result<Option<String>, ModelError> {
    let jinja = dir.join("chat_template.jinja");
    if jinja.exists() {
        return std::fs::read_to_string(&jinja).map(Some).map_err(|e| ModelError::io(&jinja, e));
    }
    for (file, key) in [("chat_template.json", "chat_template"), ("tokenizer_config.json", "chat_template")] {
        let p = dir.join(file);
        if !p.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&p).map_err(|e| ModelError::io(&p, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| ModelError::Tokenizer(format!("{}: {e}", p.display())))?;
        if let Some(t) = v.get(key).and_then(Value::as_str) {
            return Ok(Some(t.to_string()));
        }
    }
    Ok(None)
}

//! [`Qwen25VlPolicy`]: the agent's turns written by a local Qwen2.5-VL.
//!
//! The conversation becomes chat messages the way the model was trained
//! (ms-swift's Qwen2.5-VL template): the strategy's system prompt, the user
//! turn with the image first, assistant turns verbatim, and observations as
//! user turns carrying their images (or `tool` turns, if configured).

use std::sync::Arc;

use trutheye_core::{Conversation, Policy, PolicyError, PolicyReply, ReplyLimits, Role};

use super::chat::{ChatMessage, ChatPart};
use super::generate::GenerationConfig;
use super::Qwen25Vl;

/// A policy over a loaded model (episodes can share the model).
pub struct Qwen25VlPolicy {
    model: Arc<Qwen25Vl>,
    /// Sampling settings; `max_new_tokens` is capped by the loop's limit.
    pub generation: GenerationConfig,
    /// Role observations are given (`user` or `tool`).
    pub observation_role: String,
    /// Print tokens to stderr as they are generated.
    pub stream: bool,
    name: String,
    episode: u64,
}

impl Qwen25VlPolicy {
    /// A policy with the given sampling settings.
    pub fn new(model: Arc<Qwen25Vl>, generation: GenerationConfig) -> Self {
        let name = format!("qwen25vl:{}", model.dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        Self { model, generation, observation_role: "user".into(), stream: false, name, episode: 0 }
    }

    /// The conversation as chat messages.
    pub fn messages(&self, conv: &Conversation) -> Result<Vec<ChatMessage>, crate::ModelError> {
        let mut out = Vec::with_capacity(conv.messages.len());
        for m in &conv.messages {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => self.observation_role.as_str(),
            };
            let mut parts = Vec::with_capacity(m.images.len() + 1);
            for &i in &m.images {
                let img = conv.images.get(i).ok_or_else(|| crate::ModelError::Input(format!("message refers to image {i}, which the conversation does not hold")))?;
                parts.push(ChatPart::Image(img.rgb.clone()));
            }
            parts.push(ChatPart::Text(neutralise_vision_tokens(&m.text)));
            out.push(ChatMessage { role: role.into(), parts });
        }
        Ok(out)
    }
}

/// Text can spell a vision token out of ordinary pieces (a model writing
/// `<|image_pad|>` byte by byte, an observation quoting one); the tokenizer
/// would then read an image slot with no image. A space inside breaks the
/// special token and keeps the text readable.
pub fn neutralise_vision_tokens(text: &str) -> String {
    let mut t = text.to_string();
    for tok in ["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"] {
        if t.contains(tok) {
            t = t.replace(tok, &tok.replacen("<|", "< |", 1));
        }
    }
    t
}

impl Policy for Qwen25VlPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn reset(&mut self) {
        self.episode += 1;
    }

    fn next(&mut self, conversation: &Conversation, limits: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let messages = self.messages(conversation).map_err(|e| PolicyError(e.to_string()))?;
        let prompt = self.model.chat.prompt(&messages, &self.model.preprocessor, true).map_err(|e| PolicyError(e.to_string()))?;
        let mut cfg = self.generation.clone();
        cfg.max_new_tokens = cfg.max_new_tokens.min(limits.max_tokens as usize).max(1);
        // Different turns and episodes must not replay the same random stream.
        cfg.seed = cfg.seed.wrapping_add(self.episode.wrapping_mul(1_000_003)).wrapping_add(conversation.assistant_turns() as u64);
        let stream = self.stream;
        let mut sink = |piece: &str| {
            if stream {
                eprint!("{piece}");
            }
        };
        let g = self.model.generate(&prompt, &cfg, &mut sink).map_err(|e| PolicyError(e.to_string()))?;
        if stream {
            eprintln!();
        }
        tracing::debug!(prompt_tokens = g.prompt_tokens, new_tokens = g.ids.len(), stop = ?g.stop, prefill_s = g.prefill_s, decode_s = g.decode_s, "qwen25vl turn");
        Ok(PolicyReply { raw: g.text.into_bytes(), tokens: Some(g.ids.len() as u32) })
    }
}

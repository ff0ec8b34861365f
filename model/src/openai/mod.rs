//! The OpenAI-compatible backend: a [`Policy`] whose turns come from a model
//! served behind `/v1/chat/completions` (vLLM, SGLang, llama.cpp server, ...).
//!
//! Images travel as base64 PNG data URLs; the strategy's system prompt is the
//! system message; observations come back as user messages (or `tool`, see
//! [`OpenAiConfig::observation_role`]). Network is used only to reach the
//! endpoints the user names; with several, requests are balanced over them
//! (`pool`).

mod client;
mod config;
mod messages;
mod pool;

use std::sync::Arc;

use trutheye_core::{Conversation, Policy, PolicyError, PolicyReply, ReplyLimits};

pub use client::OpenAiClient;
pub use config::OpenAiConfig;
pub use messages::{data_url, parse_completion, request_body, Completion};
pub use pool::EndpointStats;

/// A policy backed by an OpenAI-compatible server. Episodes share one client.
pub struct OpenAiPolicy {
    client: Arc<OpenAiClient>,
    name: String,
}

impl OpenAiPolicy {
    /// A policy over a shared client.
    pub fn new(client: Arc<OpenAiClient>) -> Self {
        let name = format!("openai:{}", client.config().model);
        Self { client, name }
    }
}

impl Policy for OpenAiPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn next(&mut self, conversation: &Conversation, limits: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let body = request_body(conversation, self.client.config(), limits).map_err(|e| PolicyError(e.to_string()))?;
        let c = self.client.complete(&body).map_err(|e| PolicyError(e.to_string()))?;
        Ok(PolicyReply { raw: c.text.into_bytes(), tokens: c.tokens })
    }
}

//! The policy seam: who writes the next assistant message.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::executor::NamedImage;
use crate::image::ImageBuf;

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The strategy's system prompt.
    System,
    /// The question with the images.
    User,
    /// The policy.
    Assistant,
    /// An observation from an executor.
    Tool,
}

/// One message: text plus images (indices into [`Conversation::images`]).
#[derive(Clone, Debug)]
pub struct Message {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub text: String,
    /// Images attached, in order.
    pub images: Vec<usize>,
    /// The operator runs a tool message shows, as data (policies that read
    /// numbers, like the scripted one, read these rather than `text`).
    pub evidence: Vec<Evidence>,
    /// On a tool message, the names (`image_clue_k`) of `images`, in order:
    /// what the next action calls them (a policy that probes a crop it just
    /// made reads its name here, not from the text).
    pub image_names: Vec<String>,
    /// On a tool message, the names of the images the action showed but the
    /// per-turn pixel limit withheld (they exist and can be named; their pixels
    /// are not in `images`).
    pub withheld_images: Vec<String>,
    /// On a tool message, the action's error when it failed (also in `text`).
    pub error: Option<String>,
}

/// What an action's observation carries besides its text, for
/// [`Conversation::push_observation`].
#[derive(Clone, Debug, Default)]
pub struct ObservationData {
    /// The images shown, with their names.
    pub images: Vec<NamedImage>,
    /// Names of images the action showed that the per-turn pixel limit withheld.
    pub withheld: Vec<String>,
    /// The operator runs, as data.
    pub evidence: Vec<Evidence>,
    /// The action's error, when it failed.
    pub error: Option<String>,
}

/// The conversation so far, as a model sees it.
#[derive(Clone, Debug, Default)]
pub struct Conversation {
    /// Messages in order.
    pub messages: Vec<Message>,
    /// Every image that appeared, in order of appearance.
    pub images: Vec<Arc<ImageBuf>>,
}

impl Conversation {
    /// Appends a message with images.
    pub fn push(&mut self, role: Role, text: impl Into<String>, images: Vec<Arc<ImageBuf>>) {
        let start = self.images.len();
        let n = images.len();
        self.images.extend(images);
        self.messages.push(Message { role, text: text.into(), images: (start..start + n).collect(), evidence: Vec::new(), image_names: Vec::new(), withheld_images: Vec::new(), error: None });
    }

    /// Appends an observation (a [`Role::Tool`] message) with what it carries as data.
    pub fn push_observation(&mut self, text: impl Into<String>, data: ObservationData) {
        let names = data.images.iter().map(|i| i.name.clone()).collect();
        self.push(Role::Tool, text, data.images.into_iter().map(|i| i.image).collect());
        if let Some(m) = self.messages.last_mut() {
            m.evidence = data.evidence;
            m.image_names = names;
            m.withheld_images = data.withheld;
            m.error = data.error;
        }
    }

    /// The last message from a given role.
    pub fn last(&self, role: Role) -> Option<&Message> {
        self.messages.iter().rev().find(|m| m.role == role)
    }

    /// Number of assistant turns so far.
    pub fn assistant_turns(&self) -> usize {
        self.messages.iter().filter(|m| m.role == Role::Assistant).count()
    }
}

/// Limits a policy must respect for one reply.
#[derive(Clone, Copy, Debug)]
pub struct ReplyLimits {
    /// Maximum new tokens.
    pub max_tokens: u32,
}

/// A policy's reply: raw bytes, because decoded model output can be invalid UTF-8
/// and the parser, not the policy, decides what to do about it.
#[derive(Clone, Debug, Default)]
pub struct PolicyReply {
    /// The message.
    pub raw: Vec<u8>,
    /// Tokens generated, when known.
    pub tokens: Option<u32>,
}

impl PolicyReply {
    /// A reply from text.
    pub fn text(s: impl Into<String>) -> Self {
        Self { raw: s.into().into_bytes(), tokens: None }
    }
}

/// Why a policy could not reply (model server down, script exhausted, ...).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// Produces the next assistant message from the conversation so far.
pub trait Policy: Send {
    /// Name used in trajectories and reports.
    fn name(&self) -> &str;
    /// Starts a new episode (policies with per-episode state reset here).
    fn reset(&mut self) {}
    /// The next assistant message.
    fn next(&mut self, conversation: &Conversation, limits: ReplyLimits) -> Result<PolicyReply, PolicyError>;
}

//! The replay policy: assistant messages from a JSON-lines file, one per turn,
//! sent through the real parser and executors. How tests drive the loop and how a
//! recorded trajectory of a real model is re-executed.

use crate::ModelError;
use std::path::Path;

use trutheye_core::{Conversation, Policy, PolicyError, PolicyReply, ReplyLimits, Trajectory};

/// Replays a fixed list of messages; every episode starts from the first.
pub struct ReplayPolicy {
    messages: Vec<Vec<u8>>,
    next: usize,
}

impl ReplayPolicy {
    /// From messages in memory.
    pub fn new(messages: Vec<Vec<u8>>) -> Self {
        Self { messages, next: 0 }
    }

    /// Reads a script. Each non-empty line is one of:
    /// * a JSON string: the message text;
    /// * `{"text": "..."}` or `{"text_hex": "..."}` (raw bytes, for non-UTF-8 output);
    /// * `{"message": "...", …}`: a recorded output of a published agent, as in
    ///   `tests/fixtures/presets/*/recorded.jsonl` (other keys are ignored);
    /// * a whole trajectory line (as `analyze --out` writes): its assistant
    ///   messages are replayed in order.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = trutheye_core::input::read_text_bounded(path, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| ModelError::Replay(format!("{}: cannot read replay script: {}", path.display(), e.detail())))?;
        let mut messages = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let at = || format!("{}:{}", path.display(), i + 1);
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| ModelError::Replay(format!("{}: not JSON: {e}", at())))?;
            match &v {
                serde_json::Value::String(s) => messages.push(s.clone().into_bytes()),
                serde_json::Value::Object(o) if o.contains_key("turns") => {
                    let t: Trajectory = serde_json::from_value(v.clone()).map_err(|e| ModelError::Replay(format!("{}: not a trajectory: {e}", at())))?;
                    messages.extend(t.turns.into_iter().map(|t| t.assistant.into_bytes()));
                }
                serde_json::Value::Object(o) => {
                    if let Some(s) = o.get("text").or_else(|| o.get("message")).and_then(|t| t.as_str()) {
                        messages.push(s.as_bytes().to_vec());
                    } else if let Some(h) = o.get("text_hex").and_then(|t| t.as_str()) {
                        messages.push(decode_hex(h).ok_or_else(|| ModelError::Replay(format!("{}: text_hex is not hex", at())))?);
                    } else {
                        return Err(ModelError::Replay(format!("{}: expected \"text\", \"text_hex\" or \"message\"", at())));
                    }
                }
                _ => return Err(ModelError::Replay(format!("{}: expected a string or an object", at()))),
            }
        }
        if messages.is_empty() {
            return Err(ModelError::Replay(format!("{}: replay script has no messages", path.display())));
        }
        Ok(Self::new(messages))
    }

    /// Number of messages in the script.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True for an empty script.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

fn decode_hex(h: &str) -> Option<Vec<u8>> {
    let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}

impl Policy for ReplayPolicy {
    fn name(&self) -> &str {
        "replay"
    }

    fn reset(&mut self) {
        self.next = 0;
    }

    fn next(&mut self, _: &Conversation, _: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let msg = self
            .messages
            .get(self.next)
            .ok_or_else(|| PolicyError(format!("replay script exhausted after {} messages", self.messages.len())))?;
        self.next += 1;
        Ok(PolicyReply { raw: msg.clone(), tokens: None })
    }
}

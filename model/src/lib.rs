//! Policies: who writes the agent's next message.
//!
//! * [`ScriptedPolicy`]: a deterministic forensic agent, no weights needed.
//! * [`ReplayPolicy`]: replays recorded assistant messages.
//! * [`OpenAiPolicy`]: a model behind an OpenAI-compatible server (vLLM, SGLang, ...).
//!
//! Qwen2.5-VL in candle joins here behind the same `trutheye_core::Policy` trait.

pub mod openai;
pub mod replay;
pub mod scripted;

pub use openai::{OpenAiClient, OpenAiConfig, OpenAiPolicy};

pub use replay::ReplayPolicy;
pub use scripted::{ScriptedConfig, ScriptedPolicy};

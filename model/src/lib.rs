//! Policies: who writes the agent's next message.
//!
//! * [`ScriptedPolicy`]: a deterministic forensic agent, no weights needed.
//! * [`ReplayPolicy`]: replays recorded assistant messages.
//! * [`OpenAiPolicy`]: a model behind an OpenAI-compatible server (vLLM, SGLang, ...).
//!
//! * [`Qwen25VlPolicy`]: Qwen2.5-VL run locally in candle ([`qwen25vl`]).

#![warn(missing_docs)]

pub mod error;
pub mod openai;
pub mod qwen25vl;
pub mod replay;
pub mod scripted;

pub use error::ModelError;
pub use openai::{OpenAiClient, OpenAiConfig, OpenAiPolicy};

pub use qwen25vl::{Qwen25Vl, Qwen25VlPolicy};
pub use replay::ReplayPolicy;
pub use scripted::{ScriptedConfig, ScriptedPolicy};

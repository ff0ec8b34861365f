//! Policies: who writes the agent's next message.
//!
//! * [`ScriptedPolicy`]: a deterministic forensic agent, no weights needed.
//! * [`ReplayPolicy`]: replays recorded assistant messages.
//!
//! Model-backed policies (Qwen2.5-VL in candle, OpenAI-compatible servers) join
//! here behind the same `trutheye_core::Policy` trait.

pub mod replay;
pub mod scripted;

pub use replay::ReplayPolicy;
pub use scripted::{ScriptedConfig, ScriptedPolicy};

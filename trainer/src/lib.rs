//! trutheye's trainer: the training-data conversions for ms-swift ([`data`],
//! `trutheye data`), LoRA SFT and GRPO on the candle Qwen2.5-VL and fitting the
//! scripted policy's scorer ([`train`], `trutheye train`).
//!
//! The evaluator and the rewards live in `trutheye-eval`, the environment
//! server in `trutheye-serve`; this crate uses the first and never the second.

#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod train;

pub use error::TrainError;

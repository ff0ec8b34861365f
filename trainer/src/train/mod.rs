//! `trutheye train`: fitting what can be fitted without a GPU.
//!
//! * [`scorer`]: the scripted policy's adjudication scorer, fitted on operator
//!   evidence with cross-validation (`trutheye train scorer`); the maths is in
//!   [`logreg`].
//! * [`fusion`]: how operators' heat-maps are fused into the agent's mask,
//!   fitted on masks with cross-validation (`trutheye train fusion`); it
//!   scores candidate masks through [`stretch`].
//! * [`sft`] and [`grpo`]: LoRA fine-tuning of a local Qwen2.5-VL in candle
//!   (`trutheye train sft`, `trutheye train grpo`), with resumable run
//!   directories ([`run_state`]) and a saveable optimiser ([`adamw`]).

pub mod adamw;
pub mod chat_data;
pub mod fusion;
pub mod grpo;
pub mod grpo_env;
pub mod logreg;
pub mod lora_args;
pub mod run_state;
pub mod scorer;
pub mod scorer_report;
pub mod sft;
pub mod stretch;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over training steps, starting at `done`.
pub(crate) fn progress(steps: u64, done: u64) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} step {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    b.set_position(done);
    b
}

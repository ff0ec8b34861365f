//! `trutheye train`: fitting what can be fitted without a GPU.
//!
//! * [`scorer`]: the scripted policy's adjudication scorer, fitted on operator
//!   evidence with cross-validation (`trutheye train scorer`); the maths is in
//!   [`logreg`].
//! * [`sft`] and [`grpo`]: LoRA fine-tuning of a local Qwen2.5-VL in candle
//!   (`trutheye train sft`, `trutheye train grpo`), with resumable run
//!   directories ([`run_state`]) and a saveable optimiser ([`adamw`]).

pub mod adamw;
pub mod chat_data;
pub mod grpo;
pub mod grpo_env;
pub mod logreg;
pub mod lora_args;
pub mod run_state;
pub mod scorer;
pub mod scorer_report;
pub mod sft;

use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use clap::{Args, Subcommand};
use trutheye_core::cli::PluginDirs;

/// Flags of `trutheye train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// What to fit.
    #[command(subcommand)]
    pub command: TrainCommand,
}

/// The `trutheye train` subcommands.
#[derive(Subcommand, Debug)]
pub enum TrainCommand {
    /// Fit the scripted policy's scorer on a labelled dataset (k-fold CV against the hand-set scorer) and write a scripted config.
    Scorer(scorer::ScorerArgs),
    /// Supervised fine-tuning of LoRA adapters on ms-swift conversations (loss on assistant tokens).
    Sft(sft::SftArgs),
    /// GRPO on LoRA adapters: group-relative advantages, clip-higher, KL to the base, dynamic sampling.
    Grpo(Box<grpo::GrpoArgs>),
}

/// Runs `trutheye train ...`.
pub fn run(args: &TrainArgs, plugins: &PluginDirs) -> Result<(), String> {
    match &args.command {
        TrainCommand::Scorer(a) => {
            let (registry, _) = plugins.load();
            let r = scorer::run(a, registry)?;
            if a.json {
                println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
            } else {
                print!("{}", scorer::to_table(&r));
            }
            Ok(())
        }
        TrainCommand::Sft(a) => {
            let st = sft::run(a)?;
            summary(&st, a.common.json, &a.common.out, "loss")
        }
        TrainCommand::Grpo(a) => {
            let st = match a.task {
                grpo::GrpoTask::ToyEven => grpo::run(a, &grpo_env::ToyEvenEnv::new(8))?,
                grpo::GrpoTask::Agent => {
                    let data = a.data.as_deref().ok_or("--task agent needs --data MANIFEST")?;
                    let ds = crate::eval::Dataset::load(data)?;
                    let (registry, _) = plugins.load();
                    let env = grpo_env::AgentEnv { samples: ds.samples, config: trutheye_core::AgentConfig::default_config(), registry: Arc::new(registry), weights: Default::default() };
                    grpo::run(a, &env)?
                }
            };
            summary(&st, a.common.json, &a.common.out, "reward_mean")
        }
    }
}

/// A progress bar over training steps, starting at `done`.
pub(crate) fn progress(steps: u64, done: u64) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} step {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    b.set_position(done);
    b
}

/// Prints the first and last values of the headline metric.
fn summary(st: &run_state::RunState, json: bool, out: &Path, metric: &str) -> Result<(), String> {
    let first = st.history.first().and_then(|r| r.get(metric)).copied().unwrap_or(f64::NAN);
    let last = st.history.last().and_then(|r| r.get(metric)).copied().unwrap_or(f64::NAN);
    if json {
        println!("{}", serde_json::json!({"kind": st.kind, "steps": st.step, "metric": metric, "first": first, "last": last, "out": out}));
    } else {
        println!("{}: {} steps, {metric} {first:.4} (step 1) -> {last:.4} (step {}); adapters, metrics.jsonl and curves.svg in {}", st.kind, st.step, st.step, out.display());
    }
    Ok(())
}

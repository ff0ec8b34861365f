//! Flags shared by `train sft` and `train grpo`, and the model + adapters +
//! optimiser they set up.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trutheye_model::qwen25vl::{LoadOptions, LoraConfig, LoraSet, Qwen25Vl};

use super::adamw::{AdamW, AdamWConfig};

/// Model, adapter and optimiser flags.
#[derive(Args, Debug, Clone)]
pub struct LoraArgs {
    /// Qwen2.5-VL checkpoint directory (Hugging Face layout).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Run directory: adapters, optimiser state, metrics, curves.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Optimiser steps (in all, counting steps done before a resume).
    #[arg(long, default_value_t = 30)]
    pub steps: u64,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// LoRA rank.
    #[arg(long, default_value_t = 8)]
    pub lora_rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f64,
    /// Projections given adapters (comma-separated among q,k,v,o,gate,up,down).
    #[arg(long, value_delimiter = ',', default_value = "q,k,v,o,gate,up,down")]
    pub lora_targets: Vec<String>,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 5)]
    pub save_every: u64,
    /// Sequences longer than this are dropped.
    #[arg(long, default_value_t = 4096)]
    pub max_seq_len: usize,
    /// Seed (adapter init, sampling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the run's summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a run trains with.
pub struct TrainSetup {
    /// The model with adapters attached.
    pub model: Qwen25Vl,
    /// The adapters.
    pub lora: LoraSet,
    /// The optimiser over them.
    pub opt: AdamW,
}

impl LoraArgs {
    /// Loads the model (f32: gradients), attaches adapters, builds the optimiser.
    pub fn setup(&self, extra_seed: u64) -> Result<TrainSetup, String> {
        for t in &self.lora_targets {
            if !["q", "k", "v", "o", "gate", "up", "down"].contains(&t.as_str()) {
                return Err(format!("--lora-targets: unknown projection `{t}` (expected q,k,v,o,gate,up,down)"));
            }
        }
        if self.lora_rank == 0 || self.save_every == 0 {
            return Err("--lora-rank and --save-every must be at least 1".into());
        }
        let mut model = Qwen25Vl::load(&self.model, &LoadOptions::default()).map_err(|e| format!("{}: {e}", self.model.display()))?;
        let cfg = LoraConfig { rank: self.lora_rank, alpha: self.lora_alpha, targets: self.lora_targets.clone() };
        let lora = LoraSet::attach(&mut model, cfg, self.seed.wrapping_add(extra_seed)).map_err(|e| e.to_string())?;
        let opt = AdamW::new(lora.vars.clone(), AdamWConfig { lr: self.lr, ..Default::default() }).map_err(|e| e.to_string())?;
        Ok(TrainSetup { model, lora, opt })
    }

    /// The settings, for `state.json`.
    pub fn describe(&self) -> serde_json::Value {
        json!({"model": self.model, "steps": self.steps, "lr": self.lr, "rank": self.lora_rank, "alpha": self.lora_alpha, "targets": self.lora_targets, "seed": self.seed})
    }
}

//! Flags shared by `train sft` and `train grpo`, and the model + adapters +
//! optimiser they set up.

use crate::TrainError;
use std::path::PathBuf;

use serde_json::json;
use trutheye_model::qwen25vl::{LoadOptions, LoraConfig, LoraSet, Qwen25Vl};

use super::adamw::{AdamW, AdamWConfig};

/// Model, adapter and optimiser flags.
#[derive(Debug, Clone)]
pub struct LoraArgs {
    /// Qwen2.5-VL checkpoint directory (Hugging Face layout).
    pub model: PathBuf,
    /// Run directory: adapters, optimiser state, metrics, curves.
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    pub resume: bool,
    /// Optimiser steps (in all, counting steps done before a resume).
    pub steps: u64,
    /// Learning rate.
    pub lr: f64,
    /// LoRA rank.
    pub lora_rank: usize,
    /// LoRA alpha.
    pub lora_alpha: f64,
    /// Projections given adapters (comma-separated among q,k,v,o,gate,up,down).
    pub lora_targets: Vec<String>,
    /// Checkpoint every N steps.
    pub save_every: u64,
    /// Sequences longer than this are dropped.
    pub max_seq_len: usize,
    /// Seed (adapter init, sampling).
    pub seed: u64,
    /// Print the run's summary as JSON.
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

/// The defaults `trutheye train sft|grpo` use (the CLI takes its defaults from here).
impl Default for LoraArgs {
    fn default() -> Self {
        LoraArgs {
            model: PathBuf::new(),
            out: PathBuf::new(),
            resume: false,
            steps: 30,
            lr: 1e-3,
            lora_rank: 8,
            lora_alpha: 16.0,
            lora_targets: ["q", "k", "v", "o", "gate", "up", "down"].map(String::from).to_vec(),
            save_every: 5,
            max_seq_len: 4096,
            seed: 0,
            json: false,
        }
    }
}

impl LoraArgs {
    /// Loads the model (f32: gradients), attaches adapters, builds the optimiser.
    pub fn setup(&self, extra_seed: u64) -> Result<TrainSetup, TrainError> {
        for t in &self.lora_targets {
            if !["q", "k", "v", "o", "gate", "up", "down"].contains(&t.as_str()) {
                return Err(TrainError::Run(format!("--lora-targets: unknown projection `{t}` (expected q,k,v,o,gate,up,down)")));
            }
        }
        if self.lora_rank == 0 || self.save_every == 0 {
            return Err(TrainError::Run("--lora-rank and --save-every must be at least 1".to_string()));
        }
        let mut model = Qwen25Vl::load(&self.model, &LoadOptions::default()).map_err(|e| TrainError::Run(format!("{}: {e}", self.model.display())))?;
        let cfg = LoraConfig { rank: self.lora_rank, alpha: self.lora_alpha, targets: self.lora_targets.clone() };
        let lora = LoraSet::attach(&mut model, cfg, self.seed.wrapping_add(extra_seed)).map_err(|e| TrainError::Run(e.to_string()))?;
        let opt = AdamW::new(lora.vars.clone(), AdamWConfig { lr: self.lr, ..Default::default() }).map_err(|e| TrainError::Run(e.to_string()))?;
        Ok(TrainSetup { model, lora, opt })
    }

    /// The settings, for `state.json`.
    pub fn describe(&self) -> serde_json::Value {
        json!({"model": self.model, "steps": self.steps, "lr": self.lr, "rank": self.lora_rank, "alpha": self.lora_alpha, "targets": self.lora_targets, "seed": self.seed})
    }
}

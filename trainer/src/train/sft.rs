//! `trutheye train sft`: supervised fine-tuning of LoRA adapters on ms-swift
//! conversations, loss on assistant tokens only (their `<|im_end|>` included),
//! system/user/observation tokens masked.

use crate::TrainError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Tensor, D};
use serde_json::json;
use trutheye_model::qwen25vl::{Qwen25Vl, TrainSequence};

use super::chat_data::{read_samples, to_chat};
use super::lora_args::{LoraArgs, TrainSetup};
use super::run_state::{RunDir, RunState};

/// The options of `trutheye train sft`.
#[derive(Debug, Clone)]
pub struct SftArgs {
    /// ms-swift SFT JSONL (`trutheye data sft` / `data codevision` write it).
    pub data: PathBuf,
    /// The checkpoint, the run directory and the LoRA and optimiser settings.
    pub common: LoraArgs,
    /// Samples per optimiser step (gradients accumulated).
    pub batch: usize,
}

/// The defaults `trutheye train sft` uses (the CLI takes its defaults from here).
impl Default for SftArgs {
    fn default() -> Self {
        SftArgs { data: PathBuf::new(), common: LoraArgs::default(), batch: 2 }
    }
}

/// Masked mean negative log-likelihood of one sequence, and its token count.
pub fn sequence_loss(model: &Qwen25Vl, seq: &TrainSequence) -> Result<(Tensor, usize), TrainError> {
    let logp = model.token_logprobs(&seq.prompt, true).map_err(|e| TrainError::Run(e.to_string()))?;
    // logp[t] scores token t+1.
    let mask: Vec<f32> = seq.trainable[1..].iter().map(|&t| if t { 1.0 } else { 0.0 }).collect();
    let n = mask.iter().filter(|&&m| m > 0.0).count();
    if n == 0 {
        return Err(TrainError::Run("no assistant tokens to train on".to_string()));
    }
    let mask = Tensor::from_vec(mask, logp.dims1().map_err(|e| TrainError::Run(e.to_string()))?, logp.device()).map_err(|e| TrainError::Run(e.to_string()))?;
    let nll = (logp * mask).and_then(|t| t.sum(D::Minus1)).and_then(|t| t.neg()).and_then(|t| t / n as f64).map_err(|e| TrainError::Run(e.to_string()))?;
    Ok((nll, n))
}

/// Runs SFT; returns the final state.
pub fn run(args: &SftArgs) -> Result<RunState, TrainError> {
    let samples = read_samples(&args.data)?;
    if samples.is_empty() {
        return Err(TrainError::Run(format!("{}: no samples", args.data.display())));
    }
    let base = args.data.parent().unwrap_or(Path::new(".")).to_path_buf();
    let TrainSetup { model, lora, mut opt } = args.common.setup(0)?;
    let mut seqs = Vec::with_capacity(samples.len());
    let mut dropped = 0;
    let mut longest = 0;
    for (i, s) in samples.iter().enumerate() {
        let msgs = to_chat(s, &base).map_err(|e| TrainError::Run(format!("{} sample {}: {e}", args.data.display(), i + 1)))?;
        let seq = model.train_sequence(&msgs).map_err(|e| TrainError::Run(format!("sample {}: {e}", i + 1)))?;
        longest = longest.max(seq.prompt.ids.len());
        if seq.trainable_count() == 0 || seq.prompt.ids.len() > args.common.max_seq_len {
            dropped += 1;
            continue;
        }
        seqs.push(seq);
    }
    if seqs.is_empty() {
        return Err(TrainError::Run(format!("all {} samples dropped (no assistant turn, or longer than --max-seq-len {}; the longest has {longest} tokens)", samples.len(), args.common.max_seq_len)));
    }
    let (run, prior) = RunDir::open(&args.common.out, args.common.resume)?;
    let mut state = prior.clone().unwrap_or_else(|| RunState { kind: "sft".into(), settings: json!({"data": args.data, "samples": seqs.len(), "dropped": dropped, "batch": args.batch, "lora": args.common.describe()}), ..Default::default() });
    if prior.is_some() {
        run.restore(&lora, &mut opt)?;
        eprintln!("resuming {} at step {}", run.dir.display(), state.step);
    }
    eprintln!("sft: {} sequences ({} dropped), {} trainable tokens in all", seqs.len(), dropped, seqs.iter().map(TrainSequence::trainable_count).sum::<usize>());
    let bar = super::progress(args.common.steps, state.step);
    while state.step < args.common.steps {
        let t0 = Instant::now();
        let step = state.step;
        let mut total = 0.0;
        let mut losses = Vec::with_capacity(args.batch);
        let mut tokens = 0;
        for b in 0..args.batch {
            let seq = &seqs[(step as usize * args.batch + b) % seqs.len()];
            let (loss, n) = sequence_loss(&model, seq)?;
            total += loss.to_scalar::<f32>().map_err(|e| TrainError::Run(e.to_string()))? as f64;
            tokens += n;
            losses.push(loss);
        }
        let batch_loss = Tensor::stack(&losses, 0).and_then(|t| t.mean_all()).map_err(|e| TrainError::Run(e.to_string()))?;
        let grads = batch_loss.backward().map_err(|e| TrainError::Run(e.to_string()))?;
        let gnorm = opt.step(&grads).map_err(|e| TrainError::Run(e.to_string()))?;
        state.step += 1;
        let row: BTreeMap<String, f64> = [("step", state.step as f64), ("loss", total / args.batch as f64), ("grad_norm", gnorm), ("tokens", tokens as f64), ("seconds", t0.elapsed().as_secs_f64())].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        bar.set_message(format!("loss {:.4}", total / args.batch as f64));
        bar.inc(1);
        run.log(&row)?;
        state.history.push(row);
        if state.step % args.common.save_every == 0 || state.step == args.common.steps {
            run.checkpoint(&lora, &opt, &state, &["loss", "grad_norm"])?;
        }
    }
    bar.finish_and_clear();
    Ok(state)
}

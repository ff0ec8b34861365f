//! `trutheye train grpo`: Group Relative Policy Optimisation of LoRA adapters.
//!
//! Per step: `prompts` prompts × `group` sampled rollouts; advantages are the
//! rewards normalised within each group; groups whose rewards are all equal
//! carry no signal and are dropped (dynamic sampling, refilled from further
//! prompts); truncated rollouts are left out of the loss (overlong filtering).
//! The loss per token is the clipped surrogate with separate low/high clip
//! (DAPO's clip-higher; the seeds use ε_high 0.6) minus β·KL to the frozen base
//! model (the adapters switched off; k3 estimator), averaged over each
//! sequence's trainable tokens (observations are masked), then over sequences.

use crate::TrainError;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Tensor, D};
use serde_json::json;
use trutheye_model::qwen25vl::{GenerationConfig, LoraSet, Qwen25Vl};

use super::grpo_env::{Rollout, RolloutEnv};
use super::lora_args::{LoraArgs, TrainSetup};
use super::run_state::{RunDir, RunState};

/// Which rollouts to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpoTask {
    /// One turn with a dense verifiable reward (fraction of even token ids): a machinery check.
    ToyEven,
    /// The real agent loop on a labelled manifest, ForenAgent reward.
    Agent,
}

/// The options of `trutheye train grpo`.
#[derive(Debug, Clone)]
pub struct GrpoArgs {
    /// The checkpoint, the run directory and the LoRA and optimiser settings.
    pub common: LoraArgs,
    /// Rollout source.
    pub task: GrpoTask,
    /// Labelled manifest or folder (for --task agent).
    pub data: Option<PathBuf>,
    /// Rollouts per prompt.
    pub group: usize,
    /// Prompts per step.
    pub prompts: usize,
    /// Sampling temperature of rollouts.
    pub temperature: f64,
    /// Completion tokens per turn.
    pub max_new_tokens: usize,
    /// Lower clip ε.
    pub epsilon: f64,
    /// Upper clip ε.
    pub epsilon_high: f64,
    /// KL coefficient β (0: no reference model pass).
    pub beta: f64,
    /// Optimisation passes over each batch of rollouts (μ).
    pub iterations: usize,
    /// Keep groups whose rewards are all equal (off by default: dynamic sampling).
    pub keep_flat_groups: bool,
    /// Keep truncated rollouts in the loss (off by default: overlong filtering).
    pub keep_truncated: bool,
}

/// The defaults `trutheye train grpo` uses (the CLI takes its defaults from here).
impl Default for GrpoArgs {
    fn default() -> Self {
        GrpoArgs {
            common: LoraArgs::default(),
            task: GrpoTask::ToyEven,
            data: None,
            group: 8,
            prompts: 2,
            temperature: 1.0,
            max_new_tokens: 8,
            epsilon: 0.2,
            epsilon_high: 0.6,
            beta: 0.04,
            iterations: 1,
            keep_flat_groups: false,
            keep_truncated: false,
        }
    }
}

/// One rollout's tensors for the loss.
struct Scored {
    rollout: Rollout,
    advantage: f64,
    old: Tensor,
    reference: Option<Tensor>,
    mask: Tensor,
    n: usize,
}

/// Group-normalised advantages `(r - mean) / (std + 1e-4)`.
pub fn group_advantages(rewards: &[f64]) -> Vec<f64> {
    let n = rewards.len().max(1) as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    rewards.iter().map(|r| (r - mean) / (std + 1e-4)).collect()
}

fn prepare(model: &Qwen25Vl, lora: &LoraSet, rollout: Rollout, advantage: f64, beta: f64) -> Result<Scored, TrainError> {
    let old = model.token_logprobs(&rollout.seq.prompt, false)?.detach();
    let reference = if beta > 0.0 {
        lora.set_enabled(false);
        let r = model.token_logprobs(&rollout.seq.prompt, false).map(|t| t.detach());
        lora.set_enabled(true);
        Some(r?)
    } else {
        None
    };
    let m: Vec<f32> = rollout.seq.trainable[1..].iter().map(|&t| t as u8 as f32).collect();
    let n = m.iter().filter(|&&x| x > 0.0).count();
    let mask = Tensor::from_vec(m, rollout.seq.trainable.len() - 1, &model.device).map_err(|e| TrainError::Run(e.to_string()))?;
    Ok(Scored { rollout, advantage, old, reference, mask, n })
}

/// The loss of one rollout, and (KL mean, clipped fraction) for the logs.
fn rollout_loss(model: &Qwen25Vl, s: &Scored, a: &GrpoArgs) -> candle_core::Result<(Tensor, f64, f64)> {
    let new = model.token_logprobs(&s.rollout.seq.prompt, true).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let ratio = (&new - &s.old)?.exp()?;
    let clipped = ratio.clamp(1.0 - a.epsilon, 1.0 + a.epsilon_high)?;
    let surrogate = (ratio.clone() * s.advantage)?.minimum(&(clipped * s.advantage)?)?;
    let (mut per_token, mut kl_mean) = (surrogate.neg()?, 0.0);
    if let Some(r) = &s.reference {
        let d = (r - &new)?;
        let kl = ((d.exp()? - &d)? - 1.0)?;
        kl_mean = (&kl * &s.mask)?.sum_all()?.to_scalar::<f32>()? as f64 / s.n.max(1) as f64;
        per_token = (per_token + (kl * a.beta)?)?;
    }
    let loss = ((per_token * &s.mask)?.sum(D::Minus1)? / s.n.max(1) as f64)?;
    let r = ratio.to_vec1::<f32>()?;
    let m = s.mask.to_vec1::<f32>()?;
    let clipped_n = r.iter().zip(&m).filter(|(x, m)| **m > 0.0 && ((**x as f64) < 1.0 - a.epsilon || (**x as f64) > 1.0 + a.epsilon_high)).count();
    Ok((loss, kl_mean, clipped_n as f64 / s.n.max(1) as f64))
}

/// Runs GRPO on `env`; returns the final state.
pub fn run(args: &GrpoArgs, env: &dyn RolloutEnv) -> Result<RunState, TrainError> {
    if env.prompts() == 0 {
        return Err(TrainError::Run(format!("{}: no prompts to train on", env.name())));
    }
    if args.group < 2 {
        return Err(TrainError::Run("--group must be at least 2 (advantages are relative within a group)".to_string()));
    }
    let TrainSetup { model, lora, mut opt } = args.common.setup(1)?;
    let model = Arc::new(model);
    let (run, prior) = RunDir::open(&args.common.out, args.common.resume)?;
    let mut state = prior.clone().unwrap_or_else(|| RunState { kind: format!("grpo ({})", env.name()), settings: json!({"task": env.name(), "group": args.group, "prompts": args.prompts, "temperature": args.temperature, "max_new_tokens": args.max_new_tokens, "epsilon": args.epsilon, "epsilon_high": args.epsilon_high, "beta": args.beta, "iterations": args.iterations, "lora": args.common.describe()}), ..Default::default() });
    if prior.is_some() {
        run.restore(&lora, &mut opt)?;
        eprintln!("resuming {} at step {}", run.dir.display(), state.step);
    }
    let bar = super::progress(args.common.steps, state.step);
    let mut cursor = state.step as usize * args.prompts;
    while state.step < args.common.steps {
        let t0 = Instant::now();
        let (mut all_rewards, mut kept, mut scored, mut drawn, mut truncated) = (Vec::new(), 0usize, Vec::new(), 0usize, 0usize);
        // Draw prompts until `prompts` groups carry signal (at most 3x as many draws).
        while kept < args.prompts && drawn < args.prompts * 3 {
            let i = cursor % env.prompts();
            cursor += 1;
            drawn += 1;
            let mut group = Vec::with_capacity(args.group);
            for g in 0..args.group {
                let gen = GenerationConfig { temperature: args.temperature, max_new_tokens: args.max_new_tokens, seed: args.common.seed ^ ((state.step << 20) + (i as u64) * 1009 + g as u64), ..Default::default() };
                group.push(env.rollout(&model, i, &gen)?);
            }
            let rewards: Vec<f64> = group.iter().map(|r| r.reward).collect();
            all_rewards.extend(&rewards);
            if !args.keep_flat_groups && rewards.iter().all(|r| (r - rewards[0]).abs() < 1e-12) {
                continue;
            }
            kept += 1;
            for (r, adv) in group.into_iter().zip(group_advantages(&rewards)) {
                if r.truncated && !args.keep_truncated {
                    truncated += 1;
                    continue;
                }
                scored.push(prepare(&model, &lora, r, adv, args.beta)?);
            }
        }
        // NaN marks a step without an update (every group flat): nothing to plot.
        let (mut loss_v, mut kl_v, mut clip_v, mut gnorm) = (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
        if !scored.is_empty() {
            for _ in 0..args.iterations.max(1) {
                let mut losses = Vec::with_capacity(scored.len());
                let (mut kl, mut clip) = (0.0, 0.0);
                for s in &scored {
                    let (l, k, c) = rollout_loss(&model, s, args).map_err(|e| TrainError::Run(e.to_string()))?;
                    losses.push(l);
                    kl += k;
                    clip += c;
                }
                let loss = Tensor::stack(&losses, 0).and_then(|t| t.mean_all()).map_err(|e| TrainError::Run(e.to_string()))?;
                loss_v = loss.to_scalar::<f32>().map_err(|e| TrainError::Run(e.to_string()))? as f64;
                gnorm = opt.step(&loss.backward().map_err(|e| TrainError::Run(e.to_string()))?).map_err(|e| TrainError::Run(e.to_string()))?;
                kl_v = kl / scored.len() as f64;
                clip_v = clip / scored.len() as f64;
            }
        }
        state.step += 1;
        let n = all_rewards.len().max(1) as f64;
        let mean = all_rewards.iter().sum::<f64>() / n;
        let row: BTreeMap<String, f64> = [
            ("step", state.step as f64),
            ("reward_mean", mean),
            ("reward_std", (all_rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt()),
            ("loss", loss_v),
            ("kl", kl_v),
            ("clip_frac", clip_v),
            ("grad_norm", gnorm),
            ("groups_kept", kept as f64),
            ("groups_drawn", drawn as f64),
            ("truncated", truncated as f64),
            ("seconds", t0.elapsed().as_secs_f64()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // JSON has no NaN: a metric without a value this step is left out.
        let mut row = row;
        row.retain(|_, v| v.is_finite());
        bar.set_message(format!("reward {mean:.3}"));
        bar.inc(1);
        run.log(&row)?;
        state.history.push(row);
        if state.step % args.common.save_every == 0 || state.step == args.common.steps {
            run.checkpoint(&lora, &opt, &state, &["reward_mean", "loss", "kl"])?;
        }
    }
    bar.finish_and_clear();
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::group_advantages;

    #[test]
    fn advantages_are_group_normalised() {
        let a = group_advantages(&[1.0, 0.0, 0.0, 1.0]);
        // mean 0.5, std 0.5
        for (x, want) in a.iter().zip([1.0, -1.0, -1.0, 1.0]) {
            assert!((x - want * 0.5 / (0.5 + 1e-4)).abs() < 1e-12);
        }
        assert!(group_advantages(&[0.3, 0.3]).iter().all(|x| x.abs() < 1e-12));
    }
}

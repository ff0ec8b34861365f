//! `trutheye train`: its flags, and the dispatch to `trutheye-trainer` (scorer,
//! LoRA SFT, GRPO). The trainer takes plain option structs; each flag struct
//! here converts into one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use trutheye_core::Strategy;
use trutheye_trainer::train::scorer::DEFAULT_SEED;
use trutheye_trainer::train::{fusion, grpo, grpo_env, run_state, scorer, sft};

use crate::group_args::GroupArgs;
use crate::plugins::PluginDirs;

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
    /// Fit the scripted policy's scorer on a labelled dataset (k-fold CV against the base config's scorer) and write a scripted config.
    Scorer(ScorerArgs),
    /// Fit how operators' heat-maps are fused into the agent's mask (k-fold CV on the tampered images' masks) and write a [localization] file.
    Fusion(FusionArgs),
    /// Supervised fine-tuning of LoRA adapters on ms-swift conversations (loss on assistant tokens).
    Sft(SftArgs),
    /// GRPO on LoRA adapters: group-relative advantages, clip-higher, KL to the base, dynamic sampling.
    Grpo(Box<GrpoArgs>),
}

/// Runs `trutheye train ...`.
pub fn run(args: &TrainArgs, plugins: &PluginDirs) -> anyhow::Result<()> {
    match &args.command {
        TrainCommand::Scorer(a) => {
            let (registry, _) = plugins.load();
            print_report(&scorer::run(&a.into(), registry)?, a.json, scorer::to_table)
        }
        TrainCommand::Fusion(a) => {
            let (registry, _) = plugins.load();
            print_report(&fusion::run(&a.into(), registry)?, a.json, fusion::to_table)
        }
        TrainCommand::Sft(a) => {
            let st = sft::run(&a.into())?;
            summary(&st, a.common.json, &a.common.out, "loss")
        }
        TrainCommand::Grpo(a) => {
            let opts: grpo::GrpoArgs = a.as_ref().into();
            let st = match a.task {
                GrpoTask::ToyEven => grpo::run(&opts, &grpo_env::ToyEvenEnv::new(8))?,
                GrpoTask::Agent => {
                    let data = a.data.as_deref().ok_or_else(|| anyhow::anyhow!("--task agent needs --data MANIFEST"))?;
                    let ds = trutheye_eval::Dataset::load(data)?;
                    let (registry, _) = plugins.load();
                    let env = grpo_env::AgentEnv { samples: ds.samples, config: trutheye_core::AgentConfig::default_config(), registry: Arc::new(registry), weights: Default::default() };
                    grpo::run(&opts, &env)?
                }
            };
            summary(&st, a.common.json, &a.common.out, "reward_mean")
        }
    }
}

/// Prints a fitting report: one JSON line with `--json` (for scripts), else its
/// table (the cross-validated figures and where the fitted config went).
fn print_report<R: serde::Serialize>(report: &R, json: bool, table: fn(&R) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print!("{}", table(report));
    }
    Ok(())
}

/// Prints the first and last values of the headline metric.
fn summary(st: &run_state::RunState, json: bool, out: &Path, metric: &str) -> anyhow::Result<()> {
    let first = st.history.first().and_then(|r| r.get(metric)).copied().unwrap_or(f64::NAN);
    let last = st.history.last().and_then(|r| r.get(metric)).copied().unwrap_or(f64::NAN);
    if json {
        println!("{}", serde_json::json!({"kind": st.kind, "steps": st.step, "metric": metric, "first": first, "last": last, "out": out}));
    } else {
        println!("{}: {} steps, {metric} {first:.4} (step 1) -> {last:.4} (step {}); adapters, metrics.jsonl and curves.svg in {}", st.kind, st.step, st.step, out.display());
    }
    Ok(())
}

/// Flags of `trutheye train scorer`.
#[derive(Args, Debug)]
pub struct ScorerArgs {
    /// Training dataset: a JSONL manifest, a folder with manifest.jsonl, or class-named folders.
    #[arg(long, value_name = "MANIFEST")]
    pub data: PathBuf,
    /// Cross-validation folds (stratified).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// How folds group samples.
    #[command(flatten)]
    pub groups: GroupArgs,
    /// L2 penalty on the standardised weights (objective: Σ −log p + l2/2·‖w‖², like scikit-learn's C = 1/l2).
    #[arg(long, default_value_t = 1.0)]
    pub l2: f64,
    /// `auto` (every numeric feature present in ≥90% of the samples) or a comma-separated list of `<op>.<stat>` / `probe.<op>.<stat>`; `<class>:<feature>` lets only that class's score weight it (e.g. `synthetic:fft_residual.upsampling_peak_x4`).
    #[arg(long, default_value = "auto")]
    pub features: String,
    /// Base scripted config (stages, clip, and the scorer compared against); default: the built-in configs/scripted.toml.
    #[arg(long, value_name = "BASE.toml")]
    pub scripted_config: Option<PathBuf>,
    /// Agent configuration for the episodes; default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write the fitted scripted config.
    #[arg(long, value_name = "FITTED.toml")]
    pub out: PathBuf,
    /// Parallel episodes (default: number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Also write every sample's features here (JSON lines: id, label, features), for inspection.
    #[arg(long, value_name = "FILE")]
    pub features_out: Option<PathBuf>,
    /// Print the report as one JSON object (no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Read the features from the episodes recorded in this run (a `trutheye eval --out` directory or its trajectories.jsonl) instead of running registry episodes: fits the scorer on what that strategy (or a model) gathered. Episodes are matched to --data's samples by id, and must be of the same image file; `analyze --out` names episodes by file stem, so its runs match a manifest only when the ids are the stems. `fusion.*` features are recomputed with --config's [localization].
    #[arg(long, value_name = "RUN")]
    pub from_run: Option<PathBuf>,
    /// With --from-run: whose episodes to read (default: the run's only strategy). Without it only `registry` (the episodes this command runs).
    #[arg(long, value_parser = crate::choices::strategy())]
    pub strategy: Option<Strategy>,
    /// Temperature-scale the written scorer: every weight and bias times the factor that minimises the log loss of the cross-validation's out-of-fold scores. It calibrates the probabilities and leaves every label unchanged, but can reorder the real/fake ranking; the report shows the held-out calibration with and without it either way.
    #[arg(long)]
    pub temperature: bool,
}

impl From<&ScorerArgs> for trutheye_trainer::train::scorer::ScorerArgs {
    fn from(a: &ScorerArgs) -> Self {
        trutheye_trainer::train::scorer::ScorerArgs {
            data: a.data.clone(),
            folds: a.folds,
            group_by: a.groups.group_by(),
            l2: a.l2,
            features: a.features.clone(),
            scripted_config: a.scripted_config.clone(),
            config: a.config.clone(),
            out: a.out.clone(),
            jobs: a.jobs,
            seed: a.seed,
            features_out: a.features_out.clone(),
            json: a.json,
            from_run: a.from_run.clone(),
            strategy: a.strategy,
            temperature: a.temperature,
        }
    }
}

/// Flags of `trutheye train fusion`.
#[derive(Args, Debug)]
pub struct FusionArgs {
    /// Labelled dataset; its tampered images with masks are used.
    #[arg(long, value_name = "MANIFEST")]
    pub data: PathBuf,
    /// Operators whose heat-maps are fused (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "srm,fft_residual,jpeg_ghost,resampling,ela,median_traces,bayar,prnu,copy_move,laplacian")]
    pub operators: Vec<String>,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// How folds group images.
    #[command(flatten)]
    pub groups: GroupArgs,
    /// L2 penalty on the standardised weights.
    #[arg(long, default_value_t = 1.0)]
    pub l2: f64,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Agent configuration (decoding; the grid and clip of its [localization]); default: the built-in one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write the fitted [localization] file.
    #[arg(long, value_name = "FUSION.toml")]
    pub out: PathBuf,
    /// Also write each fold's fit (fold-K.toml, fitted without it) and held-out ids (fold-K.ids) here.
    #[arg(long, value_name = "DIR")]
    pub fold_configs: Option<PathBuf>,
    /// Fuse only the operators forward selection keeps (inner cross-validation
    /// on the fitting images; the held-out figure redoes the selection per fold).
    #[arg(long)]
    pub select: bool,
    /// Parallel images (default: number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print the report as one JSON object (no progress lines).
    #[arg(long)]
    pub json: bool,
}

impl From<&FusionArgs> for fusion::FusionArgs {
    fn from(a: &FusionArgs) -> Self {
        fusion::FusionArgs {
            data: a.data.clone(),
            operators: a.operators.clone(),
            folds: a.folds,
            group_by: a.groups.group_by(),
            l2: a.l2,
            seed: a.seed,
            config: a.config.clone(),
            out: a.out.clone(),
            jobs: a.jobs,
            quiet: a.json,
            fold_configs: a.fold_configs.clone(),
            select: a.select,
        }
    }
}

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
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().steps)]
    pub steps: u64,
    /// Learning rate.
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().lr)]
    pub lr: f64,
    /// LoRA rank.
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().lora_rank)]
    pub lora_rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().lora_alpha)]
    pub lora_alpha: f64,
    /// Projections given adapters (comma-separated among q,k,v,o,gate,up,down).
    #[arg(long, value_delimiter = ',', default_value = "q,k,v,o,gate,up,down")]
    pub lora_targets: Vec<String>,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().save_every)]
    pub save_every: u64,
    /// Sequences longer than this are dropped.
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().max_seq_len)]
    pub max_seq_len: usize,
    /// Seed (adapter init, sampling).
    #[arg(long, default_value_t = trutheye_trainer::train::lora_args::LoraArgs::default().seed)]
    pub seed: u64,
    /// Print the run's summary as JSON.
    #[arg(long)]
    pub json: bool,
}

impl From<&LoraArgs> for trutheye_trainer::train::lora_args::LoraArgs {
    fn from(a: &LoraArgs) -> Self {
        trutheye_trainer::train::lora_args::LoraArgs {
            model: a.model.clone(),
            out: a.out.clone(),
            resume: a.resume,
            steps: a.steps,
            lr: a.lr,
            lora_rank: a.lora_rank,
            lora_alpha: a.lora_alpha,
            lora_targets: a.lora_targets.clone(),
            save_every: a.save_every,
            max_seq_len: a.max_seq_len,
            seed: a.seed,
            json: a.json,
        }
    }
}

/// Flags of `trutheye train sft`.
#[derive(Args, Debug, Clone)]
pub struct SftArgs {
    /// ms-swift SFT JSONL (`trutheye data sft` / `data codevision` write it).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    #[command(flatten)]
    pub common: LoraArgs,
    /// Samples per optimiser step (gradients accumulated).
    #[arg(long, default_value_t = trutheye_trainer::train::sft::SftArgs::default().batch)]
    pub batch: usize,
}

impl From<&SftArgs> for trutheye_trainer::train::sft::SftArgs {
    fn from(a: &SftArgs) -> Self {
        trutheye_trainer::train::sft::SftArgs {
            data: a.data.clone(),
            common: (&a.common).into(),
            batch: a.batch,
        }
    }
}

/// Which rollouts to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GrpoTask {
    /// One turn with a dense verifiable reward (fraction of even token ids): a machinery check.
    ToyEven,
    /// The real agent loop on a labelled manifest, ForenAgent reward.
    Agent,
}

impl From<GrpoTask> for trutheye_trainer::train::grpo::GrpoTask {
    fn from(v: GrpoTask) -> Self {
        match v {
            GrpoTask::ToyEven => trutheye_trainer::train::grpo::GrpoTask::ToyEven,
            GrpoTask::Agent => trutheye_trainer::train::grpo::GrpoTask::Agent,
        }
    }
}

/// Flags of `trutheye train grpo`.
#[derive(Args, Debug, Clone)]
pub struct GrpoArgs {
    #[command(flatten)]
    pub common: LoraArgs,
    /// Rollout source.
    #[arg(long, value_enum, default_value_t = GrpoTask::ToyEven)]
    pub task: GrpoTask,
    /// Labelled manifest or folder (for --task agent).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Rollouts per prompt.
    #[arg(long, default_value_t = grpo::GrpoArgs::default().group)]
    pub group: usize,
    /// Prompts per step.
    #[arg(long, default_value_t = grpo::GrpoArgs::default().prompts)]
    pub prompts: usize,
    /// Sampling temperature of rollouts.
    #[arg(long, default_value_t = grpo::GrpoArgs::default().temperature)]
    pub temperature: f64,
    /// Completion tokens per turn.
    #[arg(long, default_value_t = grpo::GrpoArgs::default().max_new_tokens)]
    pub max_new_tokens: usize,
    /// Lower clip ε.
    #[arg(long, default_value_t = grpo::GrpoArgs::default().epsilon)]
    pub epsilon: f64,
    /// Upper clip ε.
    #[arg(long, default_value_t = grpo::GrpoArgs::default().epsilon_high)]
    pub epsilon_high: f64,
    /// KL coefficient β (0: no reference model pass).
    #[arg(long, default_value_t = grpo::GrpoArgs::default().beta)]
    pub beta: f64,
    /// Optimisation passes over each batch of rollouts (μ).
    #[arg(long, default_value_t = grpo::GrpoArgs::default().iterations)]
    pub iterations: usize,
    /// Keep groups whose rewards are all equal (off by default: dynamic sampling).
    #[arg(long)]
    pub keep_flat_groups: bool,
    /// Keep truncated rollouts in the loss (off by default: overlong filtering).
    #[arg(long)]
    pub keep_truncated: bool,
}

impl From<&GrpoArgs> for trutheye_trainer::train::grpo::GrpoArgs {
    fn from(a: &GrpoArgs) -> Self {
        trutheye_trainer::train::grpo::GrpoArgs {
            common: (&a.common).into(),
            task: a.task.into(),
            data: a.data.clone(),
            group: a.group,
            prompts: a.prompts,
            temperature: a.temperature,
            max_new_tokens: a.max_new_tokens,
            epsilon: a.epsilon,
            epsilon_high: a.epsilon_high,
            beta: a.beta,
            iterations: a.iterations,
            keep_flat_groups: a.keep_flat_groups,
            keep_truncated: a.keep_truncated,
        }
    }
}


//! `trutheye data`: its flags, and the dispatch to the training-data
//! conversions of `trutheye-trainer`. The trainer takes plain option structs;
//! each flag struct here converts into one.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use trutheye_core::image::DEFAULT_MAX_PIXELS;
use trutheye_core::Strategy;
use trutheye_trainer::data::{codevision, grpo, hard, sft};

use crate::code_backend::{BackendArgs, Placement};
use crate::plugins::PluginDirs;

/// Flags of `trutheye data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    /// Print the report as one JSON object instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Which conversion.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `trutheye data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Trajectories (analyze --out / eval runs) → ms-swift agent SFT JSONL.
    Sft(SftArgs),
    /// CodeVision-style ShareGPT JSONL → ms-swift SFT JSONL, dropping samples whose code fails in the sandbox.
    Codevision(CodeVisionArgs),
    /// A dataset → ms-swift GRPO prompt set (system + `<image>` question, solution label and box).
    Grpo(GrpoArgs),
    /// Hard-case mining: ids whose rollouts in eval runs are mostly wrong → manifest subset (and GRPO prompts).
    Hard(HardArgs),
}

/// Runs `trutheye data ...`: loads the operator registry (needed for tool
/// schemas, prompts and sandbox execution), converts, prints the report.
pub fn run(args: &DataArgs, plugins: &PluginDirs) -> anyhow::Result<()> {
    let (registry, _) = plugins.load();
    if registry.is_empty() {
        // Not an error: conversions still work, but prompts list no operators and
        // sample code calling operators fails in the sandbox.
        eprintln!("warning: no operator plugins loaded (build them with `cargo build --release`, or pass --plugin-dir)");
    }
    let reports = match &args.command {
        DataCommand::Sft(a) => vec![sft::run(&a.into(), &registry)?],
        DataCommand::Codevision(a) => vec![codevision::run(&a.into(), std::sync::Arc::new(registry))?],
        DataCommand::Grpo(a) => vec![grpo::run(&a.into(), &registry)?],
        DataCommand::Hard(a) => hard::run(&a.into(), &registry)?,
    };
    for r in &reports {
        if args.json {
            println!("{}", r.to_json());
        } else {
            print!("{}", r.to_table());
        }
    }
    Ok(())
}

/// Which episodes to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SftFilter {
    /// Every episode that ends with the model's answer.
    None,
    /// The answer's label matches the manifest truth and was not forced.
    Correct,
    /// ForenAgent's distillation filter: correct, no format errors, every action in
    /// proper `<code>`/`<tool_call>` tags, at least one tool action, and for tampered
    /// truths an answer that names a region (heuristic: a non-empty explanation or a box).
    Forenagent,
}

impl From<SftFilter> for trutheye_trainer::data::sft::SftFilter {
    fn from(v: SftFilter) -> Self {
        match v {
            SftFilter::None => trutheye_trainer::data::sft::SftFilter::None,
            SftFilter::Correct => trutheye_trainer::data::sft::SftFilter::Correct,
            SftFilter::Forenagent => trutheye_trainer::data::sft::SftFilter::Forenagent,
        }
    }
}

/// Flags of `trutheye data sft`.
#[derive(Args, Debug)]
pub struct SftArgs {
    /// `trajectories.jsonl` files (from `analyze --out` or eval runs).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub trajectories: Vec<PathBuf>,
    /// The dataset the episode ids come from (manifest or folder): the truth for the filters.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Output JSONL (ms-swift `messages` / `images` / `tools`).
    #[arg(long, value_name = "OUT.jsonl")]
    pub out: PathBuf,
    /// Episode filter.
    #[arg(long, value_enum, default_value = "correct")]
    pub filter: SftFilter,
}

impl From<&SftArgs> for trutheye_trainer::data::sft::SftArgs {
    fn from(a: &SftArgs) -> Self {
        trutheye_trainer::data::sft::SftArgs {
            trajectories: a.trajectories.clone(),
            data: a.data.clone(),
            out: a.out.clone(),
            filter: a.filter.into(),
        }
    }
}

/// Flags of `trutheye data codevision`.
#[derive(Args, Debug)]
pub struct CodeVisionArgs {
    /// CodeVision-style ShareGPT JSONL.
    #[arg(value_name = "IN.jsonl")]
    pub input: PathBuf,
    /// Folder the samples' relative image paths are resolved against.
    #[arg(long, value_name = "DIR")]
    pub images_root: PathBuf,
    /// Output JSONL (ms-swift `messages` / `images` / `tools`).
    #[arg(long, value_name = "OUT.jsonl")]
    pub out: PathBuf,
    /// Do not re-execute the code (only structural checks).
    #[arg(long)]
    pub no_exec: bool,
    /// Largest input image in pixels (decompression-bomb guard).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Which backend re-executes the code (default: python when set up: the model wrote it for CPython).
    #[command(flatten)]
    pub backend: BackendArgs,
}

impl From<&CodeVisionArgs> for trutheye_trainer::data::codevision::CodeVisionArgs {
    fn from(a: &CodeVisionArgs) -> Self {
        trutheye_trainer::data::codevision::CodeVisionArgs {
            input: a.input.clone(),
            images_root: a.images_root.clone(),
            out: a.out.clone(),
            no_exec: a.no_exec,
            max_pixels: a.max_pixels,
            backend: a.backend.resolve(Placement::InProcess, "", None, true),
            python: a.backend.python.clone(),
            dialect: a.backend.dialect,
        }
    }
}

/// Flags of `trutheye data grpo`.
#[derive(Args, Debug)]
pub struct GrpoArgs {
    /// The dataset (manifest or folder).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Output JSONL.
    #[arg(long, value_name = "OUT.jsonl")]
    pub out: PathBuf,
    /// Strategy whose prompts to use.
    #[arg(long, value_parser = crate::choices::strategy(), default_value = "pvr")]
    pub strategy: Strategy,
    /// Agent configuration (prompts, image limits); default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl From<&GrpoArgs> for trutheye_trainer::data::grpo::GrpoArgs {
    fn from(a: &GrpoArgs) -> Self {
        trutheye_trainer::data::grpo::GrpoArgs {
            data: a.data.clone(),
            out: a.out.clone(),
            strategy: a.strategy,
            config: a.config.clone(),
        }
    }
}

/// Flags of `trutheye data hard`.
#[derive(Args, Debug)]
pub struct HardArgs {
    /// Eval run directories (or `predictions.jsonl` files).
    #[arg(long, value_name = "DIR", num_args = 1.., required = true)]
    pub runs: Vec<PathBuf>,
    /// The dataset the runs evaluated (manifest or folder).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Keep ids whose accuracy over their rollouts is at most this.
    #[arg(long, value_name = "A", default_value_t = 0.5)]
    pub max_accuracy: f64,
    /// Keep only ids with at least this many rollouts.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub min_rollouts: usize,
    /// Output manifest subset (JSONL).
    #[arg(long, value_name = "HARD.jsonl")]
    pub out: PathBuf,
    /// Count single-operator baseline rows (strategy `baseline`) as rollouts too.
    /// Off by default: they are not the policy's rollouts, and they never answer
    /// synthetic, so with them every synthetic image looks hard.
    #[arg(long)]
    pub include_baselines: bool,
    /// Also write the GRPO prompt set of the hard ids here.
    #[arg(long, value_name = "OUT.jsonl")]
    pub grpo: Option<PathBuf>,
    /// Strategy whose prompts `--grpo` uses.
    #[arg(long, value_parser = crate::choices::strategy(), default_value = "pvr")]
    pub strategy: Strategy,
    /// Agent configuration for `--grpo`; default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl From<&HardArgs> for trutheye_trainer::data::hard::HardArgs {
    fn from(a: &HardArgs) -> Self {
        trutheye_trainer::data::hard::HardArgs {
            runs: a.runs.clone(),
            data: a.data.clone(),
            max_accuracy: a.max_accuracy,
            min_rollouts: a.min_rollouts,
            out: a.out.clone(),
            include_baselines: a.include_baselines,
            grpo: a.grpo.clone(),
            strategy: a.strategy,
            config: a.config.clone(),
        }
    }
}


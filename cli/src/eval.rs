//! `trutheye eval`: run policies × strategies (and single-operator baselines) over
//! a labelled dataset and write predictions, trajectories, metrics and reports.
//! The evaluator lives in `trutheye-eval`; this file only supplies the
//! [`EpisodeFactory`] (the policies and executors `analyze` uses) and the flags.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use crate::plugins::PluginDirs;
use trutheye_core::protocol::escape_controls;
use trutheye_core::{AgentConfig, Executor, Policy, Registry};
use trutheye_model::{OpenAiClient, OpenAiPolicy, ReplayPolicy, ScriptedConfig, ScriptedPolicy};
use trutheye_sandbox::PvrEngine;

use crate::code_backend::{BackendArgs, Placement, TrustArgs};
use trutheye_eval::{self as eval, EvalError, baseline, BaselineOptions, Dataset, EpisodeFactory, RunOptions, Shard};

use crate::group_args::GroupArgs;
use crate::analyze::{effective_strategy, load_configs, load_registry, pvr_engine, Strategy};
use crate::backend::OpenAiArgs;
use crate::local::{LocalModel, LocalModelArgs};

/// `trutheye eval [flags]` runs; `eval report DIR` and `eval compare A B` read runs.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Run an evaluation (same flags as `trutheye eval`).
    Run(Box<RunArgs>),
    /// Re-render metrics.json, report.md and report.html from DIR/predictions.jsonl
    /// (with the --group-by the run was reported with, unless given).
    Report {
        /// Run directory.
        dir: PathBuf,
        /// Dataset for masks and breakdowns (default: the one recorded in DIR/run.json).
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
        /// Print metrics.json to stdout instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        groups: ReportGroupArgs,
    },
    /// Merge the run directories of every shard of one `--shard I/N` run into one
    /// run directory (refuses missing, duplicated or overlapping shards), then
    /// write its reports.
    Merge {
        /// The shards' run directories (their --out), one per shard.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Merged run directory (new).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Dataset for masks and breakdowns (default: the one the shards recorded).
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
        /// Print metrics.json to stdout instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        groups: ReportGroupArgs,
    },
    /// Print per-metric differences between two runs (B − A).
    Compare {
        /// Run directory A.
        a: PathBuf,
        /// Run directory B.
        b: PathBuf,
    },
}

/// The grouping of a re-rendered report: `--group-by`, `--no-group-by`, or
/// (neither) the one the run, or the shards, were reported with.
#[derive(Args, Debug, Clone)]
struct ReportGroupArgs {
    #[command(flatten)]
    groups: GroupArgs,
    /// Report without the grouping the run was reported with.
    #[arg(long, conflicts_with = "group_by")]
    no_group_by: bool,
}

impl ReportGroupArgs {
    fn grouping(&self) -> eval::ReportGrouping {
        match self.groups.group_by() {
            Some(by) => eval::ReportGrouping::Given(by),
            None if self.no_group_by => eval::ReportGrouping::Off,
            None => eval::ReportGrouping::Recorded,
        }
    }
}

/// Flags of an evaluation run.
#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Dataset: a JSONL manifest, a folder with manifest.jsonl, or class-named folders.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Strategies, comma-separated (default: the preset's, else pvr).
    #[arg(long, value_delimiter = ',')]
    strategy: Vec<String>,
    /// Policies, comma-separated (scripted, replay, openai, qwen25vl).
    #[arg(long, value_delimiter = ',', default_value = "scripted")]
    policy: Vec<String>,
    /// JSON-lines file of assistant messages (for --policy replay; replayed for every image).
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// Agent configuration; default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A published agent's harness laid over the config: a built-in name (deepeyes; docs/presets.md) or a preset TOML file.
    #[arg(long, value_name = "NAME|PATH")]
    preset: Option<String>,
    /// Scripted-policy configuration; default: the built-in configs/scripted.toml.
    #[arg(long, value_name = "FILE")]
    scripted_config: Option<PathBuf>,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parallel episodes (default: number of cores; 1 with --policy qwen25vl, whose matmuls already use every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Continue an interrupted run in --out (done episodes are skipped, failed ones rerun).
    #[arg(long)]
    resume: bool,
    /// Run shard I of N (0-based) of the plan: every N-th job from I, the same on
    /// every machine and resume; join the shards with `eval merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Add single-operator baselines (`op:<name>` rows).
    #[arg(long)]
    baselines: bool,
    /// Baseline operators, comma-separated (default: every operator reporting anomaly_z).
    #[arg(long, value_delimiter = ',')]
    baseline_ops: Vec<String>,
    /// Baseline threshold on anomaly_z (tampered above it).
    #[arg(long, default_value_t = baseline::DEFAULT_THRESHOLD)]
    baseline_threshold: f64,
    /// Where code actions run (pvr and hybrid): a killable worker process, or in this
    /// process (needs --trusted-code).
    #[arg(long, value_enum, default_value_t = Placement::Worker)]
    pvr_mode: Placement,
    /// `--trusted-code`: allows `--pvr-mode in-process`.
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    backend: BackendArgs,
    /// Print metrics.json to stdout instead of the table (no progress bar).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    groups: GroupArgs,
    #[command(flatten)]
    openai: OpenAiArgs,
    #[command(flatten)]
    local: LocalModelArgs,
}

struct CliFactory {
    config: AgentConfig,
    scripted: ScriptedConfig,
    script: Option<PathBuf>,
    openai: Option<Arc<OpenAiClient>>,
    qwen: Option<LocalModel>,
    registry: Arc<Registry>,
    engine: PvrEngine,
}

impl EpisodeFactory for CliFactory {
    fn make(&self, policy: &str, strategy: &str) -> Result<(Box<dyn Policy>, Box<dyn Executor>), EvalError> {
        let bad = |e: &str| EvalError::Episode(e.to_string());
        let s = parse_strategy(strategy).map_err(|e| bad(&e.to_string()))?;
        let p: Box<dyn Policy> = match policy {
            "scripted" => Box::new(ScriptedPolicy::new(self.scripted.clone(), s).with_fusion(self.config.localization.clone())),
            "replay" => {
                let path = self.script.as_deref().ok_or_else(|| bad("--policy replay needs --script FILE"))?;
                Box::new(ReplayPolicy::from_file(path).map_err(|e| bad(&e.to_string()))?)
            }
            "openai" => Box::new(OpenAiPolicy::new(self.openai.clone().ok_or_else(|| bad("--policy openai needs --endpoint and --model"))?)),
            "qwen25vl" => Box::new(self.qwen.as_ref().ok_or_else(|| bad("--policy qwen25vl needs --model DIR"))?.policy(s)),
            other => return Err(bad(&format!("unknown policy `{other}` (expected scripted, replay, openai or qwen25vl)"))),
        };
        let e = self.engine.executor(s);
        Ok((p, e))
    }

    fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    fn config(&self) -> &AgentConfig {
        &self.config
    }
}

fn parse_strategy(s: &str) -> Result<Strategy> {
    s.parse::<Strategy>().map_err(anyhow::Error::msg)
}

/// Runs `trutheye eval ...`.
pub fn run(args: &EvalArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    match &args.command {
        Some(EvalCommand::Run(r)) => run_eval(r, dirs),
        Some(EvalCommand::Report { dir, data, json, groups }) => {
            let m = eval::rerender(dir, data.as_deref(), &groups.grouping()).map_err(anyhow::Error::msg)?;
            print_result(dir, &m, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(EvalCommand::Merge { dirs, out, data, json, groups }) => {
            let grouping = match groups.grouping() {
                eval::ReportGrouping::Given(by) => {
                    // Checked before merging, so a grouping that cannot apply leaves no half-made --out.
                    let path = data.clone().or_else(|| dirs.first().and_then(|d| eval::recorded_dataset(d)));
                    let Some(path) = path else { bail!("--group-by {}: the dataset is needed to read each sample's group; pass --data", by.describe()) };
                    let ds = Dataset::load(&path).map_err(anyhow::Error::msg)?;
                    eval::grouping::SampleGroups::new(&by, &ds.samples).map_err(anyhow::Error::msg)?;
                    eval::ReportGrouping::Given(by)
                }
                // The shards' own grouping, when they were all reported with the same one.
                eval::ReportGrouping::Recorded => {
                    let specs: Vec<_> = dirs.iter().map(|d| eval::recorded_grouping(d)).collect();
                    match specs.first() {
                        Some(Some(first)) if specs.iter().all(|s| s.as_ref() == Some(first)) => eval::ReportGrouping::Inherited(first.clone()),
                        _ => eval::ReportGrouping::Off,
                    }
                }
                other => other,
            };
            let summary = eval::merge_shards(dirs, out).map_err(anyhow::Error::msg)?;
            eprintln!("merged {} shards: {} jobs ({} failed episodes), {} trajectories, {} heat-maps", summary.shards, summary.jobs, summary.failed, summary.trajectories, summary.heatmaps);
            let m = eval::rerender(out, data.as_deref(), &grouping).map_err(anyhow::Error::msg)?;
            print_result(out, &m, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(EvalCommand::Compare { a, b }) => {
            let (ma, mb) = (eval::compare::load_metrics(a).map_err(anyhow::Error::msg)?, eval::compare::load_metrics(b).map_err(anyhow::Error::msg)?);
            println!("{}", escape_controls(&format!("A = {}\nB = {}\n{}", a.display(), b.display(), eval::compare::compare(&ma, &mb))));
            Ok(ExitCode::SUCCESS)
        }
        None => run_eval(&args.run, dirs),
    }
}

/// The Table-1 table and where the reports are, or with `json` the metrics.
fn print_result(dir: &Path, m: &eval::Metrics, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    let t = eval::report::table1(m);
    if !t.is_empty() {
        println!("{}", escape_controls(&t));
    }
    println!("reports: {0}/report.md, {0}/report.html, {0}/metrics.json", dir.display());
    Ok(())
}

fn run_eval(r: &RunArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    let Some(data) = &r.data else { bail!("--data PATH is required (a manifest.jsonl or a dataset folder)") };
    let Some(out) = &r.out else { bail!("--out DIR is required") };
    r.trust.check(r.pvr_mode).map_err(anyhow::Error::msg)?;
    let (config, scripted, preset) = load_configs(r.config.as_deref(), r.preset.as_deref(), r.scripted_config.as_deref())?;
    let strategies: Vec<String> = if r.strategy.is_empty() {
        vec![effective_strategy(None, preset.as_ref())?.as_str().to_string()]
    } else {
        r.strategy.iter().map(|s| s.to_lowercase()).collect()
    };
    for s in &strategies {
        parse_strategy(s)?;
    }
    let ds = Dataset::load(data).map_err(anyhow::Error::msg)?;
    if !ds.bad_rows.is_empty() {
        eprintln!("warning: {} dataset row(s) skipped (listed in report.md); first: {}: {}", ds.bad_rows.len(), ds.bad_rows[0].location, ds.bad_rows[0].reason);
    }
    if ds.samples.is_empty() {
        bail!("{}: no usable samples", data.display());
    }
    // Read every sample's group now, so a missing field stops the run before any episode.
    // A resumed run keeps the grouping it was reported with, as `eval report` does.
    let group_by = match r.groups.group_by() {
        Some(by) => Some(by),
        None if r.resume => eval::recorded_grouping(out).and_then(|spec| eval::grouping_if_it_applies(&spec, Some(&ds))),
        None => None,
    };
    if let Some(by) = &group_by {
        let groups = eval::grouping::SampleGroups::new(by, &ds.samples).map_err(anyhow::Error::msg)?;
        eprintln!("paired comparison grouped by {}: {} groups", by.describe(), groups.count());
    }
    let (registry, report) = load_registry(dirs, &config)?;
    if registry.is_empty() && (r.baselines || strategies.iter().any(|s| s != "none")) {
        eprintln!("warning: no forensic operators loaded (searched {}); build the plugins with `cargo build --release` or pass --plugin-dir", report.searched.len());
    }
    // One client for the run, so --jobs N means N concurrent requests over one pool.
    let openai = if r.policy.iter().any(|p| p == "openai") { Some(r.openai.client(config.generation.stop.as_deref())?) } else { None };
    // One model for the run: every episode's policy shares its weights.
    let local = r.policy.iter().any(|p| p == "qwen25vl");
    let qwen = if local { Some(LocalModel::from_args(&r.openai, &r.local)?.with_stop(config.generation.stop.clone())) } else { None };
    let model_policy = r.policy.iter().any(|p| p != "scripted");
    let runs_code = strategies.iter().any(|s| s.parse::<Strategy>().is_ok_and(Strategy::runs_code));
    let engine = pvr_engine(&r.backend, &config, model_policy, r.pvr_mode, dirs, Duration::from_secs(10), runs_code, None)?;
    let backend_name = engine.backend().runtime();
    let code_isolation = runs_code.then(|| engine.code_isolation());
    let factory = CliFactory { config, scripted, script: r.script.clone(), openai, qwen, registry: Arc::new(registry), engine };
    let jobs = r.jobs.unwrap_or_else(|| if local { 1 } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) }).max(1);
    let opts = RunOptions {
        out: out.clone(),
        policies: r.policy.clone(),
        strategies,
        jobs,
        limit: r.limit,
        resume: r.resume,
        shard: r.shard,
        baselines: r.baselines.then(|| BaselineOptions { operators: r.baseline_ops.clone(), threshold: r.baseline_threshold }),
        progress: !r.json,
        args: serde_json::json!({"argv": std::env::args().collect::<Vec<_>>(), "pvr_mode": r.pvr_mode.as_str(), "backend": backend_name, "code_isolation": code_isolation}),
    };
    let summary = eval::run_eval(&ds, &factory, &opts).map_err(anyhow::Error::msg)?;
    let of_plan = match (r.shard, summary.plan_jobs) {
        (Some(sh), Some(n)) => format!(" (shard {sh}: {} of the plan's {n} jobs)", summary.planned),
        _ => String::new(),
    };
    eprintln!("{} episodes run, {} skipped (resume), {} failed, in {:.1}s{of_plan}", summary.ran, summary.skipped, summary.errors, summary.wall_s);
    let m = eval::write_reports(out, Some(&ds), group_by.as_ref()).map_err(anyhow::Error::msg).context("writing reports")?;
    print_result(out, &m, r.json)?;
    Ok(ExitCode::SUCCESS)
}

//! `trutheye analyze`: run one episode per image and report.

use std::fs::OpenOptions;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use trutheye_core::cli::PluginDirs;
use trutheye_core::executors::{HybridExecutor, NoneExecutor, RegistryExecutor};
use trutheye_core::{run_episode, AgentConfig, ArtifactSink, DirArtifacts, EpisodeInput, Executor, ImageBuf, NoArtifacts, Policy, Registry, Trajectory};
use trutheye_model::{OpenAiPolicy, ReplayPolicy, ScriptedConfig, ScriptedPolicy};

use crate::backend::OpenAiArgs;
use crate::local::{LocalModel, LocalModelArgs};
use trutheye_sandbox::{PvrExecutor, PvrLimits, PvrMode, WorkerConfig, WorkerExecutor};

use crate::report;

/// How the agent may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    /// Programmatic visual reasoning: the model writes image-operation code.
    Pvr,
    /// A fixed registry of tools called with JSON.
    Registry,
    /// Code first; tool calls and failed bare operator calls go to the registry.
    Hybrid,
    /// No tools: the model answers from the image alone.
    None,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Pvr => "pvr",
            Strategy::Registry => "registry",
            Strategy::Hybrid => "hybrid",
            Strategy::None => "none",
        }
    }
}

/// Who writes the turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyKind {
    /// The built-in deterministic forensic agent (no weights).
    Scripted,
    /// Replay assistant messages from --script.
    Replay,
    /// A model behind an OpenAI-compatible server (--endpoint, --model).
    Openai,
    /// Qwen2.5-VL run in this process (--model DIR: a checkpoint directory).
    Qwen25vl,
}

/// Arguments of `trutheye analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Image files, or directories of images.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// How the agent may act.
    #[arg(long, value_enum, default_value_t = Strategy::Pvr)]
    pub strategy: Strategy,
    /// Who writes the turns.
    #[arg(long, value_enum, default_value_t = PolicyKind::Scripted)]
    pub policy: PolicyKind,
    /// JSON-lines file of assistant messages (for --policy replay).
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Agent configuration (budgets, prompts); default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Scripted-policy configuration; default: the built-in configs/scripted.toml.
    #[arg(long, value_name = "FILE")]
    pub scripted_config: Option<PathBuf>,
    #[command(flatten)]
    pub openai: OpenAiArgs,
    #[command(flatten)]
    pub local: LocalModelArgs,
    /// One JSON object per image on stdout instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Write trajectories.jsonl, operator maps, masks and overlays here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where code actions run (pvr and hybrid): a killable, OS-limited worker process, or in this process.
    #[arg(long, value_enum, default_value_t = PvrMode::Worker)]
    pub pvr_mode: PvrMode,
}

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "tif", "tiff", "bmp", "webp", "jfif"];

/// Expands directories to the images inside them (sorted); files are kept as given.
fn collect_images(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot read directory", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str())))
                .collect();
            if found.is_empty() {
                bail!("{}: directory contains no images ({})", p.display(), IMAGE_EXTENSIONS.join(", "));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn make_policy(args: &AnalyzeArgs, scripted: &ScriptedConfig) -> Result<Box<dyn Policy>> {
    Ok(match args.policy {
        PolicyKind::Scripted => Box::new(ScriptedPolicy::new(scripted.clone(), args.strategy.as_str()).map_err(anyhow::Error::msg)?),
        PolicyKind::Replay => {
            let path = args.script.as_deref().context("--policy replay needs --script FILE")?;
            Box::new(ReplayPolicy::from_file(path).map_err(anyhow::Error::msg)?)
        }
        PolicyKind::Openai => Box::new(OpenAiPolicy::new(args.openai.client()?)),
        // Loaded once; `analyze` reuses the policy (and so the weights) for every image.
        PolicyKind::Qwen25vl => Box::new(LocalModel::from_args(&args.openai, &args.local)?.policy(args.strategy)),
    })
}

/// Executors keep per-episode state (PVR variables), so each episode gets a new
/// one. In worker mode code runs in a `trutheye pvr-worker` child (started on
/// the first code action) that loads operators from the same plugin dirs.
pub fn make_executor(strategy: Strategy, mode: PvrMode, dirs: &PluginDirs) -> Result<Box<dyn Executor>> {
    let worker = || -> Result<WorkerExecutor> {
        let mut cfg = WorkerConfig::current_exe().map_err(anyhow::Error::msg)?;
        cfg.plugin_dirs = dirs.plugin_dirs.clone();
        Ok(WorkerExecutor::new(cfg))
    };
    Ok(match (strategy, mode) {
        (Strategy::Pvr, PvrMode::Worker) => Box::new(worker()?),
        (Strategy::Pvr, PvrMode::InProcess) => Box::new(PvrExecutor::new(PvrLimits::default())),
        (Strategy::Hybrid, PvrMode::Worker) => Box::new(HybridExecutor::new(worker()?)),
        (Strategy::Hybrid, PvrMode::InProcess) => Box::new(HybridExecutor::new(PvrExecutor::new(PvrLimits::default()))),
        (Strategy::Registry, _) => Box::new(RegistryExecutor),
        (Strategy::None, _) => Box::new(NoneExecutor),
    })
}

/// The agent and scripted-policy configurations from `--config` and
/// `--scripted-config`, or the built-in ones.
pub fn load_configs(config: Option<&Path>, scripted: Option<&Path>) -> Result<(AgentConfig, ScriptedConfig)> {
    let config = match config {
        Some(p) => AgentConfig::load(p).map_err(anyhow::Error::msg)?,
        None => AgentConfig::default_config(),
    };
    let scripted = match scripted {
        Some(p) => ScriptedConfig::load(p).map_err(anyhow::Error::msg)?,
        None => ScriptedConfig::builtin(),
    };
    Ok((config, scripted))
}

/// Runs `trutheye analyze`.
pub fn run(args: &AnalyzeArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    let (config, scripted) = load_configs(args.config.as_deref(), args.scripted_config.as_deref())?;
    let images = collect_images(&args.images)?;
    // Fail on a bad --script before doing any work.
    let mut policy = make_policy(args, &scripted)?;
    let (registry, report) = dirs.load();
    if registry.is_empty() && args.strategy != Strategy::None {
        eprintln!("warning: no forensic operators loaded (searched {}); build the plugins with `cargo build --release` or pass --plugin-dir", report.searched.len());
    }
    let registry = Arc::new(registry);
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create output directory", out.display()))?;
    }
    let bar = report::progress(images.len(), args.json);
    let mut failures = 0usize;
    for path in &images {
        bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let outcome = analyze_one(path, args, dirs, &config, &registry, policy.as_mut());
        bar.inc(1);
        match outcome {
            Ok((traj, saved)) => {
                bar.suspend(|| {
                    if args.json {
                        println!("{}", report::json_line(path, &traj));
                    } else {
                        println!("{}", report::human(path, &traj, &saved));
                    }
                });
            }
            Err(e) => {
                failures += 1;
                let msg = format!("{e:#}");
                bar.suspend(|| {
                    if args.json {
                        println!("{}", serde_json::json!({"image": path, "error": msg}));
                    }
                    eprintln!("error: {msg}");
                });
            }
        }
    }
    bar.finish_and_clear();
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn analyze_one(path: &Path, args: &AnalyzeArgs, dirs: &PluginDirs, config: &AgentConfig, registry: &Arc<Registry>, policy: &mut dyn Policy) -> Result<(Trajectory, Vec<String>)> {
    let image = ImageBuf::open(path, config.images.max_input_pixels)?;
    let id = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let mut executor = make_executor(args.strategy, args.pvr_mode, dirs)?;
    let mut sink: Box<dyn ArtifactSink> = match &args.out {
        Some(dir) => Box::new(DirArtifacts(dir.join("artifacts"))),
        None => Box::new(NoArtifacts),
    };
    let input = EpisodeInput { id: id.clone(), images: vec![Arc::new(image)] };
    let image0 = input.images[0].clone();
    let mut traj = catch_unwind(AssertUnwindSafe(|| run_episode(policy, executor.as_mut(), input, config, registry.clone(), sink.as_mut())))
        .map_err(|_| anyhow::anyhow!("{}: internal error during the episode (see the message above)", path.display()))?;
    let mut saved = Vec::new();
    if let Some(dir) = &args.out {
        if let Some(b) = traj.verdict.bbox {
            let (mask, overlay) = report::write_localization(&dir.join("artifacts").join(&id), &image0, b)?;
            traj.verdict.mask = Some(mask.clone());
            saved.push(mask);
            saved.push(overlay);
        }
        let file = dir.join("trajectories.jsonl");
        let mut f = OpenOptions::new().create(true).append(true).open(&file).with_context(|| format!("cannot open {}", file.display()))?;
        writeln!(f, "{}", traj.to_json_line()).with_context(|| format!("cannot write {}", file.display()))?;
        saved.push(file.display().to_string());
    }
    Ok((traj, saved))
}

//! `trutheye analyze`: run one episode per image and report.

use std::fs::OpenOptions;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use crate::plugins::PluginDirs;
use trutheye_core::loader::LoadReport;
use trutheye_core::preset::{Preset, PresetMeta};
use trutheye_core::{run_episode, AgentConfig, ArtifactSink, DirArtifacts, EpisodeInput, ImageBuf, NoArtifacts, Policy, Registry, Trajectory};
use trutheye_model::{OpenAiPolicy, ReplayPolicy, ScriptedConfig, ScriptedPolicy};

use crate::backend::OpenAiArgs;
use crate::local::{LocalModel, LocalModelArgs};
use trutheye_sandbox::{Dialect, PvrBackend, PvrEngine, WorkerConfig};

use crate::code_backend::{BackendArgs, Placement, TrustArgs};

use crate::report;

pub use trutheye_core::Strategy;

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
    /// How the agent may act (default: the preset's, else pvr).
    #[arg(long, value_parser = crate::choices::strategy())]
    pub strategy: Option<Strategy>,
    /// Who writes the turns.
    #[arg(long, value_enum, default_value_t = PolicyKind::Scripted)]
    pub policy: PolicyKind,
    /// JSON-lines file of assistant messages (for --policy replay).
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Agent configuration (budgets, prompts); default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A published agent's harness (prompt, tools and their names, stop strings, budgets, answer format) laid over the config: a built-in name (deepeyes; docs/presets.md) or a preset TOML file.
    #[arg(long, value_name = "NAME|PATH")]
    pub preset: Option<String>,
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
    /// Where the embedded interpreter runs code actions (pvr and hybrid): a killable,
    /// OS-limited worker process, or in this process (needs --trusted-code).
    #[arg(long, value_enum, default_value_t = Placement::Worker)]
    pub pvr_mode: Placement,
    /// `--trusted-code`: allows `--pvr-mode in-process`.
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
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

fn make_policy(args: &AnalyzeArgs, strategy: Strategy, config: &AgentConfig, scripted: &ScriptedConfig) -> Result<Box<dyn Policy>> {
    Ok(match args.policy {
        PolicyKind::Scripted => Box::new(ScriptedPolicy::new(scripted.clone(), strategy).with_fusion(config.localization.clone())),
        PolicyKind::Replay => {
            let path = args.script.as_deref().context("--policy replay needs --script FILE")?;
            Box::new(ReplayPolicy::from_file(path).map_err(anyhow::Error::msg)?)
        }
        PolicyKind::Openai => Box::new(OpenAiPolicy::new(args.openai.client(config.generation.stop.as_deref())?)),
        // Loaded once; `analyze` reuses the policy (and so the weights) for every image.
        PolicyKind::Qwen25vl => Box::new(LocalModel::from_args(&args.openai, &args.local)?.with_stop(config.generation.stop.clone()).policy(strategy)),
    })
}

/// The run's PVR engine from `--backend`/`--python`, the config's `[pvr]` and the
/// kind of policy (model policies default to python when it is set up). Started
/// at once when code will run, so a broken environment fails the run in one line.
/// `jail_memory` caps the python backend's jail (all episodes together);
/// `None` keeps its default.
#[allow(clippy::too_many_arguments)]
pub fn pvr_engine(args: &BackendArgs, config: &AgentConfig, model_policy: bool, placement: Placement, dirs: &PluginDirs, timeout: Duration, runs_code: bool, jail_memory: Option<u64>) -> Result<PvrEngine> {
    let config_python = (!config.pvr.python.is_empty()).then(|| PathBuf::from(&config.pvr.python));
    let backend = args.resolve(placement, &config.pvr.backend, config_python.as_deref(), model_policy);
    // `--dialect` defaults to the union, so the union means "not given": the
    // config's (a preset's) dialect applies then.
    let dialect = match (args.dialect, config.pvr.dialect.as_str()) {
        (Dialect::Union, "thyme") => Dialect::Thyme,
        (Dialect::Union, "trutheye2") => Dialect::TruthEye2,
        (d, _) => d,
    };
    let python = args.python.clone().or(config_python);
    let worker = || {
        let mut cfg = WorkerConfig::current_exe()?;
        cfg.plugin_dirs = dirs.plugin_dirs.clone();
        Ok(cfg)
    };
    let engine = match (backend, jail_memory) {
        (PvrBackend::Python, Some(bytes)) => PvrEngine::python_within(python.as_deref(), timeout, dialect, Some(bytes)),
        _ => PvrEngine::build(backend, python.as_deref(), dialect, worker, timeout),
    }
    .map_err(anyhow::Error::msg)?;
    if runs_code {
        engine.warm_up().map_err(anyhow::Error::msg)?;
    }
    tracing::info!(backend = %engine.describe(), "pvr backend");
    Ok(engine)
}

/// The agent and scripted-policy configurations from `--config` (with
/// `--preset` laid over it) and `--scripted-config`, or the built-in ones; and
/// the preset's own section when there is one.
pub fn load_configs(config: Option<&Path>, preset: Option<&str>, scripted: Option<&Path>) -> Result<(AgentConfig, ScriptedConfig, Option<PresetMeta>)> {
    let config = match config {
        Some(p) => AgentConfig::load(p).map_err(anyhow::Error::msg)?,
        None => AgentConfig::default_config(),
    };
    let (config, meta) = match preset {
        Some(name) => {
            let p = Preset::resolve(name, &config).map_err(|e| anyhow::anyhow!("--preset: {e}"))?;
            (p.config, Some(p.meta))
        }
        None => (config, None),
    };
    let scripted = match scripted {
        Some(p) => ScriptedConfig::load(p).map_err(anyhow::Error::msg)?,
        None => ScriptedConfig::builtin(),
    };
    Ok((config, scripted, meta))
}

/// The strategy a run uses: the flag, else the preset's, else pvr.
pub fn effective_strategy(flag: Option<Strategy>, preset: Option<&PresetMeta>) -> Result<Strategy> {
    match (flag, preset) {
        (Some(s), _) => Ok(s),
        (None, Some(p)) => p.strategy.parse::<Strategy>().map_err(|e| anyhow::anyhow!("preset {}: {e}", p.name)),
        (None, None) => Ok(Strategy::Pvr),
    }
}

/// Loads the plugins and adds the config's tool aliases (a preset's names for
/// tools), which must name loaded tools.
pub fn load_registry(dirs: &PluginDirs, config: &AgentConfig) -> Result<(Registry, LoadReport)> {
    let (mut registry, report) = dirs.load();
    registry.add_aliases(&config.tools.aliases).map_err(|e| anyhow::anyhow!("[tools.aliases]: {e}"))?;
    Ok((registry, report))
}

/// Runs `trutheye analyze`.
pub fn run(args: &AnalyzeArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    args.trust.check(args.pvr_mode).map_err(anyhow::Error::msg)?;
    let (config, scripted, preset) = load_configs(args.config.as_deref(), args.preset.as_deref(), args.scripted_config.as_deref())?;
    let strategy = effective_strategy(args.strategy, preset.as_ref())?;
    let images = collect_images(&args.images)?;
    // Fail on a bad --script before doing any work.
    let mut policy = make_policy(args, strategy, &config, &scripted)?;
    let (registry, report) = load_registry(dirs, &config)?;
    if registry.is_empty() && strategy != Strategy::None {
        eprintln!("warning: no forensic operators loaded (searched {}); build the plugins with `cargo build --release` or pass --plugin-dir", report.searched.len());
    }
    let registry = Arc::new(registry);
    let runs_code = strategy.runs_code();
    let engine = pvr_engine(&args.backend, &config, args.policy != PolicyKind::Scripted, args.pvr_mode, dirs, Duration::from_secs(10), runs_code, None)?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create output directory", out.display()))?;
    }
    let bar = report::progress(images.len(), args.json);
    let mut failures = 0usize;
    for path in &images {
        bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let outcome = analyze_one(path, args, strategy, &engine, &config, &registry, policy.as_mut());
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
                    eprintln!("error: {}", trutheye_core::protocol::escape_controls(&msg));
                });
            }
        }
    }
    bar.finish_and_clear();
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn analyze_one(path: &Path, args: &AnalyzeArgs, strategy: Strategy, engine: &PvrEngine, config: &AgentConfig, registry: &Arc<Registry>, policy: &mut dyn Policy) -> Result<(Trajectory, Vec<String>)> {
    let image = ImageBuf::open_with(path, config.images.decode_options())?;
    let id = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let mut executor = engine.executor(strategy);
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
            // The fused heat-map the episode saved (grid-sized) becomes the full-size mask.
            let heat = traj.verdict.mask.as_deref().and_then(|p| image::open(p).ok()).map(|i| i.to_luma8());
            let (mask, overlay) = report::write_localization(&dir.join("artifacts").join(&id), &image0, b, heat.as_ref())?;
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

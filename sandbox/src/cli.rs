//! `trutheye pvr IMAGE --code FILE|-`: run one code action and print what the
//! model would see.
//!
//! Exit codes: 0 when the action ran, whether or not the code failed (a failed
//! action is an observation, shown with its error, as the model would see it);
//! 2 when the tool itself could not run it (unreadable image or code file,
//! unwritable output directory, a worker that cannot start, `--mode in-process`
//! without `--trusted-code`).
//!
//! Produced images are written only under `--out`; without it nothing is
//! written (no temporary directory is left behind).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use trutheye_core::cli::PluginDirs;
use trutheye_core::image::DEFAULT_MAX_PIXELS;
use trutheye_core::protocol::escape_controls;
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, NamedImage, Observation, Registry};

use crate::engine::{BackendArgs, BackendKind, PvrEngine};
use crate::worker::{WorkerConfig, WorkerExecutor};
use crate::{PvrExecutor, PvrLimits};

/// Where PVR code runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PvrMode {
    /// A separate, OS-limited `trutheye pvr-worker` process that is killed on overrun.
    #[default]
    Worker,
    /// The interpreter inside this process (faster to start; native operators cannot be interrupted).
    InProcess,
}

/// Why in-process mode needs `--trusted-code` (the one-line error every host prints).
pub const IN_PROCESS_NEEDS_TRUST: &str =
    "--pvr-mode in-process runs model code inside this process without OS limits; pass --trusted-code if the code is trusted";

impl PvrMode {
    /// `worker` or `in-process`.
    pub fn as_str(self) -> &'static str {
        match self {
            PvrMode::Worker => "worker",
            PvrMode::InProcess => "in-process",
        }
    }

    /// Model code never runs in-process unless whoever starts the host says it
    /// is trusted (`--trusted-code`): in this process nothing stops a native
    /// loop or a huge allocation. Every host calls this before building its
    /// engine; `Err` is [`IN_PROCESS_NEEDS_TRUST`].
    pub fn check_trusted(self, trusted: bool) -> Result<(), String> {
        match self {
            PvrMode::InProcess if !trusted => Err(IN_PROCESS_NEEDS_TRUST.to_string()),
            _ => Ok(()),
        }
    }
}

/// `--trusted-code`, shared by every command that can run model code in-process
/// (`pvr`, `analyze`, `eval`, `serve`), so the flag and its check are the same
/// everywhere ([`PvrMode::check_trusted`]).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct TrustArgs {
    /// The model code is trusted: allow `--pvr-mode in-process`, which runs it inside this
    /// process without OS limits (no memory cap; a native loop cannot be stopped). Trajectories
    /// record `"code_isolation": "in-process (trusted)"`.
    #[arg(long)]
    pub trusted_code: bool,
}

impl TrustArgs {
    /// [`PvrMode::check_trusted`] with this flag.
    pub fn check(&self, mode: PvrMode) -> Result<(), String> {
        mode.check_trusted(self.trusted_code)
    }
}

/// Arguments of `trutheye pvr`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PvrArgs {
    /// `setup` or `doctor` instead of running code.
    #[command(subcommand)]
    pub command: Option<PvrCommand>,
    /// Image file (becomes `image` / `image_clue_0`).
    #[arg(required = true)]
    pub image: Option<PathBuf>,
    /// File with the Python snippet, or `-` for stdin. Repeat for several actions of
    /// one episode (variables persist between them; `--json` prints a line per action).
    #[arg(long, value_name = "FILE|-", required = true)]
    pub code: Vec<PathBuf>,
    /// Which backend runs the code (default here: `interp`; `python` needs `trutheye pvr setup`).
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Where the code runs (`in-process` needs --trusted-code).
    #[arg(long, visible_alias = "pvr-mode", value_enum, default_value_t = PvrMode::Worker)]
    pub mode: PvrMode,
    /// `--trusted-code`: allows `--mode in-process`.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Save the produced images here as PNGs (default: they are not saved).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Wall-time limit of each action in seconds, in every mode and backend (code that runs
    /// past it ends in a TimeoutError; a worker or jailed interpreter that does not stop is
    /// killed).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Largest input image in pixels.
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

/// `trutheye pvr setup|doctor`.
#[derive(Subcommand, Debug)]
pub enum PvrCommand {
    /// Create a venv with the pinned packages for `--backend python` (needs PyPI).
    Setup {
        /// Where to create it (default: ~/.local/share/trutheye/pvr-venv).
        #[arg(long, value_name = "DIR")]
        venv: Option<PathBuf>,
        /// The CPython (>= 3.11) that creates the venv.
        #[arg(long, value_name = "PATH", default_value = "python3")]
        base: PathBuf,
    },
    /// Check the python backend: interpreter, packages, jail, seccomp, cgroup.
    Doctor {
        /// The interpreter to check.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `trutheye pvr`.
pub fn run(args: &PvrArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    match &args.command {
        Some(PvrCommand::Setup { venv, base }) => return setup(venv.as_deref(), base),
        Some(PvrCommand::Doctor { python, json }) => return doctor(python.as_deref(), *json),
        None => {}
    }
    let Some(image_path) = &args.image else {
        anyhow::bail!("usage: trutheye pvr IMAGE --code FILE|- (or `trutheye pvr setup`)");
    };
    if args.code.is_empty() {
        anyhow::bail!("usage: trutheye pvr IMAGE --code FILE|- [--code FILE ...]");
    }
    args.trust.check(args.mode).map_err(anyhow::Error::msg)?;
    let codes: Vec<String> = args.code.iter().map(|p| read_code(p)).collect::<Result<_>>()?;
    let image = ImageBuf::open(image_path, args.max_pixels)?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let timeout = std::time::Duration::from_secs_f64(args.timeout.min(86_400.0));
    let kind = args.backend.resolve(None, None, false).map_err(anyhow::Error::msg)?;
    // One episode: every --code is one action, in order, sharing variables.
    let (mut exec, registry): (Box<dyn trutheye_core::Executor>, Registry) = match (kind, args.mode) {
        (BackendKind::Python, _) => {
            let mut cfg = crate::python::PythonConfig::discover(args.backend.python.as_deref()).map_err(anyhow::Error::msg)?;
            cfg.action_timeout = timeout;
            cfg.dialect = args.backend.dialect.runtime_name().map(str::to_string);
            let backend = crate::python::PythonBackend::new(cfg).map_err(anyhow::Error::msg)?;
            backend.start().map_err(anyhow::Error::msg)?;
            (Box::new(backend.executor()), dirs.load().0)
        }
        (_, PvrMode::InProcess) => {
            let limits = PvrLimits { max_wall: timeout, ..PvrLimits::default() };
            (Box::new(PvrExecutor::new(limits)), dirs.load().0)
        }
        (_, PvrMode::Worker) => {
            let mut cfg = WorkerConfig::current_exe().map_err(anyhow::Error::msg)?;
            cfg.plugin_dirs = dirs.plugin_dirs.clone();
            cfg.set_timeout(timeout);
            let mut exec = WorkerExecutor::new(cfg);
            exec.start().map_err(|e| anyhow::anyhow!("the sandbox worker could not start: {e}"))?;
            // Operators run in the worker; the host needs no registry.
            (Box::new(exec), Registry::new())
        }
    };
    let mut state = EpisodeState::new(vec![Arc::new(image)], Arc::new(registry), ExecLimits::default());
    for code in &codes {
        let started = Instant::now();
        let action = trutheye_core::Action::Code { code: code.clone(), image_index: None, source: trutheye_core::CodeSource::Tag };
        let obs = exec.execute(&action, &mut state);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let saved = save_images(&obs, args.out.as_deref())?;
        print(args, kind, &obs, &saved, ms);
    }
    Ok(ExitCode::SUCCESS)
}

fn read_code(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the code from stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the code file", path.display()))
    }
}

struct Saved {
    name: String,
    width: u32,
    height: u32,
    path: Option<PathBuf>,
    shown: bool,
}

/// The produced images, written as PNGs under `dir` when one is given (else
/// only listed, with no path).
fn save_images(obs: &Observation, dir: Option<&Path>) -> Result<Vec<Saved>> {
    let all: Vec<(&NamedImage, bool)> = obs.images.iter().map(|n| (n, true)).chain(obs.artifacts.iter().map(|n| (n, false))).collect();
    let Some(dir) = dir.filter(|_| !all.is_empty()) else {
        return Ok(all.into_iter().map(|(n, shown)| Saved { name: n.name.clone(), width: n.image.width(), height: n.image.height(), path: None, shown }).collect());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the output directory", dir.display()))?;
    let mut saved = Vec::new();
    for (n, shown) in all {
        let file: String = n.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        let path = dir.join(format!("{file}.png"));
        n.image.rgb.save(&path).with_context(|| format!("cannot write {}", path.display()))?;
        saved.push(Saved { name: n.name.clone(), width: n.image.width(), height: n.image.height(), path: Some(path), shown });
    }
    Ok(saved)
}

fn print(args: &PvrArgs, kind: BackendKind, obs: &Observation, saved: &[Saved], ms: f64) {
    if args.json {
        let images: Vec<_> = saved
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "width": s.width, "height": s.height, "path": s.path, "shown": s.shown}))
            .collect();
        let backend = kind.as_str();
        let v = serde_json::json!({
            "image": args.image, "mode": args.mode.as_str(), "backend": backend, "text": obs.text, "error": obs.error,
            "images": images, "bbox_candidate": obs.bbox_candidate, "tools": obs.tools,
            "ms": (ms * 10.0).round() / 10.0,
        });
        println!("{v}");
        return;
    }
    // Model code chose the text, the names and the error: control characters
    // are escaped so they cannot drive the terminal.
    let mut out = String::new();
    out += &format!("{}\n---\n", obs.text);
    for s in saved {
        let what = if s.shown { "image" } else { "artifact" };
        match &s.path {
            Some(p) => out += &format!("{what} {} {}x{}: {}\n", s.name, s.width, s.height, p.display()),
            None => out += &format!("{what} {} {}x{}: not saved (pass --out DIR to keep it)\n", s.name, s.width, s.height),
        }
    }
    if let Some(b) = obs.bbox_candidate {
        out += &format!("localization candidate: [{}, {}, {}, {}]\n", b[0], b[1], b[2], b[3]);
    }
    if !obs.tools.is_empty() {
        let tools: Vec<String> = obs.tools.iter().map(|t| format!("{}{}", t.name, if t.ok { "" } else { " (failed)" })).collect();
        out += &format!("tools: {}\n", tools.join(", "));
    }
    match &obs.error {
        Some(e) => out += &format!("error: {e}\n"),
        None => out += "error: none\n",
    }
    match kind {
        BackendKind::Python => out += &format!("backend: python, {ms:.1} ms"),
        BackendKind::Interp => out += &format!("backend: interp ({}), {ms:.1} ms", args.mode.as_str()),
    }
    println!("{}", escape_controls(&out));
}

fn setup(venv: Option<&Path>, base: &Path) -> Result<ExitCode> {
    let venv = match venv {
        Some(v) => v.to_path_buf(),
        None => crate::python::env::default_venv().context("cannot tell where to put the venv (no HOME); pass --venv DIR")?,
    };
    let python = crate::python::env::setup(&venv, base).map_err(anyhow::Error::msg)?;
    // Prove it works: start the jail once.
    let engine = PvrEngine::python(Some(&python), std::time::Duration::from_secs(10), crate::engine::Dialect::Union).map_err(anyhow::Error::msg)?;
    engine.warm_up().map_err(anyhow::Error::msg)?;
    println!("python backend ready: {}", python.display());
    if crate::python::env::default_venv().as_deref() != Some(venv.as_path()) {
        println!("use it with --python {} or TRUTHEYE_PYTHON={}", python.display(), python.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn doctor(python: Option<&Path>, json: bool) -> Result<ExitCode> {
    let mut report = serde_json::Map::new();
    let mut ok = true;
    let found = crate::python::env::find_python(python);
    report.insert("python".into(), serde_json::json!(found));
    let jail = match &found {
        None => Err(format!("no Python environment found; {}", crate::python::env::SETUP_HINT)),
        Some(p) => crate::python::PythonBackend::new(crate::python::PythonConfig::new(p)).and_then(|b| b.start()),
    };
    match jail {
        Ok(hello) => {
            report.insert("jail".into(), serde_json::json!("ok"));
            report.insert("versions".into(), hello.get("versions").cloned().unwrap_or_default());
            report.insert("python_version".into(), hello.get("python").cloned().unwrap_or_default());
            let abi = hello.get("landlock_abi").and_then(serde_json::Value::as_u64).unwrap_or(0);
            report.insert(
                "landlock".into(),
                serde_json::json!(if abi > 0 { format!("ABI {abi}: each episode writes only its scratch dir") } else { "unavailable (episodes in one jail can read each other's scratch dirs)".to_string() }),
            );
        }
        Err(e) => {
            ok = false;
            report.insert("jail".into(), serde_json::json!(e));
        }
    }
    report.insert("seccomp".into(), serde_json::json!(crate::python::seccomp::episode_filters().map(|_| "ok").unwrap_or("unavailable")));
    report.insert("cgroup".into(), serde_json::json!(crate::python::cgroup::probe().unwrap_or("unavailable (rlimits and the seccomp ban on fork still apply)")));
    if json {
        println!("{}", serde_json::Value::Object(report));
    } else {
        for (k, v) in &report {
            println!("{k:>15}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

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
use clap::{Args, Subcommand};
use trutheye_core::image::DEFAULT_MAX_PIXELS;
use trutheye_core::protocol::escape_controls;
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, NamedImage, Observation, Registry};
use trutheye_sandbox::python::doctor as python_env;
use trutheye_sandbox::{PvrBackend, PvrEngine, WorkerConfig, WorkerExecutor};

use crate::code_backend::{BackendArgs, Placement, TrustArgs};
use crate::plugins::PluginDirs;

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
    #[arg(long, visible_alias = "pvr-mode", value_enum, default_value_t = Placement::Worker)]
    pub mode: Placement,
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
    let backend = args.backend.resolve(args.mode, "", None, false);
    let worker = || {
        let mut cfg = WorkerConfig::current_exe()?;
        cfg.plugin_dirs = dirs.plugin_dirs.clone();
        Ok(cfg)
    };
    let engine = PvrEngine::build(backend, args.backend.python.as_deref(), args.backend.dialect, worker, timeout).map_err(anyhow::Error::msg)?;
    engine.warm_up().map_err(anyhow::Error::msg)?;
    // One episode: every --code is one action, in order, sharing variables.
    let (mut exec, registry): (Box<dyn trutheye_core::Executor>, Registry) = match &engine {
        PvrEngine::Worker(cfg) => {
            let mut exec = WorkerExecutor::new(cfg.clone());
            exec.start().map_err(|e| anyhow::anyhow!("the sandbox worker could not start: {e}"))?;
            // Operators run in the worker; the host needs no registry.
            (Box::new(exec), Registry::new())
        }
        _ => (engine.pvr(), dirs.load().0),
    };
    let mut state = EpisodeState::new(vec![Arc::new(image)], Arc::new(registry), ExecLimits::default());
    for code in &codes {
        let started = Instant::now();
        let action = trutheye_core::Action::Code { code: code.clone(), image_index: None, source: trutheye_core::CodeSource::Tag };
        let obs = exec.execute(&action, &mut state);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let saved = save_images(&obs, args.out.as_deref())?;
        print(args, backend, &obs, &saved, ms);
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

fn print(args: &PvrArgs, backend: PvrBackend, obs: &Observation, saved: &[Saved], ms: f64) {
    if args.json {
        let images: Vec<_> = saved
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "width": s.width, "height": s.height, "path": s.path, "shown": s.shown}))
            .collect();
        let mode = if args.mode == Placement::InProcess { "in-process" } else { "worker" };
        let v = serde_json::json!({
            "image": args.image, "mode": mode, "backend": backend.runtime(), "text": obs.text, "error": obs.error,
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
    match backend {
        PvrBackend::Python => out += &format!("backend: python, {ms:.1} ms"),
        interp => out += &format!("backend: interp ({}), {ms:.1} ms", interp.placement()),
    }
    println!("{}", escape_controls(&out));
}

fn setup(venv: Option<&Path>, base: &Path) -> Result<ExitCode> {
    let python = python_env::setup(venv, base).map_err(anyhow::Error::msg)?;
    println!("python backend ready: {}", python.display());
    if !python_env::is_default_venv(&python) {
        println!("use it with --python {} or TRUTHEYE_PYTHON={}", python.display(), python.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn doctor(python: Option<&Path>, json: bool) -> Result<ExitCode> {
    let (report, ok) = python_env::doctor(python);
    if json {
        println!("{}", serde_json::Value::Object(report));
    } else {
        for (k, v) in &report {
            println!("{k:>15}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

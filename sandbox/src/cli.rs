//! `trutheye pvr IMAGE --code FILE|-`: run one code action and print what the
//! model would see.
//!
//! Exit codes: 0 when the action ran, whether or not the code failed (a failed
//! action is an observation, shown with its error, as the model would see it);
//! 2 when the tool itself could not run it (unreadable image or code file,
//! unwritable output directory, a worker that cannot start).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use trutheye_core::cli::PluginDirs;
use trutheye_core::image::DEFAULT_MAX_PIXELS;
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, NamedImage, Observation, Registry};

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

impl PvrMode {
    /// `worker` or `in-process`.
    pub fn as_str(self) -> &'static str {
        match self {
            PvrMode::Worker => "worker",
            PvrMode::InProcess => "in-process",
        }
    }
}

/// Arguments of `trutheye pvr`.
#[derive(Args, Debug)]
pub struct PvrArgs {
    /// Image file (becomes `image` / `image_clue_0`).
    pub image: PathBuf,
    /// File with the Python snippet, or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub code: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Where the code runs.
    #[arg(long, value_enum, default_value_t = PvrMode::Worker)]
    pub mode: PvrMode,
    /// Save the produced images here as PNGs (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Wall-time limit of the action in seconds (worker mode kills the worker after it).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Largest input image in pixels.
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

/// Runs `trutheye pvr`.
pub fn run(args: &PvrArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    let code = read_code(&args.code)?;
    let image = ImageBuf::open(&args.image, args.max_pixels)?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let timeout = std::time::Duration::from_secs_f64(args.timeout.min(86_400.0));
    let started = Instant::now();
    let obs = match args.mode {
        PvrMode::InProcess => {
            let (registry, _) = dirs.load();
            let mut state = EpisodeState::new(vec![Arc::new(image)], Arc::new(registry), ExecLimits::default());
            let limits = PvrLimits { max_wall: timeout, ..PvrLimits::default() };
            PvrExecutor::new(limits).run_code(&code, None, &mut state)
        }
        PvrMode::Worker => {
            let mut cfg = WorkerConfig::current_exe().map_err(anyhow::Error::msg)?;
            cfg.plugin_dirs = dirs.plugin_dirs.clone();
            cfg.action_timeout = timeout;
            let mut exec = WorkerExecutor::new(cfg);
            exec.start().map_err(|e| anyhow::anyhow!("the sandbox worker could not start: {e}"))?;
            // Operators run in the worker; the host needs no registry.
            let mut state = EpisodeState::new(vec![Arc::new(image)], Arc::new(Registry::new()), ExecLimits::default());
            exec.run_code(&code, None, &mut state)
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let out_dir = match &args.out {
        Some(d) => d.clone(),
        None => temp_out_dir(),
    };
    let saved = save_images(&obs, &out_dir)?;
    print(args, &obs, &saved, ms);
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

fn temp_out_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    std::env::temp_dir().join(format!("trutheye-pvr-{}-{nanos:08x}", std::process::id()))
}

struct Saved {
    name: String,
    width: u32,
    height: u32,
    path: Option<PathBuf>,
    shown: bool,
}

fn save_images(obs: &Observation, dir: &Path) -> Result<Vec<Saved>> {
    let all: Vec<(&NamedImage, bool)> = obs.images.iter().map(|n| (n, true)).chain(obs.artifacts.iter().map(|n| (n, false))).collect();
    if all.is_empty() {
        return Ok(Vec::new());
    }
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

fn print(args: &PvrArgs, obs: &Observation, saved: &[Saved], ms: f64) {
    if args.json {
        let images: Vec<_> = saved
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "width": s.width, "height": s.height, "path": s.path, "shown": s.shown}))
            .collect();
        let v = serde_json::json!({
            "image": args.image, "mode": args.mode.as_str(), "text": obs.text, "error": obs.error,
            "images": images, "bbox_candidate": obs.bbox_candidate, "tools": obs.tools,
            "ms": (ms * 10.0).round() / 10.0,
        });
        println!("{v}");
        return;
    }
    println!("{}", obs.text);
    println!("---");
    for s in saved {
        let what = if s.shown { "image" } else { "artifact" };
        let path = s.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        println!("{what} {} {}x{}: {path}", s.name, s.width, s.height);
    }
    if let Some(b) = obs.bbox_candidate {
        println!("localization candidate: [{}, {}, {}, {}]", b[0], b[1], b[2], b[3]);
    }
    if !obs.tools.is_empty() {
        let tools: Vec<String> = obs.tools.iter().map(|t| format!("{}{}", t.name, if t.ok { "" } else { " (failed)" })).collect();
        println!("tools: {}", tools.join(", "));
    }
    match &obs.error {
        Some(e) => println!("error: {e}"),
        None => println!("error: none"),
    }
    println!("mode: {}, {ms:.1} ms", args.mode.as_str());
}

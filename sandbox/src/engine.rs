//! Choosing where PVR code runs, once per run, and making one executor per
//! episode from that choice. Every host (analyze, eval, serve, data
//! conversion, `pvr`) goes through [`PvrEngine`], so `--backend` means the
//! same everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use trutheye_core::executors::{HybridExecutor, NoneExecutor, RegistryExecutor};
use trutheye_core::{Action, EpisodeState, Executor, Observation, Strategy};

use crate::cli::PvrMode;
use crate::worker::{WorkerConfig, WorkerExecutor};
use crate::{PvrExecutor, PvrLimits};

/// What runs model code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The embedded interpreter (a Python subset; needs nothing installed).
    Interp,
    /// Real CPython with Pillow/NumPy/OpenCV/matplotlib/SciPy/scikit-image in a bubblewrap jail.
    Python,
}

impl BackendKind {
    /// `interp` or `python`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Interp => "interp",
            BackendKind::Python => "python",
        }
    }
}

/// A peer's harness rules on top of the union of conventions (python backend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// Every peer's names and image channels at once (the default).
    #[default]
    Union,
    /// Thyme: its sandbox's code rewrites (crop boxes clamped to >= 64 px, `image_path`, 8-decimal floats).
    Thyme,
    /// TruthEYE2: its executor's narrower namespace (no ImageEnhance, numpy or cv2 predefined).
    #[value(name = "trutheye2")]
    TruthEye2,
}

impl Dialect {
    /// The runtime's name for it (`None` for the union).
    pub fn runtime_name(self) -> Option<&'static str> {
        match self {
            Dialect::Union => None,
            Dialect::Thyme => Some("thyme"),
            Dialect::TruthEye2 => Some("truthEYE2"),
        }
    }
}

/// The `--backend` / `--python` flags every host shares.
#[derive(Args, Debug, Clone, Default)]
pub struct BackendArgs {
    /// Where PVR code runs: `interp` (embedded interpreter) or `python` (CPython in a
    /// bubblewrap jail). Default: `python` for model policies (openai, qwen25vl, replay)
    /// when a Python environment is set up (`trutheye pvr setup`), else `interp`.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// The interpreter for `--backend python` (a venv's bin/python3; default: TRUTHEYE_PYTHON,
    /// then the venv `trutheye pvr setup` made).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Harness rules of one peer on top of the union of conventions (python backend only).
    #[arg(long, value_enum, default_value_t = Dialect::Union)]
    pub dialect: Dialect,
}

impl BackendArgs {
    /// Resolves the flags (and the config key `pvr.backend` / `pvr.python`,
    /// passed as `config_*`) into a backend. `model_policy` selects the default.
    pub fn resolve(&self, config_backend: Option<BackendKind>, config_python: Option<&Path>, model_policy: bool) -> Result<BackendKind, String> {
        let python = self.python.as_deref().or(config_python);
        Ok(match self.backend.or(config_backend) {
            Some(k) => k,
            None if model_policy && crate::python::env::find_python(python).is_some() => BackendKind::Python,
            None => BackendKind::Interp,
        })
    }
}

/// A run's PVR backend, ready to make executors.
#[derive(Clone)]
pub enum PvrEngine {
    /// The embedded interpreter, in this process or in a killable worker.
    Interp {
        /// In-process or worker.
        mode: PvrMode,
        /// Worker settings (worker mode only).
        worker: Option<WorkerConfig>,
        /// Interpreter budgets.
        limits: PvrLimits,
    },
    /// CPython in the jail (one jail for the whole run).
    Python(Arc<crate::python::PythonBackend>),
}

impl PvrEngine {
    /// The embedded interpreter. In-process mode runs model code inside the
    /// host: hosts allow it only with `--trusted-code` ([`PvrMode::check_trusted`]).
    pub fn interp(mode: PvrMode, worker: Option<WorkerConfig>, timeout: Duration) -> Self {
        let limits = PvrLimits { max_wall: timeout, ..PvrLimits::default() };
        PvrEngine::Interp { mode, worker, limits }
    }

    /// The python backend with `python` (or the discovered interpreter), an action timeout and a dialect.
    pub fn python(python: Option<&Path>, timeout: Duration, dialect: Dialect) -> Result<Self, String> {
        Self::python_within(python, timeout, dialect, None)
    }

    /// [`Self::python`] with the jail's memory ceiling (its control group,
    /// all episodes together) set to `jail_memory` instead of the default.
    pub fn python_within(python: Option<&Path>, timeout: Duration, dialect: Dialect, jail_memory: Option<u64>) -> Result<Self, String> {
        let mut cfg = crate::python::PythonConfig::discover(python)?;
        cfg.action_timeout = timeout;
        cfg.dialect = dialect.runtime_name().map(str::to_string);
        if let Some(bytes) = jail_memory {
            cfg.jail_memory_bytes = bytes;
        }
        Ok(PvrEngine::Python(crate::python::PythonBackend::new(cfg)?))
    }

    /// Builds the engine a host asked for.
    pub fn build(kind: BackendKind, python: Option<&Path>, dialect: Dialect, mode: PvrMode, worker: impl FnOnce() -> Result<WorkerConfig, String>, timeout: Duration) -> Result<Self, String> {
        match kind {
            BackendKind::Python => Self::python(python, timeout, dialect),
            BackendKind::Interp => {
                let w = match mode {
                    PvrMode::Worker => {
                        // The same wall-time limit as in-process: the worker's
                        // interpreter stops the code, the host kills a worker
                        // that does not answer.
                        let mut w = worker()?;
                        w.set_timeout(timeout);
                        Some(w)
                    }
                    PvrMode::InProcess => None,
                };
                Ok(Self::interp(mode, w, timeout))
            }
        }
    }

    /// `interp` or `python`.
    pub fn kind(&self) -> BackendKind {
        match self {
            PvrEngine::Interp { .. } => BackendKind::Interp,
            PvrEngine::Python(_) => BackendKind::Python,
        }
    }

    /// A short description for logs and run headers (`python (/path/python3)`, `interp (worker)`).
    pub fn describe(&self) -> String {
        match self {
            PvrEngine::Interp { mode, .. } => format!("interp ({})", mode.as_str()),
            PvrEngine::Python(b) => format!("python ({})", b.config().python.display()),
        }
    }

    /// Starts what can be started ahead of the first episode (the jail), so a
    /// bad environment fails the run at once with its one-line reason.
    pub fn warm_up(&self) -> Result<(), String> {
        match self {
            PvrEngine::Python(b) => b.start().map(|_| ()),
            PvrEngine::Interp { .. } => Ok(()),
        }
    }

    /// How model code is kept from the host, as hosts record it
    /// (`code_isolation`): `worker`, `jail` or `in-process (trusted)`.
    pub fn code_isolation(&self) -> &'static str {
        match self {
            PvrEngine::Interp { mode: PvrMode::Worker, worker: Some(_), .. } => "worker",
            PvrEngine::Interp { .. } => IN_PROCESS_TRUSTED,
            PvrEngine::Python(_) => "jail",
        }
    }

    /// A fresh executor for one episode of `strategy`: the one place a
    /// strategy becomes an executor (analyze, eval, serve and training all ask
    /// here). Executors keep per-episode state (PVR variables), so each episode
    /// gets its own.
    pub fn executor(&self, strategy: Strategy) -> Box<dyn Executor> {
        match strategy {
            Strategy::Pvr => self.pvr(),
            Strategy::Hybrid => self.hybrid(),
            Strategy::Registry => Box::new(RegistryExecutor),
            Strategy::None => Box::new(NoneExecutor),
        }
    }

    /// A fresh PVR executor for one episode.
    pub fn pvr(&self) -> Box<dyn Executor> {
        match self {
            PvrEngine::Interp { mode: PvrMode::Worker, worker: Some(w), .. } => Box::new(WorkerExecutor::new(w.clone())),
            PvrEngine::Interp { limits, .. } => Box::new(InProcess(PvrExecutor::new(*limits))),
            PvrEngine::Python(b) => Box::new(b.executor()),
        }
    }

    /// A fresh hybrid executor (code, with registry tool calls as fallback) for one episode.
    pub fn hybrid(&self) -> Box<dyn Executor> {
        match self {
            PvrEngine::Interp { mode: PvrMode::Worker, worker: Some(w), .. } => Box::new(HybridExecutor::new(WorkerExecutor::new(w.clone()))),
            PvrEngine::Interp { limits, .. } => Box::new(HybridExecutor::new(InProcess(PvrExecutor::new(*limits)))),
            PvrEngine::Python(b) => Box::new(HybridExecutor::new(b.executor())),
        }
    }
}

/// What in-process mode reports as its `code_isolation`.
const IN_PROCESS_TRUSTED: &str = "in-process (trusted)";

/// The interpreter in this process, as an engine hands it out: the host
/// checked `--trusted-code` before building the engine, so it reports
/// `in-process (trusted)` as its `code_isolation`.
struct InProcess(PvrExecutor);

impl Executor for InProcess {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        self.0.execute(action, state)
    }

    fn backend(&self) -> Option<&'static str> {
        self.0.backend()
    }

    fn code_isolation(&self) -> Option<&'static str> {
        Some(IN_PROCESS_TRUSTED)
    }

    fn prepare(&mut self, state: &EpisodeState) {
        self.0.prepare(state)
    }
}

impl std::fmt::Debug for PvrEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

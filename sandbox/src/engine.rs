//! Choosing where PVR code runs, once per run, and making one executor per
//! episode from that choice. Every host (analyze, eval, serve, data
//! conversion, `pvr`) goes through [`PvrEngine`], so `--backend` means the
//! same everywhere.

use crate::SandboxError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use trutheye_core::executors::{tool_executor, HybridExecutor};
use trutheye_core::{Action, EpisodeState, Executor, Observation, Strategy};

use crate::worker::{WorkerConfig, WorkerExecutor};
use crate::{PvrExecutor, PvrLimits};

/// Where model code runs: the one choice behind `--backend` and `--pvr-mode`
/// (which the CLI keeps as two flags for compatibility and resolves into this).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PvrBackend {
    /// The embedded interpreter (a Python subset; needs nothing installed) in
    /// a separate, OS-limited `trutheye pvr-worker` process, killed on overrun.
    #[default]
    InterpWorker,
    /// The embedded interpreter inside the host: faster to start, but nothing
    /// stops a native loop or a huge allocation, so hosts allow it only for
    /// trusted code ([`PvrBackend::check_trusted`]).
    InterpInProcess,
    /// Real CPython with Pillow/NumPy/OpenCV/matplotlib/SciPy/scikit-image in a
    /// bubblewrap jail.
    Python,
}

/// Why in-process mode needs `--trusted-code` (the one-line error every host prints).
pub const IN_PROCESS_NEEDS_TRUST: &str =
    "--pvr-mode in-process runs model code inside this process without OS limits; pass --trusted-code if the code is trusted";

impl PvrBackend {
    /// `interp` or `python`: the language runtime, as `--backend` names it.
    pub fn runtime(self) -> &'static str {
        match self {
            PvrBackend::InterpWorker | PvrBackend::InterpInProcess => "interp",
            PvrBackend::Python => "python",
        }
    }

    /// `worker` or `in-process` for the interpreter, as `--pvr-mode` names
    /// it; `jail` for CPython.
    pub fn placement(self) -> &'static str {
        match self {
            PvrBackend::InterpWorker => "worker",
            PvrBackend::InterpInProcess => "in-process",
            PvrBackend::Python => "jail",
        }
    }

    /// Model code never runs in-process unless whoever starts the host says it
    /// is trusted (`--trusted-code`): in this process nothing stops a native
    /// loop or a huge allocation. Every host calls this before building its
    /// engine; `Err` is [`IN_PROCESS_NEEDS_TRUST`].
    pub fn check_trusted(self, trusted: bool) -> Result<(), SandboxError> {
        match self {
            PvrBackend::InterpInProcess if !trusted => Err(SandboxError::Untrusted(IN_PROCESS_NEEDS_TRUST.to_string())),
            _ => Ok(()),
        }
    }
}

/// A peer's harness rules on top of the union of conventions (python backend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Every peer's names and image channels at once (the default).
    #[default]
    Union,
    /// Thyme: its sandbox's code rewrites (crop boxes clamped to >= 64 px, `image_path`, 8-decimal floats).
    Thyme,
    /// TruthEYE2: its executor's narrower namespace (no ImageEnhance, numpy or cv2 predefined).
    TruthEye2,
}

impl Dialect {
    /// Every dialect, in the order `--dialect` lists them.
    pub const ALL: [Dialect; 3] = [Dialect::Union, Dialect::Thyme, Dialect::TruthEye2];

    /// The name `--dialect` and the config key `pvr.dialect` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Union => "union",
            Dialect::Thyme => "thyme",
            Dialect::TruthEye2 => "trutheye2",
        }
    }

    /// The runtime's name for it (`None` for the union).
    pub fn runtime_name(self) -> Option<&'static str> {
        match self {
            Dialect::Union => None,
            Dialect::Thyme => Some("thyme"),
            Dialect::TruthEye2 => Some("truthEYE2"),
        }
    }
}

/// The backend a host runs when neither its flags nor its config name one:
/// `python` for model policies (openai, qwen25vl, replay) when a Python
/// environment is set up, else the interpreter (in a worker, or in-process
/// when `in_process` was asked for).
pub fn default_backend(model_policy: bool, python: Option<&Path>, in_process: bool) -> PvrBackend {
    if model_policy && crate::python::env::find_python(python).is_some() {
        PvrBackend::Python
    } else if in_process {
        PvrBackend::InterpInProcess
    } else {
        PvrBackend::InterpWorker
    }
}

/// A run's PVR backend, ready to make executors.
#[derive(Clone)]
pub enum PvrEngine {
    /// The embedded interpreter in a killable worker process (one per episode).
    Worker(WorkerConfig),
    /// The embedded interpreter inside this process, with its budgets.
    InProcess(PvrLimits),
    /// CPython in the jail (one jail for the whole run).
    Python(Arc<crate::python::PythonBackend>),
}

impl PvrEngine {
    /// The embedded interpreter inside this process with a wall-time limit per
    /// action. Hosts build it only after [`PvrBackend::check_trusted`].
    pub fn in_process(timeout: Duration) -> Self {
        PvrEngine::InProcess(PvrLimits { max_wall: timeout, ..PvrLimits::default() })
    }

    /// The python backend with `python` (or the discovered interpreter), an action timeout and a dialect.
    pub fn python(python: Option<&Path>, timeout: Duration, dialect: Dialect) -> Result<Self, SandboxError> {
        Self::python_within(python, timeout, dialect, None)
    }

    /// [`Self::python`] with the jail's memory ceiling (its control group,
    /// all episodes together) set to `jail_memory` instead of the default.
    pub fn python_within(python: Option<&Path>, timeout: Duration, dialect: Dialect, jail_memory: Option<u64>) -> Result<Self, SandboxError> {
        let mut cfg = crate::python::PythonConfig::discover(python)?;
        cfg.action_timeout = timeout;
        cfg.dialect = dialect.runtime_name().map(str::to_string);
        if let Some(bytes) = jail_memory {
            cfg.jail_memory_bytes = bytes;
        }
        Ok(PvrEngine::Python(crate::python::PythonBackend::new(cfg)?))
    }

    /// Builds the engine a host asked for. `worker` is called only for
    /// [`PvrBackend::InterpWorker`].
    pub fn build(backend: PvrBackend, python: Option<&Path>, dialect: Dialect, worker: impl FnOnce() -> Result<WorkerConfig, SandboxError>, timeout: Duration) -> Result<Self, SandboxError> {
        match backend {
            PvrBackend::Python => Self::python(python, timeout, dialect),
            PvrBackend::InterpInProcess => Ok(Self::in_process(timeout)),
            PvrBackend::InterpWorker => {
                // The same wall-time limit as in-process: the worker's
                // interpreter stops the code, the host kills a worker that
                // does not answer.
                let mut w = worker()?;
                w.set_timeout(timeout);
                Ok(PvrEngine::Worker(w))
            }
        }
    }

    /// Which of the three backends this is.
    pub fn backend(&self) -> PvrBackend {
        match self {
            PvrEngine::Worker(_) => PvrBackend::InterpWorker,
            PvrEngine::InProcess(_) => PvrBackend::InterpInProcess,
            PvrEngine::Python(_) => PvrBackend::Python,
        }
    }

    /// A short description for logs and run headers (`python (/path/python3)`, `interp (worker)`).
    pub fn describe(&self) -> String {
        match self {
            PvrEngine::Python(b) => format!("python ({})", b.config().python.display()),
            other => format!("interp ({})", other.backend().placement()),
        }
    }

    /// Starts what can be started ahead of the first episode (the jail), so a
    /// bad environment fails the run at once with its one-line reason.
    pub fn warm_up(&self) -> Result<(), SandboxError> {
        match self {
            PvrEngine::Python(b) => b.start().map(|_| ()),
            PvrEngine::Worker(_) | PvrEngine::InProcess(_) => Ok(()),
        }
    }

    /// How model code is kept from the host, as hosts record it
    /// (`code_isolation`): `worker`, `jail` or `in-process (trusted)`.
    pub fn code_isolation(&self) -> &'static str {
        match self {
            PvrEngine::Worker(_) => "worker",
            PvrEngine::InProcess(_) => IN_PROCESS_TRUSTED,
            PvrEngine::Python(_) => "jail",
        }
    }

    /// A fresh executor for one episode of `strategy`: the one place a
    /// strategy becomes an executor (analyze, eval, serve and training all ask
    /// here). Executors keep per-episode state (PVR variables), so each episode
    /// gets its own.
    pub fn executor(&self, strategy: Strategy) -> Box<dyn Executor> {
        if let Some(tools_only) = tool_executor(strategy) {
            return tools_only;
        }
        match strategy {
            Strategy::Hybrid => self.hybrid(),
            _ => self.pvr(),
        }
    }

    /// A fresh PVR executor for one episode.
    pub fn pvr(&self) -> Box<dyn Executor> {
        match self {
            PvrEngine::Worker(w) => Box::new(WorkerExecutor::new(w.clone())),
            PvrEngine::InProcess(limits) => Box::new(InProcess(PvrExecutor::new(*limits))),
            PvrEngine::Python(b) => Box::new(b.executor()),
        }
    }

    /// A fresh hybrid executor (code, with registry tool calls as fallback) for one episode.
    pub fn hybrid(&self) -> Box<dyn Executor> {
        match self {
            PvrEngine::Worker(w) => Box::new(HybridExecutor::new(WorkerExecutor::new(w.clone()))),
            PvrEngine::InProcess(limits) => Box::new(HybridExecutor::new(InProcess(PvrExecutor::new(*limits)))),
            PvrEngine::Python(b) => Box::new(HybridExecutor::new(b.executor())),
        }
    }
}

/// The one action dispatch of every PVR executor (the embedded interpreter,
/// in process or in its worker, and jailed CPython): code goes to `run` with
/// the index of the image it names, if any; a tool call is refused with a line that
/// tells the model how to call the same operator from code, since the `pvr`
/// strategy has no tool calls (the hybrid executor routes them elsewhere
/// before they get here); answers are the stepper's, never an executor's.
pub(crate) fn run_code_only(action: &Action, state: &mut EpisodeState, run: impl FnOnce(&str, Option<usize>, &mut EpisodeState) -> Observation) -> Observation {
    match action {
        Action::Code { code, image_index, .. } => run(code, *image_index, state),
        Action::ToolCall { name, .. } => Observation::error(format!(
            "Tool calls are not available in this session (got `{name}`); write Python code in <code>...</code>. \
             Forensic operators are callable as functions, e.g. {name}(image_clue_0)."
        )),
        Action::Answer(_) => Observation::error("internal: answers are not executed"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_core::{ExecLimits, Registry};

    #[test]
    fn pvr_executors_refuse_a_tool_call_with_its_code_form_and_run_code() {
        let mut st = EpisodeState::new(Vec::new(), Arc::new(Registry::new()), ExecLimits::default());
        let call = Action::ToolCall { name: "ela".into(), arguments: Default::default() };
        let o = PvrExecutor::new(PvrLimits::default()).execute(&call, &mut st);
        let e = o.error.as_deref().unwrap_or(&o.text);
        assert!(e.contains("got `ela`") && e.contains("ela(image_clue_0)"), "{o:?}");
        // Code reaches the runner with the image it names.
        let code = Action::Code { code: "print(1 + 1)".into(), image_index: Some(0), source: trutheye_core::CodeSource::Tag };
        let o = run_code_only(&code, &mut st, |c, i, _| Observation { text: format!("{c} @ {i:?}"), ..Default::default() });
        assert_eq!(o.text, "print(1 + 1) @ Some(0)");
    }
}

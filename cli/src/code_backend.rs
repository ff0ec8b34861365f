//! The flags that choose where model code runs (`--backend`, `--python`,
//! `--dialect`, `--pvr-mode`, `--trusted-code`), shared by `pvr`, `analyze`,
//! `eval` and `serve`, and their resolution into the sandbox's one
//! [`PvrBackend`].

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use trutheye_sandbox::{default_backend, Dialect, PvrBackend};

/// `--backend`: the language runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// The embedded interpreter (a Python subset; needs nothing installed).
    Interp,
    /// Real CPython with Pillow/NumPy/OpenCV/matplotlib/SciPy/scikit-image in a bubblewrap jail.
    Python,
}

/// `--pvr-mode`: where the embedded interpreter runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Placement {
    /// A separate, OS-limited `trutheye pvr-worker` process that is killed on overrun.
    #[default]
    Worker,
    /// The interpreter inside this process (faster to start; native operators cannot be interrupted).
    InProcess,
}

impl Placement {
    /// `worker` or `in-process`, as the flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Worker => "worker",
            Placement::InProcess => "in-process",
        }
    }
}

/// The `--backend` / `--python` / `--dialect` flags every host shares.
#[derive(Args, Debug, Clone, Default)]
pub struct BackendArgs {
    /// Where PVR code runs: `interp` (embedded interpreter) or `python` (CPython in a
    /// bubblewrap jail). Default: `python` for model policies (openai, qwen25vl, replay)
    /// when a Python environment is set up (`trutheye pvr setup`), else `interp`.
    #[arg(long, value_enum)]
    pub backend: Option<Runtime>,
    /// The interpreter for `--backend python` (a venv's bin/python3; default: TRUTHEYE_PYTHON,
    /// then the venv `trutheye pvr setup` made).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Harness rules of one peer on top of the union of conventions (python backend only).
    #[arg(long, value_parser = crate::choices::dialect(), default_value = "union")]
    pub dialect: Dialect,
}

impl BackendArgs {
    /// Resolves the flags, `--pvr-mode` (`placement`) and the config keys
    /// `pvr.backend` / `pvr.python` (`config_*`; empty when unset) into one
    /// backend. `model_policy` selects the default ([`default_backend`]).
    pub fn resolve(&self, placement: Placement, config_backend: &str, config_python: Option<&Path>, model_policy: bool) -> PvrBackend {
        let config_runtime = match config_backend {
            "interp" => Some(Runtime::Interp),
            "python" => Some(Runtime::Python),
            _ => None,
        };
        let in_process = placement == Placement::InProcess;
        match self.backend.or(config_runtime) {
            Some(Runtime::Python) => PvrBackend::Python,
            Some(Runtime::Interp) if in_process => PvrBackend::InterpInProcess,
            Some(Runtime::Interp) => PvrBackend::InterpWorker,
            None => default_backend(model_policy, self.python.as_deref().or(config_python), in_process),
        }
    }
}

/// `--trusted-code`, shared by every command that can run model code in-process
/// (`pvr`, `analyze`, `eval`, `serve`), so the flag and its check are the same
/// everywhere ([`PvrBackend::check_trusted`]).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct TrustArgs {
    /// The model code is trusted: allow `--pvr-mode in-process`, which runs it inside this
    /// process without OS limits (no memory cap; a native loop cannot be stopped). Trajectories
    /// record `"code_isolation": "in-process (trusted)"`.
    #[arg(long)]
    pub trusted_code: bool,
}

impl TrustArgs {
    /// [`PvrBackend::check_trusted`] with this flag. The check is on the
    /// placement flag itself, so `--pvr-mode in-process` without the flag is
    /// refused even when the python backend ends up chosen.
    pub fn check(&self, placement: Placement) -> Result<(), trutheye_sandbox::SandboxError> {
        let asked = if placement == Placement::InProcess { PvrBackend::InterpInProcess } else { PvrBackend::InterpWorker };
        asked.check_trusted(self.trusted_code)
    }
}

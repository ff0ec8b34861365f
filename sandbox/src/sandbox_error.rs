//! [`SandboxError`]: why a PVR backend could not be set up or started. Code
//! that fails while it runs is not an error of this kind: it is an
//! observation the model reads ([`crate::PyErr`]).

/// Why a backend for model code could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SandboxError {
    /// In-process execution without `--trusted-code`
    /// ([`crate::IN_PROCESS_NEEDS_TRUST`]).
    #[error("{0}")]
    Untrusted(String),
    /// The python backend's environment: no interpreter, a wrong version,
    /// missing packages, or a venv that cannot be made.
    #[error("{0}")]
    Python(String),
    /// The bubblewrap jail, its seccomp filters or its control group could
    /// not be set up, or a jailed interpreter could not be started or asked.
    #[error("{0}")]
    Jail(String),
    /// The sandbox worker process could not be found, started or greeted.
    #[error("{0}")]
    Worker(String),
}

//! [`TrainError`]: what the training-data conversions and the trainers fail
//! with. The variant says which stage refused; the message is the one line a
//! user reads, naming the file (and line or step).

use trutheye_core::CoreError;
use trutheye_eval::EvalError;
use trutheye_model::ModelError;
use trutheye_sandbox::SandboxError;

/// Why a conversion or a training run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A conversion's input (trajectories, ShareGPT samples, eval runs) or
    /// output file cannot be read, parsed or written.
    #[error("{0}")]
    Data(String),
    /// A training run cannot start or go on: the checkpoint, the run
    /// directory, `--resume` against another run, the data or the optimiser.
    #[error("{0}")]
    Run(String),
    /// The scorer cannot be fitted (too few samples, no features, …).
    #[error("{0}")]
    Scorer(String),
    /// The dataset or a run directory the evaluator reads.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The agent configuration.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The checkpoint, the scripted policy's config or another policy.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The sandbox that re-executes code.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

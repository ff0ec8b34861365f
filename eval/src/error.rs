//! [`EvalError`]: what the evaluator's public functions fail with.
//!
//! The variant says which input was wrong, so a host can tell a bad dataset
//! from a broken run directory or a shard set that does not make one run; the
//! message is the one line a user reads, naming the file (and line).

use trutheye_core::CoreError;

/// Why an evaluation, a report or a merge could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A dataset (manifest, class folders, CASIA or GenImage layout, masks)
    /// cannot be read or used.
    #[error("{0}")]
    Dataset(String),
    /// A run directory's files (predictions, trajectories, `run.json`,
    /// heat-maps, metrics, reports) cannot be read or written.
    #[error("{0}")]
    RunDir(String),
    /// A run or a resume was asked for something its recorded plan refuses
    /// (another shard, another plan, a shard of an unsharded run).
    #[error("{0}")]
    Plan(String),
    /// Shard directories that do not make one run: missing, repeated, from
    /// different plans, or with jobs left without a prediction.
    #[error("{0}")]
    Shards(String),
    /// The episodes could not be set up (policies, executors, configuration).
    #[error("{0}")]
    Episode(String),
    /// A configuration or trajectory core refused.
    #[error(transparent)]
    Core(#[from] CoreError),
}

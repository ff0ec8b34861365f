//! [`ModelError`]: the one error type of the policies crate.

use std::path::PathBuf;

/// Why a policy or a model could not be set up or run: the scripted
/// policy's config, an OpenAI-compatible server, a replay file, or a local
/// checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `config.json` or another config file is wrong.
    #[error("bad config: {0}")]
    Config(String),
    /// Weights missing or of the wrong shape.
    #[error("weights: {0}")]
    Weights(String),
    /// Tokenizer or chat template trouble.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An input the model cannot take.
    #[error("input: {0}")]
    Input(String),
    /// The scripted policy's configuration (file and key in the message).
    #[error("{0}")]
    Scripted(String),
    /// An OpenAI-compatible server: its configuration, the request, or the
    /// response (the message names the endpoint and what went wrong).
    #[error("{0}")]
    Server(String),
    /// A replay file (recorded assistant turns) cannot be read.
    #[error("{0}")]
    Replay(String),
    /// A tensor operation failed.
    #[error("compute: {0}")]
    Compute(#[from] candle_core::Error),
}


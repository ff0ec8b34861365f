//! [`CoreError`]: what core's public functions fail with, beside the
//! domain errors the seams already type ([`crate::InputError`],
//! [`crate::ImageError`], [`crate::CallError`], [`crate::FormatError`],
//! [`crate::PolicyError`], [`crate::imageops::OpError`]).
//!
//! Each variant says which kind of thing was wrong, so a host can match on it;
//! the message is the one line a user reads, naming the file or key.

/// Why a configuration, a plugin, a preset alias, a trajectory file or an
/// episode's image request could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A configuration or preset cannot be used: its origin (a file or a
    /// built-in name), the key or line, and what is wrong.
    #[error("{0}")]
    Config(String),
    /// A plugin file was refused before or while loading: the reason, one
    /// line (the caller names the file).
    #[error("{0}")]
    Plugin(String),
    /// A preset's tool alias names nothing, or clashes with another.
    #[error("{0}")]
    Alias(String),
    /// A line of a trajectories file is not a trajectory.
    #[error("line {line}: {detail}")]
    Trajectory {
        /// 1-based line number.
        line: usize,
        /// What serde said.
        detail: String,
    },
    /// An image an action asked for cannot be had: the Python-style text the
    /// model reads (`IndexError: …`, `NameError: …`, `MemoryError: …`).
    #[error("{0}")]
    Episode(String),
}

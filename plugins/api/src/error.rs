//! [`OperatorError`]: why an operator could not analyse an image.
//!
//! It crosses the ABI as its message (an `RString`), which the host shows to
//! the model as the observation, so the variants are for the author's code
//! and the host's logs, and the text is the one line the model reads.

/// Why an operator could not analyse an image.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OperatorError {
    /// A parameter is unknown, of the wrong type, or out of its declared
    /// range; the message names it.
    #[error("{0}")]
    Params(String),
    /// This image cannot be analysed by the operator: too small for its
    /// blocks, no JPEG data, a layout it does not take.
    #[error("{0}")]
    Image(String),
    /// The analysis itself failed (a model runtime, a resource limit).
    #[error("{0}")]
    Failed(String),
    /// The operator's declaration is wrong (its schema, its crate name):
    /// what the [`testing`](crate::testing) checks report.
    #[error("{0}")]
    Declaration(String),
}

/// An author's own message (`Err(format!(..))?`) is a failed analysis.
impl From<String> for OperatorError {
    fn from(message: String) -> Self {
        OperatorError::Failed(message)
    }
}

/// An author's own message (`Err("..")?`) is a failed analysis.
impl From<&str> for OperatorError {
    fn from(message: &str) -> Self {
        OperatorError::Failed(message.to_string())
    }
}

//! [`OnnxError`]: why an ONNX operator could not be set up or run. At the
//! operator boundary it becomes an [`OperatorError`] (the model reads its
//! message); at load time the plugin logs it and binds no operator.

use trutheye_plugin_api::OperatorError;

/// Why the ONNX backend, a model manifest or an inference failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnnxError {
    /// ONNX Runtime's shared library: not found, the wrong version, or it
    /// would not initialise.
    #[error("{0}")]
    Runtime(String),
    /// A model directory's manifest or the catalog of models is wrong.
    #[error("{0}")]
    Manifest(String),
    /// A model would not load, or an inference failed or gave an output of
    /// the wrong shape.
    #[error("{0}")]
    Model(String),
    /// The image does not fit the model's input (too small, wrong layout).
    #[error("{0}")]
    Input(String),
}

impl From<OnnxError> for OperatorError {
    fn from(e: OnnxError) -> Self {
        match e {
            OnnxError::Input(m) => OperatorError::Image(m),
            other => OperatorError::Failed(other.to_string()),
        }
    }
}

//! [`ServeError`]: why `trutheye serve` could not start or stopped, as opposed
//! to a bad request, which is answered on the wire ([`crate::protocol::RpcError`])
//! and never stops the server.

/// Why the server could not start, or stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServeError {
    /// Nothing to listen on, a non-loopback address without `--allow-remote`,
    /// a socket path that is taken, or a listener that cannot be made or
    /// configured.
    #[error("{0}")]
    Listen(String),
    /// The private directory for images sent by path cannot be made.
    #[error("{0}")]
    ImageDir(String),
    /// A size flag (`--memory-budget 4G`, …) that is not a size.
    #[error("{0}")]
    Size(String),
    /// The executor for a session's strategy cannot be made (the python
    /// backend's jail did not start, …).
    #[error("{0}")]
    Executor(String),
}

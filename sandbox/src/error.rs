//! Python-style errors raised by the interpreter.

use crate::ast::Line;

/// An exception as the model sees it: `Kind: message (line N)` (`Kind (line N)`
/// when the message is empty, as for a bare `raise ValueError`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}{}{msg}{}", if msg.is_empty() { "" } else { ": " }, line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct PyErr {
    /// Python exception class name (`SyntaxError`, `TypeError`, ...).
    pub kind: &'static str,
    /// The message.
    pub msg: String,
    /// Source line, when known.
    pub line: Option<Line>,
}

impl PyErr {
    /// A new error without a line.
    pub fn new(kind: &'static str, msg: impl Into<String>) -> Self {
        Self { kind, msg: msg.into(), line: None }
    }

    /// A new error at a line.
    pub fn at(kind: &'static str, msg: impl Into<String>, line: Line) -> Self {
        Self { kind, msg: msg.into(), line: Some(line) }
    }

    /// Sets the line if none is set yet.
    pub fn with_line(mut self, line: Line) -> Self {
        self.line.get_or_insert(line);
        self
    }
}

/// Result type of the interpreter.
pub type PyResult<T> = Result<T, PyErr>;

/// Builds an error: `err("TypeError", format!(...))`.
pub fn err<T>(kind: &'static str, msg: impl Into<String>) -> PyResult<T> {
    Err(PyErr::new(kind, msg))
}

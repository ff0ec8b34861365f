//! `trutheye data`: training-data conversions for ms-swift.
//!
//! * [`sft`]: our trajectories → ms-swift agent SFT JSONL, with the `correct` and
//!   ForenAgent distillation filters;
//! * [`codevision`]: CodeVision-style ShareGPT data → the same format, dropping
//!   samples whose code fails in our sandbox (TruthEYE2's "delete failure samples");
//! * [`grpo`]: a GRPO prompt set from a dataset;
//! * [`hard`]: stage-3 hard-case mining from eval runs.
//!
//! Every conversion returns a [`ConversionReport`] (kept, dropped by reason) that
//! is printed as a table or, with `--json`, as one JSON object.

pub mod codevision;
pub mod grpo;
pub mod hard;
pub mod report;
pub mod sft;
pub mod swift;

use crate::TrainError;
use std::path::{Path, PathBuf};


pub use report::ConversionReport;
pub use swift::{SwiftMessage, SwiftSample};

/// Writes JSON lines to `out` (creating its directory), one value per line.
pub fn write_jsonl<T: serde::Serialize>(out: &Path, rows: &[T]) -> Result<(), TrainError> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::Data(format!("{}: cannot create directory: {e}", dir.display())))?;
    }
    let mut text = String::new();
    for r in rows {
        text.push_str(&serde_json::to_string(r).map_err(|e| TrainError::Data(format!("{}: cannot serialize: {e}", out.display())))?);
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|e| TrainError::Data(format!("{}: cannot write: {e}", out.display())))
}

/// `p` made absolute against the current directory and canonicalized when it
/// exists (training runs elsewhere, so relative paths would dangle). `None` when
/// the file does not exist.
pub fn existing_absolute(p: &Path) -> Option<PathBuf> {
    let joined = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().ok()?.join(p) };
    joined.canonicalize().ok().filter(|c| c.is_file())
}

/// A path as a string for JSON (lossy for non-UTF-8 names, which ms-swift could not read either).
pub fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

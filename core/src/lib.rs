//! trutheye's core: domain types, the model-output protocol parser, the seams
//! (policy, executor, operator registry), the agent loop and the plugin loader.

pub mod action;
pub mod protocol;
pub mod verdict;

pub use action::{Action, Answer, CodeSource, FormatError, ParsedMessage};
pub use verdict::{BBox, BinaryLabel, Label, Scores, Verdict, VerdictLabel};

//! Trajectories: the record of one episode, written as one JSON object per line.
//! This is the format the evaluator and the trainer read; `docs/trajectory.md`
//! documents every field.

use serde::{Deserialize, Serialize};

use crate::action::{Action, FormatError};
use crate::evidence::Evidence;
use crate::executor::ToolUse;
use crate::image::ImageMeta;
use crate::verdict::{BBox, Verdict};

/// Version of the trajectory format; bumped on any incompatible change.
pub const TRAJECTORY_SCHEMA: u32 = 1;

/// An image shown in an observation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `image_clue_k` or an artifact name.
    pub name: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Where it was saved, when an output directory was given.
    pub path: Option<String>,
}

/// What the executor returned for a turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservationRecord {
    /// Text fed back to the model.
    pub text: String,
    /// Images fed back to the model.
    pub images: Vec<ImageRecord>,
    /// Maps saved but not shown.
    pub artifacts: Vec<ImageRecord>,
    /// Localization candidate in `image_clue_0` pixels.
    pub bbox_candidate: Option<BBox>,
    /// The error, when the action failed.
    pub error: Option<String>,
    /// Tools used.
    pub tools: Vec<ToolUse>,
    /// The operator runs `text` shows, as data (what the scripted policy and
    /// the scorer's features read). Absent when there were none, and in
    /// trajectories written before it existed (see `evidence::trajectory_evidence`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// One turn: the policy's message and what came of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 0-based turn number.
    pub index: usize,
    /// The assistant message (lossy UTF-8 when the raw bytes were not UTF-8).
    pub assistant: String,
    /// `<think>` contents.
    pub think: Option<String>,
    /// The parsed action, when the message parsed.
    pub action: Option<Action>,
    /// The format error, when it did not.
    pub format_error: Option<FormatError>,
    /// What the executor (or the loop, for format errors and budget notices) fed back.
    pub observation: Option<ObservationRecord>,
    /// Milliseconds the policy took.
    pub policy_ms: u64,
    /// Milliseconds the executor took.
    pub exec_ms: u64,
    /// Tokens generated, when the policy reports them.
    pub tokens: Option<u32>,
}

/// Counters over an episode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeStats {
    /// Assistant turns.
    pub turns: usize,
    /// Executed tool/code actions.
    pub tool_calls: usize,
    /// Messages that did not parse.
    pub format_errors: usize,
    /// Wall time of the whole episode.
    pub wall_ms: u64,
    /// Time in the policy.
    pub policy_ms: u64,
    /// Time in executors.
    pub exec_ms: u64,
}

/// The record of one episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// [`TRAJECTORY_SCHEMA`].
    pub schema: u32,
    /// Episode id (dataset id or file name).
    pub id: String,
    /// The input images.
    pub images: Vec<ImageMeta>,
    /// Policy name.
    pub policy: String,
    /// Strategy name.
    pub strategy: String,
    /// What ran code actions (`interp` or `python`); absent for strategies without code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// How model code was kept from the host (`worker`, `jail`, or
    /// `in-process (trusted)` when the user passed `--trusted-code`); absent
    /// for strategies without code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_isolation: Option<String>,
    /// The system prompt.
    pub system_prompt: String,
    /// The user prompt.
    pub user_prompt: String,
    /// Turns in order.
    pub turns: Vec<Turn>,
    /// The final verdict (always present; see `forced`).
    pub verdict: Verdict,
    /// Counters.
    pub stats: EpisodeStats,
    /// Unix time (ms) the episode started.
    pub started_unix_ms: u64,
}

impl Trajectory {
    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"trajectory not serializable: {e}\"}}"))
    }

    /// Reads trajectories from JSON lines; errors name the line.
    pub fn read_jsonl(text: &str) -> Result<Vec<Trajectory>, crate::CoreError> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| crate::CoreError::Trajectory { line: i + 1, detail: e.to_string() }))
            .collect()
    }
}

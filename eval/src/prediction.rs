//! One line of `predictions.jsonl`: what a (policy, strategy) said about one image,
//! with the truth beside it so metrics need nothing else (except masks).

use crate::EvalError;
use std::path::Path;

use serde::{Deserialize, Serialize};
use trutheye_core::{BBox, Scores, Trajectory, VerdictLabel};

use super::dataset::Sample;

/// The ground truth copied into each prediction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// True label.
    pub label: VerdictLabel,
    /// True box, if any.
    pub bbox: Option<BBox>,
    /// True mask path, if any.
    pub mask: Option<String>,
}

/// One evaluated episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Sample id.
    pub id: String,
    /// Policy as requested (`scripted`, `op:srm` for baselines).
    pub policy: String,
    /// Strategy (`pvr`, `registry`, `hybrid`, `none`, `baseline`).
    pub strategy: String,
    /// Predicted label; null when the episode failed (`error`).
    pub label: Option<VerdictLabel>,
    /// Per-class scores, when given.
    pub scores: Option<Scores>,
    /// Predicted box.
    pub bbox: Option<BBox>,
    /// Predicted heat-map, relative to the run directory: a baseline's operator
    /// map, or an agent's verdict mask (`heatmaps/<policy>.<strategy>/<id>.png`,
    /// level 128 = the mask's edge); null when the episode made none.
    pub mask: Option<String>,
    /// An agent's fused localization map of the whole image, whatever its
    /// verdict (`heatmaps/<policy>.<strategy>.map/<id>.png`, saved on tampered
    /// images with a ground-truth mask): the map its verdict mask is cut from
    /// when it calls the image tampered. Scored by `pixel_f1_map`, the agent's
    /// counterpart of a baseline's ungated heat-map. Null for baselines (their
    /// `mask` is already ungated) and for agents that ran no operator with a map.
    #[serde(default)]
    pub map: Option<String>,
    /// Why the episode produced no verdict, or null.
    pub error: Option<String>,
    /// Ground truth.
    pub truth: Truth,
    /// Whether the verdict was forced (budget, format errors, policy failure).
    pub forced: bool,
    /// Assistant turns.
    pub turns: usize,
    /// Executed actions.
    pub tool_calls: usize,
    /// Messages that did not parse.
    pub format_errors: usize,
    /// Episode wall time.
    pub wall_ms: u64,
    /// Names of every tool used, in order (repeats kept).
    pub tools_used: Vec<String>,
}

/// The key a run is resumable on.
pub type Key = (String, String, String);

impl Prediction {
    /// `(policy, strategy, id)`.
    pub fn key(&self) -> Key {
        (self.policy.clone(), self.strategy.clone(), self.id.clone())
    }

    /// The truth of a sample.
    pub fn truth_of(s: &Sample) -> Truth {
        Truth { label: s.label, bbox: s.bbox, mask: s.mask.as_ref().map(|p| p.display().to_string()) }
    }

    /// A prediction for a failed episode.
    pub fn failed(s: &Sample, policy: &str, strategy: &str, error: String, wall_ms: u64) -> Self {
        Self {
            id: s.id.clone(),
            policy: policy.into(),
            strategy: strategy.into(),
            label: None,
            scores: None,
            bbox: None,
            mask: None,
            map: None,
            error: Some(error),
            truth: Self::truth_of(s),
            forced: false,
            turns: 0,
            tool_calls: 0,
            format_errors: 0,
            wall_ms,
            tools_used: vec![],
        }
    }

    /// The prediction of a finished episode.
    pub fn from_trajectory(s: &Sample, policy: &str, strategy: &str, t: &Trajectory) -> Self {
        let v = &t.verdict;
        let tools_used = t.turns.iter().filter_map(|turn| turn.observation.as_ref()).flat_map(|o| o.tools.iter().map(|u| u.name.clone())).collect();
        Self {
            id: s.id.clone(),
            policy: policy.into(),
            strategy: strategy.into(),
            label: Some(v.label),
            scores: v.scores,
            bbox: v.bbox,
            mask: v.mask.clone(),
            map: None,
            error: None,
            truth: Self::truth_of(s),
            forced: v.forced,
            turns: t.stats.turns,
            tool_calls: t.stats.tool_calls,
            format_errors: t.stats.format_errors,
            wall_ms: t.stats.wall_ms,
            tools_used,
        }
    }

    /// One JSON line (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"prediction not serializable: {e}\"}}"))
    }
}

/// What reading a predictions file found.
#[derive(Debug, Default)]
pub struct ReadPredictions {
    /// Complete predictions in file order.
    pub predictions: Vec<Prediction>,
    /// True when the last line was cut off (no newline and not valid JSON): an interrupted write.
    pub truncated_tail: bool,
}

/// Reads `predictions.jsonl`. A cut-off last line (interrupted run) is dropped and
/// flagged; any other unreadable line is an error naming it. A missing file is empty.
pub fn read_predictions(path: &Path) -> Result<ReadPredictions, EvalError> {
    let text = match trutheye_core::input::read_text_bounded(path, trutheye_core::input::MAX_DATA_BYTES) {
        Ok(t) => t,
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => return Ok(ReadPredictions::default()),
        Err(e) => return Err(EvalError::RunDir(format!("{}: cannot read: {}", path.display(), e.detail()))),
    };
    parse_predictions(&text).map_err(|e| EvalError::RunDir(format!("{}: {e}", path.display())))
}

/// Parses predictions text (see [`read_predictions`]).
pub fn parse_predictions(text: &str) -> Result<ReadPredictions, EvalError> {
    let mut out = ReadPredictions::default();
    let ends_clean = text.ends_with('\n') || text.is_empty();
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Prediction>(line) {
            Ok(p) => out.predictions.push(p),
            Err(_) if i == last && !ends_clean => out.truncated_tail = true,
            Err(e) => return Err(EvalError::RunDir(format!("line {}: not a prediction: {e}", i + 1))),
        }
    }
    Ok(out)
}

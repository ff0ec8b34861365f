//! Rewards: pure functions of a recorded [`Trajectory`] and the ground truth.
//!
//! **ForenAgent** (the seed paper, eqs. 1–7):
//! `R = λ_acc·R_acc + λ_format·R_format + λ_tool·R_tool`, with
//! `R_tool = λ_global·R_global + λ_logic·R_logic + λ_crop·R_crop + λ_coh·R_coh`.
//!
//! * `R_acc` = 1 when the model's own answer is right, else 0. A verdict the loop
//!   had to force (budget, repeated format errors) is not the model's answer: 0.
//!   A binary truth (`real`/`fake`) is compared in the real/fake view.
//! * `R_format` = the fraction of assistant messages that parsed (valid
//!   `<code>`/`<tool_call>`/`<answer>` tags), and 0 when the model never answered.
//! * `R_global` = `[t_low < t_basic] · γ^(t_low − 1)`: `t_low` and `t_basic` are the
//!   1-based turns of the first low-level operator and the first basic image
//!   operation (∞ when never used); 0 when no operator ran. Within one code
//!   action the order of its tool uses decides, so `srm(image); crop` in one turn
//!   counts as operator first.
//! * `R_logic` = the fraction of actions (code or tool calls) that ran without an
//!   error and whose every tool use succeeded; 0 when no action ran.
//! * `R_crop` = `b_ŷ · 1{a crop succeeded}` with the class weight of the
//!   *predicted* label ŷ (`b_tamper`, `b_auth`, `b_syn`); rewarded once however
//!   many crops there are.
//! * `R_coh` = 1 once when a low-level operator consumes a crop's output right
//!   after it: in the next action, or next within the same code action (a PVR
//!   block `c = image.crop(...); srm(c)` is the same locate-then-investigate step).
//!
//! **TruthEYE2** (accuracy, format and localization):
//! `R = λ_acc·R_acc + λ_format·R_format + λ_loc·R_loc`, where `R_loc` is the IoU
//! of the answer's box (or, without one, the last crop's box) with the true box,
//! for tampered truths that have one; 0 otherwise.
//!
//! The paper gives no values for the weights; [`RewardWeights::default`] is a
//! documented starting point, and every weight is configurable.

use serde::{Deserialize, Serialize};
use trutheye_core::{Action, BBox, BoxGeometry, Label, ToolKind, Trajectory, VerdictLabel};


/// Weights of both reward functions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardWeights {
    /// λ_acc.
    pub acc: f64,
    /// λ_format.
    pub format: f64,
    /// λ_tool (ForenAgent).
    pub tool: f64,
    /// λ_global.
    pub global: f64,
    /// λ_logic.
    pub logic: f64,
    /// λ_crop.
    pub crop: f64,
    /// λ_coh.
    pub coh: f64,
    /// γ of `R_global`, in (0, 1).
    pub gamma: f64,
    /// `b_tamper`: crop weight when the prediction is tampered.
    pub b_tamper: f64,
    /// `b_auth`: crop weight when the prediction is authentic.
    pub b_auth: f64,
    /// `b_syn`: crop weight when the prediction is synthetic.
    pub b_syn: f64,
    /// λ_loc (TruthEYE2).
    pub loc: f64,
}

impl Default for RewardWeights {
    /// Accuracy dominates; format and tool use shape behaviour; a crop matters
    /// most when the answer is "tampered" (it is the localization).
    fn default() -> Self {
        Self { acc: 1.0, format: 0.2, tool: 0.4, global: 0.25, logic: 0.25, crop: 0.25, coh: 0.25, gamma: 0.8, b_tamper: 1.0, b_auth: 0.3, b_syn: 0.3, loc: 0.5 }
    }
}

/// What the reward compares against.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardTruth {
    /// The true label (three-class or binary).
    pub label: VerdictLabel,
    /// The true box of a tampered image, if known.
    pub bbox: Option<BBox>,
}

/// Every component and both totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardBreakdown {
    /// R_acc.
    pub acc: f64,
    /// R_format.
    pub format: f64,
    /// R_global.
    pub global: f64,
    /// R_logic.
    pub logic: f64,
    /// R_crop.
    pub crop: f64,
    /// R_coh.
    pub coh: f64,
    /// R_tool.
    pub tool: f64,
    /// R_loc (TruthEYE2).
    pub loc: f64,
    /// ForenAgent's total.
    pub forenagent: f64,
    /// TruthEYE2's total.
    pub trutheye2: f64,
}

/// Whether `pred` is right about `truth` (real/fake view when the truth is binary).
pub fn label_correct(pred: VerdictLabel, truth: VerdictLabel) -> bool {
    match (pred.three_class(), truth.three_class()) {
        (Some(p), Some(t)) => p == t,
        _ => pred.binary() == truth.binary(),
    }
}

/// One tool use in episode order, with the 1-based turn of its action.
struct Step<'a> {
    turn: usize,
    use_: &'a trutheye_core::ToolUse,
}

fn steps(t: &Trajectory) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for (i, turn) in t.turns.iter().enumerate() {
        for u in turn.observation.iter().flat_map(|o| &o.tools) {
            out.push(Step { turn: i + 1, use_: u });
        }
    }
    out
}

fn is_crop(u: &trutheye_core::ToolUse) -> bool {
    u.ok && u.kind == ToolKind::Basic && u.name.eq_ignore_ascii_case("crop")
}

/// R_global: the first low-level operator comes strictly before the first basic operation.
pub fn r_global(t: &Trajectory, gamma: f64) -> f64 {
    let s = steps(t);
    let Some(low) = s.iter().position(|x| x.use_.kind == ToolKind::Forensic) else { return 0.0 };
    let basic = s.iter().position(|x| x.use_.kind == ToolKind::Basic);
    if basic.is_some_and(|b| b < low) {
        return 0.0;
    }
    gamma.powi(s[low].turn as i32 - 1)
}

/// R_logic: the fraction of actions that ran cleanly.
pub fn r_logic(t: &Trajectory) -> f64 {
    let actions: Vec<bool> = t
        .turns
        .iter()
        .filter(|turn| matches!(turn.action, Some(Action::Code { .. } | Action::ToolCall { .. })))
        .map(|turn| turn.observation.as_ref().is_some_and(|o| o.error.is_none() && o.tools.iter().all(|u| u.ok)))
        .collect();
    if actions.is_empty() {
        return 0.0;
    }
    actions.iter().filter(|ok| **ok).count() as f64 / actions.len() as f64
}

/// R_coh: a low-level operator consumes a crop's output right after the crop.
pub fn r_coh(t: &Trajectory) -> f64 {
    let s = steps(t);
    let chained = s.windows(2).any(|w| {
        let (crop, next) = (w[0].use_, w[1].use_);
        is_crop(crop) && next.ok && next.kind == ToolKind::Forensic && next.input.as_ref().is_some_and(|i| crop.outputs.contains(i)) && w[1].turn <= w[0].turn + 1
    });
    chained as u8 as f64
}

/// R_format: parsed messages over all messages; 0 without the model's own answer.
pub fn r_format(t: &Trajectory) -> f64 {
    if t.verdict.forced || t.turns.is_empty() {
        return 0.0;
    }
    let parsed = t.turns.iter().filter(|x| x.format_error.is_none()).count();
    parsed as f64 / t.turns.len() as f64
}

/// The box the episode localized: the answer's, else the last crop candidate.
fn predicted_box(t: &Trajectory) -> Option<BBox> {
    t.verdict.bbox.or_else(|| t.turns.iter().rev().find_map(|x| x.observation.as_ref().and_then(|o| o.bbox_candidate)))
}

/// Scores one trajectory.
pub fn score(t: &Trajectory, truth: &RewardTruth, w: &RewardWeights) -> RewardBreakdown {
    let acc = (!t.verdict.forced && label_correct(t.verdict.label, truth.label)) as u8 as f64;
    let format = r_format(t);
    let global = r_global(t, w.gamma);
    let logic = r_logic(t);
    let cropped = steps(t).iter().any(|s| is_crop(s.use_));
    let b = match t.verdict.label.three_class() {
        Some(Label::Tampered) => w.b_tamper,
        Some(Label::Synthetic) => w.b_syn,
        Some(Label::Authentic) => w.b_auth,
        // Binary answers: `fake` could be either manipulation, `real` is authentic.
        None if t.verdict.label.binary() == trutheye_core::BinaryLabel::Real => w.b_auth,
        None => w.b_tamper.min(w.b_syn),
    };
    let crop = if cropped { b } else { 0.0 };
    let coh = r_coh(t);
    let tool = w.global * global + w.logic * logic + w.crop * crop + w.coh * coh;
    let loc = match (truth.label.three_class(), truth.bbox, predicted_box(t)) {
        (Some(Label::Tampered), Some(gt), Some(p)) => gt.iou(&p),
        _ => 0.0,
    };
    RewardBreakdown {
        acc,
        format,
        global,
        logic,
        crop,
        coh,
        tool,
        loc,
        forenagent: w.acc * acc + w.format * format + w.tool * tool,
        trutheye2: w.acc * acc + w.format * format + w.loc * loc,
    }
}

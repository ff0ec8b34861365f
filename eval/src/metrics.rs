//! Metrics: a pure function of the predictions (plus ground-truth masks and the
//! manifest's free fields). Conventions are listed in [`CONVENTIONS`] and copied
//! into `metrics.json` and the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trutheye_core::{BinaryLabel, Label, VerdictLabel};

use super::calibration::{calibration, Calibration};
use super::dataset::GtMask;
use super::localization::{localization, Localization};
use super::prediction::Prediction;

/// How undefined and edge cases are treated.
pub const CONVENTIONS: &[&str] = &[
    "Per-class metrics are one-vs-rest. Precision with no predictions of the class (and recall with no true samples) is undefined and reported as null; F1 then follows sklearn's zero_division=0 (F1 = 0), and macro F1 averages F1 over the classes present in the truth or the predictions.",
    "A failed episode (error) counts as a wrong answer: in the three-class view it predicts no class; in the real/fake view it is counted as the opposite of the truth. A binary-only answer (real/fake) has no three-class label.",
    "AUC is one-vs-rest per class from the stated scores (real/fake AUC from 1 - p(authentic)), over the episodes that gave scores; ties count 1/2; null when no scores or only one class is present.",
    "Localization is computed on tampered images: bbox IoU against the manifest box (a missing predicted box scores 0); pixel F1/IoU against the ground-truth mask (mask > 127) of the predicted heat-map (`mask`, stretched to [0,1]) at a fixed 0.5 threshold (pixel_f1_fixed, pixel_iou_fixed) and at the best threshold per image (pixel_f1_best, pixel_iou_best: an oracle upper bound); a prediction without a heat-map is scored by its box rasterized as a binary mask, so its best equals its fixed. An empty ground-truth mask with an empty prediction scores 1, with a non-empty prediction 0.",
    "Calibration is computed from the stated scores over the episodes that gave them (renormalised to sum to 1): Brier score (mean over episodes of the summed squared differences from the one-hot truth), log loss (mean -ln p(truth), p clipped at 1e-15) and ECE (top-class confidence in 10 equal-width bins, the mean over bins weighted by their share of episodes of |accuracy - mean confidence|). The real/fake view uses p(authentic) and p(synthetic) + p(tampered).",
    "Format-error rate = format errors / assistant turns; forced rate = forced verdicts / episodes; seconds per image = mean episode wall time.",
];

/// One-vs-rest metrics of one class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// (TP + TN) / n.
    pub accuracy: f64,
    /// TP / (TP + FP); null when the class was never predicted.
    pub precision: Option<f64>,
    /// TP / (TP + FN); null when the class has no true samples.
    pub recall: Option<f64>,
    /// Harmonic mean (0 when undefined).
    pub f1: f64,
    /// True samples of the class.
    pub support: usize,
    /// Predictions of the class.
    pub predicted: usize,
}

/// The three-class view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreeClass {
    /// Per class (`authentic`, `synthetic`, `tampered`).
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// Exact-label accuracy.
    pub accuracy: f64,
    /// Macro F1 (see conventions).
    pub macro_f1: f64,
    /// One-vs-rest AUC per class.
    pub auc: BTreeMap<String, Option<f64>>,
    /// Calibration of the stated three-class scores (null without scores).
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

/// The real/fake view (fake = positive).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Accuracy.
    pub accuracy: f64,
    /// Precision of fake.
    pub precision: Option<f64>,
    /// Recall of fake.
    pub recall: Option<f64>,
    /// F1 of fake.
    pub f1: f64,
    /// AUC of 1 - p(authentic).
    pub auc: Option<f64>,
    /// Calibration of (p(authentic), p(synthetic) + p(tampered)) against real/fake
    /// (null without scores).
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

/// Counts of (truth, prediction); predictions include `error`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Row labels (truth).
    pub truth: Vec<String>,
    /// Column labels (prediction).
    pub predicted: Vec<String>,
    /// `counts[row][col]`.
    pub counts: Vec<Vec<usize>>,
}

/// Accuracy within one value of a manifest field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Samples.
    pub n: usize,
    /// Label accuracy (three-class when the truth is three-class).
    pub accuracy: f64,
    /// Real/fake accuracy.
    pub binary_accuracy: f64,
}

/// How the episodes went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    /// Mean assistant turns.
    pub mean_turns: f64,
    /// Mean executed actions.
    pub mean_tool_calls: f64,
    /// Mean executed actions by true class.
    pub tool_calls_by_class: BTreeMap<String, f64>,
    /// Tool/operator → calls per episode.
    pub operator_frequency: BTreeMap<String, f64>,
    /// Format errors / turns.
    pub format_error_rate: f64,
    /// Forced verdicts / episodes.
    pub forced_rate: f64,
    /// Failed episodes / episodes.
    pub error_rate: f64,
    /// Mean seconds per image.
    pub seconds_per_image: f64,
}

/// Everything about one (policy, strategy).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// Policy.
    pub policy: String,
    /// Strategy.
    pub strategy: String,
    /// Episodes.
    pub n: usize,
    /// Failed episodes.
    pub errors: usize,
    /// Three-class view (null for binary datasets).
    pub three_class: Option<ThreeClass>,
    /// Real/fake view.
    pub binary: BinaryMetrics,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// Localization on tampered images.
    pub localization: Localization,
    /// Field → value → accuracy.
    pub breakdown: BTreeMap<String, BTreeMap<String, Breakdown>>,
    /// Process figures.
    pub process: Process,
}

/// The whole `metrics.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Per (policy, strategy), in first-seen order.
    pub groups: Vec<GroupMetrics>,
    /// Manifest rows skipped.
    pub bad_rows: usize,
    /// Conventions used.
    pub conventions: Vec<String>,
    /// Every pair of agent rows compared image by image ([`super::paired`]).
    #[serde(default)]
    pub paired: Vec<super::paired::PairedComparison>,
    /// The grouping the paired comparison's clustered forms used (`--group-by`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_group_by: Option<super::grouping::GroupSpec>,
}

/// What metrics need besides the predictions.
#[derive(Clone, Debug, Default)]
pub struct EvalContext {
    /// Ground-truth masks by sample id.
    pub masks: HashMap<String, GtMask>,
    /// Manifest free fields by sample id.
    pub extras: HashMap<String, BTreeMap<String, Value>>,
    /// Manifest rows skipped.
    pub bad_rows: usize,
    /// The run directory, against which predicted heat-map paths (`mask`) resolve.
    pub run_dir: Option<std::path::PathBuf>,
    /// Which samples belong together (`--group-by`): the paired comparison
    /// then also resamples and tests whole groups.
    pub groups: Option<super::grouping::SampleGroups>,
}

/// Computes every metric, grouped by (policy, strategy).
pub fn compute(preds: &[Prediction], ctx: &EvalContext) -> Metrics {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut groups: HashMap<(String, String), Vec<&Prediction>> = HashMap::new();
    for p in preds {
        let k = (p.policy.clone(), p.strategy.clone());
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(p);
    }
    let fields = breakdown_fields(ctx);
    let paired = super::paired::compare_rows(&order, &groups, &ctx.masks, ctx.run_dir.as_deref(), ctx.groups.as_ref().map(|g| &g.of));
    let groups = order.iter().filter_map(|k| groups.get(k).map(|g| group(k, g, ctx, &fields))).collect();
    Metrics {
        groups,
        bad_rows: ctx.bad_rows,
        conventions: CONVENTIONS.iter().map(|s| s.to_string()).collect(),
        paired,
        paired_group_by: ctx.groups.as_ref().map(|g| g.spec.clone()),
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn f1(p: Option<f64>, r: Option<f64>) -> f64 {
    let (p, r) = (p.unwrap_or(0.0), r.unwrap_or(0.0));
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

fn binary_pred(p: &Prediction) -> BinaryLabel {
    match p.label {
        Some(l) => l.binary(),
        None => match p.truth.label.binary() {
            BinaryLabel::Real => BinaryLabel::Fake,
            BinaryLabel::Fake => BinaryLabel::Real,
        },
    }
}

fn group(key: &(String, String), g: &[&Prediction], ctx: &EvalContext, fields: &[String]) -> GroupMetrics {
    let n = g.len();
    let three = g.iter().all(|p| p.truth.label.three_class().is_some());
    GroupMetrics {
        policy: key.0.clone(),
        strategy: key.1.clone(),
        n,
        errors: g.iter().filter(|p| p.error.is_some()).count(),
        three_class: three.then(|| three_class(g)),
        binary: binary(g),
        confusion: confusion(g),
        localization: localization(g, &ctx.masks, ctx.run_dir.as_deref()),
        breakdown: breakdown(g, ctx, fields),
        process: process(g),
    }
}

fn class_metrics(g: &[&Prediction], c: Label) -> ClassMetrics {
    let (mut tp, mut fp, mut fneg, mut tn) = (0, 0, 0, 0);
    for p in g {
        let t = p.truth.label.three_class() == Some(c);
        let q = p.label.and_then(VerdictLabel::three_class) == Some(c);
        match (t, q) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fneg += 1,
            (false, false) => tn += 1,
        }
    }
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fneg));
    ClassMetrics { accuracy: ratio(tp + tn, g.len()).unwrap_or(0.0), precision, recall, f1: f1(precision, recall), support: tp + fneg, predicted: tp + fp }
}

fn three_class(g: &[&Prediction]) -> ThreeClass {
    let mut out = ThreeClass::default();
    let mut f1s = Vec::new();
    for c in Label::ALL {
        let m = class_metrics(g, c);
        if m.support + m.predicted > 0 {
            f1s.push(m.f1);
        }
        let pos: Vec<(f64, bool)> = g.iter().filter_map(|p| p.scores.map(|s| (s.get(c), p.truth.label.three_class() == Some(c)))).collect();
        out.auc.insert(c.as_str().into(), auc(&pos));
        out.per_class.insert(c.as_str().into(), m);
    }
    let correct = g.iter().filter(|p| p.label.and_then(VerdictLabel::three_class).is_some() && p.label.and_then(VerdictLabel::three_class) == p.truth.label.three_class()).count();
    out.accuracy = ratio(correct, g.len()).unwrap_or(0.0);
    let (probs, truth): (Vec<Vec<f64>>, Vec<usize>) = g
        .iter()
        .filter_map(|p| Some((p.scores?, Label::ALL.iter().position(|&c| p.truth.label.three_class() == Some(c))?)))
        .map(|(s, t)| (Label::ALL.iter().map(|&c| s.get(c)).collect(), t))
        .unzip();
    out.calibration = calibration(&probs, &truth);
    out.macro_f1 = if f1s.is_empty() { 0.0 } else { f1s.iter().sum::<f64>() / f1s.len() as f64 };
    out
}

fn binary(g: &[&Prediction]) -> BinaryMetrics {
    let (mut tp, mut fp, mut fneg, mut tn) = (0, 0, 0, 0);
    for p in g {
        match (p.truth.label.binary(), binary_pred(p)) {
            (BinaryLabel::Fake, BinaryLabel::Fake) => tp += 1,
            (BinaryLabel::Real, BinaryLabel::Fake) => fp += 1,
            (BinaryLabel::Fake, BinaryLabel::Real) => fneg += 1,
            (BinaryLabel::Real, BinaryLabel::Real) => tn += 1,
        }
    }
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fneg));
    let scored: Vec<(f64, bool)> = g.iter().filter_map(|p| p.scores.map(|s| (1.0 - s.authentic, p.truth.label.binary() == BinaryLabel::Fake))).collect();
    let (probs, truth): (Vec<Vec<f64>>, Vec<usize>) =
        g.iter().filter_map(|p| p.scores.map(|s| (vec![s.authentic, s.synthetic + s.tampered], usize::from(p.truth.label.binary() == BinaryLabel::Fake)))).unzip();
    BinaryMetrics { accuracy: ratio(tp + tn, g.len()).unwrap_or(0.0), precision, recall, f1: f1(precision, recall), auc: auc(&scored), calibration: calibration(&probs, &truth) }
}

/// ROC AUC by the Mann–Whitney statistic (ties count 1/2); `None` without both classes.
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let pos: Vec<f64> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f64> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for p in &pos {
        for n in &neg {
            sum += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(sum / (pos.len() * neg.len()) as f64)
}

fn confusion(g: &[&Prediction]) -> Confusion {
    let name = |l: Option<VerdictLabel>| l.map(|l| l.as_str().to_string()).unwrap_or_else(|| "error".into());
    let rank = |s: &str| ["authentic", "synthetic", "tampered", "real", "fake", "error"].iter().position(|x| *x == s).unwrap_or(9);
    let mut truth: Vec<String> = g.iter().map(|p| name(Some(p.truth.label))).collect::<BTreeSet<_>>().into_iter().collect();
    let mut predicted: Vec<String> = g.iter().map(|p| name(p.label)).chain(truth.iter().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
    truth.sort_by_key(|s| rank(s));
    predicted.sort_by_key(|s| rank(s));
    let mut counts = vec![vec![0; predicted.len()]; truth.len()];
    for p in g {
        let r = truth.iter().position(|t| *t == name(Some(p.truth.label)));
        let c = predicted.iter().position(|t| *t == name(p.label));
        if let (Some(r), Some(c)) = (r, c) {
            counts[r][c] += 1;
        }
    }
    Confusion { truth, predicted, counts }
}

/// Manifest fields worth a breakdown: string values, 2..=12 distinct, at least two samples per value on average.
fn breakdown_fields(ctx: &EvalContext) -> Vec<String> {
    let mut values: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bad: BTreeSet<&str> = BTreeSet::new();
    for extra in ctx.extras.values() {
        for (k, v) in extra {
            match v {
                Value::String(s) => {
                    values.entry(k).or_default().insert(s.clone());
                    *counts.entry(k).or_default() += 1;
                }
                Value::Null => {}
                _ => {
                    bad.insert(k);
                }
            }
        }
    }
    values
        .into_iter()
        .filter(|(k, v)| !bad.contains(k) && (2..=12).contains(&v.len()) && v.len() * 2 <= counts.get(k).copied().unwrap_or(0))
        .map(|(k, _)| k.to_string())
        .collect()
}

fn breakdown(g: &[&Prediction], ctx: &EvalContext, fields: &[String]) -> BTreeMap<String, BTreeMap<String, Breakdown>> {
    let mut out: BTreeMap<String, BTreeMap<String, (usize, usize, usize)>> = BTreeMap::new();
    for p in g {
        let Some(extra) = ctx.extras.get(&p.id) else { continue };
        let correct = match (p.truth.label.three_class(), p.label) {
            (Some(t), Some(l)) => l.three_class() == Some(t),
            (None, Some(l)) => l.binary() == p.truth.label.binary(),
            _ => false,
        };
        let bin = binary_pred(p) == p.truth.label.binary();
        for f in fields {
            if let Some(Value::String(v)) = extra.get(f) {
                let e = out.entry(f.clone()).or_default().entry(v.clone()).or_default();
                e.0 += 1;
                e.1 += correct as usize;
                e.2 += bin as usize;
            }
        }
    }
    out.into_iter()
        .map(|(f, m)| (f, m.into_iter().map(|(v, (n, c, b))| (v, Breakdown { n, accuracy: c as f64 / n as f64, binary_accuracy: b as f64 / n as f64 })).collect()))
        .collect()
}

fn process(g: &[&Prediction]) -> Process {
    let n = g.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Prediction) -> f64| g.iter().map(|p| f(p)).sum::<f64>() / n;
    let mut by_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut ops: BTreeMap<String, usize> = BTreeMap::new();
    for p in g {
        let e = by_class.entry(p.truth.label.as_str().into()).or_default();
        e.0 += p.tool_calls;
        e.1 += 1;
        for t in &p.tools_used {
            *ops.entry(t.clone()).or_default() += 1;
        }
    }
    let turns: usize = g.iter().map(|p| p.turns).sum();
    Process {
        mean_turns: mean(&|p| p.turns as f64),
        mean_tool_calls: mean(&|p| p.tool_calls as f64),
        tool_calls_by_class: by_class.into_iter().map(|(k, (c, m))| (k, c as f64 / m as f64)).collect(),
        operator_frequency: ops.into_iter().map(|(k, c)| (k, c as f64 / n)).collect(),
        format_error_rate: ratio(g.iter().map(|p| p.format_errors).sum(), turns).unwrap_or(0.0),
        forced_rate: mean(&|p| p.forced as u8 as f64),
        error_rate: mean(&|p| p.error.is_some() as u8 as f64),
        seconds_per_image: mean(&|p| p.wall_ms as f64 / 1000.0),
    }
}

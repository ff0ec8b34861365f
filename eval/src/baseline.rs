//! Single-operator baselines: each forensic operator as a one-shot detector.
//!
//! Operator X runs once on the whole image with default parameters. If its
//! `anomaly_z` statistic (strongest block, in robust σ above the image median)
//! exceeds the threshold ([`DEFAULT_THRESHOLD`] = 4.0σ) the image is called
//! `tampered`, otherwise `authentic`, and the box is the operator's top-scoring
//! region. A single low-level operator has no notion of "fully generated", so a
//! baseline never answers `synthetic`: its synthetic recall is 0 by construction.
//! Scores (for AUC) are `tampered = σ(z − threshold)`, `authentic = 1 − tampered`,
//! `synthetic = 0`, i.e. a ranking by `anomaly_z`. The operator's heat-map is
//! saved (see [`heatmap`]) so pixel metrics score the map itself.

use std::path::Path;
use std::time::Instant;

use trutheye_core::{ImageBuf, Registry, Scores, VerdictLabel};
use trutheye_plugin_api::{MapRole, MapRoles};

use super::dataset::Sample;
use super::heatmap;
use super::prediction::Prediction;

/// Default decision threshold on `anomaly_z`.
pub const DEFAULT_THRESHOLD: f64 = 4.0;

/// Strategy name of baseline rows.
pub const BASELINE_STRATEGY: &str = "baseline";

/// Policy name of the baseline of operator `op`.
pub fn baseline_policy(op: &str) -> String {
    format!("op:{op}")
}

/// The operator name behind a baseline policy name.
pub fn baseline_operator(policy: &str) -> Option<&str> {
    policy.strip_prefix("op:")
}

/// Runs operator `op` on `image` and turns it into a prediction. With `run_dir`,
/// the operator's heat-map is saved there and named in the prediction's `mask`.
pub fn predict(registry: &Registry, op: &str, sample: &Sample, image: &ImageBuf, threshold: f64, run_dir: Option<&Path>) -> Prediction {
    let started = Instant::now();
    let policy = baseline_policy(op);
    // A baseline reads the heat-map, stats and regions: no visual is rendered for it.
    let out = match registry.call_for(op, image, &serde_json::json!({}), MapRoles::of(&[MapRole::Heatmap, MapRole::Mask])) {
        Ok(o) => o,
        Err(e) => return Prediction::failed(sample, &policy, BASELINE_STRATEGY, format!("operator `{op}` failed: {e}"), started.elapsed().as_millis() as u64),
    };
    let wall_ms = started.elapsed().as_millis() as u64;
    let Some(z) = out.stats.get("anomaly_z").and_then(|v| v.as_f64()).filter(|z| z.is_finite()) else {
        return Prediction::failed(sample, &policy, BASELINE_STRATEGY, format!("operator `{op}` reports no finite `anomaly_z` statistic"), wall_ms);
    };
    let tampered = z > threshold;
    let p = 1.0 / (1.0 + (-(z - threshold)).exp());
    let bbox = if tampered {
        out.regions.iter().max_by(|a, b| a.score.total_cmp(&b.score)).map(|r| r.bbox).filter(|b| b[2] > b[0] && b[3] > b[1])
    } else {
        None
    };
    let mut pred = Prediction::failed(sample, &policy, BASELINE_STRATEGY, String::new(), wall_ms);
    pred.error = None;
    pred.label = Some(if tampered { VerdictLabel::Tampered } else { VerdictLabel::Authentic });
    pred.scores = Some(Scores { authentic: (1.0 - p) as _, synthetic: 0.0, tampered: p as _ });
    pred.bbox = bbox;
    if let (Some(dir), Some(heat)) = (run_dir, heatmap::from_output(&out)) {
        match heatmap::save(dir, &policy, &sample.id, &heat) {
            Ok(rel) => pred.mask = Some(rel),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    pred.turns = 1;
    pred.tool_calls = 1;
    pred.tools_used = vec![op.to_string()];
    pred
}

/// Whether an operator can serve as a baseline: it reports `anomaly_z` on `probe`.
pub fn has_anomaly_z(registry: &Registry, op: &str, probe: &ImageBuf) -> bool {
    registry.call_for(op, probe, &serde_json::json!({}), MapRoles::of(&[MapRole::Heatmap])).map(|o| o.stats.get("anomaly_z").and_then(|v| v.as_f64()).is_some()).unwrap_or(false)
}

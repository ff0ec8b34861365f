//! Localization metrics on tampered images: box IoU, and pixel F1/IoU of the
//! predicted heat-map (at 0.5 and at the best per-image threshold) or, when an
//! episode saved none, of its box rasterized as a mask.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use trutheye_core::{BBox, BoxGeometry, Label, VerdictLabel};

use super::dataset::GtMask;
use super::heatmap::{self, HeatScores};
use super::prediction::Prediction;

/// Localization over the tampered images of one group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Localization {
    /// Tampered images.
    pub n_tampered: usize,
    /// Of those, how many got a predicted box.
    pub n_with_box: usize,
    /// Mean box IoU over tampered images with a true box (missing prediction = 0).
    pub bbox_iou: Option<f64>,
    /// Tampered images with a ground-truth mask.
    pub n_with_mask: usize,
    /// Mean pixel F1 at the fixed 0.5 threshold.
    pub pixel_f1_fixed: Option<f64>,
    /// Mean pixel IoU at the fixed 0.5 threshold.
    pub pixel_iou_fixed: Option<f64>,
    /// Of those, how many were scored by a saved heat-map (the rest by their box).
    #[serde(default)]
    pub n_heatmaps: usize,
    /// Mean pixel F1 at the best per-image threshold (equal to fixed for box masks).
    pub pixel_f1_best: Option<f64>,
    /// Mean pixel IoU at the best per-image threshold.
    #[serde(default)]
    pub pixel_iou_best: Option<f64>,
    /// Mean pixel F1 at 0.5 where an image the method did not call tampered (or
    /// fake) scores 0, for agents and baselines alike. Agents already score 0 there
    /// (their verdict carries a mask only when it calls the image tampered), so for
    /// them this equals `pixel_f1_fixed`; for a baseline it is its heat-map's F1
    /// counted only where its own verdict said tampered: the like-for-like
    /// comparison with an agent.
    #[serde(default)]
    pub pixel_f1_called: Option<f64>,
    /// Mean pixel F1 at 0.5 of every row's map with detection left out: a
    /// baseline's heat-map (its `pixel_f1_fixed`), an agent's fused map of the
    /// whole image whatever its verdict (`Prediction::map`; 0 where it has
    /// none). The other like-for-like comparison: map quality alone.
    #[serde(default)]
    pub pixel_f1_map: Option<f64>,
}

/// Pixel F1 and IoU of a box (rasterized, clipped to the mask) against a mask.
/// Empty truth and empty prediction score 1; otherwise F1 = 2TP/(2TP+FP+FN), IoU = TP/(TP+FP+FN).
pub fn pixel_scores(gt: &GtMask, pred: Option<BBox>) -> (f64, f64) {
    let area = gt.area();
    let (mut tp, mut pred_area) = (0usize, 0usize);
    if let Some(b) = pred {
        let (x2, y2) = (b[2].min(gt.width), b[3].min(gt.height));
        for y in b[1].min(y2)..y2 {
            let row = y as usize * gt.width as usize;
            for x in b[0].min(x2)..x2 {
                pred_area += 1;
                tp += gt.on.get(row + x as usize).copied().unwrap_or(false) as usize;
            }
        }
    }
    heatmap::f1_iou(tp, pred_area - tp, area - tp)
}

/// Pixel scores of one prediction against its mask: its heat-map when it saved
/// one (fixed 0.5 and best per-image thresholds), else its box rasterized (a
/// binary map: best equals fixed). An unreadable heat-map falls back to the box.
fn prediction_scores(p: &Prediction, gt: &GtMask, run_dir: Option<&Path>) -> (HeatScores, bool) {
    if let (Some(rel), Some(dir)) = (&p.mask, run_dir) {
        match heatmap::load(dir, rel, gt.width, gt.height).and_then(|h| heatmap::scores(gt, &h)) {
            Ok(s) => return (s, true),
            Err(e) => tracing::warn!("{e}; `{}` is scored by its box", p.id),
        }
    }
    let (f1, iou) = pixel_scores(gt, p.bbox);
    (HeatScores { f1_fixed: f1, iou_fixed: iou, f1_best: f1, iou_best: iou }, false)
}

/// Pixel F1 at 0.5 of one prediction against its mask (its heat-map, else its
/// box): the per-image figure `pixel_f1_fixed` averages.
pub fn prediction_f1_fixed(p: &Prediction, gt: &GtMask, run_dir: Option<&Path>) -> f64 {
    prediction_scores(p, gt, run_dir).0.f1_fixed
}

/// Localization of one group; heat-map paths in `mask` resolve against `run_dir`.
pub fn localization(g: &[&Prediction], masks: &HashMap<String, GtMask>, run_dir: Option<&Path>) -> Localization {
    let tampered: Vec<&&Prediction> = g.iter().filter(|p| p.truth.label.three_class() == Some(Label::Tampered)).collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let ious: Vec<f64> = tampered.iter().filter_map(|p| p.truth.bbox.map(|t| p.bbox.map(|b| t.iou(&b)).unwrap_or(0.0))).collect();
    let pix: Vec<(HeatScores, bool)> = tampered.iter().filter_map(|p| masks.get(&p.id).map(|m| prediction_scores(p, m, run_dir))).collect();
    let called: Vec<f64> = tampered
        .iter()
        .filter(|p| masks.contains_key(&p.id))
        .zip(&pix)
        .map(|(p, (s, _))| if matches!(p.label, Some(VerdictLabel::Tampered | VerdictLabel::Fake)) { s.f1_fixed } else { 0.0 })
        .collect();
    let map_f1: Vec<f64> = tampered
        .iter()
        .filter_map(|p| masks.get(&p.id).map(|m| (p, m)))
        .zip(&pix)
        .map(|((p, m), (s, heat))| match (&p.map, run_dir) {
            (Some(rel), Some(dir)) => heatmap::load(dir, rel, m.width, m.height).and_then(|h| heatmap::scores(m, &h)).map(|s| s.f1_fixed).unwrap_or_else(|e| {
                tracing::warn!("{e}; `{}`'s map scores 0", p.id);
                0.0
            }),
            // A baseline's heat-map is already its ungated map.
            _ if p.strategy == super::baseline::BASELINE_STRATEGY && *heat => s.f1_fixed,
            _ => 0.0,
        })
        .collect();
    let col = |f: fn(&HeatScores) -> f64| mean(&pix.iter().map(|(s, _)| f(s)).collect::<Vec<f64>>());
    Localization {
        n_tampered: tampered.len(),
        n_with_box: tampered.iter().filter(|p| p.bbox.is_some()).count(),
        bbox_iou: mean(&ious),
        n_with_mask: pix.len(),
        n_heatmaps: pix.iter().filter(|(_, h)| *h).count(),
        pixel_f1_fixed: col(|s| s.f1_fixed),
        pixel_iou_fixed: col(|s| s.iou_fixed),
        pixel_f1_best: col(|s| s.f1_best),
        pixel_iou_best: col(|s| s.iou_best),
        pixel_f1_called: mean(&called),
        pixel_f1_map: mean(&map_f1),
    }
}

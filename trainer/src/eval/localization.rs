//! Localization metrics on tampered images: box IoU and pixel F1/IoU of the
//! predicted box rasterized as a mask.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use trutheye_core::{BBox, Label};

use super::dataset::GtMask;
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
    /// Mean pixel F1 at the best per-image threshold (equal to fixed for binary box masks).
    pub pixel_f1_best: Option<f64>,
}

/// IoU of two boxes (x2/y2 exclusive); 0 when disjoint.
pub fn box_iou(a: BBox, b: BBox) -> f64 {
    let area = |b: BBox| (b[2].saturating_sub(b[0]) as f64) * (b[3].saturating_sub(b[1]) as f64);
    let inter = [a[0].max(b[0]), a[1].max(b[1]), a[2].min(b[2]), a[3].min(b[3])];
    let i = area(inter);
    let u = area(a) + area(b) - i;
    if u > 0.0 {
        i / u
    } else {
        0.0
    }
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
    let (fp, fneg) = (pred_area - tp, area - tp);
    if tp + fp + fneg == 0 {
        return (1.0, 1.0);
    }
    (2.0 * tp as f64 / (2 * tp + fp + fneg) as f64, tp as f64 / (tp + fp + fneg) as f64)
}

/// Localization of one group.
pub fn localization(g: &[&Prediction], masks: &HashMap<String, GtMask>) -> Localization {
    let tampered: Vec<&&Prediction> = g.iter().filter(|p| p.truth.label.three_class() == Some(Label::Tampered)).collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let ious: Vec<f64> = tampered.iter().filter_map(|p| p.truth.bbox.map(|t| p.bbox.map(|b| box_iou(t, b)).unwrap_or(0.0))).collect();
    let pix: Vec<(f64, f64)> = tampered.iter().filter_map(|p| masks.get(&p.id).map(|m| pixel_scores(m, p.bbox))).collect();
    let f1s: Vec<f64> = pix.iter().map(|p| p.0).collect();
    let pious: Vec<f64> = pix.iter().map(|p| p.1).collect();
    Localization {
        n_tampered: tampered.len(),
        n_with_box: tampered.iter().filter(|p| p.bbox.is_some()).count(),
        bbox_iou: mean(&ious),
        n_with_mask: pix.len(),
        pixel_f1_fixed: mean(&f1s),
        pixel_iou_fixed: mean(&pious),
        pixel_f1_best: mean(&f1s),
    }
}

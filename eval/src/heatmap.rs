//! Predicted heat-maps: a baseline saves its operator's map under
//! `DIR/heatmaps/`, and pixel metrics read it back, so a run directory holds
//! everything metrics need.
//!
//! A heat-map is an 8-bit grey PNG where 255 is "most suspicious". Operators'
//! float maps have arbitrary units, so the map is stretched to [0, 1] between
//! its 1st and 99th percentile (the display stretch of observations) and stored
//! at most [`MAX_SIDE`] pixels on its long side (it is a coarse block map for
//! most operators anyway); metrics resize it bilinearly to the mask's size.

use crate::EvalError;
use std::path::Path;

use image::{imageops, GrayImage};
use trutheye_core::observe::map_to_rgb;
use trutheye_plugin_api::{MapRole, Output};

use super::dataset::GtMask;

/// Sub-directory of a run that holds heat-maps.
pub const HEATMAP_DIR: &str = "heatmaps";

/// Long-side cap of stored heat-maps.
pub const MAX_SIDE: u32 = 384;

/// The operator's suspicion map as grey levels: its first single-channel
/// heat-map (or mask) output, stretched to 0..=255 and capped to [`MAX_SIDE`].
pub fn from_output(out: &Output) -> Option<GrayImage> {
    let map = out
        .maps
        .iter()
        .find(|m| m.channels == 1 && m.role == MapRole::Heatmap)
        .or_else(|| out.maps.iter().find(|m| m.channels == 1 && m.role == MapRole::Mask))?;
    let rgb = map_to_rgb(map)?;
    let grey = GrayImage::from_fn(rgb.width(), rgb.height(), |x, y| image::Luma([rgb.get_pixel(x, y).0[0]]));
    let long = grey.width().max(grey.height());
    if long <= MAX_SIDE {
        return Some(grey);
    }
    let scale = MAX_SIDE as f64 / long as f64;
    let (w, h) = (((grey.width() as f64 * scale).round() as u32).max(1), ((grey.height() as f64 * scale).round() as u32).max(1));
    Some(imageops::resize(&grey, w, h, imageops::FilterType::Triangle))
}

/// File-system-safe form of a policy or id.
pub(crate) fn safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// Saves `heat` for (`policy`, `id`) and returns its path relative to `run_dir`.
pub fn save(run_dir: &Path, policy: &str, id: &str, heat: &GrayImage) -> Result<String, EvalError> {
    let rel = format!("{HEATMAP_DIR}/{}/{}.png", safe(policy), safe(id));
    let path = run_dir.join(&rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| EvalError::RunDir(format!("{}: cannot create: {e}", parent.display())))?;
    }
    heat.save(&path).map_err(|e| EvalError::RunDir(format!("{}: cannot write heat-map: {e}", path.display())))?;
    Ok(rel)
}

/// Loads a heat-map (path relative to `run_dir`, or absolute) resized to `w`×`h`.
pub fn load(run_dir: &Path, rel: &str, w: u32, h: u32) -> Result<GrayImage, EvalError> {
    let path = run_dir.join(rel);
    let img = trutheye_core::image::open_gray(&path, trutheye_core::DecodeOptions::default()).map_err(|e| EvalError::RunDir(format!("heat-map {e}")))?;
    if img.dimensions() == (w, h) {
        return Ok(img);
    }
    Ok(imageops::resize(&img, w, h, imageops::FilterType::Triangle))
}

/// Pixel scores of a heat-map against a mask of the same size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeatScores {
    /// F1 with "changed" = heat ≥ 0.5 (grey level ≥ 128).
    pub f1_fixed: f64,
    /// IoU at the same threshold.
    pub iou_fixed: f64,
    /// F1 at the threshold (over all 256 grey levels) that is best for this image.
    pub f1_best: f64,
    /// IoU at the threshold that is best for IoU on this image.
    pub iou_best: f64,
}

/// F1 and IoU from counts; empty truth and empty prediction score 1.
pub fn f1_iou(tp: usize, fp: usize, fneg: usize) -> (f64, f64) {
    if tp + fp + fneg == 0 {
        return (1.0, 1.0);
    }
    (2.0 * tp as f64 / (2 * tp + fp + fneg) as f64, tp as f64 / (tp + fp + fneg) as f64)
}

/// Scores `heat` against `gt` at 0.5 and at the best per-image threshold.
/// One pass builds per-level histograms of changed and unchanged pixels, so all
/// 257 thresholds (including "nothing is changed") cost O(pixels + 256).
pub fn scores(gt: &GtMask, heat: &GrayImage) -> Result<HeatScores, EvalError> {
    if heat.dimensions() != (gt.width, gt.height) {
        return Err(EvalError::RunDir(format!("heat-map is {}x{} but the mask is {}x{}", heat.width(), heat.height(), gt.width, gt.height)));
    }
    let (mut on, mut off) = ([0usize; 256], [0usize; 256]);
    for (v, &changed) in heat.as_raw().iter().zip(&gt.on) {
        if changed {
            on[*v as usize] += 1;
        } else {
            off[*v as usize] += 1;
        }
    }
    let area: usize = on.iter().sum();
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut f1_best, mut iou_best) = f1_iou(0, 0, area);
    let mut fixed = (0.0, 0.0);
    // Thresholds from high to low: at level t, pixels with heat >= t are "changed".
    for t in (0..256).rev() {
        tp += on[t];
        fp += off[t];
        let (f1, iou) = f1_iou(tp, fp, area - tp);
        f1_best = f1_best.max(f1);
        iou_best = iou_best.max(iou);
        if t == 128 {
            fixed = (f1, iou);
        }
    }
    Ok(HeatScores { f1_fixed: fixed.0, iou_fixed: fixed.1, f1_best, iou_best })
}

//! Example episodes in `report.html`: the trajectory, the image with the true
//! (green) and predicted (red) localization drawn on it, and the heat-maps the
//! single-operator baselines saved for the same image (each operator run once on
//! the whole image with default parameters).

use crate::EvalError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::{imageops, Rgb, RgbImage};
use trutheye_core::imageops::outline_box;
use trutheye_core::Trajectory;

use super::dataset::GtMask;
use super::heatmap;
use super::html::{clip, esc};
use super::prediction::Prediction;

/// Long side of example thumbnails.
const THUMB_SIDE: u32 = 360;

/// Where example pictures come from and go.
#[derive(Clone, Debug, Default)]
pub struct ExampleMedia {
    /// Image path by sample id (from the dataset; without it no pictures are drawn).
    pub images: HashMap<String, PathBuf>,
    /// The run directory: thumbnails go to `examples/`, heat-maps are read from it.
    pub run_dir: Option<PathBuf>,
}

/// The image with the truth (mask tinted green, box in green) and the predicted
/// box (red), shrunk to a thumbnail and saved as `examples/<id>.png`; returns
/// its path relative to the run directory.
fn overlay(p: &Prediction, image: &Path, run_dir: &Path) -> Result<String, EvalError> {
    let mut img: RgbImage = trutheye_core::ImageBuf::open(image, trutheye_core::image::DEFAULT_MAX_PIXELS).map_err(|e| EvalError::RunDir(e.to_string()))?.rgb.as_ref().clone();
    let t = (img.width().max(img.height()) / 150).max(2);
    if let Some(mask) = p.truth.mask.as_deref().and_then(|m| GtMask::open(Path::new(m)).ok()) {
        if (mask.width, mask.height) == img.dimensions() {
            for (px, on) in img.pixels_mut().zip(&mask.on) {
                if *on {
                    px.0 = [px.0[0] / 2, px.0[1] / 2 + 110, px.0[2] / 2];
                }
            }
        }
    }
    if let Some(b) = p.truth.bbox {
        outline_box(&mut img, b, Rgb([40, 220, 40]), t);
    }
    if let Some(b) = p.bbox {
        outline_box(&mut img, b, Rgb([255, 32, 32]), t);
    }
    let scale = (THUMB_SIDE as f64 / img.width().max(img.height()) as f64).min(1.0);
    let (w, h) = (((img.width() as f64 * scale) as u32).max(1), ((img.height() as f64 * scale) as u32).max(1));
    let thumb = imageops::resize(&img, w, h, imageops::FilterType::Triangle);
    let rel = format!("examples/{}.png", heatmap::safe(&format!("{}-{}-{}", p.policy, p.strategy, p.id)));
    let path = run_dir.join(&rel);
    std::fs::create_dir_all(run_dir.join("examples")).map_err(|e| EvalError::RunDir(format!("{}: {e}", run_dir.display())))?;
    thumb.save(&path).map_err(|e| EvalError::RunDir(format!("{}: {e}", path.display())))?;
    Ok(rel)
}

/// Pictures of one example: the overlay, then baseline heat-maps of the
/// operators the episode used (others after them), at most six.
fn pictures(h: &mut String, p: &Prediction, preds: &[Prediction], media: &ExampleMedia) {
    let (Some(dir), Some(image)) = (&media.run_dir, media.images.get(&p.id)) else { return };
    h.push_str("<div class=\"plots\">");
    match overlay(p, image, dir) {
        Ok(rel) => h.push_str(&format!(
            "<figure><img src=\"{}\" width=\"{THUMB_SIDE}\"><figcaption>truth in green, predicted box in red</figcaption></figure>",
            esc(&rel)
        )),
        Err(e) => tracing::warn!("example picture: {e}"),
    }
    let mut maps: Vec<&Prediction> = preds.iter().filter(|b| b.id == p.id && b.strategy == "baseline" && b.mask.is_some()).collect();
    maps.sort_by_key(|b| !p.tools_used.iter().any(|t| Some(t.as_str()) == b.policy.strip_prefix("op:")));
    for b in maps.into_iter().take(6) {
        let rel = b.mask.as_deref().unwrap_or_default();
        let label = b.label.map(|l| l.as_str()).unwrap_or("error");
        h.push_str(&format!("<figure><img src=\"{}\" height=\"200\"><figcaption>{} map (baseline says {label})</figcaption></figure>", esc(rel), esc(&b.policy)));
    }
    h.push_str("</div>");
}

/// Up to three example episodes of the first agent group, one per true class.
pub fn examples(h: &mut String, preds: &[Prediction], trajectories: &str, media: &ExampleMedia) {
    let Some(first) = preds.iter().find(|p| p.strategy != "baseline" && p.error.is_none()) else { return };
    let mut chosen: Vec<&Prediction> = Vec::new();
    for p in preds.iter().filter(|p| p.policy == first.policy && p.strategy == first.strategy && p.error.is_none()) {
        if chosen.len() < 3 && !chosen.iter().any(|c| c.truth.label == p.truth.label) {
            chosen.push(p);
        }
    }
    let mut shown = 0;
    h.push_str(&format!("<h2>Example trajectories ({}/{})</h2>", esc(&first.policy), esc(&first.strategy)));
    for p in chosen {
        let id_field = format!("\"id\":{}", serde_json::Value::String(p.id.clone()));
        let Some(t) = trajectories
            .lines()
            .filter(|l| l.contains(&id_field))
            .filter_map(|l| serde_json::from_str::<Trajectory>(l).ok())
            .find(|t| t.policy == p.policy && t.strategy == p.strategy && t.id == p.id)
        else {
            continue;
        };
        shown += 1;
        let label = p.label.map(|l| l.as_str()).unwrap_or("error");
        h.push_str(&format!("<div class=\"traj\"><h3>{} — truth <b>{}</b>, predicted <b>{}</b>{}</h3>", esc(&t.id), p.truth.label.as_str(), label, if p.forced { " (forced)" } else { "" }));
        pictures(h, p, preds, media);
        for turn in &t.turns {
            h.push_str(&format!("<div><b>turn {}</b><pre>{}</pre>", turn.index + 1, esc(&clip(&turn.assistant, 1500))));
            if let Some(o) = &turn.observation {
                h.push_str(&format!("<pre class=\"obs\">{}</pre>", esc(&clip(&o.text, 1200))));
            }
            h.push_str("</div>");
        }
        h.push_str("</div>\n");
    }
    if shown == 0 {
        h.push_str("<p>(no trajectories recorded)</p>");
    }
}

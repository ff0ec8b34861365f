//! Turning operator outputs into what the model sees: the [`Evidence`] of a
//! run, and the text rendered from it. Shared by the registry
//! executor and the PVR sandbox so a tool call and `srm(image)` in code read the same.

use image::{DynamicImage, GrayImage, RgbImage};
use trutheye_plugin_api::{Map, MapData, MapRole, Output};

use crate::evidence::{shown_score, Evidence, HeatGrid, MapFate, MapSummary, RegionFrame, ScoredRegion, MAX_REGIONS};
use crate::executor::{EpisodeState, NamedImage, Observation, ToolKind, ToolUse};
use crate::image::ImageBuf;
use crate::verdict::BBox;

/// Builds the observation for one operator run on `input`: its [`Evidence`],
/// and the text the model reads rendered from it ([`render_evidence`]).
pub fn operator_observation(state: &mut EpisodeState, op: &str, input: &NamedImage, out: Output) -> Observation {
    let stats = match round_json(&out.stats, 3) {
        serde_json::Value::Object(o) => o,
        // Stats that are not an object were never shown.
        _ => serde_json::Map::new(),
    };
    let regions = out
        .regions
        .iter()
        .take(MAX_REGIONS)
        .map(|r| ScoredRegion { bbox: to_root(input.region_in_root, r.bbox).unwrap_or(r.bbox), score: shown_score(r.score) })
        .collect();
    let frame = if input.region_in_root.is_some() { RegionFrame::Root } else { RegionFrame::Input };
    let mut obs = Observation::default();
    let mut outputs = Vec::new();
    let mut maps = Vec::new();
    for map in &out.maps {
        let Some(rgb) = map_to_rgb(map) else { continue };
        let origin = format!("{op}:{} of {}", map.name, input.name);
        // Only the first visual map goes back into the context: every image costs
        // the model hundreds of tokens. The rest are saved as artifacts (a map
        // that could not be added does not count: the next visual one is tried).
        let shown_before = maps.iter().any(|m: &MapSummary| matches!(m.fate, MapFate::Shown(_)));
        let fate = if map.role == MapRole::Visual && !shown_before {
            match state.add(ImageBuf::derived(rgb, origin), None) {
                Ok(named) => {
                    outputs.push(named.name.clone());
                    let name = named.name.clone();
                    obs.images.push(named);
                    MapFate::Shown(name)
                }
                Err(e) => MapFate::NotShown(e.to_string()),
            }
        } else {
            let name = format!("{op}_{}", map.name);
            obs.artifacts.push(NamedImage { name: name.clone(), image: std::sync::Arc::new(ImageBuf::derived(rgb, origin)), region_in_root: None });
            MapFate::Artifact(name)
        };
        maps.push(MapSummary { name: map.name.clone(), role: map.role, width: map.width as u32, height: map.height as u32, fate });
    }
    let heat = HeatGrid::from_output(&out, input.region_in_root);
    let evidence = Evidence { operator: op.into(), image: input.name.clone(), summary: out.summary.trim().to_string(), stats, regions, frame, maps, heat };
    obs.text = render_evidence(&evidence);
    obs.evidence.push(evidence);
    obs.bbox_candidate = out.regions.first().and_then(|r| to_root(input.region_in_root, r.bbox));
    obs.tools.push(ToolUse { name: op.into(), kind: ToolKind::Forensic, input: Some(input.name.clone()), outputs, ok: true });
    obs
}

/// The text the model reads for one operator run. The only writer of operator
/// text: what it shows is exactly what [`Evidence`] holds.
pub fn render_evidence(ev: &Evidence) -> String {
    let mut text = format!("[{} on {}] {}", ev.operator, ev.image, ev.summary);
    if !ev.stats.is_empty() {
        text += &format!("\nstats: {}", serde_json::Value::Object(ev.stats.clone()));
    }
    if !ev.regions.is_empty() {
        let regions: Vec<String> = ev.regions.iter().map(|r| format!("[{}, {}, {}, {}] z={:.1}", r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], r.score)).collect();
        let frame = match ev.frame {
            RegionFrame::Root => "image_clue_0 pixels",
            RegionFrame::Input => "pixels of the input",
        };
        text += &format!("\nmost anomalous regions ({frame}): {}", regions.join("; "));
    }
    for m in &ev.maps {
        match &m.fate {
            MapFate::Shown(image) => text += &format!("\n{} map shown as {image} ({}x{}).", m.name, m.width, m.height),
            MapFate::NotShown(e) => text += &format!("\n(map not shown: {e})"),
            MapFate::Artifact(_) => {}
        }
    }
    text
}

/// Maps a box in a derived image's pixels to `image_clue_0` pixels.
pub fn to_root(region_in_root: Option<BBox>, b: BBox) -> Option<BBox> {
    let r = region_in_root?;
    Some([
        (r[0] + b[0]).min(r[2]),
        (r[1] + b[1]).min(r[3]),
        (r[0] + b[2]).min(r[2]),
        (r[1] + b[3]).min(r[3]),
    ])
}

/// Renders a map to RGB8 (float maps are stretched between their 1st and 99th
/// percentiles). Returns `None` for an inconsistent map.
pub fn map_to_rgb(map: &Map) -> Option<RgbImage> {
    Some(map_to_image(map)?.into_rgb8())
}

/// A map as the image a file should hold: 8-bit gray when the operator made
/// one channel, RGB when three (float maps stretched as in [`map_to_rgb`]);
/// `None` for an inconsistent or empty map. Writing a one-channel map as gray
/// keeps every value and is a third of the PNG work of its RGB expansion,
/// which dominated `trutheye op -o` on 12-megapixel images.
pub fn map_to_image(map: &Map) -> Option<DynamicImage> {
    if !map.is_consistent() || map.width == 0 || map.height == 0 {
        return None;
    }
    let (w, h) = (map.width as u32, map.height as u32);
    let bytes: Vec<u8> = match &map.data {
        MapData::U8(v) => v.clone(),
        MapData::F32(v) => stretch(v),
    };
    match map.channels {
        3 => RgbImage::from_raw(w, h, bytes).map(DynamicImage::ImageRgb8),
        1 => GrayImage::from_raw(w, h, bytes).map(DynamicImage::ImageLuma8),
        _ => None,
    }
}

fn stretch(v: &[f32]) -> Vec<u8> {
    let mut sorted: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() {
        return vec![0; v.len()];
    }
    sorted.sort_unstable_by(|a, b| a.total_cmp(b));
    let lo = sorted[(sorted.len() - 1) / 100];
    let hi = sorted[(sorted.len() - 1) * 99 / 100];
    let span = (hi - lo).max(1e-12);
    v.iter().map(|x| if x.is_finite() { (((x - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8 } else { 0 }).collect()
}

/// Rounds every float in a JSON value to `digits` decimals, so observations stay
/// short and stable across platforms.
pub fn round_json(v: &serde_json::Value, digits: i32) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            let p = 10f64.powi(digits);
            serde_json::Number::from_f64((f * p).round() / p).map(Value::Number).unwrap_or(Value::Null)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| round_json(x, digits)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), round_json(x, digits))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;

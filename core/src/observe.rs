//! Turning operator outputs into what the model sees. Shared by the registry
//! executor and the PVR sandbox so a tool call and `srm(image)` in code read the same.

use image::RgbImage;
use trutheye_plugin_api::{Map, MapData, MapRole, Output};

use crate::executor::{EpisodeState, NamedImage, Observation, ToolKind, ToolUse};
use crate::image::ImageBuf;
use crate::verdict::BBox;

/// Builds the observation for one operator run on `input`.
pub fn operator_observation(state: &mut EpisodeState, op: &str, input: &NamedImage, out: Output) -> Observation {
    let mut text = format!("[{op} on {}] {}", input.name, out.summary.trim());
    let stats = round_json(&out.stats, 3);
    if stats.as_object().is_some_and(|o| !o.is_empty()) {
        text += &format!("\nstats: {stats}");
    }
    let regions: Vec<String> = out
        .regions
        .iter()
        .take(5)
        .map(|r| {
            let b = to_root(input.region_in_root, r.bbox).unwrap_or(r.bbox);
            format!("[{}, {}, {}, {}] z={:.1}", b[0], b[1], b[2], b[3], r.score)
        })
        .collect();
    if !regions.is_empty() {
        let frame = if input.region_in_root.is_some() { "image_clue_0 pixels" } else { "pixels of the input" };
        text += &format!("\nmost anomalous regions ({frame}): {}", regions.join("; "));
    }
    let mut obs = Observation::default();
    let mut outputs = Vec::new();
    let mut shown = false;
    for map in &out.maps {
        let Some(rgb) = map_to_rgb(map) else { continue };
        let origin = format!("{op}:{} of {}", map.name, input.name);
        // Only the first visual map goes back into the context: every image costs
        // the model hundreds of tokens. The rest are saved as artifacts.
        if map.role == MapRole::Visual && !shown {
            match state.add(ImageBuf::derived(rgb, origin), None) {
                Ok(named) => {
                    text += &format!("\n{} map shown as {} ({}x{}).", map.name, named.name, map.width, map.height);
                    outputs.push(named.name.clone());
                    obs.images.push(named);
                    shown = true;
                }
                Err(e) => text += &format!("\n(map not shown: {e})"),
            }
        } else {
            obs.artifacts.push(NamedImage {
                name: format!("{op}_{}", map.name),
                image: std::sync::Arc::new(ImageBuf::derived(rgb, origin)),
                region_in_root: None,
            });
        }
    }
    obs.text = text;
    obs.bbox_candidate = out.regions.first().and_then(|r| to_root(input.region_in_root, r.bbox));
    obs.tools.push(ToolUse { name: op.into(), kind: ToolKind::Forensic, input: Some(input.name.clone()), outputs, ok: true });
    obs
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
    if !map.is_consistent() || map.width == 0 || map.height == 0 {
        return None;
    }
    let (w, h) = (map.width as u32, map.height as u32);
    let bytes: Vec<u8> = match &map.data {
        MapData::U8(v) => v.clone(),
        MapData::F32(v) => stretch(v),
    };
    let rgb = if map.channels == 3 { bytes } else { bytes.iter().flat_map(|&g| [g, g, g]).collect() };
    RgbImage::from_raw(w, h, rgb)
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

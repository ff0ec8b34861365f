//! Basic image tools for the fixed registry (ForenAgent's T_basic), callable as
//! `<tool_call>` when the strategy has no code execution.

use serde_json::{json, Value};

use crate::executor::{EpisodeState, NamedImage, Observation, ToolKind, ToolUse};
use crate::image::ImageBuf;
use crate::imageops::{self, Enhance, Filter};
use crate::observe::to_root;

/// Names and schemas of the basic tools, as the model sees them.
pub fn basic_tool_specs() -> Vec<(&'static str, &'static str, Value)> {
    let idx = json!({"type": "integer", "minimum": 0, "description": "which image_clue_k to use (default 0)"});
    vec![
        ("crop", "Crop a region [x1, y1, x2, y2] (pixels, x2/y2 exclusive) of an image; the crop becomes a new image_clue_k and a localization candidate. With min_side, a box narrower than that (after clamping to the image) grows about its centre until its shorter side is min_side.",
         json!({"type": "object", "properties": {"image_index": idx, "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}, "min_side": {"type": "number", "minimum": 1}}, "required": ["bbox"], "additionalProperties": false})),
        ("zoom", "Resize an image by a scale factor (0.05..8) with bicubic interpolation.",
         json!({"type": "object", "properties": {"image_index": idx, "scale": {"type": "number", "exclusiveMinimum": 0.05, "maximum": 8}}, "required": ["scale"], "additionalProperties": false})),
        ("rotate", "Rotate counter-clockwise by an angle in degrees; expand=true keeps the whole image.",
         json!({"type": "object", "properties": {"image_index": idx, "angle": {"type": "number"}, "expand": {"type": "boolean"}}, "required": ["angle"], "additionalProperties": false})),
        ("flip", "Mirror an image horizontally or vertically.",
         json!({"type": "object", "properties": {"image_index": idx, "direction": {"enum": ["horizontal", "vertical"]}}, "required": ["direction"], "additionalProperties": false})),
        ("enhance", "PIL ImageEnhance: contrast, brightness, sharpness or color by a factor (1 = unchanged).",
         json!({"type": "object", "properties": {"image_index": idx, "kind": {"enum": ["contrast", "brightness", "sharpness", "color"]}, "factor": {"type": "number", "minimum": 0, "maximum": 20}}, "required": ["kind", "factor"], "additionalProperties": false})),
    ]
}

/// The basic tool names (ForenAgent's T_basic), always callable beside the operators.
pub const BASIC_TOOLS: [&str; 5] = ["crop", "zoom", "rotate", "flip", "enhance"];

/// True for the basic tool names.
pub fn is_basic_tool(name: &str) -> bool {
    BASIC_TOOLS.contains(&name)
}

/// Runs a basic tool on an already-selected input image.
pub fn run_basic_tool(name: &str, args: &Value, input: &NamedImage, state: &mut EpisodeState) -> Observation {
    let img = &input.image.rgb;
    let num = |k: &str| args.get(k).and_then(Value::as_f64);
    let result: Result<(image::RgbImage, Option<[u32; 4]>, String), String> = (|| match name {
        "crop" => {
            let b = args.get("bbox").and_then(Value::as_array).ok_or("crop needs bbox [x1, y1, x2, y2]")?;
            let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
            let bbox: [f64; 4] = v.try_into().map_err(|_| "bbox must be 4 numbers".to_string())?;
            let bbox = match num("min_side") {
                Some(m) => grow_to_min_side(bbox, m, img.width() as f64, img.height() as f64)?,
                None => bbox,
            };
            let (out, used) = imageops::crop(img, bbox).map_err(|e| e.0)?;
            let root = to_root(input.region_in_root, used);
            Ok((out, root, format!("cropped {:?} of {}", used, input.name)))
        }
        "zoom" => {
            let s = num("scale").ok_or("zoom needs scale")?;
            let (w, h) = ((img.width() as f64 * s).round().max(1.0) as u32, (img.height() as f64 * s).round().max(1.0) as u32);
            check_pixels(w, h, state)?;
            let out = imageops::resize(img, w, h, Filter::Bicubic, state.limits.max_side).map_err(|e| e.0)?;
            Ok((out, None, format!("zoomed {} by {s}", input.name)))
        }
        "rotate" => {
            let a = num("angle").ok_or("rotate needs angle")?;
            let expand = args.get("expand").and_then(Value::as_bool).unwrap_or(false);
            let out = imageops::rotate(img, a, expand).map_err(|e| e.0)?;
            check_pixels(out.width(), out.height(), state)?;
            Ok((out, None, format!("rotated {} by {a} degrees", input.name)))
        }
        "flip" => {
            let horizontal = args.get("direction").and_then(Value::as_str) != Some("vertical");
            let out = if horizontal { imageops::flip_horizontal(img) } else { imageops::flip_vertical(img) };
            Ok((out, None, format!("flipped {}", input.name)))
        }
        "enhance" => {
            let kind = match args.get("kind").and_then(Value::as_str) {
                Some("contrast") => Enhance::Contrast,
                Some("brightness") => Enhance::Brightness,
                Some("sharpness") => Enhance::Sharpness,
                Some("color") => Enhance::Color,
                other => return Err(format!("unknown enhance kind {other:?}")),
            };
            let f = num("factor").ok_or("enhance needs factor")?;
            if !f.is_finite() || f.abs() > 1e4 {
                return Err(format!("ValueError: enhance factor {f} is out of range"));
            }
            let out = imageops::enhance(img, kind, f);
            // Enhancement keeps geometry, so a crop stays a localization candidate.
            Ok((out, input.region_in_root.filter(|_| input.name != "image_clue_0"), format!("enhanced {} ({kind:?} x{f})", input.name)))
        }
        other => Err(format!("`{other}` is not a basic tool")),
    })();
    match result {
        Ok((out, region, what)) => {
            let (w, h) = (out.width(), out.height());
            match state.add(ImageBuf::derived(out, what.clone()), region) {
                Ok(named) => {
                    let mut obs = Observation {
                        text: format!("{what}: new image {} ({w}x{h}).", named.name),
                        bbox_candidate: if name == "crop" { region } else { None },
                        ..Default::default()
                    };
                    obs.tools.push(ToolUse { name: name.into(), kind: ToolKind::Basic, input: Some(input.name.clone()), outputs: vec![named.name.clone()], ok: true });
                    obs.images.push(named);
                    obs
                }
                Err(e) => failed(name, input, e.to_string()),
            }
        }
        Err(e) => failed(name, input, e.to_string()),
    }
}

/// A crop box clamped to the image and, when its shorter side is under
/// `min_side`, scaled about its centre until that side is `min_side` (outward
/// to whole pixels). DeepEyes zooms this way, because a region under 28 px is
/// smaller than one Qwen2.5-VL patch; an aspect ratio over 100 is refused as
/// it refuses it.
fn grow_to_min_side(b: [f64; 4], min_side: f64, w: f64, h: f64) -> Result<[f64; 4], String> {
    let [x1, y1, x2, y2] = [b[0].max(0.0), b[1].max(0.0), b[2].min(w), b[3].min(h)];
    let check = |x1: f64, y1: f64, x2: f64, y2: f64| {
        let (bw, bh) = (x2 - x1, y2 - y1);
        if !(bw > 0.0 && bh > 0.0) || bw.max(bh) / bw.min(bh) > 100.0 {
            return Err(format!("ValueError: crop box [{x1}, {y1}, {x2}, {y2}] is empty or more than 100 times longer than wide"));
        }
        Ok(())
    };
    check(x1, y1, x2, y2)?;
    let (bw, bh) = (x2 - x1, y2 - y1);
    if bw >= min_side && bh >= min_side {
        return Ok([x1, y1, x2, y2]);
    }
    let ratio = min_side / bw.min(bh);
    let (hw, hh) = ((bw * ratio * 0.5).ceil(), (bh * ratio * 0.5).ceil());
    let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
    let grown = [(cx - hw).floor(), (cy - hh).floor(), (cx + hw).ceil(), (cy + hh).ceil()];
    check(grown[0], grown[1], grown[2], grown[3])?;
    Ok(grown)
}

fn failed(name: &str, input: &NamedImage, e: String) -> Observation {
    let mut obs = Observation::error(format!("Error in `{name}`: {e}"));
    obs.tools.push(ToolUse { name: name.into(), kind: ToolKind::Basic, input: Some(input.name.clone()), outputs: vec![], ok: false });
    obs
}

fn check_pixels(w: u32, h: u32, state: &EpisodeState) -> Result<(), String> {
    if w > state.limits.max_side || h > state.limits.max_side || w as u64 * h as u64 > state.limits.max_pixels {
        return Err(format!("MemoryError: a {w}x{h} result exceeds the image size limit"));
    }
    Ok(())
}

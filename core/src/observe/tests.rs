//! Pins the operator text: rendered from [`Evidence`], it must be byte for byte
//! what the model read before evidence existed (`frozen_text` is that code,
//! kept here unchanged as the reference).

use std::sync::Arc;

use serde_json::json;
use trutheye_plugin_api::{Map, MapRole, Output, Region};

use super::*;
use crate::evidence::{legacy_evidence_from_text, MapFate};
use crate::executor::ExecLimits;
use crate::registry::Registry;

/// The text `operator_observation` wrote before this change, verbatim.
fn frozen_text(state: &mut EpisodeState, op: &str, input: &NamedImage, out: &Output) -> String {
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
    let mut shown = false;
    for map in &out.maps {
        let Some(rgb) = map_to_rgb(map) else { continue };
        if map.role == MapRole::Visual && !shown {
            match state.add(ImageBuf::derived(rgb, "x"), None) {
                Ok(named) => {
                    text += &format!("\n{} map shown as {} ({}x{}).", map.name, named.name, map.width, map.height);
                    shown = true;
                }
                Err(e) => text += &format!("\n(map not shown: {e})"),
            }
        }
    }
    text
}

fn state(max_images: usize) -> EpisodeState {
    let img = Arc::new(ImageBuf::derived(RgbImage::new(64, 48), "test"));
    EpisodeState::new(vec![img], Arc::new(Registry::new()), ExecLimits { max_images, ..Default::default() })
}

fn region(bbox: [u32; 4], score: f32) -> Region {
    Region { bbox, score }
}

/// Operator outputs covering every branch of the text.
fn outputs() -> Vec<Output> {
    let visual = |name: &str| Map::visual(name, 4, 2, 1, vec![7; 8]);
    vec![
        Output { summary: "  nothing to report \n".into(), stats: json!({}), ..Default::default() },
        Output {
            summary: "Noise residual is uneven.".into(),
            stats: json!({"anomaly_z": 4.56789, "block": 32, "blocks": [4, 3], "label": "x", "nan": f64::NAN, "neg": -0.00041, "nested": {"a": 1.23456}}),
            regions: (0..7).map(|i| region([i, i, 10 + i, 12 + i], 4.46 - i as f32 * 0.55)).collect(),
            maps: vec![visual("residual"), Map::heatmap("heat", 2, 2, vec![0.0, 1.0, f32::NAN, 3.0]), visual("second")],
        },
        Output { summary: "odd".into(), stats: json!([1, 2]), regions: vec![region([0, 0, 5, 5], f32::NAN), region([1, 1, 2, 2], f32::INFINITY), region([2, 2, 3, 3], -0.04)], ..Default::default() },
        Output { summary: "bad map first".into(), stats: json!(null), maps: vec![Map::visual("broken", 4, 4, 1, vec![1; 3]), Map::mask("mask", 2, 1, vec![0, 255]), visual("ok")], ..Default::default() },
    ]
}

#[test]
fn text_rendered_from_evidence_is_the_text_of_before() {
    let root = |s: &EpisodeState| s.images[0].clone();
    let crop = NamedImage { region_in_root: Some([10, 20, 40, 44]), ..root(&state(64)) };
    let resized = NamedImage { name: "derived 32x24 image".into(), region_in_root: None, ..root(&state(64)) };
    for input in [None, Some(crop), Some(resized)] {
        // max_images 1: the episode is full, so a visual map is refused with a reason.
        for max_images in [64, 1] {
            for out in outputs() {
                let (mut before, mut after) = (state(max_images), state(max_images));
                let input = input.clone().unwrap_or_else(|| root(&before));
                let want = frozen_text(&mut before, "srm", &input, &out);
                let obs = operator_observation(&mut after, "srm", &input, out);
                assert_eq!(obs.text, want);
                assert_eq!(obs.evidence.len(), 1);
                assert_eq!(render_evidence(&obs.evidence[0]), want);
            }
        }
    }
}

#[test]
fn evidence_holds_what_the_text_shows() {
    let mut st = state(64);
    let input = st.images[0].clone();
    let out = outputs().swap_remove(1);
    let obs = operator_observation(&mut st, "srm", &input, out);
    let ev = &obs.evidence[0];
    assert_eq!(ev.number("anomaly_z"), Some(4.568));
    assert_eq!(ev.number("block"), Some(32.0));
    assert_eq!(ev.numbers().map(|(k, _)| k).collect::<Vec<_>>(), ["anomaly_z", "block", "neg"]);
    assert_eq!(ev.regions.len(), 5);
    assert_eq!(ev.regions[0].score, 4.5);
    assert_eq!(ev.root_regions().len(), 5);
    let fates: Vec<&MapFate> = ev.maps.iter().map(|m| &m.fate).collect();
    assert_eq!(fates, [&MapFate::Shown("image_clue_1".into()), &MapFate::Artifact("srm_heat".into()), &MapFate::Artifact("srm_second".into())]);
    // Read back as an old trajectory would be, the numbers and regions are the same.
    let legacy = legacy_evidence_from_text(&obs.text);
    assert_eq!(legacy.len(), 1);
    assert_eq!((&legacy[0].stats, &legacy[0].regions, legacy[0].frame), (&ev.stats, &ev.regions, ev.frame));
}

#[test]
fn maps_are_written_in_their_own_channels_and_shown_as_rgb() {
    let gray = Map::visual("v", 3, 2, 1, vec![0, 10, 20, 30, 40, 250]);
    let img = map_to_image(&gray).expect("gray map");
    assert_eq!(img.color(), image::ColorType::L8);
    assert_eq!(img.as_bytes(), &[0, 10, 20, 30, 40, 250]);
    let rgb = map_to_rgb(&gray).expect("shown as rgb");
    assert_eq!(rgb.get_pixel(2, 1).0, [250, 250, 250]);
    let colour = Map::visual("c", 1, 2, 3, vec![1, 2, 3, 4, 5, 6]);
    let img = map_to_image(&colour).expect("rgb map");
    assert_eq!((img.color(), img.as_bytes()), (image::ColorType::Rgb8, &[1u8, 2, 3, 4, 5, 6][..]));
    let bad = Map::visual("b", 3, 3, 1, vec![0; 4]);
    assert!(map_to_image(&bad).is_none(), "inconsistent map");
}

//! The verdict's mask: fused from the heat-maps of the operators the episode
//! ran on the whole image, restricted to the box the answer names, saved
//! through the host's sink, and absent for an authentic answer.

use std::sync::{Arc, Mutex};

use image::{GrayImage, Rgb, RgbImage};
use trutheye_core::fusion::FusionConfig;
use trutheye_core::{Action, AgentConfig, ArtifactSink, Episode, EpisodeState, Evidence, Executor, HeatGrid, ImageBuf, Observation, PolicyReply, RegionFrame, Registry};

/// Every action "runs" an operator whose heat-map is hot on blocks 8..12 × 4..7
/// of a 16×12 grid over the 320×240 image, i.e. pixels [160, 80, 240, 140].
struct HotPatch;

impl Executor for HotPatch {
    fn name(&self) -> &'static str {
        "registry"
    }
    fn execute(&mut self, _: &Action, _: &mut EpisodeState) -> Observation {
        let values: Vec<f32> = (0..16 * 12).map(|i| if (8..12).contains(&(i % 16)) && (4..7).contains(&(i / 16)) { 6.0 } else { ((i * 31) % 7) as f32 * 0.05 }).collect();
        let heat = HeatGrid::from_map("energy_z", 16, 12, &values, Some([0, 0, 320, 240]));
        let ev = Evidence { operator: "srm".into(), image: "image_clue_0".into(), summary: "s".into(), stats: Default::default(), regions: vec![], frame: RegionFrame::Root, maps: vec![], heat };
        Observation { text: "[srm on image_clue_0] s".into(), evidence: vec![ev], ..Default::default() }
    }
}

/// Keeps the masks it is asked to save.
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<GrayImage>>>);

impl ArtifactSink for Keep {
    fn save(&mut self, _: &str, _: usize, _: &str, _: &ImageBuf) -> Option<String> {
        None
    }
    fn save_mask(&mut self, _: &str, mask: &GrayImage) -> Option<String> {
        let mut v = self.0.lock().unwrap();
        v.push(mask.clone());
        Some(format!("mask-{}.png", v.len()))
    }
}

fn run(answer: &str) -> (trutheye_core::Trajectory, Vec<GrayImage>) {
    let mut cfg = AgentConfig::default_config();
    cfg.localization = FusionConfig { grid: 32, clip: 8.0, bias: -0.5, weights: [("srm".to_string(), 1.0)].into(), smooth: 0, largest_only: true, peak_fraction: 0.0, named_copy_as_mask: true };
    let image = Arc::new(ImageBuf::derived(RgbImage::from_pixel(320, 240, Rgb([90, 90, 90])), "photo.png"));
    let keep = Keep::default();
    let mut ep = Episode::new("e", &cfg, Box::new(HotPatch), vec![image], Arc::new(Registry::new())).with_sink(Box::new(keep.clone()));
    ep.step(&PolicyReply::text("<tool_call>{\"name\": \"srm\", \"arguments\": {}}</tool_call>"), 0);
    ep.step(&PolicyReply::text(answer), 0);
    let t = ep.into_trajectory("test");
    let masks = keep.0.lock().unwrap().clone();
    (t, masks)
}

/// Cells of the saved heat-map at or above 128 (the mask), in `image_clue_0` pixels.
fn masked_box(m: &GrayImage) -> [u32; 4] {
    let (sx, sy) = (320 / m.width(), 240 / m.height());
    let on: Vec<(u32, u32)> = m.enumerate_pixels().filter(|p| p.2 .0[0] >= 128).map(|p| (p.0, p.1)).collect();
    let (x1, y1) = (on.iter().map(|p| p.0).min().unwrap(), on.iter().map(|p| p.1).min().unwrap());
    let (x2, y2) = (on.iter().map(|p| p.0).max().unwrap() + 1, on.iter().map(|p| p.1).max().unwrap() + 1);
    [x1 * sx, y1 * sy, x2 * sx, y2 * sy]
}

#[test]
fn a_tampered_answer_without_a_box_gets_the_fused_mask_and_its_box() {
    let (t, masks) = run("<answer>tampered</answer>");
    assert_eq!(masks.len(), 1);
    assert_eq!(t.verdict.mask.as_deref(), Some("mask-1.png"));
    let b = t.verdict.bbox.expect("the fused box");
    assert!(b[0].abs_diff(160) <= 10 && b[1].abs_diff(80) <= 10 && b[2].abs_diff(240) <= 10 && b[3].abs_diff(140) <= 10, "{b:?}");
    assert_eq!(masked_box(&masks[0]), b, "the mask and the box name one region");
}

#[test]
fn the_mask_is_restricted_to_the_box_the_answer_names() {
    let (t, masks) = run("<answer>{\"label\": \"tampered\", \"bbox\": [200, 0, 320, 240]}</answer>");
    assert_eq!(t.verdict.bbox, Some([200, 0, 320, 240]));
    let m = masked_box(&masks[0]);
    assert!(m[0] >= 200 && m[2] <= 250, "only the part of the patch inside the answer's box: {m:?}");
    // A box away from every masked cell leaves no mask: the box is scored alone.
    let (t, masks) = run("<answer>{\"label\": \"tampered\", \"bbox\": [0, 0, 60, 60]}</answer>");
    assert!(masks.is_empty() && t.verdict.mask.is_none());
}

#[test]
fn an_authentic_answer_carries_no_mask() {
    let (t, masks) = run("<answer>authentic</answer>");
    assert!(masks.is_empty() && t.verdict.mask.is_none() && t.verdict.bbox.is_none());
}

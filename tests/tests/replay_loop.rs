//! Replayed model messages in the three tool styles (TruthEYE2 code tool calls,
//! PyVision `<code>`, ForenAgent registry calls) through the real parser,
//! executors and standard operators.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::executors::{HybridExecutor, RegistryExecutor};
use trutheye_core::{run_episode, AgentConfig, EpisodeInput, Executor, ImageBuf, NoArtifacts, Registry, Trajectory, VerdictLabel};
use trutheye_model::ReplayPolicy;
use trutheye_plugin_std::{jpeg_ghost::JpegGhost, srm::Srm};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

/// A noisy 256x192 "photo" with a noise-free 64x64 patch pasted at (128, 64).
fn spliced() -> Arc<ImageBuf> {
    let mut s = 99u32;
    let img = RgbImage::from_fn(256, 192, |x, y| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        let noise = ((s >> 27) as i32) - 16;
        let base = 60 + (x / 4 + y / 3) as i32;
        let v = if (128..192).contains(&x) && (64..128).contains(&y) { base } else { base + noise };
        let v = v.clamp(0, 255) as u8;
        Rgb([v, v, v])
    });
    Arc::new(ImageBuf::derived(img, "spliced.png"))
}

fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    r.register_native::<Srm>();
    r.register_native::<JpegGhost>();
    Arc::new(r)
}

fn replay(msgs: &[&str], exec: &mut dyn Executor) -> Trajectory {
    let mut p = ReplayPolicy::new(msgs.iter().map(|m| m.as_bytes().to_vec()).collect());
    run_episode(&mut p, exec, EpisodeInput { id: "replay".into(), images: vec![spliced()] }, &AgentConfig::default_config(), registry(), &mut NoArtifacts)
}

fn observation(t: &Trajectory, turn: usize) -> String {
    t.turns[turn].observation.as_ref().map(|o| o.text.clone()).unwrap_or_default()
}

#[test]
fn truetheye2_style_code_tool_calls_run_in_the_sandbox() {
    let t = replay(
        &[
            "<think>\nFirst I check the noise residual of the whole image.\n</think>\n<tool_call>\n{\"name\": \"code_image_tool\", \"arguments\": {\"code\": \"r = srm(image_clue_0)\\nprint(r['regions'][0])\", \"img_idx\": 0}}\n</tool_call>",
            "<think>The residual is flat around x=128..192. Crop it.</think>\n<tool_call>\n{\"name\": \"code_image_tool\", \"arguments\": {\"code\": \"crop = image_clue_0.crop((120, 56, 200, 136))\\nprint(crop.size)\\nresult = crop\", \"img_idx\": 0}}\n</tool_call>",
            "<think>The crop has no sensor noise at all: a pasted region.</think>\n<answer>tampered</answer>",
        ],
        &mut PvrExecutor::new(PvrLimits::default()),
    );
    assert!(!t.verdict.forced, "{:?}", t.verdict);
    assert_eq!(t.verdict.label, VerdictLabel::Tampered);
    assert!(observation(&t, 0).contains("[srm on image_clue_0]"), "{}", observation(&t, 0));
    assert!(observation(&t, 1).contains("(80, 80)"), "{}", observation(&t, 1));
    // TruthEYE2 derives the box from the crop.
    assert_eq!(t.verdict.bbox, Some([120, 56, 200, 136]));
}

#[test]
fn srm_finds_the_planted_patch_through_the_registry() {
    let t = replay(
        &[
            "<tool_call>{\"name\": \"srm\", \"arguments\": {\"image_index\": 0}}</tool_call>",
            "<answer>{\"label\": \"tampered\", \"bbox\": [128, 64, 192, 128]}</answer>",
        ],
        &mut RegistryExecutor,
    );
    let obs = t.turns[0].observation.as_ref().expect("observation");
    let b = obs.bbox_candidate.expect("srm reports a region");
    let (cx, cy) = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
    assert!((128..192).contains(&cx) && (64..128).contains(&cy), "srm's top region {b:?} is not on the noise-free patch");
    assert_eq!(t.verdict.bbox, Some([128, 64, 192, 128]));
    assert!(obs.tools.iter().any(|u| u.name == "srm" && u.ok));
}

#[test]
fn hybrid_mixes_code_and_tool_calls_in_one_episode() {
    let t = replay(
        &[
            "<code>\n```python\nw, h = image_clue_0.size\nprint(f'{w}x{h}')\nzoom = image_clue_0.crop((w // 2, h // 3, w // 2 + 64, h // 3 + 64)).resize((128, 128))\nplt.imshow(zoom)\nplt.show()\n```\n</code>",
            "<tool_call>{\"name\": \"srm\", \"arguments\": {\"image\": \"image_clue_1\"}}</tool_call>",
            "<answer>fake</answer>",
        ],
        &mut HybridExecutor::new(PvrExecutor::new(PvrLimits::default())),
    );
    assert!(observation(&t, 0).contains("256x192"), "{}", observation(&t, 0));
    assert!(observation(&t, 1).contains("[srm on image_clue_1]"), "{}", observation(&t, 1));
    assert_eq!(t.verdict.label, VerdictLabel::Fake);
    assert_eq!(t.stats.tool_calls, 2);
}

#[test]
fn hostile_code_is_an_observation_not_a_crash() {
    let t = replay(
        &[
            "<code>import os\nos.system('rm -rf /')</code>",
            "<code>().__class__.__bases__[0].__subclasses__()</code>",
            "<code>for i in range(10**9):\n    x = i * i</code>",
            "<answer>authentic</answer>",
        ],
        &mut PvrExecutor::new(PvrLimits::default()),
    );
    let errs: Vec<String> = (0..3).map(|i| t.turns[i].observation.as_ref().and_then(|o| o.error.clone()).unwrap_or_default()).collect();
    assert!(errs[0].contains("ImportError"), "{errs:?}");
    assert!(errs[1].contains("not allowed") || errs[1].contains("AttributeError"), "{errs:?}");
    assert!(errs[2].contains("TimeoutError") || errs[2].contains("MemoryError"), "{errs:?}");
    assert_eq!(t.verdict.label, VerdictLabel::Authentic);
}

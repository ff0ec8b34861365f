//! Shared test fixtures: a 64x48 gradient image and a tiny in-process operator.
#![allow(dead_code)]

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::{Action, CodeSource, EpisodeState, ExecLimits, ImageBuf, Observation, Registry};
use trutheye_plugin_api::{ImageRef, Map, RawOperator, Output, Region, OperatorError};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

/// Pixel (x, y) of the test image is `[4x, 5y, x + y]`.
pub fn gradient() -> RgbImage {
    RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, (x + y) as u8]))
}

/// `blocky(image, scale=1.0)`: reports the mean red level, shows a grey map and
/// one region at [2, 3, 10, 12] of its input.
#[derive(Default)]
pub struct Blocky;

impl RawOperator for Blocky {
    const NAME: &'static str = "blocky";
    const DESCRIPTION: &'static str = "test operator";
    const CATEGORY: &'static str = "statistics";
    fn params_schema() -> serde_json::Value {
        serde_json::json!({"type": "object", "properties": {"scale": {"type": "number"}}, "additionalProperties": false})
    }
    fn run(&self, image: &ImageRef<'_>, params: &serde_json::Value) -> Result<Output, OperatorError> {
        let scale = params.get("scale").and_then(|v| v.as_f64()).unwrap_or(1.0);
        let n = (image.width * image.height).max(1);
        let mean_r = image.rgb.chunks(3).map(|p| p[0] as f64).sum::<f64>() / n as f64 * scale;
        let grey: Vec<u8> = image.rgb.chunks(3).map(|p| p[1]).collect();
        Ok(Output {
            summary: format!("mean red {mean_r:.1}"),
            stats: serde_json::json!({"mean_r": (mean_r * 10.0).round() / 10.0, "n": n}),
            maps: vec![Map::visual("green", image.width, image.height, 1, grey)],
            regions: vec![Region { bbox: [2, 3, 10, 12], score: 3.5 }],
        })
    }
}

/// A fresh episode with the gradient as `image_clue_0` and `blocky` registered.
pub fn state_with(limits: ExecLimits) -> EpisodeState {
    let mut registry = Registry::new();
    registry.register_native::<Blocky>();
    EpisodeState::new(vec![Arc::new(ImageBuf::derived(gradient(), "test"))], Arc::new(registry), limits)
}

/// Default episode.
pub fn state() -> EpisodeState {
    state_with(ExecLimits::default())
}

/// A code action.
pub fn code(src: &str) -> Action {
    Action::Code { code: src.to_string(), image_index: None, source: CodeSource::Tag }
}

/// Runs one snippet in a fresh episode.
pub fn run(src: &str) -> (Observation, EpisodeState) {
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits::default());
    let obs = trutheye_core::Executor::execute(&mut ex, &code(src), &mut st);
    (obs, st)
}

/// Runs a snippet that must succeed; returns its text.
pub fn ok(src: &str) -> String {
    let (obs, _) = run(src);
    assert!(obs.error.is_none(), "unexpected error for\n{src}\n---\n{}", obs.text);
    obs.text
}

/// Runs a snippet that must fail with an error starting with `prefix`.
pub fn fails(src: &str, prefix: &str) -> Observation {
    let (obs, _) = run(src);
    let e = obs.error.clone().unwrap_or_else(|| panic!("expected {prefix} for\n{src}\n---\ngot success: {}", obs.text));
    assert!(e.starts_with(prefix), "expected {prefix} for\n{src}\n---\ngot: {e}");
    assert!(obs.text.ends_with(&e), "the error line ends the text: {}", obs.text);
    obs
}

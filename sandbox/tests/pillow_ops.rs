//! The interpreter's image operations against Pillow 13.0.0, to the uint8.
//!
//! `tests/pillow_ops/make_fixtures.py` ran each case's snippet with real
//! Pillow and saved `result`; here the same snippet runs in the embedded
//! interpreter on the same input PNG and every byte must match. Python is not
//! needed at test time: the fixtures are committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use trutheye_core::{Action, CodeSource, EpisodeState, ExecLimits, Executor, ImageBuf, Registry};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pillow_ops")
}

fn load(name: &str) -> RgbImage {
    let path = dir().join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

/// Runs `code` on `input` in a fresh episode; returns the printed mode and the
/// image the snippet left in `result`, or the interpreter's error.
fn run(input: &RgbImage, code: &str) -> Result<(String, RgbImage), String> {
    let img = Arc::new(ImageBuf::derived(input.clone(), "fixture"));
    let mut st = EpisodeState::new(vec![img], Arc::new(Registry::new()), ExecLimits::default());
    let mut ex = PvrExecutor::new(PvrLimits::default());
    let action = Action::Code { code: format!("{code}\nprint(result.mode)"), image_index: None, source: CodeSource::Tag };
    let obs = ex.execute(&action, &mut st);
    if let Some(e) = obs.error {
        return Err(e);
    }
    let mode = obs.text.lines().next().unwrap_or_default().to_string();
    // `result` is shown after the code ran, so it is the newest episode image.
    match st.images.len() {
        1 => Err("no image was shown".into()),
        _ => Ok((mode, (*st.images[st.images.len() - 1].image.rgb).clone())),
    }
}

#[test]
fn image_ops_equal_pillow_13() {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).expect("manifest.json")).expect("manifest is JSON");
    let inputs: BTreeMap<String, RgbImage> = manifest["inputs"]
        .as_object()
        .expect("inputs")
        .iter()
        .map(|(k, v)| (k.clone(), load(v.as_str().expect("input file"))))
        .collect();
    // Per op: (pixels compared, pixels differing).
    let mut per_op: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in manifest["cases"].as_array().expect("cases") {
        let s = |k: &str| case[k].as_str().unwrap_or_default().to_string();
        let (name, op, code) = (s("name"), s("op"), s("code"));
        let want = load(&s("file"));
        let n = want.width() as u64 * want.height() as u64;
        let diff = match run(&inputs[&s("input")], &code) {
            Err(e) => {
                failures.push(format!("{name} `{code}`: error {e}"));
                n
            }
            Ok((mode, got)) if got.dimensions() != want.dimensions() => {
                failures.push(format!("{name} `{code}`: size {:?}, Pillow {:?} (mode {mode})", got.dimensions(), want.dimensions()));
                n
            }
            Ok((mode, got)) => {
                let d = got.pixels().zip(want.pixels()).filter(|(a, b)| a != b).count() as u64;
                let max = got.iter().zip(want.iter()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
                if d > 0 {
                    failures.push(format!("{name} `{code}`: {d}/{n} pixels differ (max |diff| {max})"));
                }
                if mode != s("mode") {
                    failures.push(format!("{name} `{code}`: mode {mode}, Pillow {}", s("mode")));
                }
                d
            }
        };
        let e = per_op.entry(op).or_default();
        e.0 += n;
        e.1 += diff;
    }
    for (op, (n, d)) in &per_op {
        println!("{op:8} {d:6}/{n:6} pixels differ from Pillow ({:.1}%)", 100.0 * *d as f64 / *n as f64);
    }
    assert!(failures.is_empty(), "{} case(s) differ from Pillow {}:\n{}", failures.len(), manifest["pillow"], failures.join("\n"));
}

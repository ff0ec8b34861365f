//! The registry's basic tools (zoom, rotate, enhance) give Pillow 13's pixels:
//! each case calls the tool as a model would and compares every byte with the
//! Pillow output that the sandbox's `pillow_ops` test holds the interpreter
//! to, for the fixture whose snippet is the same operation. So a tool call and
//! the same operation written as Python agree, and both agree with Pillow.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use serde_json::{json, Value};
use trutheye_core::executors::run_basic_tool;
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, Registry};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/tests/pillow_ops")
}

fn load(name: &str) -> RgbImage {
    let path = dir().join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

/// Runs basic tool `tool` with `args` on fixture input `input`; returns the new image.
fn tool(input: &str, name: &str, args: Value) -> RgbImage {
    let img = Arc::new(ImageBuf::derived(load(&format!("input_{input}.png")), "fixture"));
    let mut st = EpisodeState::new(vec![img], Arc::new(Registry::new()), ExecLimits::default());
    let input = st.images[0].clone();
    let obs = run_basic_tool(name, &args, &input, &mut st);
    assert!(obs.error.is_none(), "{name} {args}: {:?}", obs.error);
    (*obs.images[0].image.rgb).clone()
}

#[test]
fn zoom_rotate_enhance_equal_pillow_fixtures() {
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).expect("manifest.json")).expect("JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    // (fixture case, the Pillow snippet it ran, tool, tool arguments)
    let table: &[(&str, &str, &str, Value)] = &[
        ("resize_021", "result = image.resize((50, 31), Image.BICUBIC)", "zoom", json!({"scale": 50.0 / 37.0})),
        ("resize_022", "result = image.resize((23, 17), Image.BICUBIC)", "zoom", json!({"scale": 23.0 / 48.0})),
        ("rotate_072", "result = image.rotate(30, resample=Image.NEAREST)", "rotate", json!({"angle": 30})),
        ("rotate_073", "result = image.rotate(-17.5, resample=Image.NEAREST, expand=True)", "rotate", json!({"angle": -17.5, "expand": true})),
        ("rotate_081", "result = image.rotate(45)", "rotate", json!({"angle": 45})),
        ("rotate_083", "result = image.rotate(90)", "rotate", json!({"angle": 90})),
        ("rotate_084", "result = image.rotate(90, expand=True)", "rotate", json!({"angle": 90, "expand": true})),
        ("rotate_085", "result = image.rotate(180)", "rotate", json!({"angle": 180})),
        ("rotate_086", "result = image.rotate(-90, expand=True)", "rotate", json!({"angle": -90, "expand": true})),
        ("enhance_036", "result = ImageEnhance.Brightness(image).enhance(0.3)", "enhance", json!({"kind": "brightness", "factor": 0.3})),
        ("enhance_040", "result = ImageEnhance.Brightness(image).enhance(2.3)", "enhance", json!({"kind": "brightness", "factor": 2.3})),
        ("enhance_046", "result = ImageEnhance.Contrast(image).enhance(0.77)", "enhance", json!({"kind": "contrast", "factor": 0.77})),
        ("enhance_071", "result = ImageEnhance.Contrast(image).enhance(3)", "enhance", json!({"kind": "contrast", "factor": 3})),
        ("enhance_053", "result = ImageEnhance.Color(image).enhance(0.0)", "enhance", json!({"kind": "color", "factor": 0.0})),
        ("enhance_057", "result = ImageEnhance.Color(image).enhance(1.5)", "enhance", json!({"kind": "color", "factor": 1.5})),
        ("enhance_063", "result = ImageEnhance.Sharpness(image).enhance(0.3)", "enhance", json!({"kind": "sharpness", "factor": 0.3})),
        ("enhance_069", "result = ImageEnhance.Sharpness(image).enhance(1.8)", "enhance", json!({"kind": "sharpness", "factor": 1.8})),
    ];
    let mut failures = Vec::new();
    for (case, code, name, args) in table {
        let c = cases.iter().find(|c| c["name"] == *case).unwrap_or_else(|| panic!("no fixture case {case}"));
        // The mapping is only evidence if the fixture ran the snippet we name.
        assert_eq!(c["code"], *code, "{case} ran other code");
        let want = load(c["file"].as_str().expect("file"));
        let got = tool(c["input"].as_str().expect("input"), name, args.clone());
        if got.dimensions() != want.dimensions() {
            failures.push(format!("{case} {name} {args}: size {:?}, Pillow {:?}", got.dimensions(), want.dimensions()));
        } else if got != want {
            let d = got.pixels().zip(want.pixels()).filter(|(a, b)| a != b).count();
            failures.push(format!("{case} {name} {args}: {d} pixels differ from Pillow"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

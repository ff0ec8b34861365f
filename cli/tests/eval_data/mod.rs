//! What the `trutheye eval` tests share: the binary, a small labelled dataset of
//! noisy JPEGs (with pasted squares and masks on tampered ones) and the
//! predictions of a run directory read back by key.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use image::{GrayImage, Luma, Rgb, RgbImage};
use serde_json::Value;

/// The `trutheye` binary under test, with no plugin path or log level from outside.
pub fn trutheye() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trutheye"));
    c.env_remove("TRUTHEYE_PLUGIN_PATH").env_remove("RUST_LOG");
    c
}

/// Samples in the dataset.
pub const N: usize = 12;
/// Big enough that 48 episodes take a good second, so the kill lands mid-run.
const W: u32 = 448;
const H: u32 = 384;

/// `N` noisy JPEGs (every third has a smooth pasted square and a mask) and one bad row.
pub fn dataset(dir: &Path) {
    std::fs::create_dir_all(dir.join("img")).expect("mkdir");
    let mut lines = Vec::new();
    let mut seed = 11u32;
    for i in 0..N {
        let label = ["authentic", "synthetic", "tampered"][i % 3];
        let pasted = |x: u32, y: u32| label == "tampered" && (160..320).contains(&x) && (96..256).contains(&y);
        let img = RgbImage::from_fn(W, H, |x, y| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let n = if pasted(x, y) { 0 } else { (seed >> 27) as i32 - 16 };
            let v = ((x / 2 + y / 2 + i as u32 * 5) as i32 + n).clamp(0, 255) as u8;
            Rgb([v, v / 2 + 40, 255 - v])
        });
        img.save(dir.join(format!("img/{i}.jpg"))).expect("save");
        let (mask, bbox) = if label == "tampered" {
            GrayImage::from_fn(W, H, |x, y| Luma([if pasted(x, y) { 255 } else { 0 }])).save(dir.join(format!("img/{i}_m.png"))).expect("save");
            (format!("\"img/{i}_m.png\""), "[160,96,320,256]")
        } else {
            ("null".to_string(), "null")
        };
        lines.push(format!(r#"{{"id":"s{i}","image":"img/{i}.jpg","label":"{label}","mask":{mask},"bbox":{bbox},"method":"m{}"}}"#, i % 2));
    }
    lines.insert(3, r#"{"id":"x","image":"img/none.jpg","label":"tampered","mask":null,"bbox":null}"#.into());
    std::fs::write(dir.join("manifest.jsonl"), lines.join("\n") + "\n").expect("write manifest");
}

/// `eval` flags of the runs the tests compare.
pub fn eval_args<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["eval", "--data", data, "--out", out, "--strategy", "registry,none", "--jobs", "1", "--baselines", "--baseline-ops", "srm,ela"]
}

/// Each prediction's (label, bbox, scores) by (policy, strategy, id).
pub type Answers = BTreeMap<(String, String, String), (Value, Value, Value)>;

/// Every prediction by key, and the number of lines (duplicates would make it larger).
pub fn answers(out: &Path) -> (Answers, usize) {
    let text = std::fs::read_to_string(out.join("predictions.jsonl")).expect("predictions");
    let mut map = BTreeMap::new();
    let mut n = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("complete JSON line");
        assert!(v["error"].is_null(), "{line}");
        let key = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        map.insert((key("policy"), key("strategy"), key("id")), (v["label"].clone(), v["bbox"].clone(), v["scores"].clone()));
        n += 1;
    }
    (map, n)
}

/// Lines in a file (0 when missing).
pub fn lines_in(p: &Path) -> usize {
    std::fs::read_to_string(p).map(|t| t.lines().count()).unwrap_or(0)
}


/// The dataset under `tmp/data` and one unsharded run of it in `tmp/full`
/// (plan order: `--jobs 1`); returns the data path and the run directory.
pub fn dataset_and_full_run(tmp: &Path) -> (String, std::path::PathBuf) {
    let data = tmp.join("data");
    dataset(&data);
    let data_s = data.to_str().expect("utf-8").to_string();
    let full = tmp.join("full");
    let o = trutheye().args(eval_args(&data_s, full.to_str().expect("utf-8"))).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (data_s, full)
}

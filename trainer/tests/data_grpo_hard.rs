//! `data grpo` (exact prompts and solution fields) and `data hard` (group accuracy
//! over two runs, thresholds, per-class counts, the manifest subset loads back).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde_json::json;
use trutheye_core::{AgentConfig, Registry, Strategy};
use trutheye_trainer::data::grpo::{GrpoArgs, GrpoSample};
use trutheye_trainer::data::hard::HardArgs;
use trutheye_trainer::data::SwiftMessage;
use trutheye_eval::Dataset;

const MANIFEST: &str = "{\"id\":\"a\",\"image\":\"images/a.png\",\"label\":\"tampered\",\"mask\":null,\"bbox\":[4,2,8,6],\"method\":\"splice\"}\n\
{\"id\":\"b\",\"image\":\"images/b.png\",\"label\":\"authentic\",\"mask\":null,\"bbox\":null}\n\
{\"id\":\"c\",\"image\":\"images/c.png\",\"label\":\"synthetic\",\"mask\":null,\"bbox\":null}\n\
{\"id\":\"d\",\"image\":\"images/d.png\",\"label\":\"authentic\",\"mask\":null,\"bbox\":null}\n\
{\"id\":\"e\",\"image\":\"images/e.png\",\"label\":\"authentic\",\"mask\":null,\"bbox\":null}\n\
{\"id\":\"gone\",\"image\":\"images/gone.png\",\"label\":\"authentic\",\"mask\":null,\"bbox\":null}\n";

fn dataset(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("images")).expect("mkdir");
    for id in ["a", "b", "c", "d", "e"] {
        RgbImage::from_pixel(16, 12, Rgb([70, 80, 90])).save(dir.join(format!("images/{id}.png"))).expect("save");
    }
    let m = dir.join("manifest.jsonl");
    std::fs::write(&m, MANIFEST).expect("manifest");
    m
}

fn abs(p: PathBuf) -> String {
    p.canonicalize().expect("exists").to_string_lossy().into_owned()
}

fn read_rows(p: &Path) -> Vec<GrpoSample> {
    std::fs::read_to_string(p).expect("out").lines().map(|l| serde_json::from_str(l).expect("row")).collect()
}

#[test]
fn grpo_prompts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dataset(dir.path());
    let out = dir.path().join("grpo.jsonl");
    let args = GrpoArgs { data: manifest, out: out.clone(), strategy: Strategy::Registry, config: None };
    let r = trutheye_trainer::data::grpo::run(&args, &Registry::new()).expect("run");
    assert_eq!((r.read, r.kept), (6, 5));
    assert_eq!(r.dropped, BTreeMap::from([("bad manifest row".to_string(), 1)]));
    let rows = read_rows(&out);
    let cfg = AgentConfig::default_config();
    let user = format!("<image>{}", cfg.prompts.user.replace("{images}", "- image_clue_0: 16x12 px, png").trim());
    let system = rows[0].messages[0].content.clone();
    assert!(system.starts_with("You are a forensic image analyst with a fixed toolbox."), "{system}");
    assert_eq!(
        rows[0],
        GrpoSample {
            messages: vec![SwiftMessage::new("system", system.clone()), SwiftMessage::new("user", user)],
            images: vec![abs(dir.path().join("images/a.png"))],
            solution: "tampered".into(),
            bbox: Some([4, 2, 8, 6]),
            id: "a".into(),
        }
    );
    assert_eq!(rows.iter().map(|s| (s.id.as_str(), s.solution.as_str(), s.bbox.is_some())).collect::<Vec<_>>(), vec![
        ("a", "tampered", true),
        ("b", "authentic", false),
        ("c", "synthetic", false),
        ("d", "authentic", false),
        ("e", "authentic", false),
    ]);
    // The null box is written as JSON null, which ms-swift passes to the reward function.
    assert!(std::fs::read_to_string(&out).expect("out").lines().nth(1).is_some_and(|l| l.contains("\"bbox\":null")));
}

fn prediction(id: &str, label: Option<&str>, truth: &str, error: Option<&str>) -> String {
    json!({"id": id, "policy": "scripted", "strategy": "pvr", "label": label, "scores": null, "bbox": null, "mask": null,
           "error": error, "truth": {"label": truth, "bbox": null, "mask": null}, "forced": false, "turns": 1,
           "tool_calls": 0, "format_errors": 0, "wall_ms": 1, "tools_used": []})
    .to_string()
        + "\n"
}

/// Two runs: a 0/2 (one error row), b 1/2, c one rollout, d 2/2, e none; `zz` is unknown.
fn runs(dir: &Path) -> Vec<PathBuf> {
    let (r1, r2) = (dir.join("run1"), dir.join("run2"));
    std::fs::create_dir_all(&r1).expect("mkdir");
    std::fs::create_dir_all(&r2).expect("mkdir");
    let run1 = [
        prediction("a", Some("authentic"), "tampered", None),
        prediction("b", Some("authentic"), "authentic", None),
        prediction("c", Some("authentic"), "synthetic", None),
        prediction("d", Some("authentic"), "authentic", None),
        prediction("zz", Some("authentic"), "authentic", None),
    ];
    let run2 = [
        prediction("a", None, "tampered", Some("policy failed")),
        prediction("b", Some("synthetic"), "authentic", None),
        prediction("d", Some("real"), "authentic", None),
    ];
    std::fs::write(r1.join("predictions.jsonl"), run1.concat()).expect("write");
    std::fs::write(r2.join("predictions.jsonl"), run2.concat()).expect("write");
    vec![r1, r2]
}

fn hard_args(dir: &Path, manifest: PathBuf, max: f64, out: PathBuf, grpo: Option<PathBuf>) -> HardArgs {
    HardArgs { runs: runs(dir), data: manifest, max_accuracy: max, min_rollouts: 2, include_baselines: true, out, grpo, strategy: Strategy::Pvr, config: None }
}

#[test]
fn hard_mining_beside_the_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dataset(dir.path());
    let out = dir.path().join("hard.jsonl");
    let grpo = dir.path().join("hard-grpo.jsonl");
    let reports = trutheye_trainer::data::hard::run(&hard_args(dir.path(), manifest, 0.5, out.clone(), Some(grpo.clone())), &Registry::new()).expect("run");
    let r = &reports[0];
    assert_eq!((r.read, r.kept), (5, 2));
    assert_eq!(r.dropped, BTreeMap::from([("accuracy above max".to_string(), 1), ("no rollouts".to_string(), 1), ("too few rollouts".to_string(), 1)]));
    assert_eq!(r.notes, BTreeMap::from([("rollouts read".to_string(), 8), ("rollouts with ids not in the dataset".to_string(), 1)]));
    let class = |k: &str, kept: usize, dropped: usize| {
        let mut m = BTreeMap::new();
        if kept > 0 {
            m.insert("kept".to_string(), kept);
        }
        if dropped > 0 {
            m.insert("dropped".to_string(), dropped);
        }
        (k.to_string(), m)
    };
    assert_eq!(r.by_class, BTreeMap::from([class("authentic", 1, 2), class("synthetic", 0, 1), class("tampered", 1, 0)]));
    // Beside the manifest: the original lines, byte for byte.
    let lines: Vec<&str> = MANIFEST.lines().collect();
    assert_eq!(std::fs::read_to_string(&out).expect("out"), format!("{}\n{}\n", lines[0], lines[1]));
    let back = Dataset::load(&out).expect("loads");
    assert_eq!(back.samples.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(reports[1].kept, 2);
    assert_eq!(read_rows(&grpo).iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
}

#[test]
fn hard_mining_elsewhere_rewrites_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dataset(dir.path());
    let out = dir.path().join("mined/hard.jsonl");
    let reports = trutheye_trainer::data::hard::run(&hard_args(dir.path(), manifest, 0.34, out.clone(), None), &Registry::new()).expect("run");
    assert_eq!(reports.len(), 1);
    assert_eq!((reports[0].read, reports[0].kept), (5, 1));
    assert_eq!(reports[0].dropped.get("accuracy above max"), Some(&2));
    let line: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&out).expect("out").trim()).expect("json");
    assert_eq!(
        line,
        json!({"id": "a", "image": abs(dir.path().join("images/a.png")), "label": "tampered", "mask": null, "bbox": [4, 2, 8, 6], "method": "splice"})
    );
    let back = Dataset::load(&out).expect("loads");
    assert_eq!(back.samples.len(), 1);
    assert!(back.bad_rows.is_empty());
}

#[test]
fn baselines_are_left_out_unless_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dataset(dir.path());
    let mut args = hard_args(dir.path(), manifest, 0.5, dir.path().join("h.jsonl"), None);
    // A third run holding two wrong baseline rows for e (which has no agent rollouts).
    let r3 = dir.path().join("run3");
    std::fs::create_dir_all(&r3).expect("mkdir");
    let base = |id: &str| prediction(id, Some("tampered"), "authentic", None).replace("\"strategy\":\"pvr\"", "\"strategy\":\"baseline\"");
    std::fs::write(r3.join("predictions.jsonl"), [base("e"), base("e")].concat()).expect("write");
    args.runs.push(r3);
    let with = trutheye_trainer::data::hard::run(&args, &Registry::new()).expect("run");
    assert_eq!(with[0].kept, 3, "e: 0/2 baseline rollouts make it hard");
    args.include_baselines = false;
    let without = trutheye_trainer::data::hard::run(&args, &Registry::new()).expect("run");
    assert_eq!(without[0].kept, 2);
    assert_eq!(without[0].notes.get("baseline rows skipped"), Some(&2));
    assert_eq!(without[0].dropped.get("no rollouts"), Some(&1));
}

#[test]
fn bad_threshold_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dataset(dir.path());
    let err = trutheye_trainer::data::hard::run(&hard_args(dir.path(), manifest, 1.5, dir.path().join("h.jsonl"), None), &Registry::new()).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("--max-accuracy must be between 0 and 1 (got 1.5)"));
}

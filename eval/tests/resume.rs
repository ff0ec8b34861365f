//! A run interrupted mid-way (episodes failing after K, then a cut-off last
//! line) and resumed ends with every (policy, strategy, id) exactly once and the
//! same answers as an uninterrupted run.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use common::{write_sample, FakeFactory};
use trutheye_eval::{read_predictions, run_eval, write_reports, Dataset, RunOptions};

fn dataset(dir: &Path) -> Dataset {
    let mut lines = Vec::new();
    for (i, label) in ["authentic", "synthetic", "tampered", "authentic", "synthetic", "tampered", "tampered"].iter().enumerate() {
        lines.push(write_sample(dir, &format!("s{i}"), label));
    }
    std::fs::write(dir.join("manifest.jsonl"), lines.join("\n") + "\n").expect("write manifest");
    Dataset::load(&dir.join("manifest.jsonl")).expect("loads")
}

fn opts(out: &Path, resume: bool) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        policies: vec!["color".into()],
        strategies: vec!["none".into(), "alt".into()],
        jobs: 2,
        limit: None,
        resume,
        shard: None,
        baselines: None,
        progress: false,
        args: serde_json::json!({}),
    }
}

type Answers = BTreeMap<(String, String, String), (Option<String>, Option<[u32; 4]>)>;

fn answers(out: &Path) -> (Answers, usize) {
    let preds = read_predictions(&out.join("predictions.jsonl")).expect("reads").predictions;
    let n = preds.len();
    let map = preds.into_iter().map(|p| (p.key(), (p.label.map(|l| l.as_str().to_string()), p.bbox))).collect();
    (map, n)
}

#[test]
fn killed_then_resumed_equals_uninterrupted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(&tmp.path().join("data"));
    assert_eq!(ds.samples.len(), 7);

    let full = tmp.path().join("full");
    let s = run_eval(&ds, &FakeFactory::new(None), &opts(&full, false)).expect("full run");
    assert_eq!((s.planned, s.ran, s.errors), (14, 14, 0));
    let (expected, n) = answers(&full);
    assert_eq!(n, 14);
    assert_eq!(expected.values().filter(|a| a.0.as_deref() == Some("tampered")).count(), 6);

    // Interrupted run: the "process" dies after 5 episodes (the rest fail) ...
    let cut = tmp.path().join("cut");
    let s = run_eval(&ds, &FakeFactory::new(Some(5)), &opts(&cut, false)).expect("crashing run still writes");
    assert_eq!(s.errors, 9);
    // ... and the last write was cut mid-line: keep 4 complete lines plus half of the 5th.
    let text = std::fs::read_to_string(cut.join("predictions.jsonl")).expect("read");
    let ok_lines: Vec<&str> = text.lines().filter(|l| l.contains("\"error\":null")).collect();
    assert_eq!(ok_lines.len(), 5);
    let truncated = format!("{}\n{}", ok_lines[..4].join("\n"), &ok_lines[4][..ok_lines[4].len() / 2]);
    std::fs::write(cut.join("predictions.jsonl"), truncated).expect("write");

    // Without --resume the directory is refused.
    let err = run_eval(&ds, &FakeFactory::new(None), &opts(&cut, false)).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");

    let s = run_eval(&ds, &FakeFactory::new(None), &opts(&cut, true)).expect("resume");
    assert_eq!((s.skipped, s.ran, s.errors), (4, 10, 0));
    let (got, n) = answers(&cut);
    assert_eq!(n, 14, "each key exactly once");
    assert_eq!(got, expected);

    // Trajectories: one per prediction, no duplicates, no cut-off line.
    let traj = std::fs::read_to_string(cut.join("trajectories.jsonl")).expect("read");
    let keys: HashSet<(String, String, String)> = traj
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("complete trajectory line");
            let f = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (f("policy"), f("strategy"), f("id"))
        })
        .collect();
    assert_eq!((traj.lines().count(), keys.len()), (14, 14));

    // A second resume has nothing left to do; reports render from the files.
    let s = run_eval(&ds, &FakeFactory::new(None), &opts(&cut, true)).expect("resume again");
    assert_eq!((s.skipped, s.ran), (14, 0));
    let m = write_reports(&cut, Some(&ds), None).expect("reports");
    let g = &m.groups[0];
    assert_eq!(g.three_class.as_ref().map(|t| t.accuracy), Some(1.0));
    assert_eq!(g.localization.bbox_iou, Some(1.0));
    assert_eq!(g.localization.pixel_f1_fixed, Some(1.0));
    for f in ["metrics.json", "report.md", "report.html", "run.json"] {
        assert!(cut.join(f).is_file(), "{f}");
    }
}

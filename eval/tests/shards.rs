//! Sharded runs at the library level: shards partition the plan, a shard
//! refuses to resume under a changed plan or a different shard, and merging
//! gives the unsharded run's predictions in the unsharded run's order.

mod common;

use std::path::Path;

use common::{write_sample, FakeFactory};
use trutheye_eval::{merge_shards, read_predictions, run_eval, Dataset, RunOptions, Shard};

fn dataset(dir: &Path) -> Dataset {
    let lines: Vec<String> = (0..10).map(|i| write_sample(dir, &format!("s{i}"), ["authentic", "synthetic", "tampered"][i % 3])).collect();
    std::fs::write(dir.join("manifest.jsonl"), lines.join("\n") + "\n").expect("write manifest");
    Dataset::load(&dir.join("manifest.jsonl")).expect("loads")
}

fn opts(out: &Path, shard: Option<Shard>, resume: bool, limit: Option<usize>) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        policies: vec!["color".into()],
        strategies: vec!["none".into(), "alt".into()],
        jobs: 1,
        limit,
        resume,
        shard,
        baselines: None,
        progress: false,
        args: serde_json::json!({}),
    }
}

fn keys(dir: &Path) -> Vec<(String, String, String)> {
    read_predictions(&dir.join("predictions.jsonl")).expect("reads").predictions.iter().map(|p| p.key()).collect()
}

#[test]
fn shards_partition_resume_safely_and_merge_in_plan_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(&tmp.path().join("data"));
    let full = tmp.path().join("full");
    run_eval(&ds, &FakeFactory::new(None), &opts(&full, None, false, None)).expect("full run");
    let want = keys(&full);
    assert_eq!(want.len(), 20);

    let dirs: Vec<_> = (0..4).map(|i| tmp.path().join(format!("shard{i}"))).collect();
    let mut sizes = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let s = run_eval(&ds, &FakeFactory::new(None), &opts(d, Some(Shard { index: i, count: 4 }), false, None)).expect("shard");
        assert_eq!(s.plan_jobs, Some(20));
        sizes.push(s.planned);
    }
    assert_eq!(sizes, vec![5, 5, 5, 5], "round-robin shards are even");

    // Resuming needs the same shard and the same plan.
    let err = run_eval(&ds, &FakeFactory::new(None), &opts(&dirs[1], Some(Shard { index: 2, count: 4 }), true, None)).unwrap_err().to_string();
    assert!(err.contains("holds shard 1/4"), "{err}");
    let err = run_eval(&ds, &FakeFactory::new(None), &opts(&dirs[1], Some(Shard { index: 1, count: 4 }), true, Some(6))).unwrap_err().to_string();
    assert!(err.contains("plan changed"), "{err}");
    let err = run_eval(&ds, &FakeFactory::new(None), &opts(&dirs[1], None, true, None)).unwrap_err().to_string();
    assert!(err.contains("--shard 1/4"), "{err}");
    let err = run_eval(&ds, &FakeFactory::new(None), &opts(&full, Some(Shard { index: 0, count: 4 }), true, None)).unwrap_err().to_string();
    assert!(err.contains("unsharded run"), "{err}");
    let s = run_eval(&ds, &FakeFactory::new(None), &opts(&dirs[1], Some(Shard { index: 1, count: 4 }), true, None)).expect("resume");
    assert_eq!((s.skipped, s.ran), (5, 0));

    let merged = tmp.path().join("merged");
    let m = merge_shards(&dirs, &merged).expect("merge");
    assert_eq!((m.shards, m.jobs, m.failed, m.trajectories), (4, 20, 0, 20));
    assert_eq!(keys(&merged), want, "the unsharded run's predictions, in its order");
}

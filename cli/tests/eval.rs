//! `trutheye eval` end to end with the real binary and plugins: a run killed
//! with SIGKILL in the middle and resumed ends with every (policy, strategy,
//! image) exactly once and the same answers as an uninterrupted run; reports,
//! heat-maps, `eval report` and `eval compare` work on the result.

mod eval_data;

use std::process::Stdio;
use std::time::{Duration, Instant};

use eval_data::{answers, dataset, eval_args, lines_in, trutheye, N};
use serde_json::Value;

#[test]
fn killed_run_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    dataset(&data);
    let data_s = data.to_str().expect("utf-8");
    let total = N * 2 + N * 2;

    let full = tmp.path().join("full");
    let o = trutheye().args(eval_args(data_s, full.to_str().expect("utf-8"))).output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("1 dataset row(s) skipped") && err.contains("line 4"), "{err}");
    let table = String::from_utf8_lossy(&o.stdout);
    for row in ["| scripted/registry |", "| scripted/none |", "| op:srm |", "| op:ela |"] {
        assert!(table.contains(row), "no {row} in\n{table}");
    }
    let (expected, n) = answers(&full);
    assert_eq!((n, expected.len()), (total, total));
    let report = std::fs::read_to_string(full.join("report.md")).expect("report.md");
    assert!(report.contains("line 4") && report.contains("not found"), "bad row not reported:\n{report}");
    // Baselines are scored by their saved heat-maps; the HTML shows an example with pictures.
    let metrics: Value = serde_json::from_str(&std::fs::read_to_string(full.join("metrics.json")).expect("metrics")).expect("json");
    let srm = metrics["groups"].as_array().expect("groups").iter().find(|g| g["policy"] == "op:srm").expect("srm row");
    assert_eq!(srm["localization"]["n_heatmaps"], N / 3);
    assert!(srm["localization"]["pixel_f1_best"].as_f64() >= srm["localization"]["pixel_f1_fixed"].as_f64());
    // Agent rows compared image by image (baselines left out): registry against none.
    let paired = metrics["paired"].as_array().expect("paired");
    assert_eq!(paired.len(), 1, "{paired:?}");
    let pair = &paired[0];
    assert_eq!((pair["a"].as_str(), pair["b"].as_str()), (Some("scripted/registry"), Some("scripted/none")));
    assert_eq!(pair["n"], N);
    let count = |k: &str| pair[k].as_u64().expect(k) as f64;
    assert_eq!(count("both_right") + count("only_a_right") + count("only_b_right") + count("both_wrong"), N as f64);
    let row = |s: &str| metrics["groups"].as_array().expect("groups").iter().find(|g| g["strategy"] == s).expect("row").clone();
    let accuracy = |s: &str| row(s)["three_class"]["accuracy"].as_f64().expect("accuracy");
    assert!((count("both_right") + count("only_a_right") - accuracy("registry") * N as f64).abs() < 1e-9, "{pair}");
    assert!((count("both_right") + count("only_b_right") - accuracy("none") * N as f64).abs() < 1e-9, "{pair}");
    // none never answers tampered, so its per-image pixel F1 is 0 and the mean difference is minus registry's.
    let loc = &pair["localization"];
    let registry_f1 = row("registry")["localization"]["pixel_f1_fixed"].as_f64().expect("pixel_f1_fixed");
    assert!((loc["mean"].as_f64().expect("mean") + registry_f1).abs() < 1e-9, "{loc}");
    assert!(loc["ci95"][0].as_f64() <= loc["mean"].as_f64() && loc["mean"].as_f64() <= loc["ci95"][1].as_f64(), "{loc}");
    assert!(report.contains("## Strategies compared image by image") && report.contains("| scripted/registry | scripted/none |"), "{report}");
    let html = std::fs::read_to_string(full.join("report.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("src=\"examples/") && html.contains("src=\"heatmaps/op_srm/"), "html lacks plots or pictures");

    // The same run, killed (SIGKILL) once a few episodes are written.
    let cut = tmp.path().join("cut");
    let cut_s = cut.to_str().expect("utf-8");
    let mut child = trutheye().args(eval_args(data_s, cut_s)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let started = Instant::now();
    while lines_in(&cut.join("predictions.jsonl")) < 3 {
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    let done = lines_in(&cut.join("predictions.jsonl"));
    assert!((3..total).contains(&done), "killed after {done} of {total}: the kill came too late to test resuming");

    let refused = trutheye().args(eval_args(data_s, cut_s)).output().expect("run");
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--resume"));

    let mut args = eval_args(data_s, cut_s);
    args.push("--resume");
    let o = trutheye().args(&args).output().expect("resume");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (got, n) = answers(&cut);
    assert_eq!(n, total, "each (policy, strategy, image) exactly once");
    assert_eq!(got, expected);

    let o = trutheye().args(["eval", "report", cut_s]).output().expect("report");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("| scripted/registry |"));
    let o = trutheye().args(["eval", "report", cut_s, "--json"]).output().expect("report --json");
    let m: Value = serde_json::from_slice(&o.stdout).expect("--json prints metrics");
    assert_eq!(m["groups"].as_array().map(Vec::len), Some(4), "2 strategies + 2 baselines");
    // Grouped by the manifest's `method` (m0, m1): the paired comparison adds its clustered forms,
    // and a later `eval report` keeps the grouping.
    let o = trutheye().args(["eval", "report", cut_s, "--json", "--group-by", "method"]).output().expect("report --group-by");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).expect("--json prints metrics");
    assert_eq!(m["paired_group_by"]["field"], "method");
    let pair = &m["paired"][0];
    assert_eq!(pair["clustered"]["groups"], 2, "{pair}");
    let p = pair["clustered"]["p"].as_f64().expect("clustered p");
    assert!((0.0..=1.0).contains(&p), "{pair}");
    assert_eq!(pair["localization"]["clustered_ci95"]["groups"], 2, "{pair}");
    let o = trutheye().args(["eval", "report", cut_s]).output().expect("report");
    assert!(o.status.success());
    let report = std::fs::read_to_string(cut.join("report.md")).expect("report.md");
    assert!(report.contains("clustered McNemar p") && report.contains("Grouped by `method`"), "the recorded grouping is kept:\n{report}");
    let o = trutheye().args(["eval", "report", cut_s, "--group-by", "id"]).output().expect("report --group-by id");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("a sample's own field"), "{err}");
    let o = trutheye().args(["eval", "report", cut_s, "--group-by", "camera"]).output().expect("report --group-by camera");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("no `camera` field"), "{err}");
    let o = trutheye().args(["eval", "report", cut_s, "--no-group-by", "--json"]).output().expect("report --no-group-by");
    let m: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(m.get("paired_group_by").is_none() && m["paired"][0].get("clustered").is_none(), "{m}");
    let o = trutheye().args(["eval", "report", cut_s, "--group-by", "method", "--no-group-by"]).output().expect("conflict");
    assert!(!o.status.success(), "the two flags conflict");
    let o = trutheye().args(["eval", "report", cut_s, "--group-by", "method"]).output().expect("report");
    assert!(o.status.success());
    // A recorded grouping that no longer applies (the dataset moved away) is dropped with a warning, not an error.
    let moved = tmp.path().join("moved");
    std::fs::rename(&data, &moved).expect("move the dataset");
    let o = trutheye().args(["eval", "report", cut_s, "--json"]).output().expect("report without the dataset");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("no longer applies"), "{err}");
    std::fs::rename(&moved, &data).expect("move it back");
    let o = trutheye().args(["eval", "report", cut_s, "--group-by", "method"]).output().expect("report");
    assert!(o.status.success());
    // A resumed run keeps the grouping it was reported with, as `eval report` does.
    let o = trutheye().args(&args).output().expect("resume again");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("grouped by method: 2 groups"), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(cut.join("metrics.json")).expect("metrics")).expect("json");
    assert_eq!(m["paired_group_by"]["field"], "method");
    let o = trutheye().args(["eval", "compare", full.to_str().expect("utf-8"), cut_s]).output().expect("compare");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    // The resumed run equals the uninterrupted one, so compare may list only
    // timings (which differ run to run; whether any row of a given policy is
    // among them is chance, so no policy name is asserted).
    let rows: Vec<&str> = text.lines().skip_while(|l| !l.contains("B-A")).skip(1).take_while(|l| !l.starts_with('(')).collect();
    let not_timing: Vec<&&str> = rows.iter().filter(|l| !l.split_whitespace().next().unwrap_or("").contains("seconds")).collect();
    assert!(not_timing.is_empty(), "the resumed run differs from the uninterrupted one beyond timings:\n{text}");
    assert!(text.lines().any(|l| l.starts_with('(') && l.ends_with("metrics equal)") && !l.starts_with("(0 ")), "{text}");
}

/// `eval/scripts/cv_localization.py` end to end on the small dataset, grouped
/// by its `method` field (two groups): the folds never split a group, the
/// joined held-out run's report compares the strategies with the clustered
/// forms, and the pooled figure equals the joined run's own.
#[test]
fn cv_localization_script_holds_out_groups_and_pairs_the_strategies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    dataset(&data);
    let out = tmp.path().join("cv");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/scripts/cv_localization.py");
    if std::process::Command::new("python3").arg("--version").output().map_or(true, |o| !o.status.success()) {
        eprintln!("skipped: no python3 on PATH (CI installs one)");
        return;
    }
    let o = std::process::Command::new("python3")
        .arg(&script)
        .args(["--trutheye", env!("CARGO_BIN_EXE_trutheye"), "--data", data.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .args(["--folds", "2", "--seed", "1", "--strategy", "registry,hybrid", "--group-by", "method", "--json"])
        .env_remove("TRUTHEYE_PLUGIN_PATH")
        .env_remove("RUST_LOG")
        .output()
        .expect("python3 runs the script");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let joined = std::path::Path::new(v["joined_run"].as_str().expect("joined_run")).to_path_buf();
    let metrics: Value = serde_json::from_str(&std::fs::read_to_string(joined.join("metrics.json")).expect("metrics")).expect("json");
    for row in ["scripted/registry", "scripted/hybrid"] {
        let pooled = v["held_out"][row]["pixel_f1_map"].as_f64().unwrap_or_else(|| panic!("{row}: {v}"));
        let (policy, strategy) = row.split_once('/').expect("row");
        let g = metrics["groups"].as_array().expect("groups").iter().find(|g| g["policy"] == policy && g["strategy"] == strategy).expect("row in the joined run");
        let own = 100.0 * g["localization"]["pixel_f1_map"].as_f64().expect("pixel_f1_map");
        assert!((pooled - own).abs() <= 0.051, "{row}: pooled {pooled} vs joined {own}");
    }
    let pair = &v["paired"][0];
    assert_eq!(pair["n"], N / 3, "the folds evaluate the tampered images: {pair}");
    assert_eq!(pair["clustered"]["groups"], 2, "{pair}");
    let report = std::fs::read_to_string(joined.join("report.md")).expect("report.md");
    assert!(report.contains("Grouped by `method`") && report.contains("| scripted/registry | scripted/hybrid |"), "{report}");
    // The joined run names the whole dataset, so a plain `eval report` of it finds every fold's masks.
    let o = trutheye().args(["eval", "report", joined.to_str().expect("utf-8"), "--json"]).output().expect("report");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(again["groups"], metrics["groups"], "the same figures without --data");
    assert_eq!(again["paired"], metrics["paired"]);
}

/// A `--full-run` without an eval run in it is refused before any fold is
/// fitted, with one line naming the directory and the command that makes it.
#[test]
fn cv_localization_script_refuses_a_missing_full_run_up_front() {
    if std::process::Command::new("python3").arg("--version").output().map_or(true, |o| !o.status.success()) {
        eprintln!("skipped: no python3 on PATH (CI installs one)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (out, missing) = (tmp.path().join("cv"), tmp.path().join("no-run"));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/scripts/cv_localization.py");
    let o = std::process::Command::new("python3")
        .arg(&script)
        .args(["--trutheye", env!("CARGO_BIN_EXE_trutheye"), "--data", "unused.jsonl", "--out", out.to_str().expect("utf-8")])
        .args(["--full-run", missing.to_str().expect("utf-8")])
        .output()
        .expect("python3 runs the script");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line, no traceback: {err}");
    assert!(err.contains("no-run: no metrics.json there") && err.contains("trutheye eval"), "{err}");
    assert!(!out.exists(), "nothing was fitted or written before the refusal");
}

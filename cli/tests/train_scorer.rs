//! `trutheye train scorer` end to end with the real binary and plugins: the
//! features it reads from a recorded `eval` run (`--from-run`) are the ones
//! fresh registry episodes give, byte for byte; a pvr run's features include
//! the operators only pvr runs on the whole image; and asking for a strategy the
//! run lacks, or for several at once, fails with one line that says so.

mod eval_data;

use std::collections::BTreeSet;
use std::path::Path;

use eval_data::{dataset, trutheye};
use serde_json::Value;

const FEATURES: &str = "fft_residual.upsampling_parity,copy_move.anomaly_z,jpeg_ghost.anomaly_z";

fn scorer_args<'a>(data: &'a str, out: &'a Path, features_out: &'a Path) -> Vec<String> {
    ["train", "scorer", "--data", data, "--folds", "2", "--features", FEATURES, "--jobs", "1", "--json", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string(), "--features-out".into(), features_out.display().to_string()])
        .collect()
}

/// The features file's rows as (id, feature names).
fn feature_names(path: &Path) -> Vec<(String, BTreeSet<String>)> {
    std::fs::read_to_string(path)
        .expect("features file")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            let names = v["features"].as_object().expect("features").keys().cloned().collect();
            (v["id"].as_str().expect("id").to_string(), names)
        })
        .collect()
}

#[test]
fn features_from_a_recorded_run_equal_fresh_episodes_and_follow_the_strategy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    dataset(&data);
    let data_s = data.to_str().expect("utf-8");
    let run = tmp.path().join("run");
    let o = trutheye().args(["eval", "--data", data_s, "--out", run.to_str().expect("utf-8"), "--strategy", "pvr,registry", "--jobs", "1"]).output().expect("eval");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run_s = run.to_str().expect("utf-8");

    // Fresh registry episodes against the same episodes read back from the run.
    let (fresh_toml, fresh) = (tmp.path().join("fresh.toml"), tmp.path().join("fresh.jsonl"));
    let o = trutheye().args(scorer_args(data_s, &fresh_toml, &fresh)).output().expect("train scorer");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (rec_toml, rec) = (tmp.path().join("rec.toml"), tmp.path().join("rec.jsonl"));
    let mut args = scorer_args(data_s, &rec_toml, &rec);
    args.extend(["--from-run".into(), run_s.into(), "--strategy".into(), "registry".into()]);
    let o = trutheye().args(&args).output().expect("train scorer --from-run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).expect("--json report");
    assert!(report["features_from"].as_str().is_some_and(|s| s.contains("`registry` episodes recorded in")), "{}", report["features_from"]);
    let (a, b) = (std::fs::read_to_string(&fresh).expect("fresh"), std::fs::read_to_string(&rec).expect("recorded"));
    assert_eq!(a.lines().count(), 12, "every readable sample has features:\n{a}");
    assert_eq!(a, b, "recorded registry evidence gives the features fresh episodes give");
    let scorer = |p: &Path| std::fs::read_to_string(p).expect("toml").lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert_eq!(scorer(&fresh_toml), scorer(&rec_toml), "same features, same fit");

    // Held-out calibration is reported; --temperature scales every weight and bias by the reported factor.
    let cal = &report["cv"]["fitted_pooled_calibration"];
    assert_eq!(cal["n"], 12, "{cal}");
    assert!(cal["brier"].as_f64().is_some_and(|b| (0.0..=2.0).contains(&b)) && cal["ece"].as_f64().is_some(), "{cal}");
    assert_eq!(report["temperature"], 1.0, "not scaled unless asked");
    let (hot_toml, hot) = (tmp.path().join("hot.toml"), tmp.path().join("hot.jsonl"));
    let mut args = scorer_args(data_s, &hot_toml, &hot);
    args.extend(["--from-run".into(), run_s.into(), "--strategy".into(), "registry".into(), "--temperature".into()]);
    let o = trutheye().args(&args).output().expect("train scorer --temperature");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hot_report: Value = serde_json::from_slice(&o.stdout).expect("--json report");
    let t = hot_report["temperature"].as_f64().expect("temperature");
    assert!(t > 0.0 && (t - 1.0).abs() > 1e-6, "a fitted scale: {t}");
    let (plain, scaled) = (&report["scorer"], &hot_report["scorer"]);
    for class in ["synthetic", "tampered"] {
        let (p, s) = (&plain[class], &scaled[class]);
        assert!((s["bias"].as_f64().expect("bias") - t * p["bias"].as_f64().expect("bias")).abs() < 1e-9, "{class}: {p} vs {s}");
        for (name, w) in p["weights"].as_object().expect("weights") {
            assert!((s["weights"][name].as_f64().expect("weight") - t * w.as_f64().expect("weight")).abs() < 1e-9, "{class}.{name}");
        }
    }

    // pvr's episodes carry the operators registry has no call left for.
    let (pvr_toml, pvr) = (tmp.path().join("pvr.toml"), tmp.path().join("pvr.jsonl"));
    let mut args = scorer_args(data_s, &pvr_toml, &pvr);
    args.extend(["--from-run".into(), run_s.into(), "--strategy".into(), "pvr".into()]);
    let o = trutheye().args(&args).output().expect("train scorer --strategy pvr");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let has = |rows: &[(String, BTreeSet<String>)], f: &str| rows.iter().all(|(_, names)| names.contains(f));
    let (pvr_rows, reg_rows) = (feature_names(&pvr), feature_names(&rec));
    assert_eq!(pvr_rows.len(), 12);
    assert!(has(&pvr_rows, "ela.anomaly_z") && has(&pvr_rows, "srm.anomaly_z"), "pvr runs ela and srm on the whole image");
    assert!(!reg_rows.iter().any(|(_, names)| names.contains("ela.anomaly_z")), "registry's five calls do not include ela");
    assert!(has(&reg_rows, "fft_residual.upsampling_parity") && has(&pvr_rows, "fft_residual.upsampling_parity"));

    // --group-by holds out whole groups: here the manifest's `method` (m0, m1), narrowed by a pattern.
    let manifest = std::fs::read_to_string(data.join("manifest.jsonl")).expect("manifest");
    let kept: Vec<&str> = manifest.lines().filter(|l| l.contains("\"method\"")).collect();
    let grouped_data = data.join("grouped.jsonl");
    std::fs::write(&grouped_data, kept.join("\n") + "\n").expect("write");
    let (g_toml, g) = (tmp.path().join("g.toml"), tmp.path().join("g.jsonl"));
    let mut args = scorer_args(grouped_data.to_str().expect("utf-8"), &g_toml, &g);
    args.extend(["--from-run", run_s, "--strategy", "registry", "--group-by", "method", "--group-pattern", r"^m(\d)$"].map(String::from));
    let o = trutheye().args(&args).output().expect("train scorer --group-by");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("--json report");
    assert_eq!(r["cv"]["grouped_by"], serde_json::json!(["method =~ ^m(\\d)$", 2]));
    let held: Vec<Value> = r["cv"]["folds"].as_array().expect("folds").iter().map(|f| f["held_out_groups"].clone()).collect();
    assert_eq!(held.len(), 2);
    assert!(held.contains(&serde_json::json!(["0"])) && held.contains(&serde_json::json!(["1"])), "{held:?}");
    for f in r["cv"]["folds"].as_array().expect("folds") {
        assert_eq!(f["fitted"]["n"], 6, "each method holds 6 of the 12 samples: {f}");
    }
    assert!(std::fs::read_to_string(&g_toml).expect("toml").contains("leave-one-group-out CV over the 2 groups of `method =~ ^m(\\d)$`"));
    // A sample without the field is named before anything runs.
    let unlabelled = data.join("unlabelled.jsonl");
    std::fs::write(&unlabelled, kept.join("\n").replacen(r#","method":"m0""#, "", 1) + "\n").expect("write");
    let mut args = scorer_args(unlabelled.to_str().expect("utf-8"), &g_toml, &g);
    args.extend(["--group-by", "method"].map(String::from));
    let o = trutheye().args(&args).output().expect("train scorer --group-by");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("s0: no `method` field to group by (--group-by)") && !err.contains("panicked"), "{err}");

    // Refusals name what is wrong.
    let refused = |extra: &[&str], needle: &str| {
        let (t, f) = (tmp.path().join("x.toml"), tmp.path().join("x.jsonl"));
        let mut args = scorer_args(data_s, &t, &f);
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = trutheye().args(&args).output().expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(needle), "{extra:?}: wanted `{needle}` in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(&["--from-run", run_s], "several strategies (pvr, registry): pick one with --strategy");
    refused(&["--from-run", run_s, "--strategy", "hybrid"], "the run holds no `hybrid` episodes (it holds: pvr, registry)");
    refused(&["--strategy", "pvr"], "--strategy pvr needs --from-run");
    refused(&["--from-run", tmp.path().join("nowhere").to_str().expect("utf-8")], "cannot read the run's trajectories");
    refused(&["--group-pattern", "m"], "--group-by");
    refused(&["--group-by", "method", "--group-pattern", "("], "invalid value '(' for '--group-pattern <REGEX>'");

    // A run killed while writing ends on a torn line: it is skipped with a warning.
    let text = std::fs::read_to_string(run.join("trajectories.jsonl")).expect("trajectories");
    let registry_line = text.lines().find(|l| l.contains("\"strategy\":\"registry\"")).expect("a registry episode");
    let torn = tmp.path().join("torn.jsonl");
    let half: String = registry_line.chars().take(registry_line.chars().count() / 2).collect();
    std::fs::write(&torn, format!("{text}{half}")).expect("write");
    let (t, f) = (tmp.path().join("torn.toml"), tmp.path().join("torn_features.jsonl"));
    let mut args = scorer_args(data_s, &t, &f);
    args.extend(["--from-run".into(), torn.display().to_string(), "--strategy".into(), "registry".into()]);
    let o = trutheye().args(&args).output().expect("run");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("1 unreadable line(s) of the run skipped"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&f).expect("features"), a);
    // The same image twice under one strategy (two policies' runs pasted together) is ambiguous.
    let twice = tmp.path().join("twice.jsonl");
    std::fs::write(&twice, format!("{text}{}\n", registry_line.replace("\"policy\":\"scripted\"", "\"policy\":\"other\""))).expect("write");
    refused(&["--from-run", twice.to_str().expect("utf-8"), "--strategy", "registry"], "is recorded twice under `registry` (policies `scripted` and `other`)");
    // A torn line before the last means the file is not a run's: refused, with its line number.
    let middle = tmp.path().join("middle.jsonl");
    std::fs::write(&middle, format!("{half}\n{text}")).expect("write");
    refused(&["--from-run", middle.to_str().expect("utf-8"), "--strategy", "registry"], "line 1: not a trajectory");
    // An episode recorded on another image under the same id lends it no features.
    let s0 = text.lines().find(|l| l.contains("\"strategy\":\"registry\"") && l.contains("\"id\":\"s0\"")).expect("s0's registry episode");
    assert!(s0.contains("img/0.jpg"), "{s0}");
    let other = tmp.path().join("other.jsonl");
    std::fs::write(&other, text.replace(s0, &s0.replace("img/0.jpg", "img/1.jpg"))).expect("write");
    let (t, f) = (tmp.path().join("other.toml"), tmp.path().join("other_features.jsonl"));
    let mut args = scorer_args(data_s, &t, &f);
    args.extend(["--from-run".into(), other.display().to_string(), "--strategy".into(), "registry".into()]);
    let o = trutheye().args(&args).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("--json report");
    assert_eq!(r["failed"], serde_json::json!([["s0", "the run's `s0` episode was recorded on `1.jpg`, not on the dataset's `0.jpg`"]]));
    assert_eq!(std::fs::read_to_string(&f).expect("features").lines().count(), 11);
}

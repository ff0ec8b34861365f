//! Sharded evaluation through the shipped cluster templates: three shards run by
//! `configs/cluster/slurm/submit.sh` (with an `sbatch` stand-in that runs the
//! array tasks and the dependent merge job here), one of them first started as
//! a Kubernetes Indexed Job pod would start it and killed with SIGKILL, then
//! resumed by its array task. The merged run must equal one unsharded run,
//! metric for metric, with no job lost or duplicated; `eval merge` must refuse
//! missing, duplicated, incomplete and overlapping shards.

mod eval_data;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eval_data::{answers, dataset_and_full_run, eval_args, lines_in, trutheye, N};
use serde_json::Value;

const SHARDS: usize = 3;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// An `sbatch` that runs what it is given at once: every task of `--array=LO-HI`
/// in turn with Slurm's array variables, and `--export=ALL,K=V,...` applied.
const FAKE_SBATCH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
array=""; dep=""; exports=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --parsable) shift ;;
    --array=*) array="${1#--array=}"; shift ;;
    --dependency=*) dep="${1#--dependency=}"; shift ;;
    --export=*) exports="${1#--export=}"; shift ;;
    *) break ;;
  esac
done
script="$1"; shift
IFS=',' read -ra kv <<< "$exports"
for e in "${kv[@]}"; do [[ "$e" == ALL ]] || export "$e"; done
echo "sbatch array=$array dependency=$dep" >> "$FAKE_SBATCH_LOG"
if [[ -n "$array" ]]; then
  lo="${array%-*}"; hi="${array#*-}"
  export SLURM_ARRAY_TASK_MIN="$lo" SLURM_ARRAY_TASK_COUNT=$((hi - lo + 1))
  for ((i = lo; i <= hi; i++)); do
    SLURM_ARRAY_TASK_ID="$i" bash "$script" "$@" > /dev/null 2>> "$FAKE_SBATCH_LOG"
  done
  echo "1001;cluster"
else
  bash "$script" "$@" > /dev/null 2>> "$FAKE_SBATCH_LOG"
  echo "1002"
fi
"#;

/// metrics.json without its timings, which differ from run to run.
fn metrics_without_timings(dir: &Path) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| !k.contains("seconds"));
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).expect("metrics.json")).expect("json");
    strip(&mut v);
    v
}

fn merge(dirs: &[&Path], out: &Path) -> (bool, String) {
    let mut c = trutheye();
    c.args(["eval", "merge"]).args(dirs).arg("--out").arg(out);
    let o = c.output().expect("merge");
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn shards_run_by_the_templates_merge_into_the_unsharded_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let total = N * 2 + N * 2;
    // One unsharded run, in plan order (--jobs 1), to compare with.
    let (data_s, full) = dataset_and_full_run(tmp.path());
    let data_s = data_s.as_str();

    // `eval_args` minus its --out: the shard script chooses each shard's directory.
    let mut flags: Vec<String> = eval_args(data_s, "-").into_iter().map(String::from).skip(1).collect();
    let at = flags.iter().position(|f| f == "--out").expect("--out");
    flags.drain(at..at + 2);
    let root = tmp.path().join("runs");
    let bin = env!("CARGO_BIN_EXE_trutheye");

    // Shard 1 started as pod 1 of a Kubernetes Indexed Job, killed mid-way.
    let shard1 = root.join(format!("shard-1-of-{SHARDS}"));
    let mut pod = Command::new("bash");
    pod.arg(repo().join("configs/cluster/eval-shard.sh")).args(&flags);
    pod.env("JOB_COMPLETION_INDEX", "1").env("TRUTHEYE_SHARDS", SHARDS.to_string()).env("TRUTHEYE_OUT", &root).env("TRUTHEYE_BIN", bin);
    pod.env_remove("SLURM_ARRAY_TASK_ID").env_remove("RUST_LOG").env_remove("TRUTHEYE_PLUGIN_PATH");
    let mut child = pod.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn shard");
    let started = Instant::now();
    while lines_in(&shard1.join("predictions.jsonl")) < 2 {
        assert!(started.elapsed() < Duration::from_secs(300), "shard 1 made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The script `exec`s trutheye, so this SIGKILLs the evaluator itself.
    child.kill().expect("kill");
    assert!(!child.wait().expect("wait").success());
    let done = lines_in(&shard1.join("predictions.jsonl"));
    assert!(done < total / SHARDS, "killed after {done} of {} jobs: too late to test resuming", total / SHARDS);

    // The Slurm route: submit.sh submits the array and the dependent merge job.
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("mkdir");
    std::fs::write(bin_dir.join("sbatch"), FAKE_SBATCH).expect("write sbatch");
    std::fs::set_permissions(bin_dir.join("sbatch"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let log = tmp.path().join("sbatch.log");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("bash")
        .arg(repo().join("configs/cluster/slurm/submit.sh"))
        .arg(SHARDS.to_string())
        .arg(&root)
        .args(&flags)
        .env("PATH", path)
        .env("FAKE_SBATCH_LOG", &log)
        .env("TRUTHEYE_BIN", bin)
        .env_remove("RUST_LOG")
        .env_remove("TRUTHEYE_PLUGIN_PATH")
        .output()
        .expect("submit.sh");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(o.status.success(), "submit.sh failed: {}\n{log_text}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("merge: job 1002"), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(log_text.contains(&format!("array=0-{}", SHARDS - 1)) && log_text.contains("dependency=afterok:1001"), "{log_text}");
    assert!(log_text.contains(&format!("resuming shard 1/{SHARDS}")), "the killed shard was not resumed:\n{log_text}");

    // Merged = unsharded: every job once, the same answers, the same metrics.
    let merged = root.join("merged");
    let (want, n_full) = answers(&full);
    let (got, n_merged) = answers(&merged);
    assert_eq!((n_full, n_merged), (total, total), "0 lost, 0 duplicated");
    assert_eq!(got, want);
    assert_eq!(metrics_without_timings(&merged), metrics_without_timings(&full));
    assert_eq!(lines_in(&merged.join("trajectories.jsonl")), lines_in(&full.join("trajectories.jsonl")));
    assert!(merged.join("heatmaps/op_srm").is_dir() && merged.join("report.html").is_file());

    refusals(tmp.path(), &root, &merged);
}

/// Missing, overlapping, incomplete and duplicated shards are refused, naming what is wrong.
fn refusals(tmp: &Path, root: &Path, merged: &Path) {
    let shard = |i: usize| root.join(format!("shard-{i}-of-{SHARDS}"));
    let (s0, s1, s2) = (shard(0), shard(1), shard(2));
    let out = tmp.join("refused");

    let (ok, err) = merge(&[&s0, &s1], &out);
    assert!(!ok && err.contains(&format!("missing shard(s) 2/{SHARDS}")), "{err}");
    let (ok, err) = merge(&[&s0, &s1, &s2, &s0], &out);
    assert!(!ok && err.contains("given twice"), "{err}");
    let (ok, err) = merge(&[&s0, &s1, &s2], merged);
    assert!(!ok && err.contains("already has predictions"), "{err}");

    // Shard 2 cut short by two jobs, and one of shard 0's predictions copied into shard 1.
    let copy = |from: &Path, name: &str| {
        let to = tmp.join(name);
        std::fs::create_dir_all(&to).expect("mkdir");
        for f in ["shard.json", "predictions.jsonl", "trajectories.jsonl", "run.json"] {
            std::fs::copy(from.join(f), to.join(f)).expect("copy");
        }
        to
    };
    let (c1, c2) = (copy(&s1, "c1"), copy(&s2, "c2"));
    let p2 = std::fs::read_to_string(c2.join("predictions.jsonl")).expect("read");
    let kept: Vec<&str> = p2.lines().collect();
    std::fs::write(c2.join("predictions.jsonl"), kept[..kept.len() - 2].join("\n") + "\n").expect("write");
    let stray = std::fs::read_to_string(s0.join("predictions.jsonl")).expect("read").lines().next().expect("a line").to_string();
    let p1 = std::fs::read_to_string(c1.join("predictions.jsonl")).expect("read");
    std::fs::write(c1.join("predictions.jsonl"), format!("{p1}{stray}\n")).expect("write");
    let (ok, err) = merge(&[&s0, &c1, &c2], &out);
    assert!(!ok, "{err}");
    assert!(err.contains("2 of 48 jobs have no prediction") && err.contains("missing: "), "{err}");
    assert!(err.contains("1 prediction(s) are duplicated") && err.contains("not a job of shard 1/3"), "{err}");
    assert!(!out.join("predictions.jsonl").exists(), "a refused merge writes nothing");

    // Shards reported with one grouping pass it to their merge; a grouping that
    // cannot apply is refused before anything is written.
    let (ok, err) = {
        let o = trutheye().args(["eval", "merge"]).args([&s0, &s1, &s2]).arg("--out").arg(&out).args(["--group-by", "camera"]).output().expect("merge");
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    assert!(!ok && err.contains("no `camera` field"), "{err}");
    assert!(!out.join("predictions.jsonl").exists(), "a refused merge writes nothing");
    for s in [&s0, &s1, &s2] {
        let o = trutheye().arg("eval").arg("report").arg(s).args(["--group-by", "method"]).output().expect("report");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let grouped = tmp.join("grouped");
    let (ok, err) = merge(&[&s0, &s1, &s2], &grouped);
    assert!(ok, "{err}");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(grouped.join("metrics.json")).expect("metrics.json")).expect("json");
    assert_eq!(m["paired_group_by"]["field"], "method", "the shards' grouping is kept");
    assert_eq!(m["paired"][0]["clustered"]["groups"], 2);
}

/// The Kubernetes templates agree with the script the test above exercises:
/// an Indexed Job whose completions equal TRUTHEYE_SHARDS, and a merge of as many.
#[test]
fn kubernetes_templates_agree_with_the_shard_script() {
    let job = std::fs::read_to_string(repo().join("configs/cluster/k8s/eval-indexed-job.yaml")).expect("job yaml");
    let merge = std::fs::read_to_string(repo().join("configs/cluster/k8s/eval-merge-job.yaml")).expect("merge yaml");
    let value = |text: &str, key: &str| -> String {
        let line = text.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_else(|| panic!("no `{key}`"));
        line.split_once(':').map(|(_, v)| v.trim().trim_matches('"').to_string()).unwrap_or_default()
    };
    assert_eq!(value(&job, "completionMode:"), "Indexed");
    let n = value(&job, "completions:");
    assert_eq!(value(&job, "parallelism:"), n);
    let shards_env = job.lines().skip_while(|l| !l.contains("name: TRUTHEYE_SHARDS")).nth(1).expect("TRUTHEYE_SHARDS value");
    assert_eq!(shards_env.split_once(':').map(|(_, v)| v.trim().trim_matches('"')), Some(n.as_str()));
    assert!(job.contains("configs/cluster/eval-shard.sh"), "the job must run the tested shard script");
    assert!(merge.contains(&format!("eval-merge.sh\", \"{n}\"")), "the merge job must merge {n} shards");
    for f in ["eval-shard.sh", "eval-merge.sh", "slurm/submit.sh", "slurm/eval.sbatch", "slurm/merge.sbatch"] {
        let o = Command::new("bash").arg("-n").arg(repo().join("configs/cluster").join(f)).output().expect("bash -n");
        assert!(o.status.success(), "{f}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

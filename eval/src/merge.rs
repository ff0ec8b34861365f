//! `eval merge`: the run directories of the N shards of one plan become one run
//! directory, equal to the run an unsharded `trutheye eval` would have written.
//!
//! The shards' `shard.json` records rebuild the whole plan in order; every job
//! of the plan must have exactly one prediction, in the shard that owns it.
//! Anything else (a shard given twice, a shard missing, a job missing or
//! answered twice, shards of different plans) is refused with the jobs named,
//! so a merge never silently reports on part of a benchmark.

use crate::EvalError;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::prediction::{read_predictions, Key, Prediction};
use super::runner::{predictions_path, trajectories_path};
use super::shard::{plan_digest, ShardRecord};

/// How many missing or duplicated jobs an error lists by name.
const LISTED: usize = 10;

/// What a merge put together.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MergeSummary {
    /// Shards merged.
    pub shards: usize,
    /// Jobs in the plan (= predictions written).
    pub jobs: usize,
    /// Of those, failed episodes (error rows, as an unsharded run keeps them).
    pub failed: usize,
    /// Trajectory lines written.
    pub trajectories: usize,
    /// Heat-map files copied.
    pub heatmaps: usize,
}

struct ShardDir {
    dir: PathBuf,
    record: ShardRecord,
}

/// Merges the shard directories `dirs` into `out` (predictions, trajectories,
/// heat-maps and `run.json`; the caller renders the reports).
pub fn merge_shards(dirs: &[PathBuf], out: &Path) -> Result<MergeSummary, EvalError> {
    let shards = read_records(dirs)?;
    let plan = rebuild_plan(&shards)?;
    if shards.iter().any(|s| same_dir(&s.dir, out)) {
        return Err(EvalError::Shards(format!("--out {} is one of the shards; merge into a new directory", out.display())));
    }
    if std::fs::metadata(predictions_path(out)).map(|m| m.len() > 0).unwrap_or(false) {
        return Err(EvalError::Shards(format!("{} already has predictions; merge into a new directory", out.display())));
    }
    // Every prediction, by key, with the shard it came from.
    let mut found: HashMap<Key, (usize, Prediction)> = HashMap::new();
    let mut duplicated: Vec<String> = Vec::new();
    for (si, s) in shards.iter().enumerate() {
        let read = read_predictions(&predictions_path(&s.dir))?;
        if read.truncated_tail {
            tracing::warn!("{}: ignoring a cut-off last line (the shard was interrupted)", predictions_path(&s.dir).display());
        }
        let owned: HashSet<&Key> = s.record.jobs.iter().collect();
        for p in read.predictions {
            let key = p.key();
            if !owned.contains(&key) {
                duplicated.push(format!("{} in {} (not a job of shard {})", show(&key), s.dir.display(), s.record.shard));
            } else if let Some((other, _)) = found.get(&key) {
                duplicated.push(format!("{} in {} and {}", show(&key), shards[*other].dir.display(), s.dir.display()));
            } else {
                found.insert(key, (si, p));
            }
        }
    }
    let n = shards.len();
    // Plan position p belongs to shard p mod N.
    let missing: Vec<(usize, &Key)> = plan.iter().enumerate().filter(|(_, k)| !found.contains_key(*k)).map(|(p, k)| (p % n, k)).collect();
    if !missing.is_empty() || !duplicated.is_empty() {
        return Err(EvalError::Shards(incomplete_message(&shards, &missing, &duplicated, plan.len())));
    }
    std::fs::create_dir_all(out).map_err(|e| EvalError::Shards(format!("{}: cannot create output directory: {e}", out.display())))?;
    let mut summary = MergeSummary { shards: shards.len(), jobs: plan.len(), ..Default::default() };
    let mut text = String::new();
    for key in &plan {
        let (si, p) = &found[key];
        summary.failed += p.error.is_some() as usize;
        for rel in [p.mask.as_deref(), p.map.as_deref()].into_iter().flatten().filter(|m| is_inside(m)) {
            let (from, to) = (shards[*si].dir.join(rel), out.join(rel));
            if from.is_file() {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| EvalError::Shards(format!("{}: cannot create: {e}", parent.display())))?;
                }
                std::fs::copy(&from, &to).map_err(|e| EvalError::Shards(format!("{}: cannot copy to {}: {e}", from.display(), to.display())))?;
                summary.heatmaps += 1;
            }
        }
        text.push_str(&p.to_line());
        text.push('\n');
    }
    let trajectories = merged_trajectories(&shards, &plan, &found)?;
    summary.trajectories = trajectories.lines().count();
    write(&trajectories_path(out), &trajectories)?;
    // Predictions last: their file is what marks the merged directory complete.
    write_run_json(&shards, out, &summary)?;
    write(&predictions_path(out), &text)?;
    Ok(summary)
}

fn read_records(dirs: &[PathBuf]) -> Result<Vec<ShardDir>, EvalError> {
    if dirs.is_empty() {
        return Err(EvalError::Shards("no shard directories given".to_string()));
    }
    let mut shards = Vec::new();
    for dir in dirs {
        let record = ShardRecord::read(dir)?.ok_or_else(|| EvalError::Shards(format!("{}: no shard.json: not a shard's run directory (made by `trutheye eval --shard I/N`)", dir.display())))?;
        shards.push(ShardDir { dir: dir.clone(), record });
    }
    let first = &shards[0];
    for s in &shards[1..] {
        if s.record.shard.count != first.record.shard.count || s.record.plan_digest != first.record.plan_digest {
            return Err(EvalError::Shards(format!(
                "{} and {} are shards of different plans ({} of {} jobs vs {} of {} jobs): they were run with different data or options",
                first.dir.display(),
                s.dir.display(),
                first.record.shard,
                first.record.plan_jobs,
                s.record.shard,
                s.record.plan_jobs
            )));
        }
    }
    let n = first.record.shard.count;
    let mut by_index: Vec<Option<&Path>> = vec![None; n];
    for s in &shards {
        let slot = &mut by_index[s.record.shard.index];
        if let Some(other) = slot {
            return Err(EvalError::Shards(format!("shard {} is given twice: {} and {} (overlapping shards)", s.record.shard, other.display(), s.dir.display())));
        }
        *slot = Some(&s.dir);
    }
    let absent: Vec<String> = by_index.iter().enumerate().filter(|(_, d)| d.is_none()).map(|(i, _)| format!("{i}/{n}")).collect();
    if !absent.is_empty() {
        return Err(EvalError::Shards(format!("missing shard(s) {} of {n}: pass every shard's directory", absent.join(", "))));
    }
    shards.sort_by_key(|s| s.record.shard.index);
    Ok(shards)
}

/// The whole plan in order: shard i's j-th job sits at position i + j·N.
fn rebuild_plan(shards: &[ShardDir]) -> Result<Vec<Key>, EvalError> {
    let n = shards.len();
    let total = shards[0].record.plan_jobs;
    let mut plan: Vec<Option<Key>> = vec![None; total];
    for s in shards {
        let i = s.record.shard.index;
        let expected = (total + n - 1 - i) / n;
        if s.record.jobs.len() != expected {
            return Err(EvalError::Shards(format!("{}/shard.json lists {} jobs; shard {} of a {total}-job plan has {expected}", s.dir.display(), s.record.jobs.len(), s.record.shard)));
        }
        for (j, key) in s.record.jobs.iter().enumerate() {
            plan[i + j * n] = Some(key.clone());
        }
    }
    let plan: Vec<Key> = plan.into_iter().flatten().collect();
    if plan.len() != total || plan_digest(&plan) != shards[0].record.plan_digest {
        return Err(EvalError::Shards("the shards' shard.json files do not add up to the plan they record (edited or from different runs)".to_string()));
    }
    Ok(plan)
}

fn incomplete_message(shards: &[ShardDir], missing: &[(usize, &Key)], duplicated: &[String], total: usize) -> String {
    let mut m = String::new();
    if !missing.is_empty() {
        let mut per_shard: Vec<usize> = vec![0; shards.len()];
        for (si, _) in missing {
            per_shard[*si] += 1;
        }
        let where_: Vec<String> = per_shard.iter().enumerate().filter(|(_, c)| **c > 0).map(|(si, c)| format!("{c} in {} (shard {})", shards[si].dir.display(), shards[si].record.shard)).collect();
        let _ = writeln!(m, "{} of {total} jobs have no prediction: {}; finish them with `trutheye eval … --shard I/N --resume`", missing.len(), where_.join(", "));
        for (_, k) in missing.iter().take(LISTED) {
            let _ = writeln!(m, "  missing: {}", show(k));
        }
    }
    if !duplicated.is_empty() {
        let _ = writeln!(m, "{} prediction(s) are duplicated or in the wrong shard:", duplicated.len());
        for d in duplicated.iter().take(LISTED) {
            let _ = writeln!(m, "  duplicated: {d}");
        }
    }
    m.trim_end().to_string()
}

/// The shards' trajectories in plan order, one per prediction that has one.
fn merged_trajectories(shards: &[ShardDir], plan: &[Key], found: &HashMap<Key, (usize, Prediction)>) -> Result<String, EvalError> {
    let mut lines: HashMap<Key, String> = HashMap::new();
    for (si, s) in shards.iter().enumerate() {
        let path = trajectories_path(&s.dir);
        let text = match trutheye_core::input::read_text_bounded(&path, trutheye_core::input::MAX_DATA_BYTES) {
            Ok(t) => t,
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => continue,
            Err(e) => return Err(EvalError::Shards(format!("{}: cannot read: {}", path.display(), e.detail()))),
        };
        for line in text.split('\n') {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            let key = (field("policy"), field("strategy"), field("id"));
            if found.get(&key).is_some_and(|(owner, _)| *owner == si) {
                lines.entry(key).or_insert_with(|| line.to_string());
            }
        }
    }
    let mut out = String::new();
    for key in plan {
        if let Some(l) = lines.get(key) {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

fn write_run_json(shards: &[ShardDir], out: &Path, summary: &MergeSummary) -> Result<(), EvalError> {
    let first: serde_json::Value = std::fs::read_to_string(shards[0].dir.join("run.json")).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let v = serde_json::json!({
        "dataset": first.get("dataset"),
        "options": first.get("options"),
        "merged": {
            "from": shards.iter().map(|s| s.dir.display().to_string()).collect::<Vec<_>>(),
            "plan_digest": shards[0].record.plan_digest,
            "summary": summary,
        },
    });
    write(&out.join("run.json"), &serde_json::to_string_pretty(&v).map_err(|e| EvalError::Shards(e.to_string()))?)
}

fn write(path: &Path, text: &str) -> Result<(), EvalError> {
    std::fs::write(path, text).map_err(|e| EvalError::Shards(format!("{}: cannot write: {e}", path.display())))
}

fn show(k: &Key) -> String {
    format!("{}/{}/{}", k.0, k.1, k.2)
}

/// A heat-map path that stays inside its run directory (no `..`, not absolute).
fn is_inside(rel: &str) -> bool {
    let p = Path::new(rel);
    !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

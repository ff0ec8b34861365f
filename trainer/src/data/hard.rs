//! `trutheye data hard`: stage-3 hard-case mining. Every prediction row for an id
//! (any policy, strategy or run, baselines included) is one rollout; an id whose
//! group accuracy is at most `--max-accuracy` over at least `--min-rollouts`
//! rollouts (default 2: one rollout says nothing about difficulty) is hard
//! (operator baselines are not rollouts of a policy and are left out unless
//! `--include-baselines`). Hard
//! ids are written as a subset of the dataset's own manifest, so
//! `trutheye eval --data HARD.jsonl` and `data grpo --data HARD.jsonl` work on it.

use crate::TrainError;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trutheye_core::{Registry, Strategy};

use super::grpo::{build, load_config};
use super::report::ConversionReport;
use super::{path_string, write_jsonl};
use trutheye_eval::{read_predictions, Dataset, Prediction, Sample};
use trutheye_eval::rewards::label_correct;

/// The options of `trutheye data hard`.
#[derive(Debug)]
pub struct HardArgs {
    /// Eval run directories (or `predictions.jsonl` files).
    pub runs: Vec<PathBuf>,
    /// The dataset the runs evaluated (manifest or folder).
    pub data: PathBuf,
    /// Keep ids whose accuracy over their rollouts is at most this.
    pub max_accuracy: f64,
    /// Keep only ids with at least this many rollouts.
    pub min_rollouts: usize,
    /// Output manifest subset (JSONL).
    pub out: PathBuf,
    /// Count single-operator baseline rows (strategy `baseline`) as rollouts too.
    /// Off by default: they are not the policy's rollouts, and they never answer
    /// synthetic, so with them every synthetic image looks hard.
    pub include_baselines: bool,
    /// Also write the GRPO prompt set of the hard ids here.
    pub grpo: Option<PathBuf>,
    /// Strategy whose prompts `--grpo` uses.
    pub strategy: Strategy,
    /// Agent configuration for `--grpo`; default: the built-in configs/default.toml.
    pub config: Option<PathBuf>,
}

/// Rollouts of one id.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GroupStats {
    /// Prediction rows.
    pub rollouts: usize,
    /// Rows whose label is right (failed rows are wrong).
    pub correct: usize,
}

impl GroupStats {
    /// Fraction right (0 without rollouts).
    pub fn accuracy(&self) -> f64 {
        if self.rollouts == 0 {
            0.0
        } else {
            self.correct as f64 / self.rollouts as f64
        }
    }
}

/// The id has no prediction rows.
pub const DROP_NO_ROLLOUTS: &str = "no rollouts";
/// Too few rollouts to judge.
pub const DROP_FEW: &str = "too few rollouts";
/// Solved often enough.
pub const DROP_EASY: &str = "accuracy above max";

/// Group accuracy per id against the dataset's truth. A row with an `error` (or no
/// label) counts as wrong; a forced verdict counts by its label, as in the metrics.
pub fn group_accuracy(preds: &[Prediction], truth: &HashMap<&str, &Sample>) -> (BTreeMap<String, GroupStats>, usize) {
    let (mut groups, mut unknown) = (BTreeMap::<String, GroupStats>::new(), 0);
    for p in preds {
        let Some(s) = truth.get(p.id.as_str()) else {
            unknown += 1;
            continue;
        };
        let g = groups.entry(p.id.clone()).or_default();
        g.rollouts += 1;
        if p.error.is_none() && p.label.is_some_and(|l| label_correct(l, s.label)) {
            g.correct += 1;
        }
    }
    (groups, unknown)
}

/// Runs `trutheye data hard`; returns the mining report and, with `--grpo`, the prompt-set report.
pub fn run(args: &HardArgs, registry: &Registry) -> Result<Vec<ConversionReport>, TrainError> {
    if !(0.0..=1.0).contains(&args.max_accuracy) {
        return Err(TrainError::Data(format!("--max-accuracy must be between 0 and 1 (got {})", args.max_accuracy)));
    }
    let ds = Dataset::load(&args.data)?;
    let mut preds = Vec::new();
    let mut report = ConversionReport::new("hard", &path_string(&args.out));
    for run in &args.runs {
        let file = if run.is_file() { run.clone() } else { trutheye_eval::runner::predictions_path(run) };
        if !file.is_file() {
            return Err(TrainError::Data(format!("{}: no predictions.jsonl (not an eval run directory?)", run.display())));
        }
        let read = read_predictions(&file)?;
        report.note("cut-off last prediction lines ignored", usize::from(read.truncated_tail));
        let (rows, had) = (read.predictions.len(), preds.len());
        preds.extend(read.predictions.into_iter().filter(|p| args.include_baselines || p.strategy != "baseline"));
        report.note("baseline rows skipped", rows - (preds.len() - had));
    }
    report.note("rollouts read", preds.len());
    let truth: HashMap<&str, &Sample> = ds.samples.iter().map(|s| (s.id.as_str(), s)).collect();
    let (groups, unknown) = group_accuracy(&preds, &truth);
    report.note("rollouts with ids not in the dataset", unknown);
    let mut hard: Vec<&Sample> = Vec::new();
    for s in &ds.samples {
        report.read += 1;
        let g = groups.get(&s.id).copied().unwrap_or_default();
        let reason = if g.rollouts == 0 {
            Some(DROP_NO_ROLLOUTS)
        } else if g.rollouts < args.min_rollouts {
            Some(DROP_FEW)
        } else if g.accuracy() > args.max_accuracy + 1e-12 {
            Some(DROP_EASY)
        } else {
            None
        };
        match reason {
            Some(r) => report.drop(r, None),
            None => hard.push(s),
        }
        report.class(s.label.as_str(), reason.is_none());
    }
    report.kept = hard.len();
    write_manifest(&ds, &hard, &args.out)?;
    let mut reports = vec![report];
    if let Some(grpo_out) = &args.grpo {
        let config = load_config(args.config.as_deref())?;
        let mut r = ConversionReport::new("hard-grpo", &path_string(grpo_out));
        let rows = build(&hard, args.strategy, &config, registry, &mut r);
        write_jsonl(grpo_out, &rows)?;
        reports.push(r);
    }
    Ok(reports)
}

/// Writes the samples as manifest lines. From a manifest: the original lines, byte
/// for byte when `out` sits beside the manifest; elsewhere `image` and `mask` are
/// rewritten to absolute paths (relative ones would no longer resolve), which
/// re-serializes the line with sorted keys. From folders: lines built from the samples.
pub fn write_manifest(ds: &Dataset, samples: &[&Sample], out: &Path) -> Result<(), TrainError> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::Data(format!("{}: cannot create directory: {e}", dir.display())))?;
    }
    let originals = if ds.kind == "manifest" { original_lines(&ds.path, out)? } else { HashMap::new() };
    let mut text = String::new();
    for s in samples {
        let line = match originals.get(&s.id) {
            Some(l) => l.clone(),
            None => sample_line(s),
        };
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|e| TrainError::Data(format!("{}: cannot write: {e}", out.display())))
}

fn canonical_dir(p: &Path) -> Option<PathBuf> {
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.canonicalize().ok()
}

/// id → the manifest line to write (see [`write_manifest`]).
fn original_lines(manifest: &Path, out: &Path) -> Result<HashMap<String, String>, TrainError> {
    let text = trutheye_core::input::read_text_bounded(manifest, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| TrainError::Data(format!("{}: cannot read manifest: {}", manifest.display(), e.detail())))?;
    let base = manifest.parent().unwrap_or(Path::new("."));
    let same_dir = canonical_dir(manifest).is_some() && canonical_dir(manifest) == canonical_dir(out);
    let mut lines = HashMap::new();
    for line in text.lines() {
        // Rows the loader rejected never reach here as samples, so a parse failure
        // only means the line is not one of ours.
        let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else { continue };
        let id = match obj.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        let written = if same_dir {
            line.to_string()
        } else {
            for key in ["image", "mask"] {
                if let Some(Value::String(rel)) = obj.get(key) {
                    let joined = base.join(rel);
                    let abs = joined.canonicalize().unwrap_or(joined);
                    obj.insert(key.into(), Value::String(path_string(&abs)));
                }
            }
            Value::Object(obj).to_string()
        };
        // The loader keeps the first of duplicate ids; so do we.
        lines.entry(id).or_insert(written);
    }
    Ok(lines)
}

fn sample_line(s: &Sample) -> String {
    let abs = |p: &Path| path_string(&p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    let mut v = json!({"id": s.id, "image": abs(&s.image), "label": s.label.as_str(), "mask": s.mask.as_deref().map(abs), "bbox": s.bbox});
    if let Some(o) = v.as_object_mut() {
        for (k, val) in &s.extra {
            o.entry(k.clone()).or_insert(val.clone());
        }
    }
    v.to_string()
}

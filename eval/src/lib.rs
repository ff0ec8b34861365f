//! trutheye's evaluator: datasets ([`dataset`]), batch runs with resume and
//! shards ([`runner`], [`shard`], [`merge`]), single-operator baselines
//! ([`baseline`]), metrics ([`metrics`], [`localization`], [`paired`]), reports
//! ([`report`], [`html`], [`compare`]) and the rewards that score recorded
//! trajectories for RL ([`rewards`]), used by the evaluator, `trutheye serve`
//! and training alike.
//!
//! It depends on `trutheye-core` and the plugin API only: no model runtime
//! (candle) and no code sandbox. Policies and executors come in through
//! core's traits.
//!
//! Hosts depend on traits: the CLI hands [`runner::EpisodeFactory`] to
//! [`runner::run_eval`]; episodes run through `trutheye_core::run_episode`.

#![warn(missing_docs)]

pub mod baseline;
pub mod calibration;
pub mod compare;
pub mod dataset;
pub mod error;
pub mod examples;
pub mod grouping;
pub mod heatmap;
pub mod html;
pub mod localization;
pub mod merge;
pub mod metrics;
pub mod paired;
pub mod prediction;
pub mod report;
pub mod rewards;
pub mod runner;
pub mod shard;

use std::path::{Path, PathBuf};

pub use dataset::{BadRow, Dataset, GtMask, Sample};
pub use error::EvalError;
pub use metrics::{compute, EvalContext, Metrics};
pub use prediction::{read_predictions, Prediction, Truth};
pub use runner::{run_eval, BaselineOptions, EpisodeFactory, RunOptions, RunSummary};
pub use merge::{merge_shards, MergeSummary};
pub use shard::{Shard, ShardRecord};

/// The context metrics need from a dataset (masks, free fields, bad-row count).
pub fn context_for(ds: Option<&Dataset>) -> EvalContext {
    let Some(ds) = ds else { return EvalContext::default() };
    EvalContext {
        masks: dataset::load_masks(ds),
        extras: ds.samples.iter().map(|s| (s.id.clone(), s.extra.clone())).collect(),
        bad_rows: ds.bad_rows.len(),
        run_dir: None,
        groups: None,
    }
}

/// Computes metrics from `DIR/predictions.jsonl` and writes `metrics.json`,
/// `report.md` and `report.html` in `dir`. Without the dataset, pixel metrics and
/// breakdowns are missing (box metrics still come from the predictions).
/// `group_by` (which needs the dataset) adds the paired comparison's
/// clustered forms ([`paired`]).
pub fn write_reports(dir: &Path, ds: Option<&Dataset>, group_by: Option<&grouping::GroupBy>) -> Result<Metrics, EvalError> {
    let read = read_predictions(&runner::predictions_path(dir))?;
    if read.predictions.is_empty() {
        return Err(EvalError::RunDir(format!("{}: no predictions to report on", dir.display())));
    }
    let groups = match (group_by, ds) {
        (Some(by), Some(ds)) => Some(grouping::SampleGroups::new(by, &ds.samples)?),
        (Some(by), None) => return Err(EvalError::Dataset(format!("--group-by {}: the dataset is needed to read each sample's group, and it is not available", by.describe()))),
        (None, _) => None,
    };
    let ctx = EvalContext { run_dir: Some(dir.to_path_buf()), groups, ..context_for(ds) };
    let metrics = compute(&read.predictions, &ctx);
    let bad: &[BadRow] = ds.map(|d| d.bad_rows.as_slice()).unwrap_or(&[]);
    let name = ds.map(|d| d.path.display().to_string()).unwrap_or_else(|| "(dataset not available)".into());
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).map_err(|e| EvalError::RunDir(format!("{}: cannot write: {e}", dir.join(file).display())));
    write("metrics.json", &serde_json::to_string_pretty(&metrics).map_err(|e| EvalError::RunDir(e.to_string()))?)?;
    write("report.md", &report::markdown(&metrics, &name, bad))?;
    let trajectories = std::fs::read_to_string(runner::trajectories_path(dir)).unwrap_or_default();
    let media = examples::ExampleMedia {
        images: ds.map(|d| d.samples.iter().map(|s| (s.id.clone(), s.image.clone())).collect()).unwrap_or_default(),
        run_dir: Some(dir.to_path_buf()),
    };
    write("report.html", &html::render(&metrics, &name, bad, &read.predictions, &trajectories, &media))?;
    Ok(metrics)
}

/// The dataset path recorded in `DIR/run.json`, if any.
pub fn recorded_dataset(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join("run.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.pointer("/dataset/path").and_then(|p| p.as_str()).map(PathBuf::from)
}

/// The grouping the run's `metrics.json` was reported with, if any.
pub fn recorded_grouping(dir: &Path) -> Option<grouping::GroupSpec> {
    let text = std::fs::read_to_string(dir.join("metrics.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get("paired_group_by")?.clone()).ok()
}

/// Which grouping a re-rendered report uses for its paired comparison.
#[derive(Clone, Debug, Default)]
pub enum ReportGrouping {
    /// The one the run was last reported with ([`recorded_grouping`]), if any;
    /// when it no longer applies (no dataset, a sample without the field) the
    /// report is written without it, with a warning.
    #[default]
    Recorded,
    /// This one (`--group-by`); it must apply.
    Given(grouping::GroupBy),
    /// This recorded one (the shards' own, when merging), used as
    /// [`ReportGrouping::Recorded`] is: dropped with a warning if it no longer applies.
    Inherited(grouping::GroupSpec),
    /// None (`--no-group-by`).
    Off,
}

/// The grouping `spec` if it applies to `ds` (every sample has a group), else
/// `None` with a warning saying why.
pub fn grouping_if_it_applies(spec: &grouping::GroupSpec, ds: Option<&Dataset>) -> Option<grouping::GroupBy> {
    let applies = grouping::GroupBy::from_spec(spec).and_then(|by| match ds {
        Some(ds) => grouping::SampleGroups::new(&by, &ds.samples).map(|_| by),
        None => Err(EvalError::Dataset("the dataset is not available".into())),
    });
    applies.map_err(|e| tracing::warn!("the recorded grouping by `{}` no longer applies: {e}; reporting without it", spec.field)).ok()
}

/// Re-renders the reports of a run directory, reloading the dataset recorded in
/// `run.json` (or `data`, when given) for masks and breakdowns, with the
/// paired comparison grouped as `grouping` says.
pub fn rerender(dir: &Path, data: Option<&Path>, grouping: &ReportGrouping) -> Result<Metrics, EvalError> {
    let path = data.map(Path::to_path_buf).or_else(|| recorded_dataset(dir));
    let ds = match path {
        Some(p) => match Dataset::load(&p) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!("{e}; reporting without masks and breakdowns");
                None
            }
        },
        None => None,
    };
    let by = match grouping {
        ReportGrouping::Given(by) => Some(by.clone()),
        ReportGrouping::Off => None,
        ReportGrouping::Recorded => recorded_grouping(dir).and_then(|spec| grouping_if_it_applies(&spec, ds.as_ref())),
        ReportGrouping::Inherited(spec) => grouping_if_it_applies(spec, ds.as_ref()),
    };
    write_reports(dir, ds.as_ref(), by.as_ref())
}

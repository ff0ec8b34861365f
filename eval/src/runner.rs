//! Batch runs: every (policy, strategy) pair × image, in parallel, each finished
//! episode appended at once to `predictions.jsonl` and `trajectories.jsonl`, so a
//! killed run loses at most the episodes in flight and `resume` picks up the rest.

use crate::EvalError;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use trutheye_core::{run_episode, AgentConfig, ArtifactSink, EpisodeInput, Executor, ImageBuf, Policy, Registry};

use super::baseline;
use super::dataset::{Dataset, Sample};
use super::prediction::{read_predictions, Key, Prediction};
use super::shard::{Shard, ShardRecord};

/// A policy and an executor for one episode.
pub type EpisodeParts = (Box<dyn Policy>, Box<dyn Executor>);

/// Builds a fresh policy and executor for each episode. The CLI implements it with
/// the policies and executors `analyze` uses; tests implement it with fakes.
pub trait EpisodeFactory: Sync {
    /// A policy and an executor for one episode of `policy` under `strategy`.
    fn make(&self, policy: &str, strategy: &str) -> Result<EpisodeParts, EvalError>;
    /// The operator registry episodes (and baselines) use.
    fn registry(&self) -> Arc<Registry>;
    /// The agent configuration (budgets, prompts, image limits).
    fn config(&self) -> &AgentConfig;
}

/// Single-operator baseline settings.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineOptions {
    /// Operators to turn into detectors (empty: every operator reporting `anomaly_z`).
    pub operators: Vec<String>,
    /// Threshold on `anomaly_z`.
    pub threshold: f64,
}

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct RunOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Policies (`scripted`, ...).
    pub policies: Vec<String>,
    /// Strategies (`pvr`, `registry`, `hybrid`, `none`).
    pub strategies: Vec<String>,
    /// Parallel episodes.
    pub jobs: usize,
    /// Only the first N samples.
    pub limit: Option<usize>,
    /// Skip episodes already in `predictions.jsonl`.
    pub resume: bool,
    /// Run only this shard of the plan (see [`super::shard`]).
    pub shard: Option<Shard>,
    /// Baselines, when asked for.
    pub baselines: Option<BaselineOptions>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Anything else to record in `run.json` (the command line).
    pub args: serde_json::Value,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    /// Episodes in the plan.
    pub planned: usize,
    /// Of the whole plan, when sharded (`planned` is this shard's part).
    pub plan_jobs: Option<usize>,
    /// Skipped because already done (resume).
    pub skipped: usize,
    /// Run now.
    pub ran: usize,
    /// Of those, how many failed (error rows).
    pub errors: usize,
    /// Baseline operators used.
    pub baseline_operators: Vec<String>,
    /// Seconds.
    pub wall_s: f64,
}

enum Job {
    Agent { policy: String, strategy: String, sample: usize },
    Baseline { op: String, sample: usize },
}

impl Job {
    fn key(&self, samples: &[Sample]) -> Key {
        match self {
            Job::Agent { policy, strategy, sample } => (policy.clone(), strategy.clone(), samples[*sample].id.clone()),
            Job::Baseline { op, sample } => (baseline::baseline_policy(op), baseline::BASELINE_STRATEGY.into(), samples[*sample].id.clone()),
        }
    }
}

/// `predictions.jsonl` in `dir`.
pub fn predictions_path(dir: &Path) -> PathBuf {
    dir.join("predictions.jsonl")
}

/// `trajectories.jsonl` in `dir`.
pub fn trajectories_path(dir: &Path) -> PathBuf {
    dir.join("trajectories.jsonl")
}

/// Runs the evaluation and writes `predictions.jsonl`, `trajectories.jsonl` and `run.json`.
pub fn run_eval(ds: &Dataset, factory: &dyn EpisodeFactory, opts: &RunOptions) -> Result<RunSummary, EvalError> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out).map_err(|e| EvalError::RunDir(format!("{}: cannot create output directory: {e}", opts.out.display())))?;
    let samples: &[Sample] = match opts.limit {
        Some(n) => &ds.samples[..n.min(ds.samples.len())],
        None => &ds.samples,
    };
    let done = prepare_outputs(&opts.out, opts.resume)?;
    let mut summary = RunSummary::default();
    let mut jobs = Vec::new();
    for policy in &opts.policies {
        for strategy in &opts.strategies {
            jobs.extend((0..samples.len()).map(|i| Job::Agent { policy: policy.clone(), strategy: strategy.clone(), sample: i }));
        }
    }
    if let Some(b) = &opts.baselines {
        summary.baseline_operators = baseline_operators(factory, b, samples)?;
        for op in &summary.baseline_operators {
            jobs.extend((0..samples.len()).map(|i| Job::Baseline { op: op.clone(), sample: i }));
        }
    }
    if let Some(shard) = opts.shard {
        let plan: Vec<Key> = jobs.iter().map(|j| j.key(samples)).collect();
        let record = ShardRecord::new(shard, &plan);
        if opts.resume {
            if let Some(recorded) = ShardRecord::read(&opts.out)? {
                record.check_same(&recorded, &opts.out)?;
            } else if !done.is_empty() {
                return Err(EvalError::RunDir(format!("{} holds an unsharded run; resume it without --shard", opts.out.display())));
            }
        }
        record.write(&opts.out)?;
        summary.plan_jobs = Some(plan.len());
        jobs = jobs.into_iter().enumerate().filter(|(i, _)| shard.owns(*i)).map(|(_, j)| j).collect();
        tracing::info!(shard = %shard, jobs = jobs.len(), plan = plan.len(), "running one shard of the plan");
    } else if opts.resume {
        if let Some(recorded) = ShardRecord::read(&opts.out)? {
            return Err(EvalError::RunDir(format!("{} holds shard {}; resume it with --shard {}", opts.out.display(), recorded.shard, recorded.shard)));
        }
    }
    summary.planned = jobs.len();
    jobs.retain(|j| !done.contains(&j.key(samples)));
    summary.skipped = summary.planned - jobs.len();
    if summary.skipped > 0 {
        tracing::info!(skipped = summary.skipped, "resuming: episodes already done are skipped");
    }
    let writer = Mutex::new(Writers::open(&opts.out)?);
    let bar = progress_bar(jobs.len(), opts.progress);
    let next = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let write_error: Mutex<Option<EvalError>> = Mutex::new(None);
    let threshold = opts.baselines.as_ref().map(|b| b.threshold).unwrap_or(baseline::DEFAULT_THRESHOLD);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(jobs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                if write_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    break;
                }
                let (pred, traj) = run_job(job, samples, factory, threshold, &opts.out);
                if pred.error.is_some() {
                    errors.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(id = %pred.id, policy = %pred.policy, strategy = %pred.strategy, "episode failed: {}", pred.error.as_deref().unwrap_or(""));
                }
                let res = writer.lock().map_err(|_| EvalError::RunDir("writer lock poisoned".to_string())).and_then(|mut w| w.append(&pred, traj.as_deref()));
                if let Err(e) = res {
                    if let Ok(mut slot) = write_error.lock() {
                        slot.get_or_insert(e);
                    }
                    break;
                }
                bar.set_message(format!("{}/{} {}", pred.policy, pred.strategy, pred.id));
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = write_error.into_inner().ok().flatten() {
        return Err(e);
    }
    summary.ran = jobs.len();
    summary.errors = errors.load(Ordering::SeqCst);
    summary.wall_s = started.elapsed().as_secs_f64();
    write_run_json(ds, samples.len(), opts, &summary)?;
    Ok(summary)
}

fn run_job(job: &Job, samples: &[Sample], factory: &dyn EpisodeFactory, threshold: f64, out: &Path) -> (Prediction, Option<String>) {
    let t0 = Instant::now();
    let ms = || t0.elapsed().as_millis() as u64;
    let config = factory.config();
    match job {
        Job::Baseline { op, sample } => {
            let s = &samples[*sample];
            let policy = baseline::baseline_policy(op);
            let image = match ImageBuf::open_with(&s.image, config.images.decode_options()) {
                Ok(i) => i,
                Err(e) => return (Prediction::failed(s, &policy, baseline::BASELINE_STRATEGY, e.to_string(), ms()), None),
            };
            let registry = factory.registry();
            let pred = catch_unwind(AssertUnwindSafe(|| baseline::predict(&registry, op, s, &image, threshold, Some(out))))
                .unwrap_or_else(|_| Prediction::failed(s, &policy, baseline::BASELINE_STRATEGY, format!("operator `{op}` panicked"), ms()));
            (pred, None)
        }
        Job::Agent { policy, strategy, sample } => {
            let s = &samples[*sample];
            let fail = |e: String| (Prediction::failed(s, policy, strategy, e, ms()), None);
            let image = match ImageBuf::open_with(&s.image, config.images.decode_options()) {
                Ok(i) => i,
                Err(e) => return fail(e.to_string()),
            };
            let (mut pol, mut exec) = match catch_unwind(AssertUnwindSafe(|| factory.make(policy, strategy))) {
                Ok(Ok(pe)) => pe,
                Ok(Err(e)) => return fail(e.to_string()),
                Err(_) => return fail("internal error while building the episode".into()),
            };
            let input = EpisodeInput { id: s.id.clone(), images: vec![Arc::new(image)] };
            let registry = factory.registry();
            let mut sink = MaskSink { run_dir: out, group: format!("{policy}.{strategy}") };
            let traj = catch_unwind(AssertUnwindSafe(|| run_episode(pol.as_mut(), exec.as_mut(), input, config, registry, &mut sink)));
            match traj {
                Ok(mut t) => {
                    t.policy = policy.clone();
                    t.strategy = strategy.clone();
                    let mut pred = Prediction::from_trajectory(s, policy, strategy, &t);
                    pred.map = save_fused_map(s, &t, config, out, &format!("{policy}.{strategy}.map"));
                    (pred, Some(t.to_json_line()))
                }
                Err(_) => fail("internal error during the episode (panic)".into()),
            }
        }
    }
}

/// On a tampered sample with a ground-truth mask, saves the fused localization
/// of every whole-image operator map the episode gathered, whatever its verdict
/// (the same [`trutheye_core::fusion::fuse`] the verdict's mask comes from), so
/// that `pixel_f1_map` can score an agent's map as a baseline's is scored.
fn save_fused_map(s: &Sample, t: &trutheye_core::Trajectory, config: &AgentConfig, run_dir: &Path, group: &str) -> Option<String> {
    if s.mask.is_none() || s.label.three_class() != Some(trutheye_core::Label::Tampered) {
        return None;
    }
    let root = t.images.first().map(|i| (i.width, i.height))?;
    let fused = trutheye_core::fusion::fuse(&trutheye_core::evidence::trajectory_evidence(t), root, &config.localization)?;
    crate::heatmap::save(run_dir, group, &s.id, &fused.heat_image()).map_err(|e| tracing::warn!("{e}")).ok()
}

/// Saves nothing of an episode but its verdict's mask, as a heat-map of the
/// run directory (`heatmaps/<policy>.<strategy>/<id>.png`), so pixel metrics
/// score the agent's mask as they score a baseline's map.
struct MaskSink<'a> {
    run_dir: &'a Path,
    group: String,
}

impl ArtifactSink for MaskSink<'_> {
    fn save(&mut self, _: &str, _: usize, _: &str, _: &ImageBuf) -> Option<String> {
        None
    }

    fn save_mask(&mut self, episode: &str, mask: &image::GrayImage) -> Option<String> {
        crate::heatmap::save(self.run_dir, &self.group, episode, mask).map_err(|e| tracing::warn!("{e}")).ok()
    }
}

fn baseline_operators(factory: &dyn EpisodeFactory, b: &BaselineOptions, samples: &[Sample]) -> Result<Vec<String>, EvalError> {
    let registry = factory.registry();
    if !b.operators.is_empty() {
        if let Some(bad) = b.operators.iter().find(|o| registry.get(o).is_none()) {
            return Err(EvalError::RunDir(format!("unknown baseline operator `{bad}`; available: {}", registry.names().join(", "))));
        }
        return Ok(b.operators.clone());
    }
    let Some(first) = samples.first() else { return Ok(vec![]) };
    let probe = ImageBuf::open_with(&first.image, factory.config().images.decode_options()).map_err(|e| EvalError::RunDir(format!("baseline probe: {e}")))?;
    let (keep, skip): (Vec<String>, Vec<String>) = registry.names().into_iter().partition(|op| baseline::has_anomaly_z(&registry, op, &probe));
    if !skip.is_empty() {
        tracing::warn!("operators without an `anomaly_z` statistic get no baseline: {}", skip.join(", "));
    }
    Ok(keep)
}

/// Reads what is already done. Without `resume`, an existing non-empty
/// predictions file is an error. With it, a cut-off last line and failed rows are
/// dropped (failed episodes run again) and both files are rewritten without them.
fn prepare_outputs(out: &Path, resume: bool) -> Result<HashSet<Key>, EvalError> {
    let pred_path = predictions_path(out);
    let traj_path = trajectories_path(out);
    let exists = std::fs::metadata(&pred_path).map(|m| m.len() > 0).unwrap_or(false);
    if !resume {
        if exists {
            return Err(EvalError::RunDir(format!("{} already has predictions; pass --resume to continue it or choose another --out", out.display())));
        }
        for p in [&pred_path, &traj_path] {
            File::create(p).map_err(|e| EvalError::RunDir(format!("{}: cannot create: {e}", p.display())))?;
        }
        return Ok(HashSet::new());
    }
    let read = read_predictions(&pred_path)?;
    if read.truncated_tail {
        tracing::warn!("{}: dropping a cut-off last line (interrupted run)", pred_path.display());
    }
    let kept: Vec<&Prediction> = read.predictions.iter().filter(|p| p.error.is_none()).collect();
    let mut keys = HashSet::new();
    let mut text = String::new();
    for p in kept {
        if keys.insert(p.key()) {
            text.push_str(&p.to_line());
            text.push('\n');
        }
    }
    replace_file(&pred_path, &text)?;
    let traj_text = std::fs::read_to_string(&traj_path).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut kept_traj = String::new();
    for line in traj_text.split('\n') {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let key = (field("policy"), field("strategy"), field("id"));
        if keys.contains(&key) && seen.insert(key) {
            kept_traj.push_str(line);
            kept_traj.push('\n');
        }
    }
    replace_file(&traj_path, &kept_traj)?;
    Ok(keys)
}

/// Replaces a file by writing a sibling and renaming it over, so a run killed
/// while resuming still has either the old or the new file, never half of one.
fn replace_file(path: &Path, text: &str) -> Result<(), EvalError> {
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(&tmp, text).map_err(|e| EvalError::RunDir(format!("{}: cannot write: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| EvalError::RunDir(format!("{}: cannot replace: {e}", path.display())))
}

struct Writers {
    predictions: File,
    trajectories: File,
}

impl Writers {
    fn open(out: &Path) -> Result<Self, EvalError> {
        let open = |p: PathBuf| OpenOptions::new().create(true).append(true).open(&p).map_err(|e| EvalError::RunDir(format!("{}: cannot open: {e}", p.display())));
        Ok(Self { predictions: open(predictions_path(out))?, trajectories: open(trajectories_path(out))? })
    }

    /// The trajectory first, then the prediction: the prediction line is the commit record.
    fn append(&mut self, pred: &Prediction, traj: Option<&str>) -> Result<(), EvalError> {
        if let Some(t) = traj {
            self.trajectories.write_all(format!("{t}\n").as_bytes()).and_then(|_| self.trajectories.flush()).map_err(|e| EvalError::RunDir(format!("cannot write trajectories.jsonl: {e}")))?;
        }
        self.predictions.write_all(format!("{}\n", pred.to_line()).as_bytes()).and_then(|_| self.predictions.flush()).map_err(|e| EvalError::RunDir(format!("cannot write predictions.jsonl: {e}")))
    }
}

fn progress_bar(n: usize, show: bool) -> ProgressBar {
    if !show || n == 0 {
        return ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} eta {eta} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn write_run_json(ds: &Dataset, used: usize, opts: &RunOptions, summary: &RunSummary) -> Result<(), EvalError> {
    let v = serde_json::json!({
        "dataset": {"path": ds.path, "kind": ds.kind, "samples": ds.samples.len(), "used": used, "bad_rows": ds.bad_rows.len(), "binary": ds.is_binary()},
        "options": opts,
        "summary": summary,
        "finished_unix_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
    });
    let path = opts.out.join("run.json");
    let text = serde_json::to_string_pretty(&v).map_err(|e| EvalError::RunDir(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| EvalError::RunDir(format!("{}: cannot write: {e}", path.display())))
}

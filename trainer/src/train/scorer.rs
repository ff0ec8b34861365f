//! `trutheye train scorer`: fits the scripted policy's adjudication scorer.
//!
//! 1. Features: every sample runs a real episode (scripted policy, registry
//!    strategy, `trutheye_core::run_episode`) and its features are read from the
//!    observations exactly as the policy reads them
//!    ([`trutheye_model::scripted::trajectory_features`]). The features depend on
//!    the base config's stages only, never on its scorer. With `--from-run` they
//!    are read from episodes already recorded, of any strategy and policy
//!    ([`super::scorer_run`]).
//! 2. Model: multinomial logistic regression with authentic as the reference
//!    class, on the features clipped to ±clip (missing = 0, as the scorer does),
//!    standardised (mean/std of the training data), L2 penalty on the
//!    standardised weights, Newton's method; then folded back into raw-feature
//!    weights and biases, i.e. a [`Scorer`].
//! 3. Stratified k-fold CV (seed `--seed`, default 42; with `--group-by`, whole
//!    groups such as the photos the crops were cut from are held out together,
//!    [`super::folds`]): held-out metrics of the
//!    fitted scorer and of the base config's scorer on the same
//!    samples, both predicted through [`ScriptedConfig::score`] and the policy's
//!    argmax, so the figures are what the policy would answer.
//! 4. Fit on everything; write the base config with its `[scorer]` replaced.
//!
//! Binary datasets (any `real`/`fake` label): a two-class model (real vs fake =
//! synthetic or tampered) whose fake score `s` is written to both the synthetic
//! and the tampered class. The policy then answers a fake class exactly when
//! `s > 0` (the binary model's decision) and `1 − P(authentic)` ranks images as
//! the binary model does (AUC unchanged); P(authentic) = 1/(1+2e^s).

use crate::TrainError;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use trutheye_core::executors::tool_executor;
use trutheye_core::{run_episode, AgentConfig, EpisodeInput, ImageBuf, NoArtifacts, Registry, Strategy, VerdictLabel};
use trutheye_model::scripted::{trajectory_features, ClassScore, Scorer};
use trutheye_model::{ScriptedConfig, ScriptedPolicy};

pub use super::scorer_report::{fitted_toml, to_table};
use super::scorer_report::header;
use super::scorer_run::RecordedRun;
use super::temperature::{fit_scale, scaled};
use super::folds::{FoldPlan, GroupBy};
use super::logreg::{argmax, class_metrics, fold_standardization, ClassMetrics, FitReport, LogReg, Standardizer};
use trutheye_eval::calibration::{calibration, Calibration};
use trutheye_eval::dataset::Sample;
use trutheye_eval::Dataset;

/// Default fold seed.
pub const DEFAULT_SEED: u64 = 42;
/// `auto` keeps the features present in at least this fraction of the samples.
pub const AUTO_PRESENCE: f64 = 0.9;

/// The options of `trutheye train scorer`.
#[derive(Debug)]
pub struct ScorerArgs {
    /// Training dataset: a JSONL manifest, a folder with manifest.jsonl, or class-named folders.
    pub data: PathBuf,
    /// Cross-validation folds (stratified).
    pub folds: usize,
    /// Hold out whole groups of samples together (`--group-by`, `--group-pattern`).
    pub group_by: Option<GroupBy>,
    /// L2 penalty on the standardised weights (objective: Σ −log p + l2/2·‖w‖², like scikit-learn's C = 1/l2).
    pub l2: f64,
    /// `auto` (every numeric feature present in ≥90% of the samples) or a comma-separated list of `<op>.<stat>` / `probe.<op>.<stat>`; `<class>:<feature>` lets only that class's score weight it (e.g. `synthetic:fft_residual.upsampling_peak_x4`).
    pub features: String,
    /// Base scripted config (stages, clip, and the scorer compared against); default: the built-in configs/scripted.toml.
    pub scripted_config: Option<PathBuf>,
    /// Agent configuration for the episodes; default: the built-in configs/default.toml.
    pub config: Option<PathBuf>,
    /// Where to write the fitted scripted config.
    pub out: PathBuf,
    /// Parallel episodes (default: number of cores).
    pub jobs: Option<usize>,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Also write every sample's features here (JSON lines: id, label, features), for inspection.
    pub features_out: Option<PathBuf>,
    /// Print the report as one JSON object (no progress bar).
    pub json: bool,
    /// Read the features from this run's recorded episodes (a run directory or
    /// its `trajectories.jsonl`) instead of running registry episodes
    /// ([`super::scorer_run`]).
    pub from_run: Option<PathBuf>,
    /// Whose episodes: with `from_run`, that strategy's (default: the run's
    /// only one); without, only `registry` (the episodes this command runs).
    pub strategy: Option<Strategy>,
    /// Temperature-scale the final fit ([`super::temperature`]): every weight
    /// and bias times the factor that minimises the log loss of the CV's
    /// out-of-fold scores. Labels are the same either way; the report shows
    /// the held-out calibration with and without it whether it is set or not.
    pub temperature: bool,
}

/// Three-class or binary (real/fake) task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// authentic | synthetic | tampered.
    ThreeClass,
    /// real | fake.
    Binary,
}

impl Task {
    /// Class names in index order (index 0 is the reference class).
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            Task::ThreeClass => &["authentic", "synthetic", "tampered"],
            Task::Binary => &["real", "fake"],
        }
    }

    /// The class index of a dataset label.
    pub fn class_of(self, l: VerdictLabel) -> usize {
        match (self, l) {
            (Task::ThreeClass, VerdictLabel::Synthetic) => 1,
            (Task::ThreeClass, VerdictLabel::Tampered) => 2,
            (Task::ThreeClass, _) => 0,
            (Task::Binary, l) => usize::from(l.binary() == trutheye_core::BinaryLabel::Fake),
        }
    }

    /// The class index of the scripted policy's answer given the scorer's three probabilities.
    pub fn class_of_probs(self, p: &[f64; 3]) -> usize {
        let c = argmax(p);
        match self {
            Task::ThreeClass => c,
            Task::Binary => usize::from(c != 0),
        }
    }

    /// The task's class probabilities from the scorer's three: as they are, or
    /// (real, synthetic + tampered) for a binary task.
    pub fn probabilities(self, p: &[f64; 3]) -> Vec<f64> {
        match self {
            Task::ThreeClass => p.to_vec(),
            Task::Binary => vec![p[0], p[1] + p[2]],
        }
    }
}

/// Features of the samples that produced them.
#[derive(Clone, Debug, Default)]
pub struct FeatureTable {
    /// Sample ids.
    pub ids: Vec<String>,
    /// Class index per sample (see [`Task::classes`]).
    pub labels: Vec<usize>,
    /// Feature maps, as the scorer reads them.
    pub features: Vec<BTreeMap<String, f64>>,
}

impl FeatureTable {
    /// The features present (numeric) in at least `frac` of the samples, sorted.
    pub fn common_features(&self, frac: f64) -> Vec<String> {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.features {
            for (k, v) in f {
                if v.is_finite() {
                    *count.entry(k).or_default() += 1;
                }
            }
        }
        let need = (frac * self.features.len() as f64).ceil() as usize;
        count.into_iter().filter(|(_, c)| *c >= need.max(1)).map(|(k, _)| k.to_string()).collect()
    }

    /// The design matrix of `rows` over `names`: clipped to ±clip, missing = 0 (what the scorer does).
    pub fn matrix(&self, rows: &[usize], names: &[String], clip: f64) -> Vec<Vec<f64>> {
        rows.iter()
            .map(|&i| names.iter().map(|n| self.features[i].get(n).copied().filter(|v| v.is_finite()).unwrap_or(0.0).clamp(-clip, clip)).collect())
            .collect()
    }
}

/// One input of the scorer: a feature, and which classes' scores may weight it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureSpec {
    /// `<op>.<stat>` or `probe.<op>.<stat>`, as the scorer reads it.
    pub name: String,
    /// `Some(k)`: only class k's score weights it (`--features <class>:<name>`),
    /// the other classes' weights are held at 0; `None`: every class's may.
    pub only: Option<usize>,
}

impl FeatureSpec {
    /// A feature every class's score may weight.
    pub fn shared(name: impl Into<String>) -> Self {
        Self { name: name.into(), only: None }
    }

    /// Parses `<name>` or `<class>:<name>` (class: a non-reference class of `task`).
    pub fn parse(s: &str, task: Task) -> Result<Self, TrainError> {
        let Some((class, name)) = s.split_once(':') else { return Ok(Self::shared(s.trim())) };
        let (class, name) = (class.trim(), name.trim());
        let classes = task.classes();
        if class.is_empty() || name.is_empty() {
            return Err(TrainError::Scorer(format!("`{s}`: write `<class>:<feature>`, both parts non-empty")));
        }
        if task == Task::Binary {
            return Err(TrainError::Scorer(format!("`{s}`: a binary dataset has one fake score; a feature cannot be restricted to a class")));
        }
        match classes.iter().position(|c| *c == class) {
            Some(k) if k > 0 => Ok(Self { name: name.to_string(), only: Some(k) }),
            _ => Err(TrainError::Scorer(format!("`{s}`: `{class}` is not a class whose score a feature can be restricted to (one of: {})", classes[1..].join(", ")))),
        }
    }

    /// How it is written on the command line and in reports.
    pub fn display(&self, task: Task) -> String {
        match self.only {
            Some(k) => format!("{}:{}", task.classes()[k], self.name),
            None => self.name.clone(),
        }
    }
}

/// Parses `--features` (a comma-separated list of [`FeatureSpec`]s), checking
/// each name against the features the samples reported (`known`) and that no
/// feature is listed twice.
pub fn parse_feature_list(text: &str, task: Task, known: &[String]) -> Result<Vec<FeatureSpec>, TrainError> {
    let list = text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| FeatureSpec::parse(s, task)).collect::<Result<Vec<_>, _>>()?;
    if let Some(bad) = list.iter().find(|f| !known.contains(&f.name)) {
        return Err(TrainError::Scorer(format!("feature `{}` was reported by no sample; known: {}", bad.name, known.join(", "))));
    }
    if let Some((i, f)) = list.iter().enumerate().find(|(i, f)| list[..*i].iter().any(|g| g.name == f.name)) {
        return Err(TrainError::Scorer(format!("feature `{}` is given twice (item {}); list it once, restricted to one class or not", f.name, i + 1)));
    }
    Ok(list)
}

/// Which weights [`LogReg::fit_restricted`] may fit: `[class k − 1][feature j]`;
/// `None` when no feature is restricted.
fn free_weights(specs: &[FeatureSpec], task: Task) -> Option<Vec<Vec<bool>>> {
    specs.iter().any(|f| f.only.is_some()).then(|| (1..task.classes().len()).map(|k| specs.iter().map(|f| f.only.is_none_or(|o| o == k)).collect()).collect())
}

/// The names of `specs`, in order (the columns of the design matrix).
pub fn spec_names(specs: &[FeatureSpec]) -> Vec<String> {
    specs.iter().map(|f| f.name.clone()).collect()
}

/// Fits a scorer on `rows` of the table: standardise, fit, fold back, and write
/// it in the scripted scorer's form (zero weights dropped, so a feature
/// restricted to one class appears in that class's weights only).
pub fn fit_scorer(table: &FeatureTable, rows: &[usize], specs: &[FeatureSpec], task: Task, l2: f64, clip: f64) -> Result<(Scorer, FitReport), TrainError> {
    let n_classes = task.classes().len();
    if let Some(f) = specs.iter().find(|f| f.only.is_some_and(|k| k == 0 || k >= n_classes)) {
        return Err(TrainError::Scorer(format!("feature `{}` is restricted to class {:?}, which has no score of its own", f.name, f.only)));
    }
    let names = spec_names(specs);
    let x = table.matrix(rows, &names, clip);
    let y: Vec<usize> = rows.iter().map(|&i| table.labels[i]).collect();
    let st = Standardizer::fit(&x);
    let z: Vec<Vec<f64>> = x.iter().map(|r| st.apply(r)).collect();
    let free = free_weights(specs, task);
    let (m, report) = LogReg::fit_restricted(&z, &y, n_classes, l2, free.as_deref())?;
    Ok((to_scorer(&fold_standardization(&m, &st), &names, task, clip), report))
}

/// A raw-feature model in the scorer's form. Three-class: classes 1 and 2 are
/// synthetic and tampered. Binary: the fake score goes to both.
pub fn to_scorer(m: &LogReg, names: &[String], task: Task, clip: f64) -> Scorer {
    let class = |k: usize| ClassScore {
        bias: m.bias[k],
        weights: names.iter().cloned().zip(m.weights[k].iter().cloned()).filter(|(_, w)| *w != 0.0).collect(),
    };
    match task {
        Task::ThreeClass => Scorer { clip, synthetic: class(0), tampered: class(1) },
        Task::Binary => Scorer { clip, synthetic: class(0), tampered: class(0) },
    }
}

/// Held-out figures of one fold.
#[derive(Clone, Debug, Serialize)]
pub struct FoldResult {
    /// 1-based fold number.
    pub fold: usize,
    /// Training samples.
    pub n_train: usize,
    /// The fitted scorer on the held-out samples.
    pub fitted: ClassMetrics,
    /// The base config's scorer on the same samples.
    pub hand_set: ClassMetrics,
    /// The optimiser's report.
    pub fit: FitReport,
    /// The temperature scale fitted on this fold's training part (inner
    /// cross-validation), applied to its held-out probabilities.
    pub temperature: f64,
    /// Under `--group-by`: the groups this fold held out (sorted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_out_groups: Vec<String>,
}

/// Mean over folds.
#[derive(Clone, Debug, Serialize)]
pub struct MeanMetrics {
    /// Mean accuracy.
    pub accuracy: f64,
    /// Standard deviation of the fold accuracies.
    pub accuracy_sd: f64,
    /// Mean macro F1.
    pub macro_f1: f64,
    /// Mean per-class recall (over the folds where the class occurs).
    pub recall: Vec<Option<f64>>,
}

impl CvReport {
    /// How the samples were split, for reports: `5-fold stratified CV (seed
    /// 42)`, or with `--group-by` the grouping and the number of groups.
    pub fn scheme(&self) -> String {
        match &self.grouped_by {
            None => format!("{}-fold stratified CV (seed {})", self.k, self.seed),
            Some((by, n)) if *n == self.k => format!("leave-one-group-out CV over the {n} groups of `{by}` ({}-fold)", self.k),
            Some((by, n)) => format!("{}-fold stratified group CV over the {n} groups of `{by}` (seed {}; each group held out whole)", self.k, self.seed),
        }
    }
}

fn mean_of(ms: &[&ClassMetrics]) -> MeanMetrics {
    let n = ms.len().max(1) as f64;
    let acc = ms.iter().map(|m| m.accuracy).sum::<f64>() / n;
    let sd = (ms.iter().map(|m| (m.accuracy - acc).powi(2)).sum::<f64>() / n).sqrt();
    let k = ms.first().map_or(0, |m| m.recall.len());
    let recall = (0..k)
        .map(|c| {
            let v: Vec<f64> = ms.iter().filter_map(|m| m.recall[c]).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    MeanMetrics { accuracy: acc, accuracy_sd: sd, macro_f1: ms.iter().map(|m| m.macro_f1).sum::<f64>() / n, recall }
}

/// The cross-validation result.
#[derive(Clone, Debug, Serialize)]
pub struct CvReport {
    /// Task.
    pub task: Task,
    /// Class names.
    pub classes: Vec<String>,
    /// Folds.
    pub k: usize,
    /// Fold seed.
    pub seed: u64,
    /// Under `--group-by`: what groups the samples (`source =~ REGEX`) and how
    /// many groups there are; `None`: samples were split one by one.
    pub grouped_by: Option<(String, usize)>,
    /// L2 penalty.
    pub l2: f64,
    /// Features used, as given (`<class>:<name>` when restricted to one class).
    pub features: Vec<String>,
    /// Per fold.
    pub folds: Vec<FoldResult>,
    /// Fitted scorer, mean over folds.
    pub fitted_mean: MeanMetrics,
    /// Hand-set scorer, mean over folds.
    pub hand_set_mean: MeanMetrics,
    /// Fitted scorer on all out-of-fold predictions pooled.
    pub fitted_pooled: ClassMetrics,
    /// Hand-set scorer on all samples pooled.
    pub hand_set_pooled: ClassMetrics,
    /// ROC AUC of real vs fake (authentic vs synthetic or tampered) ranked by the
    /// fitted scorer's out-of-fold `1 − p(authentic)`, all folds pooled: the
    /// held-out counterpart of the evaluator's real/fake AUC. `None` without both.
    pub fitted_pooled_real_fake_auc: Option<f64>,
    /// The same AUC for the base config's scorer.
    pub hand_set_real_fake_auc: Option<f64>,
    /// Calibration of the fitted scorer's out-of-fold probabilities, all folds
    /// pooled (Brier, log loss, ECE; [`trutheye_eval::calibration`]): whether
    /// its "0.8 tampered" is right about 80% of the time on unseen images.
    pub fitted_pooled_calibration: Option<Calibration>,
    /// The same for the base config's scorer.
    pub hand_set_calibration: Option<Calibration>,
    /// Calibration of the out-of-fold probabilities after each fold's
    /// temperature scale (fitted inside the fold's training part).
    pub calibrated_pooled_calibration: Option<Calibration>,
    /// Real/fake AUC of those probabilities (the scale can reorder `1 − p(authentic)`).
    pub calibrated_pooled_real_fake_auc: Option<f64>,
    /// Every sample's out-of-fold logits before scaling, which the final
    /// temperature is fitted on.
    #[serde(skip)]
    pub oof_logits: Vec<[f64; 3]>,
}

fn config_with(base: &ScriptedConfig, scorer: Scorer) -> ScriptedConfig {
    ScriptedConfig { stages: base.stages.clone(), scorer }
}

/// Stratified k-fold cross-validation of the fitted scorer against the base
/// config's scorer, on `plan`'s folds (its groups, if any, in the table's row order).
pub fn cross_validate(table: &FeatureTable, specs: &[FeatureSpec], task: Task, base: &ScriptedConfig, plan: &FoldPlan, l2: f64) -> Result<CvReport, TrainError> {
    let n_classes = task.classes().len();
    let (k, seed) = (plan.k, plan.seed);
    let fold_of = plan.assign(&table.labels)?;
    let clip = base.scorer.clip;
    let hand: Vec<usize> = table.features.iter().map(|f| task.class_of_probs(&base.score(f))).collect();
    let mut oof = vec![0usize; table.labels.len()];
    // Out-of-fold `1 − p(authentic)`, for the real/fake AUC.
    let mut oof_fake = vec![0f64; table.labels.len()];
    let mut oof_probs = vec![Vec::new(); table.labels.len()];
    let mut oof_logits = vec![[0.0; 3]; table.labels.len()];
    let mut cal_probs = vec![Vec::new(); table.labels.len()];
    let mut cal_fake = vec![0f64; table.labels.len()];
    let mut folds = Vec::new();
    for f in 0..k {
        let train: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] != f).collect();
        let test: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == f).collect();
        if test.is_empty() {
            continue;
        }
        let (scorer, fit) = fit_scorer(table, &train, specs, task, l2, clip)?;
        let inner = inner_oof_logits(table, &train, specs, task, l2, clip, &plan.subset(&train, k, seed.wrapping_add(f as u64 + 1)))?;
        let temperature = inner.map_or(1.0, |(l, y)| fit_scale(&l, &y, task));
        let cfg = config_with(base, scorer);
        let cal = ScriptedConfig { stages: cfg.stages.clone(), scorer: scaled(&cfg.scorer, temperature) };
        let truth: Vec<usize> = test.iter().map(|&i| table.labels[i]).collect();
        let probs: Vec<[f64; 3]> = test.iter().map(|&i| cfg.score(&table.features[i])).collect();
        let pred: Vec<usize> = probs.iter().map(|p| task.class_of_probs(p)).collect();
        for ((&i, &p), pr) in test.iter().zip(&pred).zip(&probs) {
            oof[i] = p;
            oof_fake[i] = 1.0 - pr[0];
            oof_probs[i] = task.probabilities(pr);
            oof_logits[i] = cfg.logits(&table.features[i]);
            let pc = cal.score(&table.features[i]);
            cal_probs[i] = task.probabilities(&pc);
            cal_fake[i] = 1.0 - pc[0];
        }
        let hp: Vec<usize> = test.iter().map(|&i| hand[i]).collect();
        let mut held_out_groups: Vec<String> = plan.groups.as_ref().map(|g| test.iter().map(|&i| g[i].clone()).collect()).unwrap_or_default();
        held_out_groups.sort();
        held_out_groups.dedup();
        folds.push(FoldResult { fold: f + 1, n_train: train.len(), fitted: class_metrics(&truth, &pred, n_classes), hand_set: class_metrics(&truth, &hp, n_classes), fit, temperature, held_out_groups });
    }
    Ok(CvReport {
        task,
        classes: task.classes().iter().map(|s| s.to_string()).collect(),
        k,
        seed,
        grouped_by: None,
        l2,
        features: specs.iter().map(|f| f.display(task)).collect(),
        fitted_mean: mean_of(&folds.iter().map(|f| &f.fitted).collect::<Vec<_>>()),
        hand_set_mean: mean_of(&folds.iter().map(|f| &f.hand_set).collect::<Vec<_>>()),
        fitted_pooled: class_metrics(&table.labels, &oof, n_classes),
        hand_set_pooled: class_metrics(&table.labels, &hand, n_classes),
        fitted_pooled_real_fake_auc: real_fake_auc(&table.labels, &oof_fake),
        hand_set_real_fake_auc: real_fake_auc(&table.labels, &table.features.iter().map(|f| 1.0 - base.score(f)[0]).collect::<Vec<_>>()),
        fitted_pooled_calibration: calibration(&oof_probs, &table.labels),
        hand_set_calibration: calibration(&table.features.iter().map(|f| task.probabilities(&base.score(f))).collect::<Vec<_>>(), &table.labels),
        calibrated_pooled_calibration: calibration(&cal_probs, &table.labels),
        calibrated_pooled_real_fake_auc: real_fake_auc(&table.labels, &cal_fake),
        oof_logits,
        folds,
    })
}

/// Out-of-fold logits (authentic, synthetic, tampered) with the label of each row.
type OofLogits = (Vec<[f64; 3]>, Vec<usize>);

/// Out-of-fold logits of `rows` by an inner cross-validation inside them
/// (`plan`: the outer one's restricted to `rows`, so groups stay whole; fewer
/// folds when a class has fewer samples), with their labels; `None` when a
/// class has fewer than two samples there or the rows fewer than two groups.
#[allow(clippy::too_many_arguments)]
fn inner_oof_logits(table: &FeatureTable, rows: &[usize], specs: &[FeatureSpec], task: Task, l2: f64, clip: f64, plan: &FoldPlan) -> Result<Option<OofLogits>, TrainError> {
    let labels: Vec<usize> = rows.iter().map(|&i| table.labels[i]).collect();
    let smallest = (0..task.classes().len()).map(|c| labels.iter().filter(|&&l| l == c).count()).min().unwrap_or(0);
    let k = plan.k.min(smallest);
    if k < 2 {
        return Ok(None);
    }
    let fold_of = FoldPlan { k, ..plan.clone() }.assign(&labels)?;
    let mut logits = vec![[0.0; 3]; rows.len()];
    for f in 0..k {
        let train: Vec<usize> = (0..rows.len()).filter(|&j| fold_of[j] != f).map(|j| rows[j]).collect();
        let (scorer, _) = fit_scorer(table, &train, specs, task, l2, clip)?;
        for j in (0..rows.len()).filter(|&j| fold_of[j] == f) {
            logits[j] = scorer.logits(&table.features[rows[j]]);
        }
    }
    Ok(Some((logits, labels)))
}

/// Real/fake ROC AUC of `fake_score` (higher = more likely fake); class 0 is
/// authentic (three-class) or real (binary), every other class is fake.
fn real_fake_auc(labels: &[usize], fake_score: &[f64]) -> Option<f64> {
    let scored: Vec<(f64, bool)> = labels.iter().zip(fake_score).map(|(&l, &s)| (s, l != 0)).collect();
    trutheye_eval::metrics::auc(&scored)
}

/// One sample's features, or why they could not be extracted.
pub type SampleFeatures = Result<BTreeMap<String, f64>, String>;

/// Runs one scripted registry episode per sample (in parallel over `jobs`
/// threads) and returns each sample's features or why it failed.
pub fn extract_features(samples: &[Sample], base: &ScriptedConfig, agent: &AgentConfig, registry: Arc<Registry>, jobs: usize, progress: bool) -> Vec<SampleFeatures> {
    let bar = if progress && !samples.is_empty() {
        let b = ProgressBar::with_draw_target(Some(samples.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} eta {eta} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        b
    } else {
        ProgressBar::hidden()
    };
    let out = super::parallel_map(samples, jobs, |_, s| {
        let r = sample_features(s, base, agent, registry.clone());
        if let Err(e) = &r {
            bar.suspend(|| eprintln!("warning: {}: {e} (skipped)", s.id));
        }
        bar.set_message(s.id.clone());
        bar.inc(1);
        r
    });
    bar.finish_and_clear();
    out.into_iter().map(|r| r.unwrap_or_else(|| Err("internal error during the episode (panic)".to_string()))).collect()
}

fn sample_features(s: &Sample, base: &ScriptedConfig, agent: &AgentConfig, registry: Arc<Registry>) -> SampleFeatures {
    let image = ImageBuf::open_with(&s.image, agent.images.decode_options()).map_err(|e| e.to_string())?;
    // The features come from registry episodes: the scorer is fitted on what
    // the tools report, whatever strategy later uses it.
    let strategy = trutheye_core::Strategy::Registry;
    let mut policy = ScriptedPolicy::new(base.clone(), strategy).with_fusion(agent.localization.clone());
    let mut executor = tool_executor(strategy).ok_or("the registry strategy has no tool executor")?;
    let input = EpisodeInput { id: s.id.clone(), images: vec![Arc::new(image)] };
    let t = catch_unwind(AssertUnwindSafe(|| run_episode(&mut policy, executor.as_mut(), input, agent, registry, &mut NoArtifacts))).map_err(|_| "internal error during the episode (panic)".to_string())?;
    if t.verdict.forced {
        return Err(format!("episode ended without an answer: {}", t.verdict.forced_reason.as_deref().unwrap_or("")));
    }
    let f = trajectory_features(&t, &agent.localization);
    if f.is_empty() {
        return Err("no operator reported any statistic".to_string());
    }
    Ok(f)
}

/// Everything `train scorer` prints or writes.
#[derive(Clone, Debug, Serialize)]
pub struct TrainScorerReport {
    /// Dataset path.
    pub data: PathBuf,
    /// Samples in the dataset.
    pub samples: usize,
    /// Samples whose features could not be extracted (id, reason).
    pub failed: Vec<(String, String)>,
    /// Samples per class among those used.
    pub class_counts: Vec<usize>,
    /// Cross-validation.
    pub cv: CvReport,
    /// Features constant on the data once clipped to ±clip (they get weight 0).
    pub constant_features: Vec<String>,
    /// Training accuracy of the final fit on every sample.
    pub train_accuracy: f64,
    /// The final fit's optimiser report.
    pub fit: FitReport,
    /// The fitted scorer (temperature-scaled with `--temperature`).
    pub scorer: Scorer,
    /// The temperature scale applied to the final fit (1 without `--temperature`).
    pub temperature: f64,
    /// Where the config was written.
    pub out: PathBuf,
    /// Where the features came from: fresh registry episodes, or a recorded
    /// run and strategy (`--from-run`).
    pub features_from: String,
    /// Each feature alone: how well it ranks each other class above the
    /// reference class (no fitting, so no held-out split is needed).
    pub univariate: Vec<FeatureAuc>,
}

/// ROC AUCs of one raw feature (clipped as the scorer clips it): class `k`
/// (k ≥ 1) against class 0, and every other class against class 0. Above 0.5:
/// the feature is higher on that class; below 0.5: lower.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureAuc {
    /// `<op>.<stat>`.
    pub feature: String,
    /// `[class 1 vs 0, class 2 vs 0]` (three-class) or `[fake vs real]` (binary).
    pub vs_reference: Vec<Option<f64>>,
    /// All non-reference classes pooled against class 0 (real/fake).
    pub fake_vs_real: Option<f64>,
}

/// Univariate AUCs of every feature in `names`.
pub fn univariate_aucs(table: &FeatureTable, names: &[String], n_classes: usize, clip: f64) -> Vec<FeatureAuc> {
    let all: Vec<usize> = (0..table.labels.len()).collect();
    let x = table.matrix(&all, names, clip);
    names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let pairs = |keep: &dyn Fn(usize) -> bool| -> Vec<(f64, bool)> {
                table.labels.iter().zip(&x).filter(|(&l, _)| l == 0 || keep(l)).map(|(&l, row)| (row[j], l != 0)).collect()
            };
            FeatureAuc {
                feature: name.clone(),
                vs_reference: (1..n_classes).map(|k| trutheye_eval::metrics::auc(&pairs(&|l| l == k))).collect(),
                fake_vs_real: trutheye_eval::metrics::auc(&pairs(&|_| true)),
            }
        })
        .collect()
}

/// Runs `trutheye train scorer`.
pub fn run(args: &ScorerArgs, registry: Registry) -> Result<TrainScorerReport, TrainError> {
    if args.folds < 2 {
        return Err(TrainError::Scorer(format!("--folds must be at least 2 (got {})", args.folds)));
    }
    if !(args.l2 > 0.0 && args.l2.is_finite()) {
        return Err(TrainError::Scorer(format!("--l2 must be positive (got {}); without a penalty separable data has no finite optimum", args.l2)));
    }
    let base = match &args.scripted_config {
        Some(p) => ScriptedConfig::load(p)?,
        None => ScriptedConfig::builtin(),
    };
    let agent = match &args.config {
        Some(p) => AgentConfig::load(p)?,
        None => AgentConfig::default_config(),
    };
    let ds = Dataset::load(&args.data)?;
    if !ds.bad_rows.is_empty() {
        eprintln!("warning: {} dataset row(s) skipped; first: {}: {}", ds.bad_rows.len(), ds.bad_rows[0].location, ds.bad_rows[0].reason);
    }
    if ds.samples.is_empty() {
        return Err(TrainError::Scorer(format!("{}: no usable samples", args.data.display())));
    }
    let task = if ds.is_binary() { Task::Binary } else { Task::ThreeClass };
    // Before any episode runs: a sample without a group is an error worth seeing at once.
    let sample_groups = args.group_by.as_ref().map(|by| by.keys(&ds.samples)).transpose()?;
    if let Some(n) = sample_groups.as_ref().map(|g| FoldPlan { k: args.folds, seed: args.seed, groups: Some(g.clone()) }.n_groups().unwrap_or(0)).filter(|&n| n < args.folds) {
        return Err(super::folds::too_few_groups(n, args.folds));
    }
    let (feats, features_from) = match &args.from_run {
        Some(run) => {
            let recorded = RecordedRun::read(run)?;
            if let Some((line, why)) = recorded.bad_lines.first() {
                eprintln!("warning: {} unreadable line(s) of the run skipped; first: line {line}: {why}", recorded.bad_lines.len());
            }
            let strategy = recorded.pick_strategy(args.strategy)?;
            (recorded.features(strategy, &ds.samples, &agent.localization)?, format!("`{}` episodes recorded in {}", strategy.as_str(), run.display()))
        }
        None => {
            if let Some(s) = args.strategy.filter(|s| *s != Strategy::Registry) {
                return Err(TrainError::Scorer(format!(
                    "--strategy {0} needs --from-run: the episodes this command runs are registry episodes; record {0} episodes first (`trutheye eval --strategy {0} --out RUN`) and pass --from-run RUN",
                    s.as_str()
                )));
            }
            if registry.is_empty() {
                return Err(TrainError::Scorer("no forensic operators loaded: build the plugins (`cargo build --release`) or pass --plugin-dir".to_string()));
            }
            let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
            (extract_features(&ds.samples, &base, &agent, Arc::new(registry), jobs, !args.json), "scripted registry episodes run by this command".to_string())
        }
    };
    let mut table = FeatureTable::default();
    let mut failed = Vec::new();
    let mut groups = Vec::new();
    for (i, (s, f)) in ds.samples.iter().zip(feats).enumerate() {
        match f {
            Ok(f) => {
                if let Some(g) = &sample_groups {
                    groups.push(g[i].clone());
                }
                table.ids.push(s.id.clone());
                table.labels.push(task.class_of(s.label));
                table.features.push(f);
            }
            Err(e) => failed.push((s.id.clone(), e)),
        }
    }
    if let Some(p) = &args.features_out {
        let rows: Vec<serde_json::Value> = (0..table.ids.len())
            .map(|i| serde_json::json!({"id": table.ids[i], "label": task.classes()[table.labels[i]], "features": table.features[i]}))
            .collect();
        crate::data::write_jsonl(p, &rows)?;
    }
    let n_classes = task.classes().len();
    let class_counts: Vec<usize> = (0..n_classes).map(|c| table.labels.iter().filter(|&&l| l == c).count()).collect();
    if let Some(c) = class_counts.iter().position(|&n| n < args.folds) {
        return Err(TrainError::Scorer(format!("class `{}` has {} usable sample(s), fewer than --folds {}", task.classes()[c], class_counts[c], args.folds)));
    }
    let specs: Vec<FeatureSpec> = if args.features.trim() == "auto" {
        table.common_features(AUTO_PRESENCE).into_iter().map(FeatureSpec::shared).collect()
    } else {
        parse_feature_list(&args.features, task, &table.common_features(0.0))?
    };
    if specs.is_empty() {
        return Err(TrainError::Scorer("no features to fit on".to_string()));
    }
    let names = spec_names(&specs);
    let plan = FoldPlan { k: args.folds, seed: args.seed, groups: args.group_by.is_some().then_some(groups) };
    let mut cv = cross_validate(&table, &specs, task, &base, &plan, args.l2)?;
    cv.grouped_by = args.group_by.as_ref().zip(plan.n_groups()).map(|(by, n)| (by.describe(), n));
    let all: Vec<usize> = (0..table.labels.len()).collect();
    let st = Standardizer::fit(&table.matrix(&all, &names, base.scorer.clip));
    let constant_features: Vec<String> = names.iter().zip(&st.scale).filter(|(_, s)| **s == 0.0).map(|(n, _)| n.clone()).collect();
    let (scorer, fit) = fit_scorer(&table, &all, &specs, task, args.l2, base.scorer.clip)?;
    // The CV's out-of-fold logits are scores of images each fold's fit did not see.
    let temperature = if args.temperature { fit_scale(&cv.oof_logits, &table.labels, task) } else { 1.0 };
    let scorer = scaled(&scorer, temperature);
    let fitted = config_with(&base, scorer.clone());
    let train_pred: Vec<usize> = table.features.iter().map(|f| task.class_of_probs(&fitted.score(f))).collect();
    let train_accuracy = class_metrics(&table.labels, &train_pred, n_classes).accuracy;
    let univariate = univariate_aucs(&table, &names, n_classes, base.scorer.clip);
    let report = TrainScorerReport { data: args.data.clone(), samples: ds.samples.len(), failed, class_counts, cv, constant_features, train_accuracy, fit, scorer, temperature, out: args.out.clone(), features_from, univariate };
    let text = fitted_toml(&fitted, &header(args, &report))?;
    // What we write must be what the policy loads.
    let reloaded = ScriptedConfig::from_toml(&text, &args.out.display().to_string())?;
    if reloaded.stages != fitted.stages || reloaded.scorer.clip != fitted.scorer.clip {
        return Err(TrainError::Scorer("internal error: the fitted config does not round-trip".to_string()));
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::Scorer(format!("{}: cannot create directory: {e}", dir.display())))?;
    }
    std::fs::write(&args.out, text).map_err(|e| TrainError::Scorer(format!("{}: cannot write: {e}", args.out.display())))?;
    Ok(report)
}

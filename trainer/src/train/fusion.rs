//! `trutheye train fusion`: fits how operators' heat-maps are fused into the
//! agent's mask ([`trutheye_core::fusion`]) on the tampered images of a
//! labelled set, with k-fold cross-validation.
//!
//! 1. Maps: every operator in `--operators` runs once on each tampered image
//!    with a ground-truth mask; its heat-map is kept as the episode keeps it
//!    ([`HeatGrid::from_output`]) and normalised onto the fusion grid
//!    ([`Layers`]), so fitting sees exactly what an episode fuses.
//! 2. Weights: a logistic regression of "cell is changed" (at least half of
//!    the cell's pixels are in the mask) on the cells' normalised heats, L2
//!    penalty on standardised inputs, folded back to raw weights; or equal
//!    weights, whichever scores better on the fitting images after step 3.
//! 3. Threshold and shape: the bias offset, the image-relative edge
//!    (`peak_fraction`), the smoothing radius and `largest_only` are chosen to maximise the mean per-image pixel F1 at the
//!    mask's edge on the training images, scored as the evaluator scores a
//!    heat-map (the 8-bit map stretched to the mask's size, read at 128) on
//!    the mask reduced to at most [`SCORE_SIDE`] pixels.
//! 4. With `--select`, which maps are fused is fitted too: greedy forward
//!    selection, adding the operator that most raises the mean pixel F1 of an
//!    inner cross-validation on the fitting images (steps 2–3 refitted per
//!    inner fold) and stopping when no operator adds [`MIN_GAIN`]. Every map
//!    fused is a chance to fit noise, and so is every choice of maps: on dev
//!    (20 masks) the selection held out worse than fusing all ten, each fold
//!    choosing a different set (trainer/README.md), so the shipped fusion
//!    does not use it.
//! 5. Held out: images are split into `--folds` folds (seeded); each fold is
//!    scored by the fusion fitted (selection included) on the others. Then
//!    everything is refitted on all images and written as a `[localization]` file.

use crate::TrainError;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use trutheye_core::fusion::{fuse_layers, FusionConfig, Layers};
use trutheye_core::{AgentConfig, HeatGrid, ImageBuf, Registry, VerdictLabel};
use trutheye_plugin_api::{MapRole, MapRoles};
use trutheye_eval::dataset::GtMask;
use trutheye_eval::Dataset;

use super::folds::{stratified_group_folds, too_few_groups, FoldPlan, GroupBy};
use super::logreg::{fold_standardization, LogReg, Standardizer};
use super::stretch::HeatScorer;
use super::parallel_map;

/// Long side of the masks fits are scored on (the evaluator scores at full size;
/// a fused grid of 64 cells carries no detail finer than this).
pub const SCORE_SIDE: u32 = 256;

/// Bias offsets tried on top of the logistic fit's own bias.
const OFFSETS: [f64; 9] = [-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0];

/// Image-relative edges tried (`peak_fraction`; 0 is off).
const PEAK_FRACTIONS: [f64; 2] = [0.0, 0.5];

/// Smallest rise of the inner cross-validated mean pixel F1 for which forward
/// selection adds an operator (`--select`): below it, a map is not worth the
/// weight it adds to fit.
pub const MIN_GAIN: f64 = 0.005;

/// The options of `trutheye train fusion`.
#[derive(Debug)]
pub struct FusionArgs {
    /// Labelled dataset (tampered images with masks are used).
    pub data: PathBuf,
    /// Operators whose maps are fused.
    pub operators: Vec<String>,
    /// Cross-validation folds.
    pub folds: usize,
    /// Hold out whole groups of images together ([`super::folds`]).
    pub group_by: Option<GroupBy>,
    /// L2 penalty on the standardised weights.
    pub l2: f64,
    /// Fold seed.
    pub seed: u64,
    /// Agent configuration (image decoding, and the grid and clip of its `[localization]`).
    pub config: Option<PathBuf>,
    /// Where to write the fitted `[localization]` file.
    pub out: PathBuf,
    /// Choose which of `operators` to fuse by forward selection (inner
    /// cross-validation on the fitting images) instead of fusing them all.
    pub select: bool,
    /// Parallel images.
    pub jobs: Option<usize>,
    /// Also write each fold's fit here (`fold-<k>.toml`, fitted without the
    /// fold) and its held-out ids (`fold-<k>.ids`), so an evaluation of each
    /// fold's images with its own fit gives held-out agent figures.
    pub fold_configs: Option<PathBuf>,
    /// No progress output.
    pub quiet: bool,
}

/// One tampered image: its normalised maps and its mask.
struct Case {
    id: String,
    /// Its group under `--group-by` (held out with the rest of the group).
    group: Option<String>,
    root: (u32, u32),
    layers: Layers,
    /// Scores fused grids on the mask reduced to at most [`SCORE_SIDE`].
    scorer: HeatScorer,
    /// Per grid cell: 1 when at least half its pixels changed (fitting).
    cells: Vec<usize>,
}

/// What `train fusion` reports.
#[derive(Clone, Debug, Serialize)]
pub struct TrainFusionReport {
    /// Dataset path.
    pub data: PathBuf,
    /// Tampered images with masks used.
    pub images: usize,
    /// Images skipped (id, reason).
    pub failed: Vec<(String, String)>,
    /// Operators offered (`--operators`).
    pub operators: Vec<String>,
    /// Under `--select`: the operators each fold's fit chose, in the order they were added.
    pub fold_selected: Vec<Vec<String>>,
    /// The operators the final fusion weights (all of `operators` without `--select`).
    pub selected: Vec<String>,
    /// Held-out mean pixel F1 per fold.
    pub fold_f1: Vec<f64>,
    /// Under `--group-by`: what groups the images and how many groups they
    /// make; `None`: images were split one by one.
    pub grouped_by: Option<(String, usize)>,
    /// Held-out mean pixel F1 over all images (each scored by the fit that did not see it).
    pub cv_f1: f64,
    /// Held-out mean pixel F1 of each operator's normalised map alone, thresholded
    /// by the same procedure (its own weight 1, bias and shape chosen on the other folds).
    pub cv_f1_single: BTreeMap<String, f64>,
    /// Mean pixel F1 of the final fit on the images it was fitted on.
    pub train_f1: f64,
    /// The fitted fusion.
    pub fusion: FusionConfig,
    /// Where it was written.
    pub out: PathBuf,
}

/// Runs `trutheye train fusion`.
pub fn run(args: &FusionArgs, registry: Registry) -> Result<TrainFusionReport, TrainError> {
    let bad = |m: String| TrainError::Scorer(m);
    if args.folds < 2 {
        return Err(bad(format!("--folds must be at least 2 (got {})", args.folds)));
    }
    if !(args.l2 > 0.0 && args.l2.is_finite()) {
        return Err(bad(format!("--l2 must be positive (got {})", args.l2)));
    }
    if let Some(op) = args.operators.iter().find(|o| registry.get(o).is_none()) {
        return Err(bad(format!("unknown operator `{op}`; available: {}", registry.names().join(", "))));
    }
    let agent = match &args.config {
        Some(p) => AgentConfig::load(p)?,
        None => AgentConfig::default_config(),
    };
    let ds = Dataset::load(&args.data)?;
    let samples: Vec<_> = ds.samples.iter().filter(|s| s.label == VerdictLabel::Tampered && s.mask.is_some()).collect();
    if samples.len() < args.folds {
        return Err(bad(format!("{}: {} tampered image(s) with a mask, fewer than --folds {}", args.data.display(), samples.len(), args.folds)));
    }
    // Before the maps are computed: a sample without a group is an error worth seeing at once.
    let groups = args.group_by.as_ref().map(|by| by.keys(samples.iter().copied())).transpose()?;
    if let Some(n) = groups.as_ref().map(|g| FoldPlan { k: args.folds, seed: args.seed, groups: Some(g.clone()) }.n_groups().unwrap_or(0)).filter(|&n| n < args.folds) {
        return Err(too_few_groups(n, args.folds));
    }
    let base = agent.localization.clone();
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let results = parallel_map(&samples, jobs, |i, s| {
        let r = load_case(s, &args.operators, &agent, &registry, &base);
        if !args.quiet {
            eprintln!("maps {}/{}: {}{}", i + 1, samples.len(), s.id, r.as_ref().err().map(|e| format!(" (skipped: {e})")).unwrap_or_default());
        }
        r
    });
    let mut cases = Vec::new();
    let mut failed = Vec::new();
    for (i, (s, r)) in samples.iter().zip(results).enumerate() {
        match r {
            Some(Ok(c)) => cases.push(Case { group: groups.as_ref().map(|g| g[i].clone()), ..c }),
            Some(Err(e)) => failed.push((s.id.clone(), e)),
            None => failed.push((s.id.clone(), "internal error while computing the maps (panic)".into())),
        }
    }
    if cases.len() < args.folds {
        return Err(bad(format!("only {} image(s) usable, fewer than --folds {}", cases.len(), args.folds)));
    }
    let all: Vec<usize> = (0..cases.len()).collect();
    let folds = folds_of(&cases, &all, args.folds, args.seed)?;
    let mut held = vec![0.0; cases.len()];
    let mut fold_f1 = Vec::new();
    let mut fold_selected = Vec::new();
    for k in 0..args.folds {
        let train: Vec<usize> = (0..cases.len()).filter(|&i| folds[i] != k).collect();
        let test: Vec<usize> = (0..cases.len()).filter(|&i| folds[i] == k).collect();
        let (fitted, chosen) = fit_maybe_selecting(&cases, &train, args, &base, jobs).map_err(|e| bad(format!("fold {k} of {}: {e}", args.folds)))?;
        fold_selected.push(chosen);
        let scores: Vec<f64> = test.iter().map(|&i| f1(&cases[i], &fitted)).collect();
        if let Some(dir) = &args.fold_configs {
            write_fold(dir, k, &fitted, test.iter().map(|&i| cases[i].id.as_str()))?;
        }
        for (&i, f) in test.iter().zip(&scores) {
            held[i] = *f;
        }
        fold_f1.push(mean(&scores));
    }
    let mut cv_f1_single = BTreeMap::new();
    for op in &args.operators {
        let mut s = vec![0.0; cases.len()];
        for k in 0..args.folds {
            let train: Vec<usize> = (0..cases.len()).filter(|&i| folds[i] != k).collect();
            // Weight 1 and the edge half-way to the map's 99th percentile, then tuned as the fusion is.
            let single = FusionConfig { weights: [(op.clone(), 1.0)].into(), bias: -0.5, ..base.clone() };
            let tuned = tune(&cases, &train, single);
            for i in (0..cases.len()).filter(|&i| folds[i] == k) {
                s[i] = f1(&cases[i], &tuned);
            }
        }
        cv_f1_single.insert(op.clone(), round4(mean(&s)));
    }
    let all: Vec<usize> = (0..cases.len()).collect();
    let (fusion, selected) = fit_maybe_selecting(&cases, &all, args, &base, jobs)?;
    let train_f1 = mean(&all.iter().map(|&i| f1(&cases[i], &fusion)).collect::<Vec<_>>());
    let report = TrainFusionReport {
        data: args.data.clone(),
        images: cases.len(),
        failed,
        operators: args.operators.clone(),
        fold_selected: if args.select { fold_selected } else { Vec::new() },
        selected,
        fold_f1: fold_f1.iter().map(|f| round4(*f)).collect(),
        grouped_by: args.group_by.as_ref().map(|by| {
            let mut g: Vec<&str> = cases.iter().filter_map(|c| c.group.as_deref()).collect();
            g.sort_unstable();
            g.dedup();
            (by.describe(), g.len())
        }),
        cv_f1: round4(mean(&held)),
        cv_f1_single,
        train_f1: round4(train_f1),
        fusion,
        out: args.out.clone(),
    };
    let text = fitted_toml(&report, args)?;
    // What we write must be what an episode loads.
    let reloaded = FusionConfig::from_toml(&text, &args.out.display().to_string())?;
    if reloaded.grid != report.fusion.grid || reloaded.largest_only != report.fusion.largest_only {
        return Err(bad("internal error: the fitted fusion does not round-trip".into()));
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| bad(format!("{}: cannot create directory: {e}", dir.display())))?;
    }
    std::fs::write(&args.out, text).map_err(|e| bad(format!("{}: cannot write: {e}", args.out.display())))?;
    Ok(report)
}

/// Writes one fold's fit and held-out ids.
fn write_fold<'a>(dir: &std::path::Path, k: usize, fitted: &FusionConfig, ids: impl Iterator<Item = &'a str>) -> Result<(), TrainError> {
    let bad = |p: &std::path::Path, e: String| TrainError::Scorer(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| bad(dir, format!("cannot create: {e}")))?;
    let body = localization_toml(fitted)?;
    let toml_path = dir.join(format!("fold-{k}.toml"));
    std::fs::write(&toml_path, format!("# Fold {k}: fitted without this fold's images (fold-{k}.ids).\n{body}")).map_err(|e| bad(&toml_path, format!("cannot write: {e}")))?;
    let ids_path = dir.join(format!("fold-{k}.ids"));
    std::fs::write(&ids_path, ids.map(|i| format!("{i}\n")).collect::<String>()).map_err(|e| bad(&ids_path, format!("cannot write: {e}")))
}

fn load_case(s: &trutheye_eval::dataset::Sample, operators: &[String], agent: &AgentConfig, registry: &Registry, base: &FusionConfig) -> Result<Case, String> {
    let image = ImageBuf::open_with(&s.image, agent.images.decode_options()).map_err(|e| e.to_string())?;
    let root = (image.width(), image.height());
    let mask_path = s.mask.as_ref().ok_or("no mask")?;
    let gt = GtMask::open(mask_path).map_err(|e| e.to_string())?;
    if (gt.width, gt.height) != root {
        return Err(format!("mask is {}x{} but the image is {}x{}", gt.width, gt.height, root.0, root.1));
    }
    let mut grids: Vec<(String, HeatGrid)> = Vec::new();
    for op in operators {
        // The fit reads heat-maps only, so operators skip their visuals.
        let out = registry.call_for(op, &image, &serde_json::json!({}), MapRoles::of(&[MapRole::Heatmap])).map_err(|e| format!("{op}: {e}"))?;
        let grid = HeatGrid::from_output(&out, Some([0, 0, root.0, root.1])).ok_or_else(|| format!("{op} returned no float heat-map"))?;
        grids.push((op.clone(), grid));
    }
    let layers = Layers::from_grids(grids.iter().map(|(o, g)| (o.as_str(), g)), root, base);
    let cells = cell_labels(&gt, layers.width, layers.height);
    let scorer = HeatScorer::new((layers.width as u32, layers.height as u32), shrink(&gt, SCORE_SIDE));
    Ok(Case { id: s.id.clone(), group: None, root, layers, scorer, cells })
}

/// Whether at least half of each grid cell's pixels are changed.
fn cell_labels(gt: &GtMask, w: usize, h: usize) -> Vec<usize> {
    let mut on = vec![0usize; w * h];
    let mut n = vec![0usize; w * h];
    for y in 0..gt.height as usize {
        let cy = (y * h / gt.height as usize).min(h - 1);
        for x in 0..gt.width as usize {
            let c = cy * w + (x * w / gt.width as usize).min(w - 1);
            n[c] += 1;
            on[c] += gt.on[y * gt.width as usize + x] as usize;
        }
    }
    on.iter().zip(&n).map(|(a, b)| usize::from(2 * a >= *b && *b > 0)).collect()
}

/// The mask reduced to at most `side` on its long side (a pixel is changed
/// when at least half of its source pixels are).
fn shrink(gt: &GtMask, side: u32) -> GtMask {
    let long = gt.width.max(gt.height);
    if long <= side {
        return gt.clone();
    }
    let (w, h) = ((gt.width as u64 * side as u64 / long as u64).max(1) as usize, (gt.height as u64 * side as u64 / long as u64).max(1) as usize);
    let on = cell_labels(gt, w, h).into_iter().map(|v| v == 1).collect();
    GtMask { width: w as u32, height: h as u32, on }
}

/// The folds of `rows` of `cases`: whole groups when the cases carry one
/// (`--group-by`; an error when there are fewer groups than `k`), else
/// [`fold_of_ids`].
fn folds_of(cases: &[Case], rows: &[usize], k: usize, seed: u64) -> Result<Vec<usize>, TrainError> {
    match rows.iter().map(|&i| cases[i].group.clone()).collect::<Option<Vec<String>>>() {
        Some(groups) => stratified_group_folds(&vec![0; rows.len()], &groups, k, seed),
        None => Ok(fold_of_ids(&rows.iter().map(|&i| cases[i].id.as_str()).collect::<Vec<_>>(), k, seed)),
    }
}

/// Stratification-free seeded fold assignment (a shuffled round robin over
/// the ids' hashes): the fold of each id, in their order.
fn fold_of_ids(ids: &[&str], k: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    let key = |i: usize| {
        // FNV-1a of the id mixed with the seed: stable across runs and platforms.
        ids[i].bytes().fold(0xcbf29ce484222325u64 ^ seed, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    };
    order.sort_by_key(|&i| key(i));
    let mut fold = vec![0; ids.len()];
    for (pos, &i) in order.iter().enumerate() {
        fold[i] = pos % k;
    }
    fold
}

/// [`fit`] on `args.operators`, or on the ones [`select`] keeps under `--select`.
fn fit_maybe_selecting(cases: &[Case], rows: &[usize], args: &FusionArgs, base: &FusionConfig, jobs: usize) -> Result<(FusionConfig, Vec<String>), TrainError> {
    let ops = if args.select { select(cases, rows, &args.operators, args, base, jobs)? } else { args.operators.clone() };
    if ops.is_empty() {
        return Err(TrainError::Scorer("forward selection kept no operator: no map localizes better than marking the whole image on the fitting images".into()));
    }
    Ok((fit(cases, rows, &ops, args.l2, base)?, ops))
}

/// Greedy forward selection: starting from no map, repeatedly adds the
/// candidate whose addition gives the best inner cross-validated mean pixel F1
/// on `rows` (`args.folds` inner folds, each fitted with [`fit`] on the
/// others), while the gain is at least [`MIN_GAIN`] (the first map's gain
/// over marking the whole image). Candidates of a step are
/// scored in parallel over `jobs` threads.
fn select(cases: &[Case], rows: &[usize], candidates: &[String], args: &FusionArgs, base: &FusionConfig, jobs: usize) -> Result<Vec<String>, TrainError> {
    let mut groups: Vec<&str> = rows.iter().filter_map(|&i| cases[i].group.as_deref()).collect();
    groups.sort_unstable();
    groups.dedup();
    // Another seed than the outer folds', so inner splits do not line up with them.
    let seed = args.seed ^ 0x9e37_79b9_7f4a_7c15;
    let (k, inner) = if groups.len() == 1 {
        // One group left to fit on (an outer fold held out all the others):
        // the inner split can only be by image.
        tracing::warn!("forward selection: the fitting images are one group, so its inner folds split images, not groups");
        let k = args.folds.min(rows.len()).max(2);
        (k, fold_of_ids(&rows.iter().map(|&i| cases[i].id.as_str()).collect::<Vec<_>>(), k, seed))
    } else {
        let units = if groups.is_empty() { rows.len() } else { groups.len() };
        let k = args.folds.min(units).max(2);
        (k, folds_of(cases, rows, k, seed)?)
    };
    let inner_cv = |ops: &[String]| -> Result<f64, TrainError> {
        let mut total = 0.0;
        for f in 0..k {
            let train: Vec<usize> = rows.iter().zip(&inner).filter(|(_, &g)| g != f).map(|(&i, _)| i).collect();
            let fitted = fit(cases, &train, ops, args.l2, base)?;
            total += rows.iter().zip(&inner).filter(|(_, &g)| g == f).map(|(&i, _)| f1(&cases[i], &fitted)).sum::<f64>();
        }
        Ok(total / rows.len() as f64)
    };
    let mut chosen: Vec<String> = Vec::new();
    // The first map must beat marking the whole image, which any map can do
    // (a negative weight and a low edge) and which scores 2a/(1+a) on a mask
    // covering a fraction a of the image.
    let mut best = rows.iter().map(|&i| cases[i].scorer.f1_of_constant(true)).sum::<f64>() / rows.len().max(1) as f64;
    loop {
        let open: Vec<&String> = candidates.iter().filter(|c| !chosen.contains(c)).collect();
        if open.is_empty() {
            break;
        }
        let scores = parallel_map(&open, jobs, |_, op| inner_cv(&chosen.iter().cloned().chain([(*op).clone()]).collect::<Vec<_>>()));
        let mut top: Option<(f64, &String)> = None;
        for (op, r) in open.iter().zip(scores) {
            let s = r.ok_or_else(|| TrainError::Scorer(format!("internal error while scoring {op} for selection (panic)")))??;
            if top.is_none_or(|(t, _)| s > t) {
                top = Some((s, op));
            }
        }
        match top {
            Some((s, op)) if s >= best + MIN_GAIN => {
                tracing::info!(operator = %op, inner_cv_f1 = s, "forward selection adds a map");
                chosen.push(op.clone());
                best = s;
            }
            _ => break,
        }
    }
    Ok(chosen)
}

/// Fits weights on `rows`' cells, then tunes the bias and shape on the same images.
fn fit(cases: &[Case], rows: &[usize], operators: &[String], l2: f64, base: &FusionConfig) -> Result<FusionConfig, TrainError> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for &i in rows {
        let c = &cases[i];
        for cell in 0..c.cells.len() {
            x.push(operators.iter().map(|op| c.layers.maps.get(op).map_or(0.0, |z| z[cell] as f64)).collect::<Vec<f64>>());
            y.push(c.cells[cell]);
        }
    }
    let st = Standardizer::fit(&x);
    let xs: Vec<Vec<f64>> = x.iter().map(|r| st.apply(r)).collect();
    let (m, _) = LogReg::fit(&xs, &y, 2, l2)?;
    let raw: LogReg = fold_standardization(&m, &st);
    let weights = operators.iter().cloned().zip(raw.weights[0].iter().map(|w| round4(*w))).collect();
    let logistic = tune(cases, rows, FusionConfig { bias: round4(raw.bias[0]), weights, ..base.clone() });
    // The plain mean of the normalised maps, edge half-way to their 99th
    // percentile: with a few dozen images, equal weights often generalise
    // better than fitted ones. The better of the two on the fitting images wins.
    let uniform = tune(cases, rows, FusionConfig { bias: -0.5, weights: operators.iter().map(|op| (op.clone(), round4(1.0 / operators.len() as f64))).collect(), ..base.clone() });
    let score = |c: &FusionConfig| mean(&rows.iter().map(|&i| f1(&cases[i], c)).collect::<Vec<_>>());
    Ok(if score(&uniform) > score(&logistic) { uniform } else { logistic })
}

/// Chooses the bias offset, smoothing and `largest_only` that maximise the
/// mean pixel F1 of `rows` (ties: the first tried, i.e. the smaller change).
fn tune(cases: &[Case], rows: &[usize], cfg: FusionConfig) -> FusionConfig {
    let mut best = (f64::MIN, cfg.clone());
    for smooth in [0, 1] {
        for largest_only in [true, false] {
            for peak_fraction in PEAK_FRACTIONS {
                for off in OFFSETS {
                    let c = FusionConfig { bias: round4(cfg.bias + off), smooth, largest_only, peak_fraction, ..cfg.clone() };
                    let score = mean(&rows.iter().map(|&i| f1(&cases[i], &c)).collect::<Vec<_>>());
                    if score > best.0 {
                        best = (score, c);
                    }
                }
            }
        }
    }
    best.1
}

/// Pixel F1 of the fused mask of one case, scored as the evaluator scores a
/// heat-map (stretched with a triangle filter, read at 128; [`HeatScorer`]).
fn f1(c: &Case, cfg: &FusionConfig) -> f64 {
    match fuse_layers(&c.layers, c.root, cfg) {
        Some(f) => c.scorer.f1_fixed(&f.heat_image()).unwrap_or_else(|| c.scorer.f1_of_constant(false)),
        None => c.scorer.f1_of_constant(false),
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// The `[localization]` file, with how it was fitted in its header.
pub fn fitted_toml(r: &TrainFusionReport, args: &FusionArgs) -> Result<String, TrainError> {
    let body = localization_toml(&r.fusion)?;
    let singles: Vec<String> = r.cv_f1_single.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
    Ok(format!(
        "# Localization: how the agent's mask is fused from the heat-maps of the\n\
         # operators it ran on the whole image (trutheye_core::fusion): each map is\n\
         # normalised by its own median (0) and 99th percentile (1), clipped to +-clip\n\
         # and resampled to a\n\
         # grid whose long side is `grid` cells; logit = bias + sum(weight * z),\n\
         # box-smoothed with radius `smooth`; mask = logit >= 0 (largest connected\n\
         # component only when `largest_only`). The same table can sit in an agent\n\
         # config as its localization section.\n\
         #\n\
         # Fitted by `trutheye train fusion --data {data} --operators {ops} --folds {folds}{grouped} --l2 {l2} --seed {seed}{select}`\n\
         # on {n} tampered images with masks: logistic regression of changed cells on\n\
         # the normalised maps or equal weights (the better on the fitting images),\n\
         # with bias offset, peak_fraction, smoothing and largest_only chosen for the\n\
         # best mean pixel F1 at the mask's edge on the fitting images.\n\
         # Held-out mean pixel F1 ({folds}-fold{held_whole}{nested}): {cv:.3} (folds: {fold}); on the fitting images: {train:.3}.\n\
         {selected}# Each operator's map alone, thresholded the same way, held out: {singles}.\n",
        data = args.data.display(),
        ops = args.operators.join(","),
        folds = args.folds,
        grouped = args.group_by.as_ref().map_or(String::new(), |by| format!(" --group-by {}{}", by.field, by.pattern.as_ref().map_or(String::new(), |p| format!(" --group-pattern {:?}", p.as_str())))),
        held_whole = r.grouped_by.as_ref().map_or(String::new(), |(by, n)| format!(", the {n} groups of `{by}` each held out whole")),
        l2 = args.l2,
        seed = args.seed,
        select = if args.select { " --select" } else { "" },
        nested = if args.select { ", the selection redone in each" } else { "" },
        selected = if args.select {
            format!("# Selected: {}. Each fold's selection: {}.\n", r.selected.join(", "), r.fold_selected.iter().map(|f| f.join("+")).collect::<Vec<_>>().join("; "))
        } else {
            String::new()
        },
        n = r.images,
        cv = r.cv_f1,
        fold = r.fold_f1.iter().map(|f| format!("{f:.3}")).collect::<Vec<_>>().join(", "),
        train = r.train_f1,
        singles = singles.join(", "),
    ) + &body)
}

/// A fusion as the `[localization]` table `FusionConfig::from_toml` reads.
fn localization_toml(fusion: &FusionConfig) -> Result<String, TrainError> {
    #[derive(Serialize)]
    struct File<'a> {
        localization: &'a FusionConfig,
    }
    toml::to_string(&File { localization: fusion }).map_err(|e| TrainError::Scorer(format!("cannot write the fusion as TOML: {e}")))
}

/// The report as a few lines of text.
pub fn to_table(r: &TrainFusionReport) -> String {
    let mut s = format!("train fusion on {} tampered images ({} skipped)\n", r.images, r.failed.len());
    for (id, e) in &r.failed {
        s += &format!("  skipped {id}: {e}\n");
    }
    s += &format!("held-out mean pixel F1 (fused): {:.3}   folds: {:?}\n", r.cv_f1, r.fold_f1);
    if let Some((by, n)) = &r.grouped_by {
        s += &format!("  folds hold out whole groups: {n} groups of `{by}`\n");
    }
    for (k, ops) in r.fold_selected.iter().enumerate() {
        s += &format!("  fold {k} selected: {}\n", ops.join(", "));
    }
    for (op, f) in &r.cv_f1_single {
        s += &format!("held-out mean pixel F1 ({op} alone): {f:.3}\n");
    }
    s += &format!("fused: {}\n", r.selected.join(", "));
    s += &format!("fitting images: {:.3}\nweights: {:?}\nbias {:.3}, smooth {}, largest_only {}\nwrote {}\n", r.train_f1, r.fusion.weights, r.fusion.bias, r.fusion.smooth, r.fusion.largest_only, r.out.display());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case whose mask is a square and whose "good" map is hot on it while
    /// the "noise" map is hot somewhere else.
    fn case(id: usize) -> Case {
        let (w, h) = (64usize, 48usize);
        let root = (256u32, 192u32);
        let (x0, y0) = (8 + (id * 7) % 40, 6 + (id * 5) % 28);
        let inside = |x: usize, y: usize| (x0..x0 + 12).contains(&x) && (y0..y0 + 10).contains(&y);
        let noise = |i: usize| ((i * 2654435761 + id * 97) % 1000) as f32 / 1000.0;
        let good: Vec<f32> = (0..w * h).map(|i| if inside(i % w, i / w) { 1.0 + noise(i) } else { noise(i) * 0.6 }).collect();
        let decoy: Vec<f32> = (0..w * h).map(|i| if inside((i % w + 30) % w, i / w) { 1.5 } else { noise(i + 7) * 0.6 }).collect();
        let cfg = FusionConfig::default();
        let grid = |v: &Vec<f32>| HeatGrid::from_map("z", w, h, v, Some([0, 0, root.0, root.1])).unwrap();
        let (g, d) = (grid(&good), grid(&decoy));
        let layers = Layers::from_grids([("good", &g), ("decoy", &d)], root, &cfg);
        let on: Vec<bool> = (0..(root.0 * root.1) as usize).map(|i| inside(i % 256 / 4, i / 256 / 4)).collect();
        let gt = GtMask { width: root.0, height: root.1, on };
        let cells = cell_labels(&gt, layers.width, layers.height);
        let scorer = HeatScorer::new((layers.width as u32, layers.height as u32), shrink(&gt, SCORE_SIDE));
        Case { id: format!("c{id}"), group: None, root, layers, scorer, cells }
    }

    #[test]
    fn fitting_weights_the_informative_map_and_localizes_held_out_images() {
        let cases: Vec<Case> = (0..8).map(case).collect();
        let ops = vec!["good".to_string(), "decoy".to_string()];
        let train: Vec<usize> = (0..6).collect();
        let fitted = fit(&cases, &train, &ops, 1.0, &FusionConfig::default()).unwrap();
        assert!(fitted.weights["good"] > fitted.weights["decoy"].max(0.0), "{:?}", fitted.weights);
        for (i, case) in cases.iter().enumerate().skip(6) {
            let f = f1(case, &fitted);
            assert!(f > 0.7, "held-out case {i}: pixel F1 {f}");
        }
        // The decoy alone points at the wrong place.
        let decoy = FusionConfig { weights: [("decoy".to_string(), 1.0)].into(), bias: -0.5, ..FusionConfig::default() };
        assert!(f1(&cases[6], &tune(&cases, &train, decoy)) < 0.2);
    }

    #[test]
    fn forward_selection_keeps_the_informative_map_and_drops_the_decoy() {
        let cases: Vec<Case> = (0..10).map(case).collect();
        let args = FusionArgs {
            data: PathBuf::new(),
            operators: vec!["decoy".into(), "good".into()],
            folds: 3,
            group_by: None,
            l2: 1.0,
            seed: 42,
            config: None,
            out: PathBuf::new(),
            select: true,
            jobs: Some(2),
            fold_configs: None,
            quiet: true,
        };
        let rows: Vec<usize> = (0..10).collect();
        let base = FusionConfig::default();
        let chosen = select(&cases, &rows, &args.operators, &args, &base, 2).unwrap();
        assert_eq!(chosen, vec!["good".to_string()]);
        // With only the decoy on offer, nothing is worth fusing: it localizes
        // the wrong place, no better than marking the whole image.
        let decoy_only = select(&cases, &rows, &["decoy".to_string()], &args, &base, 2).unwrap();
        assert!(decoy_only.is_empty(), "{decoy_only:?}");
        assert!(fit_maybe_selecting(&cases, &rows, &FusionArgs { operators: vec!["decoy".into()], ..args }, &base, 2).is_err());
    }

    #[test]
    fn folds_are_balanced_and_seeded() {
        let mut cases: Vec<Case> = (0..7).map(case).collect();
        let rows: Vec<usize> = (0..7).collect();
        let a = folds_of(&cases, &rows, 3, 42).unwrap();
        assert_eq!(a, folds_of(&cases, &rows, 3, 42).unwrap());
        assert_ne!(a, folds_of(&cases, &rows, 3, 7).unwrap());
        for k in 0..3 {
            let n = a.iter().filter(|&&f| f == k).count();
            assert!((2..=3).contains(&n), "fold {k} has {n}");
        }
        // With groups (--group-by), a group's images share a fold.
        for (i, c) in cases.iter_mut().enumerate() {
            c.group = Some(format!("photo{}", i / 3));
        }
        let g = folds_of(&cases, &rows, 3, 42).unwrap();
        assert!(g[0] == g[1] && g[1] == g[2] && g[3] == g[4] && g[4] == g[5], "{g:?}");
        assert_eq!([g[0], g[3], g[6]].iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "three groups, three folds: {g:?}");
        assert!(folds_of(&cases, &rows, 4, 42).is_err(), "three groups cannot make four folds");
    }
}

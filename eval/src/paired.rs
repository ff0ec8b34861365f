//! Agent rows compared image by image: whether two strategies' figures differ
//! because they answered differently, and by how much beyond chance.
//!
//! Two rows of Table 1 on 60 images can differ by a few points from a handful
//! of images, or be equal while the strategies disagree on many. Paired on the
//! images both answered:
//! - **verdicts**: how many images each got right that the other got wrong,
//!   and McNemar's exact test on those discordant images (two-sided binomial,
//!   p = 1/2), the standard paired test for two classifiers on one test set;
//! - **localization**: the per-image pixel F1 at 0.5 on tampered images with a
//!   mask (what `pixel_f1_fixed` averages), its mean difference, on how many
//!   images it differs, and a 95% percentile bootstrap interval of the mean
//!   difference (images resampled with replacement, 2,000 resamples, fixed
//!   seed, so a report is the same on every machine).
//!
//! Images cut from one photo are not independent (`--group-by`,
//! [`super::grouping`]). With a grouping, each comparison also gives the
//! clustered forms: Durkalski et al.'s (2003) clustered McNemar test, and a
//! cluster bootstrap that resamples whole groups. Both reduce to the plain
//! forms (the asymptotic McNemar, the image bootstrap) when every group holds
//! one image.
//!
//! Baselines are left out: they are single operators, not strategies.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use trutheye_core::Label;

use super::dataset::GtMask;
use super::localization::prediction_f1_fixed;
use super::prediction::Prediction;

/// Bootstrap resamples of the localization difference.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Seed of the bootstrap.
pub const BOOTSTRAP_SEED: u64 = 0x5E_ED0F_7A1B;

/// Two agent rows on the images both answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// First row (`policy/strategy`).
    pub a: String,
    /// Second row.
    pub b: String,
    /// Images both rows answered.
    pub n: usize,
    /// Both right (three-class label; real/fake on binary sets).
    pub both_right: usize,
    /// Only `a` right.
    pub only_a_right: usize,
    /// Only `b` right.
    pub only_b_right: usize,
    /// Both wrong.
    pub both_wrong: usize,
    /// Images whose label differs between the rows (right or wrong).
    pub labels_differ: usize,
    /// McNemar's exact two-sided p-value on `only_a_right` against `only_b_right` (1 when both are 0).
    pub mcnemar_p: f64,
    /// With a grouping: the groups among these images, and Durkalski's
    /// clustered McNemar test over them ([`mcnemar_clustered`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustered: Option<ClusteredTest>,
    /// Per-image pixel F1 at 0.5, `b` − `a`, on the tampered images with a mask both answered.
    pub localization: Option<PairedDifference>,
}

/// A paired difference `b − a` of a per-image figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// Images.
    pub n: usize,
    /// Images where the two figures differ (by more than 1e-9).
    pub differ: usize,
    /// Mean of `b − a`.
    pub mean: f64,
    /// 95% percentile bootstrap interval of the mean.
    pub ci95: [f64; 2],
    /// With a grouping: the groups among these images, and the 95% interval
    /// of a bootstrap that resamples whole groups ([`cluster_bootstrap_mean`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustered_ci95: Option<ClusteredInterval>,
}

/// Durkalski's clustered McNemar test on one comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusteredTest {
    /// Groups among the images compared (an image the grouping does not
    /// name counts as a group of its own).
    pub groups: usize,
    /// Images the grouping does not name (predictions of another dataset).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ungrouped: usize,
    /// The chi-square statistic (1 degree of freedom).
    pub statistic: f64,
    /// Its p-value.
    pub p: f64,
}

/// A cluster bootstrap interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusteredInterval {
    /// Groups resampled.
    pub groups: usize,
    /// 95% percentile interval of the mean.
    pub ci95: [f64; 2],
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// SplitMix64: a tiny, fixed PRNG so resampling (and the trainer's folds) are
/// the same on every machine.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (`n` > 0; the modulo bias is below 2⁻³² for n < 2³²).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// McNemar's exact test: the two-sided binomial p-value of `b` successes out
/// of `b + c` at p = 1/2 (scipy's `binomtest(b, b + c).pvalue`).
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // ln C(n, i) accumulated exactly enough for n up to millions.
    let mut ln_choose = 0.0f64;
    let mut tail = 0.0f64;
    let ln_half_n = n as f64 * 0.5f64.ln();
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    // The distribution is symmetric: the other tail has the same mass, and
    // when b == c the two tails share the middle term, so the sum is capped at 1.
    (2.0 * tail).min(1.0)
}

/// The chi-square survival function with one degree of freedom,
/// `P(X > x) = erfc(sqrt(x / 2))` (scipy's `chi2.sf(x, 1)`).
pub fn chi2_1_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    libm::erfc((x / 2.0).sqrt())
}

/// Durkalski, Palesch, Lipsitz & Rust (2003, Statistics in Medicine 22:2417)
/// McNemar test for clustered matched pairs: with `b_k`, `c_k` the pairs of
/// group `k` only the first or only the second got right and `n_k` its pairs,
/// `X² = (Σ (b_k − c_k)/n_k)² / Σ ((b_k − c_k)/n_k)²`, chi-square with one
/// degree of freedom. Groups are `(b_k, c_k, n_k)`. Returns `(X², p)`; no
/// discordant pair gives `(0, 1)`. With one pair per group it is McNemar's
/// asymptotic statistic `(b − c)² / (b + c)`. Dividing by `n_k` makes every
/// group count equally, and by Cauchy–Schwarz `X²` is at most the number of
/// groups with a net discordance `K`, so `p ≥ chi2.sf(K, 1)`: with few groups
/// the test is conservative.
pub fn mcnemar_clustered(groups: &[(usize, usize, usize)]) -> (f64, f64) {
    let w: Vec<f64> = groups.iter().filter(|g| g.2 > 0).map(|&(b, c, n)| (b as f64 - c as f64) / n as f64).collect();
    let den: f64 = w.iter().map(|v| v * v).sum();
    if den == 0.0 {
        return (0.0, 1.0);
    }
    let x2 = w.iter().sum::<f64>().powi(2) / den;
    (x2, chi2_1_sf(x2))
}

/// Mean of `d` and its 95% percentile bootstrap interval.
pub fn bootstrap_mean(d: &[f64], resamples: usize, seed: u64) -> Option<(f64, [f64; 2])> {
    let each: Vec<usize> = (0..d.len()).collect();
    cluster_bootstrap_mean(d, &each, resamples, seed)
}

/// Mean of `d` and the 95% percentile interval of a bootstrap that draws
/// whole groups with replacement (`group[i]` is the group of `d[i]`); each
/// resample's mean is the sum of its groups' values over their count, the
/// standard cluster bootstrap of a mean. With one value per group in order it
/// is [`bootstrap_mean`].
pub fn cluster_bootstrap_mean(d: &[f64], group: &[usize], resamples: usize, seed: u64) -> Option<(f64, [f64; 2])> {
    if d.is_empty() || group.len() != d.len() {
        return None;
    }
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    // Groups in order of first appearance: (sum, count).
    let mut index: HashMap<usize, usize> = HashMap::new();
    let mut sums: Vec<(f64, usize)> = Vec::new();
    for (&v, &g) in d.iter().zip(group) {
        let k = *index.entry(g).or_insert_with(|| {
            sums.push((0.0, 0));
            sums.len() - 1
        });
        sums[k].0 += v;
        sums[k].1 += 1;
    }
    let mut rng = SplitMix64(seed);
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let (mut s, mut n) = (0.0, 0usize);
            for _ in 0..sums.len() {
                let (gs, gn) = sums[rng.below(sums.len())];
                s += gs;
                n += gn;
            }
            s / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    Some((mean, [at(0.025), at(0.975)]))
}

fn right(p: &Prediction, three_class: bool) -> bool {
    if three_class {
        p.label.and_then(|l| l.three_class()).is_some_and(|l| Some(l) == p.truth.label.three_class())
    } else {
        p.label.map(|l| l.binary()) == Some(p.truth.label.binary())
    }
}

/// An image's group in the clustered forms: a group the grouping names, or
/// the image alone (kept apart, so an id can never join a group of that name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum GroupKey<'a> {
    Group(&'a str),
    Alone(&'a str),
}

/// The groups of the images one comparison sees, numbered in order of first
/// sight, with each group's `(only a right, only b right, images)`.
#[derive(Default)]
struct GroupTally<'a> {
    index: HashMap<GroupKey<'a>, usize>,
    per_group: Vec<(usize, usize, usize)>,
    /// Images the grouping does not name.
    ungrouped: usize,
}

impl<'a> GroupTally<'a> {
    /// The number of `id`'s group, counting the image in it.
    fn enter(&mut self, groups: Option<&'a HashMap<String, String>>, id: &'a str) -> usize {
        let key = match groups.map(|m| m.get(id)) {
            Some(Some(g)) => GroupKey::Group(g),
            Some(None) => {
                self.ungrouped += 1;
                GroupKey::Alone(id)
            }
            None => GroupKey::Alone(id),
        };
        let per_group = &mut self.per_group;
        let gi = *self.index.entry(key).or_insert_with(|| {
            per_group.push((0, 0, 0));
            per_group.len() - 1
        });
        per_group[gi].2 += 1;
        gi
    }
}

/// One agent row's predictions by image id, with its per-image pixel F1
/// computed once however many comparisons read it.
struct Row<'a> {
    name: String,
    by_id: HashMap<&'a str, &'a Prediction>,
    f1: HashMap<&'a str, f64>,
}

impl<'a> Row<'a> {
    fn new(key: &(String, String), predictions: Option<&'a Vec<&'a Prediction>>) -> Self {
        let by_id = predictions.map(|v| v.iter().map(|p| (p.id.as_str(), *p)).collect()).unwrap_or_default();
        Row { name: format!("{}/{}", key.0, key.1), by_id, f1: HashMap::new() }
    }

    /// Pixel F1 at 0.5 of this row's answer on `id` (a tampered image with mask `gt`).
    fn f1(&mut self, id: &'a str, gt: &GtMask, run_dir: Option<&Path>) -> f64 {
        let p = self.by_id[id];
        *self.f1.entry(id).or_insert_with(|| prediction_f1_fixed(p, gt, run_dir))
    }
}

/// Every pair of agent rows (same dataset, rows in `order`), compared on the
/// images both answered. `masks` and `run_dir` as for [`super::localization`];
/// `groups` (sample id → group, [`super::grouping`]) adds the clustered
/// forms when the images compared fall in two groups or more; an image it
/// does not name is a group of its own, and counted (`ungrouped`).
pub fn compare_rows<'a>(
    order: &[(String, String)],
    rows: &'a HashMap<(String, String), Vec<&'a Prediction>>,
    masks: &HashMap<String, GtMask>,
    run_dir: Option<&Path>,
    groups: Option<&'a HashMap<String, String>>,
) -> Vec<PairedComparison> {
    let mut agents: Vec<Row<'a>> = order.iter().filter(|k| k.1 != super::baseline::BASELINE_STRATEGY).map(|k| Row::new(k, rows.get(k))).collect();
    let mut out = Vec::new();
    for i in 0..agents.len() {
        let (head, tail) = agents.split_at_mut(i + 1);
        for b in tail {
            out.push(compare_pair(&mut head[i], b, masks, run_dir, groups));
        }
    }
    out
}

/// Two rows compared on the images both answered ([`compare_rows`]).
fn compare_pair<'a>(a: &mut Row<'a>, b: &mut Row<'a>, masks: &HashMap<String, GtMask>, run_dir: Option<&Path>, groups: Option<&'a HashMap<String, String>>) -> PairedComparison {
    let mut ids: Vec<&'a str> = a.by_id.keys().filter(|id| b.by_id.contains_key(*id)).copied().collect();
    ids.sort_unstable();
    let three = ids.iter().all(|id| a.by_id[id].truth.label.three_class().is_some());
    let (mut rr, mut ra, mut rb, mut ww, mut differ) = (0, 0, 0, 0, 0);
    // Per-image pixel F1 differences (b − a) on tampered images with a mask, and their groups.
    let (mut diffs, mut diff_groups) = (Vec::new(), Vec::new());
    let mut tally = GroupTally::default();
    for &id in &ids {
        let (pa, pb) = (a.by_id[id], b.by_id[id]);
        let gi = tally.enter(groups, id);
        match (right(pa, three), right(pb, three)) {
            (true, true) => rr += 1,
            (true, false) => {
                ra += 1;
                tally.per_group[gi].0 += 1;
            }
            (false, true) => {
                rb += 1;
                tally.per_group[gi].1 += 1;
            }
            (false, false) => ww += 1,
        }
        differ += usize::from(pa.label != pb.label);
        if let (Some(Label::Tampered), Some(gt)) = (pa.truth.label.three_class(), masks.get(id)) {
            let fa = a.f1(id, gt, run_dir);
            diffs.push(b.f1(id, gt, run_dir) - fa);
            diff_groups.push(gi);
        }
    }
    // Fewer than two groups leave nothing to resample or test: no clustered figures.
    let clustered_ci95 = groups.and_then(|_| {
        let mut distinct = diff_groups.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 2 {
            return None;
        }
        let (_, ci95) = cluster_bootstrap_mean(&diffs, &diff_groups, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)?;
        Some(ClusteredInterval { groups: distinct.len(), ci95 })
    });
    let localization = bootstrap_mean(&diffs, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).map(|(mean, ci95)| PairedDifference { n: diffs.len(), differ: diffs.iter().filter(|d| d.abs() > 1e-9).count(), mean, ci95, clustered_ci95 });
    let clustered = groups.filter(|_| tally.per_group.len() >= 2).map(|_| {
        let (statistic, p) = mcnemar_clustered(&tally.per_group);
        ClusteredTest { groups: tally.per_group.len(), ungrouped: tally.ungrouped, statistic, p }
    });
    PairedComparison {
        a: a.name.clone(),
        b: b.name.clone(),
        n: ids.len(),
        both_right: rr,
        only_a_right: ra,
        only_b_right: rb,
        both_wrong: ww,
        labels_differ: differ,
        mcnemar_p: mcnemar_exact(ra, rb),
        clustered,
        localization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_matches_scipy_binomtest() {
        // scipy 1.17.1: binomtest(b, b + c, 0.5).pvalue, two-sided.
        for (b, c, want) in [(10, 2, 0.038574218750), (3, 3, 1.0), (0, 5, 0.0625), (7, 1, 0.0703125), (25, 10, 0.016673847800120715)] {
            let p = mcnemar_exact(b, c);
            assert!((p - want).abs() < 1e-8, "b={b} c={c}: {p} vs {want}");
            assert_eq!(p, mcnemar_exact(c, b), "symmetric");
        }
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn bootstrap_interval_brackets_the_mean_and_is_reproducible() {
        assert_eq!(bootstrap_mean(&[0.25; 7], 500, 1), Some((0.25, [0.25, 0.25])), "no spread, no interval");
        let d: Vec<f64> = (0..40).map(|i| if i % 4 == 0 { 0.4 } else { 0.0 }).collect();
        let (m, [lo, hi]) = bootstrap_mean(&d, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).unwrap();
        assert!((m - 0.1).abs() < 1e-12);
        assert!(lo < m && m < hi && lo >= 0.0 && hi <= 0.4, "[{lo}, {hi}]");
        // The normal approximation's half-width is 1.96·sd/√n ≈ 0.054 here; the percentile interval is close to it.
        assert!(((hi - lo) / 2.0 - 0.054).abs() < 0.015, "half-width {}", (hi - lo) / 2.0);
        assert_eq!(bootstrap_mean(&d, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED), Some((m, [lo, hi])));
        assert_eq!(bootstrap_mean(&[], 10, 1), None);
    }

    /// Durkalski et al.'s two worked examples, with the per-cluster counts
    /// (a, b, c, d) of the R package clust.bin.pair 0.1.2 (MIT,
    /// github.com/dgopstein/clust.bin.pair, `data/psychiatry.rda`, and
    /// `data/thyroids.rda` through its `nested.to.contingency`). The
    /// statistics are the values its tests say Durkalski (2003) published;
    /// the p-values are scipy 1.17.1's `chi2.sf(statistic, 1)`.
    #[test]
    fn clustered_mcnemar_matches_the_published_examples() {
        let psychiatry: [(usize, usize, usize, usize); 29] = [
            (1, 0, 4, 2), (1, 1, 2, 2), (3, 1, 3, 0), (2, 1, 2, 1), (2, 0, 1, 1), (0, 3, 3, 0), (0, 3, 0, 2), (0, 3, 2, 3), (0, 1, 2, 1), (0, 0, 4, 3),
            (1, 0, 2, 0), (1, 1, 4, 0), (1, 0, 3, 3), (2, 0, 2, 2), (2, 0, 1, 2), (1, 0, 3, 0), (2, 0, 1, 3), (1, 0, 2, 2), (0, 3, 0, 1), (2, 1, 0, 0),
            (1, 1, 0, 3), (0, 2, 2, 0), (1, 0, 1, 2), (0, 0, 2, 0), (0, 0, 2, 1), (0, 0, 0, 2), (0, 0, 0, 2), (1, 0, 1, 1), (0, 0, 1, 0),
        ];
        let thyroids: [(usize, usize, usize, usize); 21] = [
            (0, 0, 2, 1), (2, 0, 1, 0), (3, 0, 0, 0), (1, 0, 0, 0), (2, 0, 1, 0), (4, 0, 0, 0), (3, 0, 0, 0), (2, 0, 0, 0), (1, 1, 0, 0), (1, 0, 0, 0), (2, 0, 0, 1),
            (2, 0, 0, 0), (3, 0, 0, 0), (2, 0, 0, 0), (0, 0, 2, 0), (2, 0, 0, 1), (2, 0, 0, 1), (2, 0, 1, 0), (2, 0, 0, 0), (1, 0, 0, 0), (2, 0, 0, 0),
        ];
        let groups = |t: &[(usize, usize, usize, usize)]| t.iter().map(|&(a, b, c, d)| (b, c, a + b + c + d)).collect::<Vec<_>>();
        let (x2, p) = mcnemar_clustered(&groups(&psychiatry));
        assert_eq!((x2 * 1000.0).round() / 1000.0, 7.542, "{x2}");
        assert!((p - 0.006026817058573081).abs() < 1e-12, "{p}");
        let (x2, p) = mcnemar_clustered(&groups(&thyroids));
        assert_eq!((x2 * 100.0).round() / 100.0, 2.32, "{x2}");
        assert!((p - 0.12812565674429374).abs() < 1e-12, "{p}");
        // One pair per group: McNemar's asymptotic statistic, (b - c)^2 / (b + c).
        // Thyroids: b = 1, c = 7, published 4.5; scipy chi2.sf(4.5, 1).
        let singles: Vec<(usize, usize, usize)> = std::iter::repeat_n((1, 0, 1), 1).chain(std::iter::repeat_n((0, 1, 1), 7)).chain(std::iter::repeat_n((0, 0, 1), 40)).collect();
        let (x2, p) = mcnemar_clustered(&singles);
        assert!((x2 - 4.5).abs() < 1e-12 && (p - 0.033894853524689295).abs() < 1e-12, "{x2} {p}");
        assert_eq!(mcnemar_clustered(&[(0, 0, 3), (2, 2, 5)]).1, 1.0, "balanced discordance");
        assert_eq!(mcnemar_clustered(&[]), (0.0, 1.0));
    }

    #[test]
    fn cluster_bootstrap_resamples_whole_groups() {
        let d: Vec<f64> = (0..40).map(|i| if i % 4 == 0 { 0.4 } else { 0.0 }).collect();
        let each: Vec<usize> = (0..40).collect();
        assert_eq!(cluster_bootstrap_mean(&d, &each, BOOTSTRAP_RESAMPLES, 7), bootstrap_mean(&d, BOOTSTRAP_RESAMPLES, 7), "one value per group is the image bootstrap");
        // The same values in 4 groups of 10 that each hold one group's effect:
        // the groups differ (0.4 in one, 0 elsewhere), so the interval must widen.
        let d: Vec<f64> = (0..40).map(|i| if i < 10 { 0.4 } else { 0.0 }).collect();
        let four: Vec<usize> = (0..40).map(|i| i / 10).collect();
        let (m, [lo, hi]) = cluster_bootstrap_mean(&d, &four, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).unwrap();
        let (_, [ilo, ihi]) = bootstrap_mean(&d, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).unwrap();
        assert!((m - 0.1).abs() < 1e-12);
        assert!(hi - lo > 1.5 * (ihi - ilo), "groups [{lo}, {hi}] vs images [{ilo}, {ihi}]");
        // Every resample is a mean over whole groups: 0, 0.1, 0.2, 0.3 or 0.4.
        assert!([lo, hi].iter().all(|v| ((v * 10.0).round() - v * 10.0).abs() < 1e-9), "[{lo}, {hi}]");
        assert_eq!(cluster_bootstrap_mean(&d, &four[..3], 10, 1), None, "one group per value");
    }

    #[test]
    fn chi2_survival_is_scipys() {
        // scipy 1.17.1: chi2.sf(x, 1).
        for (x, want) in [(0.5, 0.47950012218695337), (3.841458820694124, 0.04999999999999989), (10.0, 0.001565402258002549)] {
            assert!((chi2_1_sf(x) - want).abs() < 1e-12, "{x}: {}", chi2_1_sf(x));
        }
        assert_eq!(chi2_1_sf(0.0), 1.0);
    }

    /// Predictions of strategy `s`: (id, true label, predicted label).
    fn rows(s: &str, answers: &[(&str, &str, &str)]) -> String {
        answers
            .iter()
            .map(|(id, truth, label)| {
                format!(
                    r#"{{"id":"{id}","policy":"p","strategy":"{s}","label":"{label}","scores":null,"bbox":null,"mask":null,"error":null,"truth":{{"label":"{truth}","bbox":null,"mask":null}},"forced":false,"turns":1,"tool_calls":0,"format_errors":0,"wall_ms":0,"tools_used":[]}}"#
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    #[test]
    fn groups_key_the_clustered_forms_and_an_unnamed_image_stays_alone() {
        // a right on 1, 2, 3; b right on 4 only. Image "h" is not in the grouping,
        // and its id equals a group's name: it must not join that group.
        let a = rows("a", &[("1", "authentic", "authentic"), ("2", "authentic", "authentic"), ("3", "synthetic", "synthetic"), ("h", "synthetic", "authentic"), ("4", "authentic", "synthetic")]);
        let b = rows("b", &[("1", "authentic", "synthetic"), ("2", "authentic", "synthetic"), ("3", "synthetic", "authentic"), ("h", "synthetic", "authentic"), ("4", "authentic", "authentic")]);
        let read = crate::prediction::parse_predictions(&(a + &b)).expect("parses");
        let order = vec![("p".to_string(), "a".to_string()), ("p".to_string(), "b".to_string())];
        let mut by_row: HashMap<(String, String), Vec<&Prediction>> = HashMap::new();
        for p in &read.predictions {
            by_row.entry((p.policy.clone(), p.strategy.clone())).or_default().push(p);
        }
        let groups: HashMap<String, String> = [("1", "g"), ("2", "g"), ("3", "h"), ("4", "h")].iter().map(|(i, g)| (i.to_string(), g.to_string())).collect();
        let c = &compare_rows(&order, &by_row, &HashMap::new(), None, Some(&groups))[0];
        assert_eq!((c.only_a_right, c.only_b_right, c.both_wrong), (3, 1, 1));
        let t = c.clustered.as_ref().expect("three groups");
        assert_eq!((t.groups, t.ungrouped), (3, 1), "g, h and the image h alone");
        // Per group (b_k, c_k, n_k): g (2, 0, 2), h (1, 1, 2), alone (0, 0, 1): w = 1, 0, 0.
        assert_eq!(t.statistic, 1.0);
        assert!((t.p - chi2_1_sf(1.0)).abs() < 1e-15);
        // All in one group: nothing to test.
        let one: HashMap<String, String> = ["1", "2", "3", "4", "h"].iter().map(|i| (i.to_string(), "g".to_string())).collect();
        assert!(compare_rows(&order, &by_row, &HashMap::new(), None, Some(&one))[0].clustered.is_none());
        assert!(compare_rows(&order, &by_row, &HashMap::new(), None, None)[0].clustered.is_none());
    }
}

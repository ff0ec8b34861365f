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
pub const BOOTSTRAP_SEED: u64 = 0x5EED_0F_7A1B;

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

/// Mean of `d` and its 95% percentile bootstrap interval.
pub fn bootstrap_mean(d: &[f64], resamples: usize, seed: u64) -> Option<(f64, [f64; 2])> {
    if d.is_empty() {
        return None;
    }
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let mut rng = SplitMix64(seed);
    let mut means: Vec<f64> = (0..resamples.max(1)).map(|_| (0..d.len()).map(|_| d[rng.below(d.len())]).sum::<f64>() / d.len() as f64).collect();
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

/// Every pair of agent rows (same dataset, rows in `order`), compared on the
/// images both answered. `masks` and `run_dir` as for [`super::localization`].
pub fn compare_rows(order: &[(String, String)], rows: &HashMap<(String, String), Vec<&Prediction>>, masks: &HashMap<String, GtMask>, run_dir: Option<&Path>) -> Vec<PairedComparison> {
    let agents: Vec<&(String, String)> = order.iter().filter(|k| k.1 != super::baseline::BASELINE_STRATEGY).collect();
    let by_id = |k: &(String, String)| -> HashMap<&str, &Prediction> { rows.get(k).map(|v| v.iter().map(|p| (p.id.as_str(), *p)).collect()).unwrap_or_default() };
    let mut f1_cache: HashMap<(&str, &str, &str), f64> = HashMap::new();
    let mut out = Vec::new();
    for (i, ka) in agents.iter().enumerate() {
        let pa = by_id(ka);
        for kb in &agents[i + 1..] {
            let pb = by_id(kb);
            let mut ids: Vec<&str> = pa.keys().filter(|id| pb.contains_key(*id)).copied().collect();
            ids.sort_unstable();
            let three = ids.iter().all(|id| pa[id].truth.label.three_class().is_some());
            let (mut rr, mut ra, mut rb, mut ww, mut differ) = (0, 0, 0, 0, 0);
            let mut diffs = Vec::new();
            for id in &ids {
                let (a, b) = (pa[id], pb[id]);
                match (right(a, three), right(b, three)) {
                    (true, true) => rr += 1,
                    (true, false) => ra += 1,
                    (false, true) => rb += 1,
                    (false, false) => ww += 1,
                }
                differ += usize::from(a.label != b.label);
                if let (Some(Label::Tampered), Some(gt)) = (a.truth.label.three_class(), masks.get(*id)) {
                    let fa = *f1_cache.entry((ka.0.as_str(), ka.1.as_str(), *id)).or_insert_with(|| prediction_f1_fixed(a, gt, run_dir));
                    let fb = *f1_cache.entry((kb.0.as_str(), kb.1.as_str(), *id)).or_insert_with(|| prediction_f1_fixed(b, gt, run_dir));
                    diffs.push(fb - fa);
                }
            }
            let localization = bootstrap_mean(&diffs, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).map(|(mean, ci95)| PairedDifference { n: diffs.len(), differ: diffs.iter().filter(|d| d.abs() > 1e-9).count(), mean, ci95 });
            out.push(PairedComparison {
                a: format!("{}/{}", ka.0, ka.1),
                b: format!("{}/{}", kb.0, kb.1),
                n: ids.len(),
                both_right: rr,
                only_a_right: ra,
                only_b_right: rb,
                both_wrong: ww,
                labels_differ: differ,
                mcnemar_p: mcnemar_exact(ra, rb),
                localization,
            });
        }
    }
    out
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
}

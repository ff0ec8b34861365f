//! Calibration of stated class probabilities: whether "0.8 tampered" is right
//! about 80% of the time. Accuracy and AUC only use the ranking or the argmax
//! of the scores; a forensic report reads the numbers themselves, so they are
//! scored too.
//!
//! Definitions (the log loss is scikit-learn's `log_loss` with probabilities
//! clipped at 1e-15; the ECE is Guo et al. 2017's):
//! * Brier score: the mean over samples of `Σ_k (p_k − [k = truth])²`
//!   (0 is perfect; a uniform three-class guess scores 2/3; with two classes it
//!   is twice scikit-learn's `brier_score_loss`, which counts one class);
//! * log loss: the mean of `−ln p_truth`, with `p` clipped to `[1e-15, 1]`;
//! * ECE: samples are binned by the confidence of their top class into
//!   [`ECE_BINS`] equal-width bins (`(i/B, (i+1)/B]`, the first also holds 0);
//!   ECE = `Σ_bins (n_bin / n) · |accuracy_bin − mean confidence_bin|`.
//!
//! Probabilities are renormalised to sum to 1 first (stated scores are rounded
//! to three decimals, so they may sum to 0.999); a sample whose probabilities
//! are not finite, negative or all zero is left out and counted.

use serde::{Deserialize, Serialize};

/// Confidence bins of the expected calibration error.
pub const ECE_BINS: usize = 10;
/// Smallest probability `log_loss` takes the logarithm of, so that a certain
/// wrong answer costs about 34.5 and not infinity.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Calibration of one set of predictions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Samples scored.
    pub n: usize,
    /// Samples left out because their probabilities were unusable.
    pub skipped: usize,
    /// Multiclass Brier score (lower is better).
    pub brier: f64,
    /// Mean negative log-probability of the true class (lower is better).
    pub log_loss: f64,
    /// Expected calibration error of the top-class confidence (lower is better).
    pub ece: f64,
    /// Mean top-class confidence; against `top_accuracy` it tells over- from
    /// under-confidence, which ECE does not.
    pub mean_confidence: f64,
    /// Share of samples whose top class is the truth.
    pub top_accuracy: f64,
}

/// Calibration of `probs[i]` (one probability per class) against class index
/// `truth[i]`; `None` when no sample has usable probabilities.
pub fn calibration(probs: &[Vec<f64>], truth: &[usize]) -> Option<Calibration> {
    let mut out = Calibration::default();
    let mut bins = [(0usize, 0usize, 0f64); ECE_BINS]; // (samples, correct, confidence sum)
    for (p, &y) in probs.iter().zip(truth) {
        let sum: f64 = p.iter().sum();
        let usable = y < p.len() && sum > 0.0 && sum.is_finite() && p.iter().all(|v| v.is_finite() && *v >= 0.0);
        if !usable {
            out.skipped += 1;
            continue;
        }
        let p: Vec<f64> = p.iter().map(|v| v / sum).collect();
        out.n += 1;
        out.brier += p.iter().enumerate().map(|(k, v)| (v - if k == y { 1.0 } else { 0.0 }).powi(2)).sum::<f64>();
        out.log_loss -= p[y].clamp(LOG_LOSS_EPS, 1.0).ln();
        // Top class: the first of equal maxima, as an argmax picks it.
        let (top, conf) = p.iter().enumerate().fold((0, f64::MIN), |best, (k, &v)| if v > best.1 { (k, v) } else { best });
        // The tolerance keeps 0.7 (7.000000000000001 once scaled) in (0.6, 0.7].
        let bin = ((conf * ECE_BINS as f64 - 1e-9).ceil().max(1.0) as usize - 1).min(ECE_BINS - 1);
        bins[bin].0 += 1;
        bins[bin].1 += (top == y) as usize;
        bins[bin].2 += conf;
    }
    if out.n == 0 {
        return None;
    }
    let n = out.n as f64;
    out.brier /= n;
    out.log_loss /= n;
    out.mean_confidence = bins.iter().map(|b| b.2).sum::<f64>() / n;
    out.top_accuracy = bins.iter().map(|b| b.1).sum::<usize>() as f64 / n;
    out.ece = bins.iter().filter(|b| b.0 > 0).map(|&(m, correct, conf)| (m as f64 / n) * (correct as f64 / m as f64 - conf / m as f64).abs()).sum();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_values() {
        // Sample 1: truth 0, top class 0 (right) at 0.7, bin (0.6, 0.7].
        // Sample 2: truth 2, top class 1 (wrong) at 0.5, bin (0.4, 0.5].
        let c = calibration(&[vec![0.7, 0.2, 0.1], vec![0.2, 0.5, 0.3]], &[0, 2]).expect("scored");
        assert_eq!((c.n, c.skipped), (2, 0));
        assert!(close(c.brier, (0.14 + 0.78) / 2.0), "{c:?}");
        assert!(close(c.log_loss, -(0.7f64.ln() + 0.3f64.ln()) / 2.0), "{c:?}");
        assert!(close(c.ece, 0.5 * (1.0 - 0.7) + 0.5 * 0.5), "{c:?}");
        assert!(close(c.mean_confidence, 0.6) && close(c.top_accuracy, 0.5), "{c:?}");
    }

    #[test]
    fn calibrated_confidence_has_no_ece_and_certainty_no_loss() {
        // Ten samples at confidence 0.8, eight of them right: accuracy equals confidence.
        let probs: Vec<Vec<f64>> = (0..10).map(|_| vec![0.8, 0.2]).collect();
        let truth: Vec<usize> = (0..10).map(|i| usize::from(i >= 8)).collect();
        let c = calibration(&probs, &truth).expect("scored");
        assert!(c.ece < 1e-12, "{c:?}");
        let sure = calibration(&[vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]], &[0, 2]).expect("scored");
        assert!(sure.brier == 0.0 && sure.log_loss == 0.0 && sure.ece == 0.0, "{sure:?}");
        // Certain and wrong: the loss is capped by the clip, not infinite.
        let wrong = calibration(&[vec![1.0, 0.0]], &[1]).expect("scored");
        assert!(close(wrong.log_loss, -LOG_LOSS_EPS.ln()) && close(wrong.brier, 2.0) && close(wrong.ece, 1.0), "{wrong:?}");
    }

    #[test]
    fn rounded_scores_are_renormalised_and_bad_ones_skipped() {
        let a = calibration(&[vec![0.333, 0.333, 0.333]], &[1]).expect("scored");
        assert!(close(a.brier, 2.0 / 3.0) && close(a.log_loss, 3f64.ln()), "{a:?}");
        let b = calibration(&[vec![0.0, 0.0, 0.0], vec![f64::NAN, 0.5, 0.5], vec![-0.1, 0.6, 0.5], vec![0.5, 0.5], vec![0.5, 0.5, 0.0]], &[0, 0, 0, 5, 0]);
        let b = b.expect("one usable sample");
        assert_eq!((b.n, b.skipped), (1, 4));
        assert!(calibration(&[vec![0.0, 0.0]], &[0]).is_none());
        assert!(calibration(&[], &[]).is_none());
    }

    #[test]
    fn bins_are_closed_on_the_right() {
        // 0.5 falls in (0.4, 0.5] and 0.51 in (0.5, 0.6]: one right and one wrong
        // sample in two bins. In one bin they would cancel to |0.5 − 0.505|.
        let c = calibration(&[vec![0.5, 0.5], vec![0.51, 0.49]], &[0, 1]).expect("scored");
        assert!(close(c.ece, 0.5 * (1.0 - 0.5) + 0.5 * 0.51), "{c:?}");
        // 0.7 and 0.61 share (0.6, 0.7] despite 0.7 * 10 rounding above 7.
        let d = calibration(&[vec![0.7, 0.3], vec![0.61, 0.39]], &[0, 1]).expect("scored");
        assert!(close(d.ece, (0.5 - (0.7 + 0.61) / 2.0f64).abs()), "{d:?}");
    }
}

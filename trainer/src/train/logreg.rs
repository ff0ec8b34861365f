//! The maths of `trutheye train scorer`: multinomial logistic regression with a
//! reference class (exactly the scripted scorer's form: class 0 scores 0, class k
//! scores `b_k + w_k · x`, probabilities are the softmax), fitted with an L2
//! penalty by Newton's method; feature standardisation and its folding back into
//! raw-feature weights; stratified k-fold assignment; classification metrics.
//! Everything is deterministic and dependency-free (a few hundred features × a
//! few hundred samples is tiny).

use crate::TrainError;
use serde::Serialize;
// The evaluator's generator: the folds and its bootstrap draw alike on every machine.
use trutheye_eval::paired::SplitMix64;

/// Per-feature centre and scale: `z = (x - mean) / scale`. A feature constant on
/// the data it was fitted on (std ≤ 1e-9·(1+|mean|)) gets scale 0 and standardises
/// to 0 everywhere, so under any L2 penalty its fitted weight is exactly 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Standardizer {
    /// Per-feature mean.
    pub mean: Vec<f64>,
    /// Per-feature population standard deviation (0 for constant features).
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Mean and standard deviation of each column of `x` (rows are samples).
    pub fn fit(x: &[Vec<f64>]) -> Self {
        let d = x.first().map_or(0, |r| r.len());
        let n = x.len().max(1) as f64;
        let mut mean = vec![0.0; d];
        for r in x {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v / n;
            }
        }
        let mut var = vec![0.0; d];
        for r in x {
            for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
                *s += (v - m) * (v - m) / n;
            }
        }
        let scale = var.into_iter().zip(&mean).map(|(v, m)| if v.sqrt() > 1e-9 * (1.0 + m.abs()) { v.sqrt() } else { 0.0 }).collect();
        Self { mean, scale }
    }

    /// The standardised row.
    pub fn apply(&self, row: &[f64]) -> Vec<f64> {
        row.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| if *s > 0.0 { (v - m) / s } else { 0.0 }).collect()
    }
}

/// A multinomial logistic model with class 0 as the reference class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogReg {
    /// Number of classes (≥ 2).
    pub n_classes: usize,
    /// Bias of classes 1..K.
    pub bias: Vec<f64>,
    /// Weights of classes 1..K, each of the feature dimension.
    pub weights: Vec<Vec<f64>>,
}

/// How a fit went.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FitReport {
    /// Newton iterations.
    pub iterations: usize,
    /// Whether the gradient fell below the tolerance.
    pub converged: bool,
    /// Penalised negative log-likelihood at the end.
    pub objective: f64,
    /// Largest gradient component at the end.
    pub grad_max: f64,
}

fn log_softmax_ref(scores: &[f64]) -> Vec<f64> {
    let lse = log_sum_exp(scores);
    scores.iter().map(|s| s - lse).collect()
}

/// `log Σ exp(s)`, shifted by the maximum so no term overflows.
fn log_sum_exp(scores: &[f64]) -> f64 {
    let m = scores.iter().cloned().fold(f64::MIN, f64::max);
    m + scores.iter().map(|s| (s - m).exp()).sum::<f64>().ln()
}

impl LogReg {
    /// The all-zero model (uniform probabilities).
    pub fn zeros(n_classes: usize, d: usize) -> Self {
        Self { n_classes, bias: vec![0.0; n_classes - 1], weights: vec![vec![0.0; d]; n_classes - 1] }
    }

    /// Scores of every class, class 0 first (always 0).
    pub fn scores(&self, x: &[f64]) -> Vec<f64> {
        let mut s = vec![0.0];
        s.extend(self.bias.iter().zip(&self.weights).map(|(b, w)| b + w.iter().zip(x).map(|(a, c)| a * c).sum::<f64>()));
        s
    }

    /// [`Self::scores`] into `out` (one slot per class): the fitting loops
    /// call this for every sample, so it does not allocate.
    fn scores_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
        for (o, (b, w)) in out[1..].iter_mut().zip(self.bias.iter().zip(&self.weights)) {
            *o = b + w.iter().zip(x).map(|(a, c)| a * c).sum::<f64>();
        }
    }

    /// Class probabilities (softmax of [`Self::scores`]).
    pub fn probs(&self, x: &[f64]) -> Vec<f64> {
        log_softmax_ref(&self.scores(x)).into_iter().map(f64::exp).collect()
    }

    /// The most probable class (the last one on ties, as the scripted policy picks).
    pub fn predict(&self, x: &[f64]) -> usize {
        argmax(&self.scores(x))
    }

    /// Penalised negative log-likelihood: `Σ_i −log p(y_i | x_i) + l2/2 · Σ_{k=0}^{K-1} ‖v_k‖²`
    /// with `v_k = w_k − w̄` (`w_0 = 0`, `w̄` the mean over all K classes), biases
    /// unpenalised. This is scikit-learn's symmetric multinomial penalty: its
    /// per-class weights `v_k` are defined up to a common shift, and the shift that
    /// minimises the penalty is `−w̄`, so the fit does not depend on which class is
    /// the reference (a penalty on `w_k` alone would shrink every class towards
    /// class 0 and favour it).
    pub fn objective(&self, x: &[Vec<f64>], y: &[usize], l2: f64) -> f64 {
        let mut s = vec![0.0; self.n_classes];
        let nll: f64 = x
            .iter()
            .zip(y)
            .map(|(r, &c)| {
                self.scores_into(r, &mut s);
                log_sum_exp(&s) - s[c]
            })
            .sum();
        nll + 0.5 * l2 * self.symmetric_penalty()
    }

    /// `Σ_{k=0}^{K-1} ‖w_k − w̄‖²` (see [`Self::objective`]).
    fn symmetric_penalty(&self) -> f64 {
        let d = self.weights.first().map_or(0, Vec::len);
        let k = self.n_classes as f64;
        (0..d)
            .map(|j| {
                let col: Vec<f64> = self.weights.iter().map(|w| w[j]).collect();
                let mean = col.iter().sum::<f64>() / k;
                // Class 0's weight is 0: its deviation is -mean.
                mean * mean + col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>()
            })
            .sum()
    }

    fn params(&self) -> Vec<f64> {
        let mut p = Vec::new();
        for (b, w) in self.bias.iter().zip(&self.weights) {
            p.push(*b);
            p.extend(w);
        }
        p
    }

    fn from_params(n_classes: usize, d: usize, p: &[f64]) -> Self {
        let (bias, weights) = p.chunks(d + 1).map(|c| (c[0], c[1..].to_vec())).unzip();
        Self { n_classes, bias, weights }
    }

    /// Fits by Newton's method with a backtracking (Armijo) line search, from zero.
    /// `l2` must be positive: it makes the objective strictly convex, so the
    /// optimum is unique and finite even on separable data.
    pub fn fit(x: &[Vec<f64>], y: &[usize], n_classes: usize, l2: f64) -> Result<(Self, FitReport), TrainError> {
        Self::fit_restricted(x, y, n_classes, l2, None)
    }

    /// [`Self::fit`] with some weights held at 0: `free[k-1][j]` says whether
    /// class k's score may weight feature j (`None`: all may). A feature that is
    /// evidence for one class only (an upsampler's spectral peak says
    /// "synthetic", not "tampered") is then fitted in that class's score alone.
    /// The penalty is the same symmetric one, with the held weights at 0.
    pub fn fit_restricted(x: &[Vec<f64>], y: &[usize], n_classes: usize, l2: f64, free: Option<&[Vec<bool>]>) -> Result<(Self, FitReport), TrainError> {
        if n_classes < 2 {
            return Err(TrainError::Scorer("need at least two classes".to_string()));
        }
        if !(l2 > 0.0 && l2.is_finite()) {
            return Err(TrainError::Scorer(format!("--l2 must be positive (got {l2}); without a penalty separable data has no finite optimum")));
        }
        if x.is_empty() || x.len() != y.len() {
            return Err(TrainError::Scorer("no training samples".to_string()));
        }
        if let Some(bad) = y.iter().find(|&&c| c >= n_classes) {
            return Err(TrainError::Scorer(format!("class {bad} out of range")));
        }
        let d = x[0].len();
        if let Some(r) = x.iter().find(|r| r.len() != d) {
            return Err(TrainError::Scorer(format!("samples have {} and {d} features", r.len())));
        }
        let k1 = n_classes - 1;
        let np = k1 * (d + 1);
        if let Some(f) = free {
            if f.len() != k1 || f.iter().any(|r| r.len() != d) {
                return Err(TrainError::Scorer(format!("weight restriction is {}×{}, the model {k1}×{d}", f.len(), f.first().map_or(0, Vec::len))));
            }
        }
        // Parameter indices held at 0 (the bias of each class is always free).
        let held: Vec<usize> = free.map_or_else(Vec::new, |f| {
            (0..k1).flat_map(|a| (0..d).filter(move |&j| !f[a][j]).map(move |j| a * (d + 1) + 1 + j)).collect()
        });
        let mut model = Self::zeros(n_classes, d);
        let mut report = FitReport::default();
        let mut f = model.objective(x, y, l2);
        let tol = 1e-9 * (x.len() as f64).max(1.0);
        for it in 0..200 {
            // Gradient and Hessian of the penalised objective.
            let mut g = vec![0.0; np];
            let mut h = vec![0.0; np * np];
            // Per-sample buffers, reused: this loop runs over every sample (tens
            // of thousands of grid cells for `train fusion`) each iteration.
            let mut p = vec![0.0; n_classes];
            let mut xt = vec![1.0; d + 1];
            for (r, &c) in x.iter().zip(y) {
                model.scores_into(r, &mut p);
                let lse = log_sum_exp(&p);
                p.iter_mut().for_each(|v| *v = (*v - lse).exp());
                xt[1..].copy_from_slice(r);
                for a in 0..k1 {
                    let ya = if c == a + 1 { 1.0 } else { 0.0 };
                    let pa = p[a + 1];
                    for (j, xj) in xt.iter().enumerate() {
                        g[a * (d + 1) + j] += (pa - ya) * xj;
                    }
                    for b in 0..k1 {
                        let pb = p[b + 1];
                        let coef = pa * (if a == b { 1.0 } else { 0.0 } - pb);
                        if coef == 0.0 {
                            continue;
                        }
                        for (i, xi) in xt.iter().enumerate() {
                            let row = (a * (d + 1) + i) * np + b * (d + 1);
                            let cx = coef * xi;
                            for (j, xj) in xt.iter().enumerate() {
                                h[row + j] += cx * xj;
                            }
                        }
                    }
                }
            }
            let theta = model.params();
            // The symmetric penalty: gradient l2·(w_a − Σ_b w_b / K), Hessian l2·(δ_ab − 1/K).
            let inv_k = 1.0 / n_classes as f64;
            for a in 0..k1 {
                for j in 1..=d {
                    let idx = a * (d + 1) + j;
                    let sum: f64 = (0..k1).map(|b| theta[b * (d + 1) + j]).sum();
                    g[idx] += l2 * (theta[idx] - inv_k * sum);
                    for b in 0..k1 {
                        h[idx * np + b * (d + 1) + j] += l2 * (if a == b { 1.0 } else { 0.0 } - inv_k);
                    }
                }
                // A whisker of ridge on the bias keeps the system solvable when a class is absent.
                h[a * (d + 1) * np + a * (d + 1)] += 1e-10;
            }
            // A held weight starts at 0 and gets a zero Newton step: its
            // gradient is dropped and its Hessian row and column become the
            // identity's, which keeps the system positive definite.
            for &i in &held {
                g[i] = 0.0;
                for j in 0..np {
                    h[i * np + j] = 0.0;
                    h[j * np + i] = 0.0;
                }
                h[i * np + i] = 1.0;
            }
            report.grad_max = g.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
            report.iterations = it;
            if report.grad_max < tol {
                report.converged = true;
                break;
            }
            let step = cholesky_solve(&mut h, &g, np).ok_or_else(|| TrainError::Scorer("Hessian is not positive definite (non-finite features?)".to_string()))?;
            let slope: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..40 {
                let cand: Vec<f64> = theta.iter().zip(&step).map(|(p, s)| p - t * s).collect();
                let m = Self::from_params(n_classes, d, &cand);
                let fc = m.objective(x, y, l2);
                if fc.is_finite() && fc <= f - 1e-4 * t * slope {
                    model = m;
                    f = fc;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                // No descent possible at machine precision: we are at the optimum.
                report.converged = report.grad_max < tol.sqrt();
                break;
            }
        }
        report.objective = f;
        Ok((model, report))
    }
}

/// Solves `H s = g` in place by Cholesky (`H` symmetric positive definite, row-major `n × n`).
fn cholesky_solve(h: &mut [f64], g: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut s = h[j * n + j];
        for k in 0..j {
            s -= h[j * n + k] * h[j * n + k];
        }
        if !(s > 0.0 && s.is_finite()) {
            return None;
        }
        let l = s.sqrt();
        h[j * n + j] = l;
        for i in j + 1..n {
            let mut s = h[i * n + j];
            for k in 0..j {
                s -= h[i * n + k] * h[j * n + k];
            }
            h[i * n + j] = s / l;
        }
    }
    let mut z = g.to_vec();
    for i in 0..n {
        for k in 0..i {
            z[i] -= h[i * n + k] * z[k];
        }
        z[i] /= h[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            z[i] -= h[k * n + i] * z[k];
        }
        z[i] /= h[i * n + i];
    }
    Some(z)
}

/// A model fitted on standardised features, rewritten for raw features:
/// `b + Σ w_j (x_j − m_j)/s_j = (b − Σ w_j m_j/s_j) + Σ (w_j/s_j) x_j`
/// (constant features, scale 0, get weight 0).
pub fn fold_standardization(m: &LogReg, s: &Standardizer) -> LogReg {
    let weights: Vec<Vec<f64>> = m.weights.iter().map(|w| w.iter().zip(&s.scale).map(|(w, sc)| if *sc > 0.0 { w / sc } else { 0.0 }).collect()).collect();
    let bias = m.bias.iter().zip(&weights).map(|(b, w)| b - w.iter().zip(&s.mean).map(|(w, mu)| w * mu).sum::<f64>()).collect();
    LogReg { n_classes: m.n_classes, bias, weights }
}

/// Index of the largest value; the last one on ties (what `Iterator::max_by` returns,
/// and so what the scripted policy answers).
pub fn argmax(v: &[f64]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

/// Stratified k-fold: the fold (0..k) of each sample. Each class's samples are
/// shuffled (Fisher–Yates driven by SplitMix64 seeded with `seed`), then dealt to
/// the folds in turn, the deal continuing across classes (classes in index
/// order), so every class is spread over the folds within ±1 and fold sizes
/// differ by at most 1.
pub fn stratified_folds(y: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let mut rng = SplitMix64(seed);
    let mut fold = vec![0; y.len()];
    let n_classes = y.iter().max().map_or(0, |m| m + 1);
    let mut next = 0usize;
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        for i in (1..idx.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        for i in idx {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// Accuracy, macro F1 and per-class recall of a set of predictions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Samples.
    pub n: usize,
    /// Fraction correct.
    pub accuracy: f64,
    /// Mean F1 over the classes that occur in the truth or the predictions.
    pub macro_f1: f64,
    /// Recall of each class (None where the class has no sample).
    pub recall: Vec<Option<f64>>,
}

/// Metrics of `pred` against `truth` over `n_classes` classes.
pub fn class_metrics(truth: &[usize], pred: &[usize], n_classes: usize) -> ClassMetrics {
    let n = truth.len();
    let correct = truth.iter().zip(pred).filter(|(a, b)| a == b).count();
    let mut recall = Vec::new();
    let mut f1s = Vec::new();
    for c in 0..n_classes {
        let support = truth.iter().filter(|&&t| t == c).count();
        let predicted = pred.iter().filter(|&&p| p == c).count();
        let tp = truth.iter().zip(pred).filter(|(&t, &p)| t == c && p == c).count();
        recall.push((support > 0).then(|| tp as f64 / support as f64));
        if support + predicted > 0 {
            f1s.push(2.0 * tp as f64 / (support + predicted) as f64);
        }
    }
    ClassMetrics {
        n,
        accuracy: if n > 0 { correct as f64 / n as f64 } else { 0.0 },
        macro_f1: if f1s.is_empty() { 0.0 } else { f1s.iter().sum::<f64>() / f1s.len() as f64 },
        recall,
    }
}

//! Cross-validation folds that hold out whole groups of samples.
//!
//! A benchmark cut from a few photographs (`../shared/bench/dev`: 60 crops of
//! 9 host photos, each photo feeding all three classes) leaks through plain
//! k-fold: a crop of the same photo, with the same camera noise, JPEG history
//! and scene, sits in the training part while its sibling is held out. A
//! benchmark of unseen photos has no such sibling. `--group-by FIELD` names the
//! manifest field that says where a sample came from, and every group is held
//! out together, so a held-out figure is one on photos the fit never saw.
//!
//! The assignment follows scikit-learn's `StratifiedGroupKFold` (groups with
//! the most uneven class counts first, each to the fold that keeps the
//! classes' spread over the folds most even, ties to the smaller fold). Equal
//! groups are taken in a seeded order (a hash, not NumPy's shuffle, so the
//! folds are the same on every machine); seed 0 keeps their sorted order, which
//! is scikit-learn's `shuffle=False` and gives its folds exactly when its
//! groups sort the same way (group names are sorted as strings here, so
//! integer groups 2 and 10 sort differently). With as many folds as groups it
//! is leave-one-group-out.

use crate::TrainError;
/// The grouping is the evaluator's, so a run's paired comparison and a fit's
/// folds read `--group-by` the same way.
pub use trutheye_eval::grouping::{parse_pattern, GroupBy, Regex};

/// How a cross-validation splits its samples: `k` folds, seeded, and (with
/// `groups`, one per sample) whole groups held out together.
#[derive(Clone, Debug)]
pub struct FoldPlan {
    /// Number of folds.
    pub k: usize,
    /// Seed of the assignment.
    pub seed: u64,
    /// The group of each sample (in the order of the labels given to
    /// [`FoldPlan::assign`]); `None`: samples are split one by one.
    pub groups: Option<Vec<String>>,
}

impl FoldPlan {
    /// Plain stratified k-fold.
    pub fn stratified(k: usize, seed: u64) -> Self {
        Self { k, seed, groups: None }
    }

    /// Distinct groups (`None` without groups).
    pub fn n_groups(&self) -> Option<usize> {
        self.groups.as_ref().map(|g| distinct(g).len())
    }

    /// The fold of each sample: [`super::logreg::stratified_folds`] or
    /// [`stratified_group_folds`].
    pub fn assign(&self, labels: &[usize]) -> Result<Vec<usize>, TrainError> {
        match &self.groups {
            None => Ok(super::logreg::stratified_folds(labels, self.k, self.seed)),
            Some(g) => stratified_group_folds(labels, g, self.k, self.seed),
        }
    }

    /// The plan restricted to `rows` (an inner cross-validation), with at most
    /// `k` folds and never more folds than the rows have groups.
    pub fn subset(&self, rows: &[usize], k: usize, seed: u64) -> Self {
        let groups = self.groups.as_ref().map(|g| rows.iter().map(|&i| g[i].clone()).collect::<Vec<_>>());
        let k = groups.as_ref().map_or(k, |g| k.min(distinct(g).len()));
        Self { k, seed, groups }
    }
}

fn distinct(groups: &[String]) -> Vec<&str> {
    let mut d: Vec<&str> = groups.iter().map(String::as_str).collect();
    d.sort_unstable();
    d.dedup();
    d
}

/// Why `n` groups cannot make `k` folds, and what to pass instead.
pub fn too_few_groups(n: usize, k: usize) -> TrainError {
    if n < 2 {
        return TrainError::Scorer(format!("the grouping yields {n} group(s): cross-validation by group needs at least two (check --group-by and --group-pattern)"));
    }
    TrainError::Scorer(format!("{n} group(s), fewer than {k} folds: pass --folds {n} or fewer (--folds {n} holds out one group at a time)"))
}

/// FNV-1a of `s` mixed with `seed`: a stable order among equal groups.
fn seeded_hash(s: &str, seed: u64) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Stratified group k-fold: the fold (0..k) of each sample, every group's
/// samples in one fold. Errors when there are fewer groups than folds.
pub fn stratified_group_folds(labels: &[usize], groups: &[String], k: usize, seed: u64) -> Result<Vec<usize>, TrainError> {
    if labels.len() != groups.len() {
        return Err(TrainError::Scorer(format!("internal error: {} labels but {} groups", labels.len(), groups.len())));
    }
    let names = distinct(groups);
    if names.len() < k {
        return Err(too_few_groups(names.len(), k));
    }
    // Only the classes present, as scikit-learn encodes them (an absent class's
    // zero column would change every group's spread, and so their order).
    let mut present: Vec<usize> = labels.to_vec();
    present.sort_unstable();
    present.dedup();
    let n_classes = present.len();
    let class_of = |l: usize| present.binary_search(&l).unwrap_or(0);
    let class_total: Vec<f64> = (0..n_classes).map(|c| labels.iter().filter(|&&l| class_of(l) == c).count().max(1) as f64).collect();
    // Class counts of each group.
    let mut counts = vec![vec![0usize; n_classes]; names.len()];
    let index_of = |g: &str| names.binary_search(&g).unwrap_or(0);
    for (l, g) in labels.iter().zip(groups) {
        counts[index_of(g)][class_of(*l)] += 1;
    }
    let spread = |c: &[usize]| {
        let m = c.iter().sum::<usize>() as f64 / c.len().max(1) as f64;
        (c.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / c.len().max(1) as f64).sqrt()
    };
    let mut order: Vec<usize> = (0..names.len()).collect();
    if seed != 0 {
        order.sort_by_key(|&a| seeded_hash(names[a], seed));
    }
    // Stable: equal groups keep the order above.
    order.sort_by(|&a, &b| spread(&counts[b]).total_cmp(&spread(&counts[a])));
    let mut per_fold = vec![vec![0usize; n_classes]; k];
    let mut fold_of_group = vec![0usize; names.len()];
    for g in order {
        let mut best: Option<(f64, usize, usize)> = None;
        for f in 0..k {
            // Mean over classes of the spread of that class's share across folds, were g in fold f.
            let eval: f64 = (0..n_classes)
                .map(|c| {
                    let shares: Vec<f64> = (0..k).map(|j| (per_fold[j][c] + if j == f { counts[g][c] } else { 0 }) as f64 / class_total[c]).collect();
                    let m = shares.iter().sum::<f64>() / k as f64;
                    (shares.iter().map(|s| (s - m).powi(2)).sum::<f64>() / k as f64).sqrt()
                })
                .sum::<f64>()
                / n_classes.max(1) as f64;
            let size: usize = per_fold[f].iter().sum();
            let better = match best {
                None => true,
                // scikit-learn's test: strictly lower, or equal by NumPy's isclose and a smaller fold.
                Some((e, s, _)) => eval < e || ((eval - e).abs() <= 1e-8 + 1e-5 * e.abs() && size < s),
            };
            if better {
                best = Some((eval, size, f));
            }
        }
        let f = best.map_or(0, |b| b.2);
        fold_of_group[g] = f;
        for c in 0..n_classes {
            per_fold[f][c] += counts[g][c];
        }
    }
    Ok(groups.iter().map(|g| fold_of_group[index_of(g)]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_groups_says_what_to_pass() {
        assert!(too_few_groups(1, 5).to_string().contains("needs at least two"));
        assert!(too_few_groups(3, 5).to_string().contains("pass --folds 3 or fewer"));
    }

    /// The groups each of `k` folds holds out, the folds in sorted order
    /// (samples of a group are adjacent in these tests).
    fn held_out_groups(folds: &[usize], groups: &[String], k: usize) -> Vec<Vec<String>> {
        let mut held: Vec<Vec<String>> = (0..k)
            .map(|f| {
                let mut v: Vec<String> = (0..groups.len()).filter(|&i| folds[i] == f).map(|i| groups[i].clone()).collect();
                v.dedup();
                v
            })
            .collect();
        held.sort();
        held
    }

    /// dev's shape: 9 host photos of 3..18 crops, every class in most of them.
    fn dev_like() -> (Vec<usize>, Vec<String>) {
        let sizes = [(1, 2, 2), (2, 2, 1), (1, 1, 1), (6, 6, 6), (2, 1, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)];
        let (mut y, mut g) = (Vec::new(), Vec::new());
        for (i, (a, s, t)) in sizes.iter().enumerate() {
            for (c, n) in [(0, *a), (1, *s), (2, *t)] {
                for _ in 0..n {
                    y.push(c);
                    g.push(format!("photo{i}"));
                }
            }
        }
        (y, g)
    }

    #[test]
    fn groups_are_never_split_and_the_folds_stay_balanced() {
        let (y, g) = dev_like();
        let f = stratified_group_folds(&y, &g, 5, 42).unwrap();
        for (i, gi) in g.iter().enumerate() {
            for (j, gj) in g.iter().enumerate() {
                if gi == gj {
                    assert_eq!(f[i], f[j], "{gi} split across folds");
                }
            }
        }
        let sizes: Vec<usize> = (0..5).map(|k| f.iter().filter(|&&x| x == k).count()).collect();
        assert!(sizes.iter().all(|&n| n > 0), "every fold holds something: {sizes:?}");
        // The 18-crop photo is a fold on its own; the others share the other four.
        assert_eq!(*sizes.iter().max().unwrap(), 18, "{sizes:?}");
        assert_eq!(f, stratified_group_folds(&y, &g, 5, 42).unwrap(), "deterministic");
        // As many folds as groups: leave one group out.
        let logo = stratified_group_folds(&y, &g, 9, 42).unwrap();
        assert_eq!(distinct(&logo.iter().map(|x| x.to_string()).collect::<Vec<_>>()).len(), 9);
        // scikit-learn 1.9.1's StratifiedGroupKFold(5) (shuffle=False) on the
        // same labels and groups: {0, 6}, {1, 8}, {2, 5}, {3}, {4, 7}.
        let held = held_out_groups(&stratified_group_folds(&y, &g, 5, 0).unwrap(), &g, 5);
        assert_eq!(held, [vec!["photo0", "photo6"], vec!["photo1", "photo8"], vec!["photo2", "photo5"], vec!["photo3"], vec!["photo4", "photo7"]]);
        // Only the classes present count: labels {0, 2} deal as {0, 1} do.
        let y02: Vec<usize> = y.iter().map(|&c| if c == 1 { 2 } else { c }).collect();
        let y01: Vec<usize> = y02.iter().map(|&c| usize::from(c == 2)).collect();
        assert_eq!(stratified_group_folds(&y02, &g, 5, 7).unwrap(), stratified_group_folds(&y01, &g, 5, 7).unwrap());
        let e = stratified_group_folds(&y, &g, 10, 42).unwrap_err().to_string();
        assert!(e.contains("9 group(s), fewer than 10 folds"), "{e}");
    }

    #[test]
    fn seed_zero_gives_scikit_learns_folds() {
        // scikit-learn 1.9.1, StratifiedGroupKFold(n_splits=3) (shuffle=False) on
        // this y and these groups holds out groups {3, 6, 7}, {1, 2, 8} and {4, 5}.
        let y = [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let g: Vec<String> = [1, 1, 2, 2, 3, 3, 3, 4, 5, 5, 5, 5, 6, 6, 7, 8, 8].iter().map(|x: &i32| x.to_string()).collect();
        let held = held_out_groups(&stratified_group_folds(&y, &g, 3, 0).unwrap(), &g, 3);
        assert_eq!(held, [vec!["1", "2", "8"], vec!["3", "6", "7"], vec!["4", "5"]]);
    }
}

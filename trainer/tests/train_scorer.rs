//! `trutheye train scorer`'s maths on data the tests make: the optimiser, the
//! stratified folds, folding standardisation into raw weights, the scorer form
//! and the TOML round trip through `ScriptedConfig`.

use std::collections::BTreeMap;

use trutheye_model::ScriptedConfig;
use trutheye_trainer::train::folds::FoldPlan;
use trutheye_trainer::train::logreg::{class_metrics, fold_standardization, stratified_folds, LogReg, Standardizer};
use trutheye_trainer::train::scorer::{cross_validate, fit_scorer, fitted_toml, parse_feature_list, to_scorer, univariate_aucs, FeatureSpec, FeatureTable, Task};

/// A deterministic pseudo-random number in [-0.5, 0.5).
fn jitter(i: usize, j: usize) -> f64 {
    let mut z = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (j as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 31;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 29;
    (z % 10_000) as f64 / 10_000.0 - 0.5
}

/// 3 classes, 10 samples each, separable along features 0 (synthetic) and 1
/// (tampered); feature 2 is noise.
fn separable() -> (Vec<Vec<f64>>, Vec<usize>) {
    let centres = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (c, m) in centres.iter().enumerate() {
        for k in 0..10 {
            let i = c * 10 + k;
            x.push(vec![m[0] + jitter(i, 0), m[1] + jitter(i, 1), 3.0 * jitter(i, 2)]);
            y.push(c);
        }
    }
    (x, y)
}

fn norm(m: &LogReg) -> f64 {
    m.weights.iter().flatten().map(|w| w * w).sum::<f64>().sqrt()
}

#[test]
fn optimiser_separates_a_separable_three_class_set() {
    let (x, y) = separable();
    let (m, rep) = LogReg::fit(&x, &y, 3, 0.01).unwrap();
    assert!(rep.converged, "{rep:?}");
    let pred: Vec<usize> = x.iter().map(|r| m.predict(r)).collect();
    assert_eq!(class_metrics(&y, &pred, 3).accuracy, 1.0);
    for r in &x {
        let p = m.probs(r);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    // The separating directions, read from each class's weights centred over the
    // three classes (the form the symmetric penalty shrinks): synthetic along
    // feature 0, tampered along feature 1, feature 2 (noise) nowhere.
    let centred = |k: usize| -> Vec<f64> {
        (0..3).map(|j| {
            let w = |c: usize| if c == 0 { 0.0 } else { m.weights[c - 1][j] };
            w(k) - (w(0) + w(1) + w(2)) / 3.0
        }).collect()
    };
    let (syn, tamp) = (centred(1), centred(2));
    assert!(syn[0] > 0.0 && syn[0] > 3.0 * syn[1].abs() && syn[0] > 3.0 * syn[2].abs(), "{syn:?}");
    assert!(tamp[1] > 0.0 && tamp[1] > 3.0 * tamp[0].abs() && tamp[1] > 3.0 * tamp[2].abs(), "{tamp:?}");
}

#[test]
fn restricted_weights_stay_zero_and_the_rest_is_optimal() {
    let (x, y) = separable();
    // Feature 0 may be weighted by synthetic only, feature 1 by tampered only.
    let free = vec![vec![true, false, true], vec![false, true, true]];
    let (m, rep) = LogReg::fit_restricted(&x, &y, 3, 1.0, Some(&free)).unwrap();
    assert!(rep.converged, "{rep:?}");
    assert_eq!((m.weights[0][1], m.weights[1][0]), (0.0, 0.0), "held weights are exactly 0");
    assert!(m.weights[0][0] > 0.0 && m.weights[1][1] > 0.0, "{:?}", m.weights);
    // Optimal over the free parameters: no small move of one lowers the objective.
    let f0 = m.objective(&x, &y, 1.0);
    for (k, j) in [(0, 0), (0, 2), (1, 1), (1, 2)] {
        for h in [-1e-4, 1e-4] {
            let mut p = m.clone();
            p.weights[k][j] += h;
            assert!(p.objective(&x, &y, 1.0) >= f0 - 1e-9, "weight [{k}][{j}] moved by {h} lowers the objective");
        }
    }
    for k in 0..2 {
        for h in [-1e-4, 1e-4] {
            let mut p = m.clone();
            p.bias[k] += h;
            assert!(p.objective(&x, &y, 1.0) >= f0 - 1e-9, "bias [{k}] moved by {h} lowers the objective");
        }
    }
    // Holding weights can only cost objective; holding none is the plain fit.
    let (plain, _) = LogReg::fit(&x, &y, 3, 1.0).unwrap();
    assert!(plain.objective(&x, &y, 1.0) < f0);
    let (all_free, _) = LogReg::fit_restricted(&x, &y, 3, 1.0, Some(&[vec![true; 3], vec![true; 3]])).unwrap();
    assert_eq!(all_free, plain);
    assert!(LogReg::fit_restricted(&x, &y, 3, 1.0, Some(&[vec![true; 3]])).is_err(), "a restriction with too few classes");
    assert!(LogReg::fit_restricted(&x, &y, 3, 1.0, Some(&[vec![true; 2], vec![true; 2]])).is_err(), "a restriction with too few features");
}

#[test]
fn a_feature_restricted_to_one_class_is_only_in_its_weights() {
    let (t, names) = table();
    assert_eq!(FeatureSpec::parse("synthetic:a.anomaly_z", Task::ThreeClass).unwrap(), FeatureSpec { name: "a.anomaly_z".into(), only: Some(1) });
    assert_eq!(FeatureSpec::parse("c.noise", Task::ThreeClass).unwrap(), FeatureSpec::shared("c.noise"));
    assert_eq!(FeatureSpec::parse("tampered:probe.b.anomaly_z", Task::ThreeClass).unwrap().display(Task::ThreeClass), "tampered:probe.b.anomaly_z");
    for bad in ["authentic:a.anomaly_z", "fake:a.anomaly_z"] {
        let e = FeatureSpec::parse(bad, Task::ThreeClass).unwrap_err().to_string();
        assert!(e.contains("synthetic, tampered"), "{e}");
    }
    assert!(FeatureSpec::parse("synthetic:a.anomaly_z", Task::Binary).unwrap_err().to_string().contains("binary"));
    for bad in ["synthetic:", ":a.anomaly_z", " : "] {
        assert!(FeatureSpec::parse(bad, Task::ThreeClass).unwrap_err().to_string().contains("both parts non-empty"), "{bad}");
    }
    let list = parse_feature_list(" a.anomaly_z, tampered:c.noise ,", Task::ThreeClass, &names).unwrap();
    assert_eq!(list, vec![FeatureSpec::shared("a.anomaly_z"), FeatureSpec { name: "c.noise".into(), only: Some(2) }]);
    let twice = parse_feature_list("a.anomaly_z,synthetic:a.anomaly_z", Task::ThreeClass, &names).unwrap_err().to_string();
    assert!(twice.contains("`a.anomaly_z` is given twice (item 2)"), "{twice}");
    let unknown = parse_feature_list("synthetic:z.none", Task::ThreeClass, &names).unwrap_err().to_string();
    assert!(unknown.contains("`z.none` was reported by no sample"), "{unknown}");
    let all_rows: Vec<usize> = (0..t.labels.len()).collect();
    let reference_only = [FeatureSpec { name: names[0].clone(), only: Some(0) }];
    assert!(fit_scorer(&t, &all_rows, &reference_only, Task::ThreeClass, 1.0, 10.0).is_err(), "the reference class has no score");
    let specs = vec![FeatureSpec { name: names[0].clone(), only: Some(1) }, FeatureSpec { name: names[1].clone(), only: Some(2) }, FeatureSpec::shared(names[2].clone())];
    let all: Vec<usize> = (0..t.labels.len()).collect();
    let (scorer, _) = fit_scorer(&t, &all, &specs, Task::ThreeClass, 1.0, 10.0).unwrap();
    assert!(scorer.synthetic.weights.contains_key(&names[0]) && !scorer.synthetic.weights.contains_key(&names[1]), "{scorer:?}");
    assert!(scorer.tampered.weights.contains_key(&names[1]) && !scorer.tampered.weights.contains_key(&names[0]), "{scorer:?}");
    assert!(scorer.synthetic.weights.contains_key(&names[2]) && scorer.tampered.weights.contains_key(&names[2]));
    let cv = cross_validate(&t, &specs, Task::ThreeClass, &ScriptedConfig::builtin(), &FoldPlan::stratified(5, 42), 0.1).unwrap();
    assert_eq!(cv.features, vec!["synthetic:a.anomaly_z", "tampered:probe.b.anomaly_z", "c.noise"]);
    assert_eq!(cv.fitted_pooled.accuracy, 1.0, "each class keeps the feature that separates it");
}

#[test]
fn l2_shrinks_the_weights() {
    let (x, y) = separable();
    let norms: Vec<f64> = [0.01, 1.0, 10.0, 100.0].iter().map(|&l2| norm(&LogReg::fit(&x, &y, 3, l2).unwrap().0)).collect();
    assert!(norms.windows(2).all(|w| w[1] < w[0]), "{norms:?}");
    assert!(LogReg::fit(&x, &y, 3, 0.0).is_err(), "no penalty: separable data has no finite optimum");
}

#[test]
fn optimiser_hits_a_known_optimum() {
    // Two points x = -1 (class 0) and x = +1 (class 1): by symmetry the bias is 0.
    // The symmetric penalty of two classes is l2/2·((w/2)² + (w/2)²) = l2/4·w², so
    // the weight solves l2/2·w = 2·σ(−w) (gradient of 2·log(1+e^{−w}) + l2/4·w²).
    for l2 in [0.5, 1.0, 4.0] {
        let (m, rep) = LogReg::fit(&[vec![-1.0], vec![1.0]], &[0, 1], 2, l2).unwrap();
        let w = m.weights[0][0];
        assert!(rep.converged);
        assert!(m.bias[0].abs() < 1e-9, "bias {}", m.bias[0]);
        assert!((0.5 * l2 * w - 2.0 / (1.0 + w.exp())).abs() < 1e-9, "l2 {l2}: w {w}");
    }
}

/// The penalty treats every class alike, so which class is the reference (class 0,
/// score 0) changes the parameters but not one fitted probability.
#[test]
fn fitted_probabilities_do_not_depend_on_the_reference_class() {
    let (x, y) = separable();
    let l2 = 3.0;
    let (m, _) = LogReg::fit(&x, &y, 3, l2).unwrap();
    // Relabel: old class 2 becomes the reference.
    let perm = [1usize, 2, 0];
    let y2: Vec<usize> = y.iter().map(|&c| perm[c]).collect();
    let (m2, _) = LogReg::fit(&x, &y2, 3, l2).unwrap();
    for r in &x {
        let (p, p2) = (m.probs(r), m2.probs(r));
        for c in 0..3 {
            assert!((p[c] - p2[perm[c]]).abs() < 1e-6, "{p:?} vs {p2:?}");
        }
    }
}

#[test]
fn stratified_folds_hold_out_every_sample_once_and_balance_classes() {
    let y: Vec<usize> = [vec![0; 10], vec![1; 7], vec![2; 6]].concat();
    let k = 5;
    let f = stratified_folds(&y, k, 42);
    assert_eq!(f.len(), y.len());
    assert!(f.iter().all(|&i| i < k), "one fold per sample");
    let sizes: Vec<usize> = (0..k).map(|j| f.iter().filter(|&&i| i == j).count()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), y.len());
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
    for c in 0..3 {
        let per: Vec<usize> = (0..k).map(|j| (0..y.len()).filter(|&i| y[i] == c && f[i] == j).count()).collect();
        assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1, "class {c}: {per:?}");
    }
    assert_eq!(f, stratified_folds(&y, k, 42), "deterministic");
    assert_ne!(f, stratified_folds(&y, k, 7), "the seed matters");
}

#[test]
fn folding_standardisation_into_raw_weights_keeps_predictions() {
    let (mut x, y) = separable();
    for r in &mut x {
        r[0] = 100.0 + 25.0 * r[0];
        r[1] = -3.0 + 0.01 * r[1];
        r.push(7.0); // constant: weight 0
    }
    let st = Standardizer::fit(&x);
    assert_eq!(st.scale[3], 0.0);
    let z: Vec<Vec<f64>> = x.iter().map(|r| st.apply(r)).collect();
    let (m, _) = LogReg::fit(&z, &y, 3, 1.0).unwrap();
    let raw = fold_standardization(&m, &st);
    assert_eq!(raw.weights[0][3], 0.0);
    assert_eq!(raw.weights[1][3], 0.0);
    for (r, zr) in x.iter().zip(&z) {
        let (a, b) = (m.scores(zr), raw.scores(r));
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-9, "{a:?} vs {b:?}");
        }
        assert_eq!(m.predict(zr), raw.predict(r));
    }
    // Written as a scorer, ScriptedConfig::score gives the same probabilities.
    let names: Vec<String> = (0..4).map(|j| format!("op.f{j}")).collect();
    let mut cfg = ScriptedConfig::builtin();
    cfg.scorer = to_scorer(&raw, &names, Task::ThreeClass, 1e6);
    assert!(!cfg.scorer.synthetic.weights.contains_key("op.f3"), "zero weights are dropped");
    for r in &x {
        let f: BTreeMap<String, f64> = names.iter().cloned().zip(r.iter().cloned()).collect();
        let (p, q) = (cfg.score(&f), raw.probs(r));
        for (u, v) in p.iter().zip(&q) {
            assert!((u - v).abs() < 1e-9, "{p:?} vs {q:?}");
        }
    }
}

fn shared(names: &[String]) -> Vec<FeatureSpec> {
    names.iter().map(FeatureSpec::shared).collect()
}

fn table() -> (FeatureTable, Vec<String>) {
    let (x, y) = separable();
    let names = vec!["a.anomaly_z".to_string(), "probe.b.anomaly_z".to_string(), "c.noise".to_string()];
    let t = FeatureTable {
        ids: (0..y.len()).map(|i| format!("s{i}")).collect(),
        labels: y,
        features: x.iter().map(|r| names.iter().cloned().zip(r.iter().cloned()).collect()).collect(),
    };
    (t, names)
}

#[test]
fn fitted_toml_round_trips_through_scripted_config() {
    let (t, names) = table();
    let base = ScriptedConfig::builtin();
    let all: Vec<usize> = (0..t.labels.len()).collect();
    let (scorer, _) = fit_scorer(&t, &all, &shared(&names), Task::ThreeClass, 1.0, base.scorer.clip).unwrap();
    let fitted = ScriptedConfig { stages: base.stages.clone(), scorer };
    let text = fitted_toml(&fitted, "fitted by a test\ncommand: x\n").unwrap();
    assert!(text.starts_with("# fitted by a test\n# command: x\n"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fitted.toml");
    std::fs::write(&path, &text).unwrap();
    let loaded = ScriptedConfig::load(&path).unwrap();
    assert_eq!(loaded, fitted, "exact round trip, weights included");
    for f in &t.features {
        assert_eq!(loaded.score(f), fitted.score(f));
    }
    // The scorer reads quoted dotted keys as single feature names.
    assert!(loaded.scorer.synthetic.weights.contains_key("probe.b.anomaly_z"));
}

#[test]
fn cross_validation_on_separable_features_beats_the_hand_set_scorer() {
    let (t, names) = table();
    let base = ScriptedConfig::builtin();
    let cv = cross_validate(&t, &shared(&names), Task::ThreeClass, &base, &FoldPlan::stratified(5, 42), 0.1).unwrap();
    assert_eq!(cv.folds.len(), 5);
    assert_eq!(cv.folds.iter().map(|f| f.fitted.n).sum::<usize>(), 30, "every sample held out once");
    assert!(cv.folds.iter().all(|f| f.n_train + f.fitted.n == 30 && f.hand_set.n == f.fitted.n));
    assert_eq!(cv.fitted_mean.accuracy, 1.0);
    assert_eq!(cv.fitted_pooled.accuracy, 1.0);
    // The built-in scorer knows none of these features: it answers one class.
    assert!(cv.hand_set_pooled.accuracy < 0.5);
    // Out-of-fold 1 − p(authentic) ranks every fake above every authentic
    // sample; the built-in scorer gives every sample the same score (ties: 1/2).
    assert_eq!(cv.fitted_pooled_real_fake_auc, Some(1.0));
    assert_eq!(cv.hand_set_real_fake_auc, Some(0.5));
}

#[test]
fn univariate_aucs_match_a_hand_count() {
    // Classes 0,0,1,1,2 with values 1,2,3,0,5.
    // class 1 vs 0: (3>1, 3>2, 0<1, 0<2) = 2/4; class 2 vs 0: 2/2;
    // fake vs real: 3 beats both, 0 neither, 5 both = 4/6.
    let name = "op.stat".to_string();
    let t = FeatureTable {
        ids: (0..5).map(|i| format!("s{i}")).collect(),
        labels: vec![0, 0, 1, 1, 2],
        features: [1.0, 2.0, 3.0, 0.0, 5.0].iter().map(|&v| BTreeMap::from([(name.clone(), v)])).collect(),
    };
    let u = univariate_aucs(&t, std::slice::from_ref(&name), 3, 10.0);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].vs_reference, vec![Some(0.5), Some(1.0)]);
    assert!((u[0].fake_vs_real.unwrap() - 4.0 / 6.0).abs() < 1e-12);
    // Clipped as the scorer clips: at ±1.5 the values 2, 3 and 5 tie.
    let clipped = univariate_aucs(&t, std::slice::from_ref(&name), 3, 1.5);
    assert_eq!(clipped[0].vs_reference[1], Some(0.75), "5 and 2 tie at the clip, 5 beats 1");
    // On the separable table: feature a tells synthetic, b tampered.
    let (t, names) = table();
    let u = univariate_aucs(&t, &names, 3, 10.0);
    assert_eq!(u[0].vs_reference[0], Some(1.0));
    assert_eq!(u[1].vs_reference[1], Some(1.0));
}

#[test]
fn binary_task_writes_the_fake_score_to_both_fake_classes() {
    let (mut t, names) = table();
    t.labels = t.labels.iter().map(|&c| usize::from(c != 0)).collect();
    let all: Vec<usize> = (0..t.labels.len()).collect();
    let (scorer, _) = fit_scorer(&t, &all, &shared(&names), Task::Binary, 0.1, 10.0).unwrap();
    assert_eq!(scorer.synthetic, scorer.tampered);
    let cfg = ScriptedConfig { stages: ScriptedConfig::builtin().stages, scorer };
    let pred: Vec<usize> = t.features.iter().map(|f| Task::Binary.class_of_probs(&cfg.score(f))).collect();
    assert_eq!(class_metrics(&t.labels, &pred, 2).accuracy, 1.0);
    let cv = cross_validate(&t, &shared(&names), Task::Binary, &ScriptedConfig::builtin(), &FoldPlan::stratified(3, 1), 0.1).unwrap();
    assert_eq!(cv.classes, vec!["real", "fake"]);
    assert_eq!(cv.fitted_pooled.recall.len(), 2);
}

/// `--group-by`: every fold holds out whole groups, each group exactly once,
/// and the report says which.
#[test]
fn grouped_cross_validation_holds_out_whole_groups() {
    let (t, names) = table();
    // Six "photos", each feeding every class (as dev's crops do).
    let groups: Vec<String> = (0..t.labels.len()).map(|i| format!("photo{}", i % 6)).collect();
    let plan = FoldPlan { k: 3, seed: 42, groups: Some(groups.clone()) };
    let cv = cross_validate(&t, &shared(&names), Task::ThreeClass, &ScriptedConfig::builtin(), &plan, 0.1).unwrap();
    let mut seen: Vec<String> = cv.folds.iter().flat_map(|f| f.held_out_groups.clone()).collect();
    seen.sort();
    assert_eq!(seen, (0..6).map(|g| format!("photo{g}")).collect::<Vec<_>>(), "each group held out exactly once");
    for f in &cv.folds {
        let held = groups.iter().filter(|g| f.held_out_groups.contains(g)).count();
        assert_eq!(f.fitted.n, held, "fold {}: its test samples are its groups' samples", f.fold);
        assert_eq!(f.n_train + held, t.labels.len());
    }
    // Leave one group out; and more folds than groups is an error, not a silent fallback.
    let logo = cross_validate(&t, &shared(&names), Task::ThreeClass, &ScriptedConfig::builtin(), &FoldPlan { k: 6, ..plan.clone() }, 0.1).unwrap();
    assert!(logo.folds.iter().all(|f| f.held_out_groups.len() == 1));
    let e = cross_validate(&t, &shared(&names), Task::ThreeClass, &ScriptedConfig::builtin(), &FoldPlan { k: 7, ..plan }, 0.1).unwrap_err().to_string();
    assert!(e.contains("6 group(s), fewer than 7 folds"), "{e}");
}

//! What `trutheye train scorer` prints and writes: the CV tables, and the fitted
//! config with a comment header saying how it was made.

use crate::TrainError;
use trutheye_model::ScriptedConfig;

use super::scorer::{ScorerArgs, Task, TrainScorerReport};

/// The fitted config as TOML: a comment header, then the config.
pub fn fitted_toml(config: &ScriptedConfig, header: &str) -> Result<String, TrainError> {
    let body = toml::to_string(config).map_err(|e| TrainError::Scorer(format!("cannot serialize the fitted config: {e}")))?;
    let mut out = String::new();
    for l in header.lines() {
        out.push_str(if l.is_empty() { "#" } else { "# " });
        out.push_str(l);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

/// The comment header of a fitted config: command, date, data, model, CV figures.
pub(super) fn header(args: &ScorerArgs, r: &TrainScorerReport) -> String {
    let argv: Vec<String> = std::env::args().collect();
    let cv = &r.cv;
    let counts: Vec<String> = cv.classes.iter().zip(&r.class_counts).map(|(c, n)| format!("{n} {c}")).collect();
    let mut h = String::new();
    h += "The scripted policy's config with a scorer fitted by `trutheye train scorer`.\n";
    h += &format!("command: {}\n", argv.join(" "));
    h += &format!("date: {}\n", utc_now());
    h += &format!("data: {} ({} used: {}; {} failed and skipped)\n", args.data.display(), r.class_counts.iter().sum::<usize>(), counts.join(", "), r.failed.len());
    h += &format!("features from: {}\n", r.features_from);
    h += &format!("base config: {} (stages and clip kept; the features depend on the stages, which with --from-run were the recorded run's)\n", args.scripted_config.as_ref().map_or("built-in configs/scripted.toml".to_string(), |p| p.display().to_string()));
    h += &format!(
        "model: multinomial logistic regression, {} the reference class, L2 {} on features clipped to +-{} and standardised (mean/std), folded back into raw-feature weights; {} features ({})\n",
        cv.classes[0],
        cv.l2,
        r.scorer.clip,
        cv.features.len(),
        if args.features.trim() == "auto" { "auto: present in >=90% of samples" } else { "given" }
    );
    if cv.task == Task::Binary {
        h += "binary data: the fake score is written to both synthetic and tampered (a fake class is answered exactly when the fake score > 0)\n";
    }
    h += &format!(
        "{}, held-out mean: fitted accuracy {:.3} (sd {:.3}), macro F1 {:.3}; base config's scorer accuracy {:.3} (sd {:.3}), macro F1 {:.3}\n",
        cv.scheme(),
        cv.fitted_mean.accuracy, cv.fitted_mean.accuracy_sd, cv.fitted_mean.macro_f1, cv.hand_set_mean.accuracy, cv.hand_set_mean.accuracy_sd, cv.hand_set_mean.macro_f1
    );
    h += &format!(
        "temperature: every weight and bias x {:.4} (1: not scaled; `--temperature` fits it on the CV's out-of-fold scores, labels unchanged); held-out calibration, Brier / log loss / ECE: {} as fitted, {} with each fold scaled by a temperature fitted inside its training part\n",
        r.temperature,
        calibration_line(cv.fitted_pooled_calibration.as_ref()),
        calibration_line(cv.calibrated_pooled_calibration.as_ref())
    );
    h += &format!("final fit on all samples: training accuracy {:.3} (in-sample)\n", r.train_accuracy);
    h
}

/// `Brier / log loss / ECE` to three decimals, or `-` without probabilities.
fn calibration_line(c: Option<&trutheye_eval::calibration::Calibration>) -> String {
    c.map_or("-".to_string(), |c| format!("{:.3} / {:.3} / {:.3} (mean confidence {:.3}, top-class accuracy {:.3})", c.brier, c.log_loss, c.ece, c.mean_confidence, c.top_accuracy))
}

/// Human-readable report (markdown tables).
pub fn to_table(r: &TrainScorerReport) -> String {
    let cv = &r.cv;
    let mut s = String::new();
    s += &format!(
        "{}: {} samples, {} used ({}), {} failed; {} features, {} of them constant once clipped to ±{} (weight 0: {}); {}\n\n",
        r.data.display(),
        r.samples,
        r.class_counts.iter().sum::<usize>(),
        cv.classes.iter().zip(&r.class_counts).map(|(c, n)| format!("{n} {c}")).collect::<Vec<_>>().join(", "),
        r.failed.len(),
        cv.features.len(),
        r.constant_features.len(),
        r.scorer.clip,
        if r.constant_features.is_empty() { "none".to_string() } else { r.constant_features.join(", ") },
        match cv.task {
            Task::ThreeClass => "three-class",
            Task::Binary => "binary (real/fake)",
        }
    );
    for (id, e) in &r.failed {
        s += &format!("failed: {id}: {e}\n");
    }
    s += &format!("{}, l2 {}: held-out samples of each fold\n\n", cv.scheme(), cv.l2);
    let grouped = cv.grouped_by.is_some();
    s += "| fold | n test | fitted acc | fitted macro-F1 | base acc | base macro-F1 |";
    s += if grouped { " held-out groups |\n|---:|---:|---:|---:|---:|---:|---|\n" } else { "\n|---:|---:|---:|---:|---:|---:|\n" };
    for f in &cv.folds {
        s += &format!("| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |", f.fold, f.fitted.n, f.fitted.accuracy, f.fitted.macro_f1, f.hand_set.accuracy, f.hand_set.macro_f1);
        s += &if grouped { format!(" {} |\n", f.held_out_groups.join(", ")) } else { "\n".to_string() };
    }
    s += &format!(
        "| mean (sd) | | {:.3} ({:.3}) | {:.3} | {:.3} ({:.3}) | {:.3} |{}\n\n",
        cv.fitted_mean.accuracy, cv.fitted_mean.accuracy_sd, cv.fitted_mean.macro_f1, cv.hand_set_mean.accuracy, cv.hand_set_mean.accuracy_sd, cv.hand_set_mean.macro_f1,
        if grouped { " |" } else { "" }
    );
    let rec = |v: &[Option<f64>]| v.iter().map(|r| r.map_or("-".into(), |x| format!("{x:.3}"))).collect::<Vec<_>>().join(" | ");
    s += &format!("| scorer (mean over folds) | accuracy | macro F1 | {} |\n|---|---:|---:|{}\n", cv.classes.iter().map(|c| format!("recall {c}")).collect::<Vec<_>>().join(" | "), "---:|".repeat(cv.classes.len()));
    s += &format!("| fitted | {:.3} | {:.3} | {} |\n", cv.fitted_mean.accuracy, cv.fitted_mean.macro_f1, rec(&cv.fitted_mean.recall));
    s += &format!("| base config | {:.3} | {:.3} | {} |\n", cv.hand_set_mean.accuracy, cv.hand_set_mean.macro_f1, rec(&cv.hand_set_mean.recall));
    s += &format!("| fitted (pooled out-of-fold) | {:.3} | {:.3} | {} |\n", cv.fitted_pooled.accuracy, cv.fitted_pooled.macro_f1, rec(&cv.fitted_pooled.recall));
    s += &format!("| base config (pooled) | {:.3} | {:.3} | {} |\n\n", cv.hand_set_pooled.accuracy, cv.hand_set_pooled.macro_f1, rec(&cv.hand_set_pooled.recall));
    let auc = |a: Option<f64>| a.map_or("-".to_string(), |x| format!("{x:.3}"));
    s += &format!(
        "real/fake ROC AUC (1 − p(authentic), pooled out-of-fold): fitted {}, base config {} (in-sample for the base config unless it was fitted on other data)\n\n",
        auc(cv.fitted_pooled_real_fake_auc),
        auc(cv.hand_set_real_fake_auc)
    );
    s += &format!(
        "calibration (Brier / log loss / ECE, lower is better), pooled out-of-fold: fitted {}; fitted and temperature-scaled inside each fold {} (real/fake AUC {}); base config {}\ntemperature of the written scorer: x{:.4}{}\n\n",
        calibration_line(cv.fitted_pooled_calibration.as_ref()),
        calibration_line(cv.calibrated_pooled_calibration.as_ref()),
        auc(cv.calibrated_pooled_real_fake_auc),
        calibration_line(cv.hand_set_calibration.as_ref()),
        r.temperature,
        if r.temperature == 1.0 { " (1: not scaled)" } else { "" }
    );
    if !r.univariate.is_empty() {
        let others = &cv.classes[1..];
        s += &format!(
            "each feature alone (ROC AUC against {}, in-sample; < 0.5 means lower on that class)\n\n| feature | {} |{}\n|---|{}\n",
            cv.classes[0],
            others.iter().map(|c| format!("{c} vs {}", cv.classes[0])).collect::<Vec<_>>().join(" | "),
            if others.len() > 1 { " fake vs real |" } else { "" },
            "---:|".repeat(others.len() + usize::from(others.len() > 1))
        );
        for u in &r.univariate {
            let mut cells: Vec<String> = u.vs_reference.iter().map(|&a| auc(a)).collect();
            if others.len() > 1 {
                cells.push(auc(u.fake_vs_real));
            }
            s += &format!("| {} | {} |\n", u.feature, cells.join(" | "));
        }
        s += "\n";
    }
    let nz = r.scorer.synthetic.weights.len().max(r.scorer.tampered.weights.len());
    s += &format!(
        "final fit on all {} samples: {} Newton iterations{}, training accuracy {:.3} (in-sample), {} non-zero weights per class\nwrote {}\n",
        r.class_counts.iter().sum::<usize>(),
        r.fit.iterations,
        if r.fit.converged { "" } else { " (NOT converged)" },
        r.train_accuracy,
        nz,
        r.out.display()
    );
    s
}

/// `YYYY-MM-DDTHH:MM:SSZ` now.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}


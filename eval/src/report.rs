//! `report.md`: the Table-1-shaped table (per-class Acc/Prec/Rec/F1 and overall
//! Acc/F1, one row per policy/strategy and per baseline) plus binary, AUC,
//! localization, process and breakdown tables.

use std::fmt::Write;

use super::dataset::BadRow;
use super::metrics::{GroupMetrics, Metrics};

/// A percentage with one decimal, or `—` for undefined.
pub fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}", x * 100.0)).unwrap_or_else(|| "—".into())
}

/// Row name of a group.
pub fn row_name(g: &GroupMetrics) -> String {
    if g.strategy == "baseline" {
        g.policy.clone()
    } else {
        format!("{}/{}", g.policy, g.strategy)
    }
}

/// The Table-1-shaped markdown table (empty string when no group is three-class).
pub fn table1(m: &Metrics) -> String {
    let mut s = String::new();
    let rows: Vec<&GroupMetrics> = m.groups.iter().filter(|g| g.three_class.is_some()).collect();
    if rows.is_empty() {
        return s;
    }
    s.push_str("| Method | Authentic Acc | Prec | Rec | F1 | Synthetic Acc | Prec | Rec | F1 | Tampered Acc | Prec | Rec | F1 | Overall Acc | F1 |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for g in rows {
        let Some(t) = &g.three_class else { continue };
        let _ = write!(s, "| {} ", row_name(g));
        for c in ["authentic", "synthetic", "tampered"] {
            let cm = t.per_class.get(c).cloned().unwrap_or_default();
            let _ = write!(s, "| {} | {} | {} | {} ", pct(Some(cm.accuracy)), pct(cm.precision), pct(cm.recall), pct(Some(cm.f1)));
        }
        let _ = writeln!(s, "| {} | {} |", pct(Some(t.accuracy)), pct(Some(t.macro_f1)));
    }
    s
}

/// The whole report.
pub fn markdown(m: &Metrics, dataset: &str, bad_rows: &[BadRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# trutheye evaluation\n\nDataset: `{dataset}` · groups: {} · skipped manifest rows: {}\n", m.groups.len(), m.bad_rows);
    let t1 = table1(m);
    if !t1.is_empty() {
        let _ = writeln!(s, "## Three-class results (Table 1 layout, %)\n\n{t1}");
        s.push_str("Per-class columns are one-vs-rest; Overall F1 is the macro F1. Baselines (`op:*`) never answer synthetic (a single operator cannot tell a fully generated image), so their synthetic precision is undefined (—) and recall 0.\n\n");
    }
    s.push_str("## Real/fake view (fake = positive, %)\n\n| Method | n | errors | Acc | Prec | Rec | F1 | AUC |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for g in &m.groups {
        let b = &g.binary;
        let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} | {} | {} |", row_name(g), g.n, g.errors, pct(Some(b.accuracy)), pct(b.precision), pct(b.recall), pct(Some(b.f1)), pct(b.auc));
    }
    if m.groups.iter().any(|g| g.three_class.is_some()) {
        s.push_str("\n## AUC, one-vs-rest from scores (%)\n\n| Method | Authentic | Synthetic | Tampered | Real/fake |\n|---|---:|---:|---:|---:|\n");
        for g in &m.groups {
            let Some(t) = &g.three_class else { continue };
            let a = |c: &str| pct(t.auc.get(c).copied().flatten());
            let _ = writeln!(s, "| {} | {} | {} | {} | {} |", row_name(g), a("authentic"), a("synthetic"), a("tampered"), pct(g.binary.auc));
        }
    }
    let calibrated: Vec<&GroupMetrics> = m.groups.iter().filter(|g| g.binary.calibration.is_some()).collect();
    if !calibrated.is_empty() {
        s.push_str("\n## Calibration of the stated scores (lower is better)\n\n| Method | scored | Brier | log loss | ECE | real/fake Brier | real/fake ECE |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for g in calibrated {
            let t = g.three_class.as_ref().and_then(|t| t.calibration.as_ref());
            let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
            let b = g.binary.calibration.as_ref();
            let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} | {} |", row_name(g), b.map_or(0, |c| c.n), f(t.map(|c| c.brier)), f(t.map(|c| c.log_loss)), f(t.map(|c| c.ece)), f(b.map(|c| c.brier)), f(b.map(|c| c.ece)));
        }
        s.push_str("\nBrier: mean summed squared distance of the scores from the one-hot truth (a uniform three-class guess scores 0.667); ECE: mean |accuracy − confidence| over 10 confidence bins. A baseline's scores are its operator's anomaly turned into a probability, not a fitted one.\n");
    }
    s.push_str("\n## Localization on tampered images (%)\n\n| Method | tampered | with box | bbox IoU | with mask | scored by heat-map | pixel_f1_fixed | pixel_iou_fixed | pixel_f1_best | pixel_iou_best | pixel_f1_called | pixel_f1_map |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for g in &m.groups {
        let l = &g.localization;
        let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |", row_name(g), l.n_tampered, l.n_with_box, pct(l.bbox_iou), l.n_with_mask, l.n_heatmaps, pct(l.pixel_f1_fixed), pct(l.pixel_iou_fixed), pct(l.pixel_f1_best), pct(l.pixel_iou_best), pct(l.pixel_f1_called), pct(l.pixel_f1_map));
    }
    s.push_str("\n`_fixed`: heat ≥ 0.5; `_best`: the best threshold per image (an oracle upper bound, not comparable to `_fixed`). Baselines are scored by their operator's heat-map; agents by their verdict's fused mask (`scored by heat-map`), else by their box (best = fixed); a tampered image an agent did not call tampered scores 0. `pixel_f1_called` applies that rule to every row: a baseline's heat-map counts only on the images its own verdict called tampered (for agents it equals `pixel_f1_fixed`), so agents and baselines are compared on the same terms. `pixel_f1_map` is the other like-for-like comparison, map quality with detection left out: a baseline's heat-map (its `pixel_f1_fixed`) against an agent's fused map of the whole image whatever its verdict (the map its mask is cut from).\n");
    s.push_str("\n## Process\n\n| Method | mean turns | tool calls/episode | tool calls by true class | format-error rate | forced rate | error rate | s/image |\n|---|---:|---:|---|---:|---:|---:|---:|\n");
    for g in &m.groups {
        let p = &g.process;
        let by: Vec<String> = p.tool_calls_by_class.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {} | {} | {} | {} | {:.3} |",
            row_name(g),
            p.mean_turns,
            p.mean_tool_calls,
            by.join(", "),
            pct(Some(p.format_error_rate)),
            pct(Some(p.forced_rate)),
            pct(Some(p.error_rate)),
            p.seconds_per_image
        );
    }
    s.push_str("\n## Operator calls per episode\n\n");
    for g in m.groups.iter().filter(|g| g.strategy != "baseline") {
        let ops: Vec<String> = g.process.operator_frequency.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
        let _ = writeln!(s, "- **{}**: {}", row_name(g), if ops.is_empty() { "none".to_string() } else { ops.join(", ") });
    }
    paired(&mut s, m);
    breakdowns(&mut s, m);
    s.push_str("\n## Confusion matrices (rows = truth, columns = prediction)\n");
    for g in &m.groups {
        let c = &g.confusion;
        let _ = writeln!(s, "\n**{}**\n\n| truth \\ pred | {} |\n|---|{}", row_name(g), c.predicted.join(" | "), "---:|".repeat(c.predicted.len()));
        for (t, row) in c.truth.iter().zip(&c.counts) {
            let _ = writeln!(s, "| {t} | {} |", row.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" | "));
        }
    }
    let _ = writeln!(s, "\n## Skipped manifest rows: {}\n", bad_rows.len().max(m.bad_rows));
    for b in bad_rows.iter().take(50) {
        let _ = writeln!(s, "- {}: {}", b.location, b.reason);
    }
    s.push_str("\n## Conventions\n\n");
    for c in &m.conventions {
        let _ = writeln!(s, "- {c}");
    }
    s
}

/// Below this many groups the clustered forms are flagged as approximate:
/// a cluster bootstrap is known to be too narrow with few clusters (Cameron,
/// Gelbach & Miller 2008 discuss fewer than 20 to 50), while Durkalski's test
/// turns conservative ([`super::paired::mcnemar_clustered`]).
const FEW_GROUPS: usize = 20;

/// Agent rows compared image by image ([`super::paired`]).
fn paired(s: &mut String, m: &Metrics) {
    if m.paired.is_empty() {
        return;
    }
    let grouped = m.paired_group_by.as_ref();
    let pct = |v: f64| 100.0 * v;
    let p_value = |p: f64| if p < 0.001 { format!("{p:.1e}") } else { format!("{p:.3}") };
    s.push_str("\n## Strategies compared image by image\n\n| A | B | images | labels differ | both right | only A right | only B right | both wrong | McNemar p |");
    if grouped.is_some() {
        s.push_str(" groups | clustered McNemar p |");
    }
    s.push_str(" tampered with mask | pixel F1 differs on | mean pixel F1, B − A (95% CI) |");
    if grouped.is_some() {
        s.push_str(" 95% CI, groups resampled |");
    }
    let cols = 12 + if grouped.is_some() { 3 } else { 0 };
    let _ = writeln!(s, "\n|---|---|{}---|", "---:|".repeat(cols - 3));
    for c in &m.paired {
        let loc = c.localization.as_ref();
        let _ = write!(s, "| {} | {} | {} | {} | {} | {} | {} | {} | {} |", c.a, c.b, c.n, c.labels_differ, c.both_right, c.only_a_right, c.only_b_right, c.both_wrong, p_value(c.mcnemar_p));
        if grouped.is_some() {
            let (g, p) = c.clustered.as_ref().map_or(("—".to_string(), "—".to_string()), |t| (t.groups.to_string(), p_value(t.p)));
            let _ = write!(s, " {g} | {p} |");
        }
        let _ = write!(
            s,
            " {} | {} | {} |",
            loc.map_or("—".to_string(), |l| l.n.to_string()),
            loc.map_or("—".to_string(), |l| l.differ.to_string()),
            loc.map_or("—".to_string(), |l| format!("{:+.1} ({:+.1} to {:+.1})", pct(l.mean), pct(l.ci95[0]), pct(l.ci95[1])))
        );
        if grouped.is_some() {
            let ci = loc.and_then(|l| l.clustered_ci95.as_ref()).map_or("—".to_string(), |c| format!("{:+.1} to {:+.1} ({} groups)", pct(c.ci95[0]), pct(c.ci95[1]), c.groups));
            let _ = write!(s, " {ci} |");
        }
        s.push('\n');
    }
    s.push_str("\nOn the images both rows answered. McNemar p: exact two-sided test on the images only one row got right (three-class label; real/fake on binary sets). Pixel F1 at 0.5 per tampered image with a mask (0 where a row did not call it tampered), in points; the interval is a 95% percentile bootstrap over those images (2,000 resamples, fixed seed).\n");
    if let Some(g) = grouped {
        let by = match &g.pattern {
            Some(p) => format!("`{}` =~ `{p}`", g.field),
            None => format!("`{}`", g.field),
        };
        let _ = writeln!(s, "Grouped by {by}: images of one group are not independent, so the clustered McNemar test (Durkalski et al. 2003, chi-square with 1 degree of freedom) takes each group's net discordance as a share of its images, every group counting equally, and the last interval draws whole groups with replacement. Read these when a set holds several crops of one photo; with one image per group they are McNemar's asymptotic test and the image bootstrap. A comparison whose images fall in fewer than two groups has none (—).");
        let tests = m.paired.iter().filter_map(|c| c.clustered.as_ref().map(|t| t.groups));
        let intervals = m.paired.iter().filter_map(|c| c.localization.as_ref()?.clustered_ci95.as_ref().map(|c| c.groups));
        if let Some(n) = tests.chain(intervals).min().filter(|&n| n < FEW_GROUPS) {
            let _ = writeln!(
                s,
                "Only {n} groups: with so few, both clustered forms are approximate. The test is conservative (its statistic cannot exceed the number of groups K, so p ≥ {} for K = {n}), and the bootstrap interval tends to be too narrow; read a bound near 0 as no evidence either way.",
                p_value(super::paired::chi2_1_sf(n as f64))
            );
        }
        let ungrouped = m.paired.iter().filter_map(|c| c.clustered.as_ref().map(|t| t.ungrouped)).max().unwrap_or(0);
        if ungrouped > 0 {
            let _ = writeln!(s, "{ungrouped} image(s) answered are not in the dataset's grouping (predictions of another dataset?); each counts as a group of its own.");
        }
    }
}

fn breakdowns(s: &mut String, m: &Metrics) {
    let mut fields: Vec<&String> = m.groups.iter().flat_map(|g| g.breakdown.keys()).collect();
    fields.sort();
    fields.dedup();
    for f in fields {
        let mut values: Vec<&String> = m.groups.iter().filter_map(|g| g.breakdown.get(f)).flat_map(|b| b.keys()).collect();
        values.sort();
        values.dedup();
        let _ = writeln!(s, "\n## Accuracy by `{f}` (%)\n\n| Method | {} |\n|---|{}", values.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" | "), "---:|".repeat(values.len()));
        for g in &m.groups {
            let Some(b) = g.breakdown.get(f) else { continue };
            let cells: Vec<String> = values.iter().map(|v| b.get(*v).map(|x| format!("{} (n={})", pct(Some(x.accuracy)), x.n)).unwrap_or_else(|| "—".into())).collect();
            let _ = writeln!(s, "| {} | {} |", row_name(g), cells.join(" | "));
        }
    }
}

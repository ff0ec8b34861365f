//! `eval compare A B`: per-metric differences between two runs.

use crate::EvalError;
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::metrics::Metrics;
use super::report::row_name;

/// Flattens metrics to `row.path → number` (groups keyed by their row name).
pub fn flatten(m: &Metrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for g in &m.groups {
        let Ok(v) = serde_json::to_value(g) else { continue };
        walk(&row_name(g), &v, &mut out);
    }
    out
}

fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, f64>) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.insert(prefix.to_string(), f);
            }
        }
        Value::Object(o) => o.iter().for_each(|(k, x)| walk(&format!("{prefix}.{k}"), x, out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| walk(&format!("{prefix}[{i}]"), x, out)),
        _ => {}
    }
}

/// Reads `DIR/metrics.json`.
pub fn load_metrics(dir: &Path) -> Result<Metrics, EvalError> {
    let p = dir.join("metrics.json");
    let text = std::fs::read_to_string(&p).map_err(|e| EvalError::RunDir(format!("{}: cannot read (run `trutheye eval report {}` first): {e}", p.display(), dir.display())))?;
    serde_json::from_str(&text).map_err(|e| EvalError::RunDir(format!("{}: not a metrics file: {e}", p.display())))
}

/// Text listing every metric present in both runs that differs (B − A), plus
/// metrics only one run has.
pub fn compare(a: &Metrics, b: &Metrics) -> String {
    let (fa, fb) = (flatten(a), flatten(b));
    let mut lines = vec![format!("{:<60} {:>12} {:>12} {:>12}", "metric", "A", "B", "B-A")];
    let mut same = 0;
    for (k, va) in &fa {
        match fb.get(k) {
            Some(vb) if (vb - va).abs() > 1e-12 => lines.push(format!("{k:<60} {va:>12.4} {vb:>12.4} {:>+12.4}", vb - va)),
            Some(_) => same += 1,
            None => lines.push(format!("{k:<60} {va:>12.4} {:>12} {:>12}", "-", "")),
        }
    }
    for (k, vb) in fb.iter().filter(|(k, _)| !fa.contains_key(*k)) {
        lines.push(format!("{k:<60} {:>12} {vb:>12.4} {:>12}", "-", ""));
    }
    lines.push(format!("({same} metrics equal)"));
    lines.join("\n")
}

//! Every metric recomputed from a hand-written predictions file with known answers.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;
use trutheye_core::BoxGeometry;
use trutheye_eval::localization::pixel_scores;
use trutheye_eval::metrics::auc;
use trutheye_eval::prediction::parse_predictions;
use trutheye_eval::{compute, EvalContext, GtMask};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn some(a: Option<f64>, b: f64) {
    close(a.expect("defined"), b);
}

/// Six episodes of one group (truth → prediction):
/// 1 authentic → authentic   2 authentic → tampered   3 synthetic → authentic (forced)
/// 4 synthetic → error       5 tampered → tampered, box = truth box   6 tampered → tampered, no box
const PREDICTIONS: &str = r#"{"id":"1","policy":"p","strategy":"s","label":"authentic","scores":{"authentic":0.8,"synthetic":0.1,"tampered":0.1},"bbox":null,"mask":null,"error":null,"truth":{"label":"authentic","bbox":null,"mask":null},"forced":false,"turns":2,"tool_calls":1,"format_errors":0,"wall_ms":1000,"tools_used":["srm"]}
{"id":"2","policy":"p","strategy":"s","label":"tampered","scores":{"authentic":0.3,"synthetic":0.1,"tampered":0.6},"bbox":[1,1,3,3],"mask":null,"error":null,"truth":{"label":"authentic","bbox":null,"mask":null},"forced":false,"turns":4,"tool_calls":3,"format_errors":2,"wall_ms":2000,"tools_used":["srm","ela","srm"]}
{"id":"3","policy":"p","strategy":"s","label":"authentic","scores":{"authentic":0.6,"synthetic":0.3,"tampered":0.1},"bbox":null,"mask":null,"error":null,"truth":{"label":"synthetic","bbox":null,"mask":null},"forced":true,"turns":2,"tool_calls":1,"format_errors":0,"wall_ms":1000,"tools_used":["crop"]}
{"id":"4","policy":"p","strategy":"s","label":null,"scores":null,"bbox":null,"mask":null,"error":"boom","truth":{"label":"synthetic","bbox":null,"mask":null},"forced":false,"turns":0,"tool_calls":0,"format_errors":0,"wall_ms":500,"tools_used":[]}
{"id":"5","policy":"p","strategy":"s","label":"tampered","scores":{"authentic":0.1,"synthetic":0.1,"tampered":0.8},"bbox":[0,0,4,4],"mask":null,"error":null,"truth":{"label":"tampered","bbox":[0,0,4,4],"mask":"m5.png"},"forced":false,"turns":3,"tool_calls":2,"format_errors":0,"wall_ms":1500,"tools_used":["srm","crop"]}
{"id":"6","policy":"p","strategy":"s","label":"tampered","scores":{"authentic":0.2,"synthetic":0.2,"tampered":0.6},"bbox":null,"mask":null,"error":null,"truth":{"label":"tampered","bbox":[2,2,6,6],"mask":"m6.png"},"forced":false,"turns":1,"tool_calls":0,"format_errors":0,"wall_ms":0,"tools_used":[]}
"#;

fn context() -> EvalContext {
    // 8x8 masks: #5 has x 0..4, y 0..2 on (8 px); #6 is empty.
    let m5 = GtMask { width: 8, height: 8, on: (0..64).map(|i| i % 8 < 4 && i / 8 < 2).collect() };
    let m6 = GtMask { width: 8, height: 8, on: vec![false; 64] };
    let masks = HashMap::from([("5".to_string(), m5), ("6".to_string(), m6)]);
    let mut extras = HashMap::new();
    for (id, method) in [("1", "camera"), ("2", "camera"), ("3", "gan"), ("4", "gan"), ("5", "splice"), ("6", "splice")] {
        extras.insert(id.to_string(), BTreeMap::from([("method".to_string(), json!(method)), ("uniq".to_string(), json!(format!("u{id}")))]));
    }
    EvalContext { masks, extras, bad_rows: 2, run_dir: None, groups: None }
}

#[test]
fn every_metric_matches_hand_computation() {
    let read = parse_predictions(PREDICTIONS).expect("parses");
    assert!(!read.truncated_tail);
    let m = compute(&read.predictions, &context());
    assert_eq!(m.bad_rows, 2);
    assert_eq!(m.groups.len(), 1);
    let g = &m.groups[0];
    assert_eq!((g.n, g.errors), (6, 1));
    let t = g.three_class.as_ref().expect("three-class");
    // authentic: TP 1 (#1), FP 1 (#3), FN 1 (#2), TN 3 → acc 4/6, P 1/2, R 1/2, F1 1/2
    let a = &t.per_class["authentic"];
    close(a.accuracy, 4.0 / 6.0);
    some(a.precision, 0.5);
    some(a.recall, 0.5);
    close(a.f1, 0.5);
    // synthetic: never predicted → precision undefined (null), recall 0/2, F1 0 (zero_division=0)
    let s = &t.per_class["synthetic"];
    close(s.accuracy, 4.0 / 6.0);
    assert_eq!(s.precision, None);
    some(s.recall, 0.0);
    close(s.f1, 0.0);
    assert_eq!((s.support, s.predicted), (2, 0));
    // tampered: TP 2, FP 1 (#2), FN 0, TN 3 → acc 5/6, P 2/3, R 1, F1 0.8
    let tm = &t.per_class["tampered"];
    close(tm.accuracy, 5.0 / 6.0);
    some(tm.precision, 2.0 / 3.0);
    some(tm.recall, 1.0);
    close(tm.f1, 0.8);
    // overall: #1, #5, #6 right → 0.5; macro F1 = (0.5 + 0 + 0.8) / 3
    close(t.accuracy, 0.5);
    close(t.macro_f1, 1.3 / 3.0);
    // AUC authentic: pos {.8,.3} vs neg {.6,.1,.2} → (3 + 2) / 6
    some(t.auc["authentic"], 5.0 / 6.0);
    // synthetic: pos {.3} (#4 has no scores) vs neg {.1,.1,.1,.2} → 1
    some(t.auc["synthetic"], 1.0);
    // tampered: pos {.8,.6} vs neg {.1,.6,.1} → (3 + 2 + 0.5 tie) / 6
    some(t.auc["tampered"], 5.5 / 6.0);
    // binary (fake positive; the error on a fake truth counts as "real"): TP 2, FP 1, FN 2, TN 1
    let b = &g.binary;
    close(b.accuracy, 0.5);
    some(b.precision, 2.0 / 3.0);
    some(b.recall, 0.5);
    close(b.f1, 4.0 / 7.0);
    // real/fake AUC on 1 - p(authentic): fake {.4,.9,.8} vs real {.2,.7} → 5/6
    some(b.auc, 5.0 / 6.0);
    // confusion
    assert_eq!(g.confusion.truth, ["authentic", "synthetic", "tampered"]);
    assert_eq!(g.confusion.predicted, ["authentic", "synthetic", "tampered", "error"]);
    assert_eq!(g.confusion.counts, vec![vec![1, 0, 1, 0], vec![1, 0, 0, 1], vec![0, 0, 2, 0]]);
    // localization: IoU (1 + 0) / 2; pixel #5: TP 8, FP 8, FN 0 → F1 2/3, IoU 1/2; #6 empty/empty → 1, 1
    let l = &g.localization;
    assert_eq!((l.n_tampered, l.n_with_box, l.n_with_mask), (2, 1, 2));
    some(l.bbox_iou, 0.5);
    some(l.pixel_f1_fixed, (2.0 / 3.0 + 1.0) / 2.0);
    some(l.pixel_iou_fixed, 0.75);
    assert_eq!(l.pixel_f1_best, l.pixel_f1_fixed);
    // breakdown by method (uniq has one value per sample: no breakdown)
    assert!(!g.breakdown.contains_key("uniq"));
    let by = &g.breakdown["method"];
    close(by["camera"].accuracy, 0.5);
    close(by["gan"].accuracy, 0.0);
    close(by["splice"].accuracy, 1.0);
    assert_eq!(by["splice"].n, 2);
    // process: turns 12/6, tool calls 7/6, format errors 2/12, forced 1/6, errors 1/6, 6 s / 6
    let p = &g.process;
    close(p.mean_turns, 2.0);
    close(p.mean_tool_calls, 7.0 / 6.0);
    close(p.tool_calls_by_class["authentic"], 2.0);
    close(p.tool_calls_by_class["synthetic"], 0.5);
    close(p.tool_calls_by_class["tampered"], 1.0);
    close(p.format_error_rate, 2.0 / 12.0);
    close(p.forced_rate, 1.0 / 6.0);
    close(p.error_rate, 1.0 / 6.0);
    close(p.seconds_per_image, 1.0);
    close(p.operator_frequency["srm"], 4.0 / 6.0);
    close(p.operator_frequency["crop"], 2.0 / 6.0);
    // calibration over the five episodes with scores (#4 failed):
    // Brier 0.06 + 0.86 + 0.86 + 0.06 + 0.24; log loss -ln of 0.8, 0.3, 0.3, 0.8, 0.6;
    // ECE: confidence 0.8 bin {#1, #5} both right (0.2 x 2/5), 0.6 bin {#2, #3, #6} one right (|1/3 - 0.6| x 3/5)
    let c = t.calibration.as_ref().expect("calibration");
    assert_eq!(c.n, 5);
    close(c.brier, 2.08 / 5.0);
    close(c.log_loss, -(2.0 * 0.8f64.ln() + 2.0 * 0.3f64.ln() + 0.6f64.ln()) / 5.0);
    close(c.ece, 0.2 * 2.0 / 5.0 + (0.6 - 1.0 / 3.0) * 3.0 / 5.0);
    // real/fake: p(fake) = synthetic + tampered; Brier 0.08 + 0.98 + 0.72 + 0.02 + 0.08;
    // ECE bins 0.8 {#1, #6} right, 0.7 {#2} wrong, 0.6 {#3} wrong, 0.9 {#5} right
    let b = g.binary.calibration.as_ref().expect("real/fake calibration");
    close(b.brier, 1.88 / 5.0);
    close(b.ece, (0.2 * 2.0 + 0.7 + 0.6 + 0.1) / 5.0);
    // metrics.json has nulls, never NaN
    let text = serde_json::to_string(&m).expect("serializes");
    assert!(text.contains("\"precision\":null") && !text.contains("NaN"));
    // the report shows undefined as a dash
    let md = trutheye_eval::report::markdown(&m, "x", &[]);
    assert!(md.contains("| p/s | 66.7 | 50.0 | 50.0 | 50.0 | 66.7 | — | 0.0 | 0.0 | 83.3 | 66.7 | 100.0 | 80.0 | 50.0 | 43.3 |"), "{md}");
    assert!(md.contains("## Calibration of the stated scores") && md.contains("| p/s | 5 | 0.416 |"), "{md}");
}

#[test]
fn edge_cases() {
    assert_eq!(auc(&[(0.5, true), (0.2, true)]), None);
    assert_eq!(auc(&[]), None);
    close([0, 0, 2, 2].iou(&[1, 1, 3, 3]), 1.0 / 7.0);
    close([0, 0, 1, 1].iou(&[5, 5, 6, 6]), 0.0);
    let empty = GtMask { width: 4, height: 4, on: vec![false; 16] };
    assert_eq!(pixel_scores(&empty, None), (1.0, 1.0));
    assert_eq!(pixel_scores(&empty, Some([0, 0, 2, 2])), (0.0, 0.0));
    // a box hanging outside the mask is clipped
    let full = GtMask { width: 2, height: 2, on: vec![true; 4] };
    assert_eq!(pixel_scores(&full, Some([0, 0, 100, 100])), (1.0, 1.0));
    // a truncated last line is dropped and flagged; a bad middle line is an error naming it
    let cut = &PREDICTIONS[..PREDICTIONS.len() - 40];
    let r = parse_predictions(cut).expect("tolerated");
    assert!(r.truncated_tail);
    assert_eq!(r.predictions.len(), 5);
    let bad = format!("{{oops\n{PREDICTIONS}");
    assert!(parse_predictions(&bad).unwrap_err().to_string().starts_with("line 1:"));
}

/// A 4x1 heat-map against a 4x1 mask, by hand:
/// heat [200, 100, 150, 0], truth [on, on, off, off].
/// At 0.5 (level >= 128): predicted {0, 2} → TP 1, FP 1, FN 1 → F1 2/4 = 0.5, IoU 1/3.
/// Best: level in 151..=200 → {0}: TP 1, FN 1 → F1 2/3, IoU 1/2;
/// level in 1..=100 → {0,1,2}: TP 2, FP 1 → F1 4/5, IoU 2/3 (the best for both).
#[test]
fn heatmaps_are_scored_at_fixed_and_best_thresholds() {
    use trutheye_eval::heatmap;
    let gt = GtMask { width: 4, height: 1, on: vec![true, true, false, false] };
    let heat = image::GrayImage::from_raw(4, 1, vec![200, 100, 150, 0]).expect("heat");
    let s = heatmap::scores(&gt, &heat).expect("same size");
    close(s.f1_fixed, 0.5);
    close(s.iou_fixed, 1.0 / 3.0);
    close(s.f1_best, 0.8);
    close(s.iou_best, 2.0 / 3.0);
    // An empty truth: predicting nothing (threshold above every level) is perfect.
    let empty = GtMask { width: 4, height: 1, on: vec![false; 4] };
    let s = heatmap::scores(&empty, &heat).expect("same size");
    close(s.f1_fixed, 0.0);
    close(s.f1_best, 1.0);
    assert!(heatmap::scores(&gt, &image::GrayImage::new(2, 2)).unwrap_err().to_string().contains("2x2"));

    // Through the metrics: a prediction naming a saved heat-map is scored by it,
    // one whose heat-map is missing falls back to its box.
    let dir = tempfile::tempdir().expect("tempdir");
    let rel = heatmap::save(dir.path(), "op:x", "a/1", &heat).expect("save");
    assert_eq!(rel, "heatmaps/op_x/a_1.png");
    let line = |id: &str, mask: &str| {
        format!(r#"{{"id":"{id}","policy":"op:x","strategy":"baseline","label":"tampered","scores":null,"bbox":[0,0,1,1],"mask":{mask},"error":null,"truth":{{"label":"tampered","bbox":null,"mask":"m.png"}},"forced":false,"turns":1,"tool_calls":1,"format_errors":0,"wall_ms":1,"tools_used":["x"]}}"#)
    };
    let text = format!("{}\n{}\n", line("h", &format!("\"{rel}\"")), line("b", "\"heatmaps/missing.png\""));
    let preds = parse_predictions(&text).expect("parses").predictions;
    let masks = HashMap::from([("h".to_string(), gt.clone()), ("b".to_string(), gt)]);
    let ctx = EvalContext { masks, run_dir: Some(dir.path().to_path_buf()), ..EvalContext::default() };
    let l = &compute(&preds, &ctx).groups[0].localization;
    assert_eq!((l.n_with_mask, l.n_heatmaps), (2, 1));
    // box [0,0,1,1] covers pixel 0 only: TP 1, FN 1 → F1 2/3, IoU 1/2 (fixed = best).
    some(l.pixel_f1_fixed, (0.5 + 2.0 / 3.0) / 2.0);
    some(l.pixel_f1_best, (0.8 + 2.0 / 3.0) / 2.0);
    some(l.pixel_iou_best, (2.0 / 3.0 + 0.5) / 2.0);
    // Both called tampered: the like-for-like column equals the fixed one.
    some(l.pixel_f1_called, (0.5 + 2.0 / 3.0) / 2.0);
    // A baseline whose verdict says authentic on "h" keeps its heat-map score in
    // pixel_f1_fixed but scores 0 there in pixel_f1_called.
    let text = text.replacen(r#""label":"tampered","scores""#, r#""label":"authentic","scores""#, 1);
    let preds = parse_predictions(&text).expect("parses").predictions;
    let l = &compute(&preds, &ctx).groups[0].localization;
    some(l.pixel_f1_fixed, (0.5 + 2.0 / 3.0) / 2.0);
    some(l.pixel_f1_called, (2.0 / 3.0) / 2.0);
    // Map quality alone: "h"'s heat-map scores 0.5 whatever the verdict; "b" has
    // no heat-map (its box is not a map), so 0.
    some(l.pixel_f1_map, 0.5 / 2.0);

    // An agent that calls "h" authentic has no verdict mask, so pixel_f1_fixed
    // is 0; its fused map (`map`) is still scored by pixel_f1_map. Another that
    // called "h" tampered but left no map scores 0 there.
    let agent = |label: &str, map: &str| {
        format!(r#"{{"id":"h","policy":"scripted","strategy":"registry","label":"{label}","scores":null,"bbox":null,"mask":null,"map":{map},"error":null,"truth":{{"label":"tampered","bbox":null,"mask":"m.png"}},"forced":false,"turns":3,"tool_calls":2,"format_errors":0,"wall_ms":1,"tools_used":["x"]}}"#)
    };
    let text = format!("{}\n", agent("authentic", &format!("\"{rel}\"")));
    let preds = parse_predictions(&text).expect("parses").predictions;
    let l = &compute(&preds, &ctx).groups[0].localization;
    some(l.pixel_f1_fixed, 0.0);
    some(l.pixel_f1_called, 0.0);
    some(l.pixel_f1_map, 0.5);
    let preds = parse_predictions(&format!("{}\n", agent("tampered", "null"))).expect("parses").predictions;
    some(compute(&preds, &ctx).groups[0].localization.pixel_f1_map, 0.0);
    // Old prediction files have no `map` field: it reads as none.
    assert!(parse_predictions(&format!("{}\n", line("h", "null"))).expect("parses").predictions[0].map.is_none());
}

//! Scores a dataset (a directory with `manifest.jsonl`, e.g. `../shared/bench/dev`)
//! or a list of images with an ONNX probability operator (default `clip_probe`),
//! in batches, and prints per-image scores and per-class means.
//!
//! ```text
//! cargo run --release -p trutheye-plugin-onnx --example clip_scores -- MODEL_DIR DATASET_DIR|IMAGE... [--op NAME]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use trutheye_plugin_api::ImageRef;
use trutheye_plugin_onnx::catalog;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let op = match args.iter().position(|a| a == "--op") {
        Some(i) => {
            let v = args.get(i + 1).cloned().ok_or("--op needs a name")?;
            args.drain(i..=i + 1);
            v
        }
        None => "clip_probe".to_string(),
    };
    let models = PathBuf::from(args.first().ok_or("usage: clip_scores MODEL_DIR DATASET_DIR|IMAGE... [--op NAME]")?);
    let mut items: Vec<(PathBuf, String)> = Vec::new();
    for a in &args[1..] {
        let p = PathBuf::from(a);
        let manifest = p.join("manifest.jsonl");
        if manifest.is_file() {
            let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{}: {e}", manifest.display()))?;
                let (Some(img), Some(label)) = (v["image"].as_str(), v["label"].as_str()) else { continue };
                items.push((p.join(img), label.to_string()));
            }
        } else {
            items.push((p, "-".into()));
        }
    }
    let cat = catalog::load(&[models]);
    for (p, why) in &cat.refused {
        eprintln!("refused {}: {why}", p.display());
    }
    let model = cat.models.iter().find(|m| m.manifest.name == op).ok_or(format!("operator `{op}` not loaded"))?;
    let start = std::time::Instant::now();
    let mut by_class: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for chunk in items.chunks(model.manifest.batch.max(1)) {
        let decoded = chunk
            .iter()
            .map(|(p, _)| image::open(p).map(|i| i.to_rgb8()).map_err(|e| format!("cannot read {}: {e}", p.display())))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<ImageRef<'_>> = decoded
            .iter()
            .map(|i| ImageRef::from_rgb(i.width() as usize, i.height() as usize, i.as_raw()).ok_or("bad buffer"))
            .collect::<Result<_, _>>()?;
        let probs = model.probabilities(&refs)?;
        for ((path, label), p) in chunk.iter().zip(probs) {
            println!("{}\t{label}\t{p:.6}", path.display());
            by_class.entry(label.clone()).or_default().push(p);
        }
    }
    eprintln!("\n{} images in {:.1} s ({})", items.len(), start.elapsed().as_secs_f64(), model.backend());
    eprintln!("| class | n | mean p({}) | min | max |\n|---|---|---|---|---|", model.manifest.output.label);
    for (label, v) in &by_class {
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        eprintln!("| {label} | {} | {mean:.3} | {lo:.3} | {hi:.3} |", v.len());
    }
    Ok(())
}

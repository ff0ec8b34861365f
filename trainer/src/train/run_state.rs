//! A training run's directory: adapters, optimiser moments, the metric
//! history (`state.json`, one row per step), `metrics.jsonl`, and the curves
//! as `curves.svg`. Checkpoints are written atomically (temp file + rename) so
//! a killed run resumes from its last complete step.

use crate::TrainError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use trutheye_model::qwen25vl::LoraSet;

use super::adamw::AdamW;

/// What `state.json` holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunState {
    /// `sft` or `grpo`.
    pub kind: String,
    /// Steps completed.
    pub step: u64,
    /// Per step: metric name to value.
    pub history: Vec<BTreeMap<String, f64>>,
    /// The run's settings, for the record.
    pub settings: serde_json::Value,
}

/// The run directory.
pub struct RunDir {
    /// Its path.
    pub dir: PathBuf,
}

impl RunDir {
    /// Creates `dir`; refuses a directory holding another run unless `resume`.
    pub fn open(dir: &Path, resume: bool) -> Result<(Self, Option<RunState>), TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::Run(format!("{}: {e}", dir.display())))?;
        let state_path = dir.join("state.json");
        let state = if state_path.exists() {
            if !resume {
                return Err(TrainError::Run(format!("{} already holds a run; pass --resume to continue it, or choose another --out", dir.display())));
            }
            let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::Run(format!("{}: {e}", state_path.display())))?;
            Some(serde_json::from_str::<RunState>(&text).map_err(|e| TrainError::Run(format!("{}: {e}", state_path.display())))?)
        } else {
            None
        };
        Ok((Self { dir: dir.to_path_buf() }, state))
    }

    /// Restores adapters and optimiser from the last checkpoint.
    pub fn restore(&self, lora: &LoraSet, opt: &mut AdamW) -> Result<(), TrainError> {
        lora.restore(&self.dir.join("adapter.safetensors")).map_err(|e| TrainError::Run(e.to_string()))?;
        opt.restore(&self.dir.join("optimizer.safetensors")).map_err(|e| TrainError::Run(e.to_string()))
    }

    /// Writes adapters, optimiser, state and curves.
    pub fn checkpoint(&self, lora: &LoraSet, opt: &AdamW, state: &RunState, curves: &[&str]) -> Result<(), TrainError> {
        let tmp = |name: &str| self.dir.join(format!(".{name}.tmp"));
        let commit = |name: &str| std::fs::rename(tmp(name), self.dir.join(name)).map_err(|e| TrainError::Run(format!("{}: {e}", self.dir.join(name).display())));
        lora.save(&tmp("adapter.safetensors")).map_err(|e| TrainError::Run(e.to_string()))?;
        opt.save(&tmp("optimizer.safetensors")).map_err(|e| TrainError::Run(e.to_string()))?;
        let json = serde_json::to_string_pretty(state).map_err(|e| TrainError::Run(e.to_string()))?;
        std::fs::write(tmp("state.json"), json).map_err(|e| TrainError::Run(e.to_string()))?;
        // state.json last: it is what says the checkpoint is complete.
        commit("adapter.safetensors")?;
        commit("optimizer.safetensors")?;
        commit("state.json")?;
        std::fs::write(self.dir.join("curves.svg"), curves_svg(state, curves)).map_err(|e| TrainError::Run(e.to_string()))
    }

    /// Appends one line to `metrics.jsonl`.
    pub fn log(&self, row: &BTreeMap<String, f64>) -> Result<(), TrainError> {
        use std::io::Write;
        let p = self.dir.join("metrics.jsonl");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&p).map_err(|e| TrainError::Run(format!("{}: {e}", p.display())))?;
        writeln!(f, "{}", serde_json::to_string(row).map_err(|e| TrainError::Run(e.to_string()))?).map_err(|e| TrainError::Run(e.to_string()))
    }
}

/// One panel per metric, step on the x axis.
pub fn curves_svg(state: &RunState, metrics: &[&str]) -> String {
    let mut buf = String::new();
    let panel_h = 260u32;
    {
        let root = SVGBackend::with_string(&mut buf, (760, panel_h * metrics.len().max(1) as u32)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let panels = root.split_evenly((metrics.len().max(1), 1));
        for (area, name) in panels.iter().zip(metrics) {
            let pts: Vec<(f64, f64)> = state.history.iter().filter_map(|r| Some((*r.get("step")?, *r.get(*name)?))).filter(|p| p.1.is_finite()).collect();
            if pts.is_empty() {
                continue;
            }
            let (x0, x1) = (pts.first().map(|p| p.0).unwrap_or(0.0), pts.last().map(|p| p.0).unwrap_or(1.0).max(pts[0].0 + 1.0));
            let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
            let pad = ((hi - lo) * 0.1).max(1e-3);
            let Ok(mut chart) = ChartBuilder::on(area)
                .caption(format!("{} — {name}", state.kind), ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
            else {
                continue;
            };
            let _ = chart.configure_mesh().x_desc("step").y_desc(*name).draw();
            let _ = chart.draw_series(LineSeries::new(pts.clone(), BLUE.stroke_width(2)));
            let _ = chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, BLUE.filled())));
        }
        let _ = root.present();
    }
    buf
}

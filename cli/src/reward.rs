//! `trutheye reward`: scores recorded trajectories against a dataset's truth.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use trutheye_core::Trajectory;

use trutheye_eval::Dataset;
use trutheye_eval::rewards::{score, RewardBreakdown, RewardTruth, RewardWeights};

/// Flags of `trutheye reward`.
#[derive(Args, Debug)]
pub struct RewardArgs {
    /// `trajectories.jsonl` from `analyze --out` or an eval run.
    #[arg(long, value_name = "FILE")]
    pub trajectories: PathBuf,
    /// The dataset the trajectories' ids come from (manifest or folder).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Reward weights (TOML with any of the fields of the defaults, see docs).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// One JSON object per trajectory instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trutheye reward`; returns an error line for unreadable inputs.
pub fn run(args: &RewardArgs) -> anyhow::Result<()> {
    let weights = match &args.weights {
        Some(p) => {
            let text = trutheye_core::input::read_text_bounded(p, trutheye_core::input::MAX_TEXT_BYTES)?;
            toml::from_str::<RewardWeights>(&text).map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message()))?
        }
        None => RewardWeights::default(),
    };
    let text = trutheye_core::input::read_text_bounded(&args.trajectories, trutheye_core::input::MAX_DATA_BYTES)?;
    let trajectories = Trajectory::read_jsonl(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.trajectories.display()))?;
    let ds = Dataset::load(&args.data)?;
    let truth: HashMap<&str, RewardTruth> = ds.samples.iter().map(|s| (s.id.as_str(), RewardTruth { label: s.label, bbox: s.bbox })).collect();
    let mut scored: Vec<(&Trajectory, RewardBreakdown)> = Vec::new();
    let mut unknown = 0;
    for t in &trajectories {
        match truth.get(t.id.as_str()) {
            Some(gt) => scored.push((t, score(t, gt, &weights))),
            None => unknown += 1,
        }
    }
    if unknown > 0 {
        eprintln!("warning: {unknown} trajectory(ies) have ids not in {} and were skipped", args.data.display());
    }
    if args.json {
        for (t, r) in &scored {
            let mut v = serde_json::to_value(r)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("id".into(), t.id.clone().into());
                o.insert("policy".into(), t.policy.clone().into());
                o.insert("strategy".into(), t.strategy.clone().into());
            }
            println!("{v}");
        }
        return Ok(());
    }
    println!("| id | policy/strategy | acc | format | global | logic | crop | coh | loc | ForenAgent R | TruthEYE2 R |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (t, r) in &scored {
        println!(
            "| {} | {}/{} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} | {:.3} | {:.3} |",
            t.id, t.policy, t.strategy, r.acc, r.format, r.global, r.logic, r.crop, r.coh, r.loc, r.forenagent, r.trutheye2
        );
    }
    if !scored.is_empty() {
        let n = scored.len() as f64;
        let mean = |f: fn(&RewardBreakdown) -> f64| scored.iter().map(|(_, r)| f(r)).sum::<f64>() / n;
        println!("\n{} trajectories: mean ForenAgent R {:.3}, mean TruthEYE2 R {:.3}, accuracy {:.1}%", scored.len(), mean(|r| r.forenagent), mean(|r| r.trutheye2), 100.0 * mean(|r| r.acc));
    }
    Ok(())
}

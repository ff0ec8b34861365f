//! An agent's verdict mask reaches the pixel metrics: the evaluator saves it
//! under the run directory, names it in the prediction, and scores the map
//! rather than the box.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::write_sample;
use trutheye_core::fusion::FusionConfig;
use trutheye_core::{Action, AgentConfig, Conversation, EpisodeState, Evidence, Executor, HeatGrid, Observation, Policy, PolicyError, PolicyReply, RegionFrame, Registry, ReplyLimits};
use trutheye_eval::{read_predictions, run_eval, write_reports, Dataset, EpisodeFactory, EvalError, RunOptions};

/// Runs one operator, then answers tampered without a box.
struct OneCallThenTampered;

impl Policy for OneCallThenTampered {
    fn name(&self) -> &str {
        "fuser"
    }
    fn next(&mut self, conv: &Conversation, _: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        Ok(PolicyReply::text(if conv.assistant_turns() == 0 { "<tool_call>{\"name\": \"srm\", \"arguments\": {}}</tool_call>" } else { "<answer>tampered</answer>" }))
    }
}

/// An operator whose 16×12 heat-map is hot exactly on the fixtures' mask (x 4..8, y 2..6).
struct OnTheMask;

impl Executor for OnTheMask {
    fn name(&self) -> &'static str {
        "registry"
    }
    fn execute(&mut self, _: &Action, _: &mut EpisodeState) -> Observation {
        let values: Vec<f32> = (0..16 * 12).map(|i| if (4..8).contains(&(i % 16)) && (2..6).contains(&(i / 16)) { 5.0 } else { (i % 5) as f32 * 0.1 }).collect();
        let heat = HeatGrid::from_map("z", 16, 12, &values, Some([0, 0, 16, 12]));
        let ev = Evidence { operator: "srm".into(), image: "image_clue_0".into(), summary: "s".into(), stats: Default::default(), regions: vec![], frame: RegionFrame::Root, maps: vec![], heat };
        Observation { text: "[srm on image_clue_0] s".into(), evidence: vec![ev], ..Default::default() }
    }
}

struct Factory(AgentConfig, Arc<Registry>);

impl EpisodeFactory for Factory {
    fn make(&self, _: &str, _: &str) -> Result<(Box<dyn Policy>, Box<dyn Executor>), EvalError> {
        Ok((Box::new(OneCallThenTampered), Box::new(OnTheMask)))
    }
    fn registry(&self) -> Arc<Registry> {
        self.1.clone()
    }
    fn config(&self) -> &AgentConfig {
        &self.0
    }
}

#[test]
fn the_agents_mask_is_saved_named_and_scored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let lines: Vec<String> = ["tampered", "authentic"].iter().enumerate().map(|(i, l)| write_sample(&data, &format!("s{i}"), l)).collect();
    std::fs::write(data.join("manifest.jsonl"), lines.join("\n") + "\n").expect("manifest");
    let ds = Dataset::load(&data.join("manifest.jsonl")).expect("loads");
    let mut config = AgentConfig::default_config();
    config.localization = FusionConfig { grid: 16, clip: 8.0, bias: -0.5, weights: [("srm".to_string(), 1.0)].into(), smooth: 0, largest_only: true, peak_fraction: 0.0, named_copy_as_mask: true };
    let out = tmp.path().join("run");
    let opts = RunOptions { out: out.clone(), policies: vec!["fuser".into()], strategies: vec!["registry".into()], jobs: 1, limit: None, resume: false, shard: None, baselines: None, progress: false, args: serde_json::json!({}) };
    run_eval(&ds, &Factory(config, Arc::new(Registry::new())), &opts).expect("runs");
    let preds = read_predictions(&out.join("predictions.jsonl")).expect("reads").predictions;
    let tampered = preds.iter().find(|p| p.id == "s0").expect("s0");
    let rel = tampered.mask.as_deref().expect("a mask path");
    assert!(Path::new(&out).join(rel).is_file(), "{rel} is written under the run directory");
    assert_eq!(tampered.bbox, Some([4, 2, 8, 6]), "the box is the mask's component");
    let m = write_reports(&out, Some(&ds), None).expect("reports");
    let loc = &m.groups[0].localization;
    assert_eq!((loc.n_with_mask, loc.n_heatmaps), (1, 1), "scored by its map, not its box");
    assert!(loc.pixel_f1_fixed.expect("f1") > 0.99, "{loc:?}");
}

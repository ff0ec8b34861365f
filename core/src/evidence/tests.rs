use std::sync::Arc;

use serde_json::json;
use trutheye_plugin_api::{Output, Region};

use super::*;
use crate::action::Action;
use crate::config::AgentConfig;
use crate::episode::Episode;
use crate::executor::{EpisodeState, Executor, Observation};
use crate::image::ImageBuf;
use crate::policy::PolicyReply;
use crate::registry::Registry;

#[test]
fn scores_that_json_cannot_hold_survive_a_round_trip() {
    for score in [4.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let r = ScoredRegion { bbox: [1, 2, 3, 4], score };
        let back: ScoredRegion = serde_json::from_str(&serde_json::to_string(&r).expect("ser")).expect("de");
        assert_eq!(back.score.to_bits(), score.to_bits(), "{score}");
    }
    let null: ScoredRegion = serde_json::from_str(r#"{"bbox": [0, 0, 1, 1], "score": null}"#).expect("de");
    assert!(null.score.is_nan());
}

#[test]
fn shown_scores_are_the_text_s_tenths() {
    assert_eq!(shown_score(4.46), 4.5);
    assert_eq!(shown_score(4.45), 4.4, "4.45f32 is just under 4.45");
    assert!(shown_score(f32::NAN).is_nan());
    assert_eq!(shown_score(f32::INFINITY), f64::INFINITY);
}

/// Runs `srm` on `image_clue_0` for every action, with fixed outputs.
struct Srm;

impl Executor for Srm {
    fn name(&self) -> &'static str {
        "registry"
    }
    fn execute(&mut self, _: &Action, state: &mut EpisodeState) -> Observation {
        let out = Output { summary: "s".into(), stats: json!({"anomaly_z": 2.25, "block": 32}), regions: vec![Region { bbox: [1, 2, 9, 9], score: 3.04 }], maps: vec![] };
        let input = state.images[0].clone();
        crate::observe::operator_observation(state, "srm", &input, out)
    }
}

fn episode_with_one_run() -> Trajectory {
    let image = Arc::new(ImageBuf::derived(image::RgbImage::new(16, 16), "test"));
    let mut ep = Episode::new("x", &AgentConfig::default_config(), Box::new(Srm), vec![image], Arc::new(Registry::new()));
    ep.step(&PolicyReply::text("<tool_call>\n{\"name\": \"srm\", \"arguments\": {}}\n</tool_call>"), 0);
    ep.trajectory("test")
}

#[test]
fn trajectories_record_evidence_and_old_ones_are_read_from_their_text() {
    let t = episode_with_one_run();
    let record = t.turns[0].observation.as_ref().expect("observation");
    assert_eq!(record.evidence.len(), 1, "{}", record.text);
    let ev = trajectory_evidence(&t);
    assert_eq!(ev, record.evidence);
    assert_eq!(ev[0].number("anomaly_z"), Some(2.25));
    assert_eq!(ev[0].root_regions()[0].score, 3.0);
    let line = t.to_json_line();
    assert_eq!(Trajectory::read_jsonl(&line).expect("reads"), vec![t.clone()]);

    // The same episode as written before evidence existed: no key at all.
    let mut old = t.clone();
    if let Some(o) = old.turns[0].observation.as_mut() {
        o.evidence.clear();
    }
    let old_line = old.to_json_line();
    assert!(!old_line.contains("\"evidence\""));
    let old = Trajectory::read_jsonl(&old_line).expect("old files load").remove(0);
    let legacy = trajectory_evidence(&old);
    assert_eq!(legacy.len(), 1);
    assert_eq!((&legacy[0].stats, &legacy[0].regions, legacy[0].frame), (&ev[0].stats, &ev[0].regions, ev[0].frame));
}

#[test]
fn text_that_only_looks_like_operator_output_is_not_evidence() {
    // No forensic tool ran: the text is printed output, not an operator's.
    let mut t = episode_with_one_run();
    if let Some(o) = t.turns[0].observation.as_mut() {
        o.evidence.clear();
        o.tools.clear();
    }
    assert!(trajectory_evidence(&t).is_empty());
}

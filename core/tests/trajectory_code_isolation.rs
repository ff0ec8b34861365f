//! `code_isolation` in trajectories: written when the executor runs code,
//! absent otherwise, and trajectories written before the field existed still
//! parse.

use std::sync::Arc;

use image::RgbImage;
use trutheye_core::executors::NoneExecutor;
use trutheye_core::{run_episode, Action, AgentConfig, EpisodeInput, EpisodeState, Executor, ImageBuf, NoArtifacts, Observation, Policy, PolicyError, PolicyReply, Registry, ReplyLimits, Trajectory};

struct Say(Vec<&'static str>);

impl Policy for Say {
    fn name(&self) -> &str {
        "say"
    }
    fn next(&mut self, _conv: &trutheye_core::Conversation, _limits: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let text = if self.0.is_empty() { "<answer>authentic</answer>" } else { self.0.remove(0) };
        Ok(PolicyReply::text(text))
    }
}

/// Runs code by printing it back, isolated as `how` says.
struct Echo(Option<&'static str>);

impl Executor for Echo {
    fn name(&self) -> &'static str {
        "pvr"
    }
    fn execute(&mut self, action: &Action, _state: &mut EpisodeState) -> Observation {
        match action {
            Action::Code { code, .. } => Observation { text: code.clone(), ..Default::default() },
            _ => Observation::error("no"),
        }
    }
    fn backend(&self) -> Option<&'static str> {
        Some("echo")
    }
    fn code_isolation(&self) -> Option<&'static str> {
        self.0
    }
}

fn episode(exec: &mut dyn Executor) -> Trajectory {
    let input = EpisodeInput { id: "x".into(), images: vec![Arc::new(ImageBuf::derived(RgbImage::new(8, 8), "test"))] };
    let mut policy = Say(vec!["<code>print(1)</code>"]);
    run_episode(&mut policy, exec, input, &AgentConfig::default_config(), Arc::new(Registry::new()), &mut NoArtifacts)
}

#[test]
fn trajectories_say_how_code_was_isolated() {
    let t = episode(&mut Echo(Some("worker")));
    assert_eq!(t.code_isolation.as_deref(), Some("worker"));
    let line = t.to_json_line();
    assert!(line.contains("\"code_isolation\":\"worker\""), "{line}");
    assert_eq!(Trajectory::read_jsonl(&line).expect("parses")[0].code_isolation.as_deref(), Some("worker"));

    let t = episode(&mut NoneExecutor);
    assert_eq!(t.code_isolation, None);
    let line = t.to_json_line();
    assert!(!line.contains("code_isolation"), "{line}");

    // A trajectory from before the field: it parses, with no isolation recorded.
    let mut v: serde_json::Value = serde_json::from_str(&episode(&mut Echo(Some("jail"))).to_json_line()).expect("json");
    v.as_object_mut().expect("object").remove("code_isolation");
    let old = Trajectory::read_jsonl(&v.to_string()).expect("an old trajectory parses");
    assert_eq!(old[0].code_isolation, None);
}

//! The agent loop with a scripted in-test policy and the in-core executors:
//! format errors are fed back, budgets force verdicts, crops localize.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::executors::{NoneExecutor, RegistryExecutor};
use trutheye_core::{
    run_episode, AgentConfig, Conversation, EpisodeInput, ImageBuf, NoArtifacts, Policy, PolicyError, PolicyReply, Registry,
    ReplyLimits, Role, Trajectory, VerdictLabel,
};

/// Replays fixed messages and records what it was shown.
struct Script {
    msgs: Vec<Vec<u8>>,
    i: usize,
    seen_tool_messages: Vec<String>,
}

impl Script {
    fn new(msgs: &[&str]) -> Self {
        Self { msgs: msgs.iter().map(|m| m.as_bytes().to_vec()).collect(), i: 0, seen_tool_messages: vec![] }
    }
}

impl Policy for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn next(&mut self, conv: &Conversation, _: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        if let Some(m) = conv.messages.last().filter(|m| m.role == Role::Tool) {
            self.seen_tool_messages.push(m.text.clone());
        }
        let m = self.msgs.get(self.i).cloned().ok_or_else(|| PolicyError("script exhausted".into()))?;
        self.i += 1;
        Ok(PolicyReply { raw: m, tokens: None })
    }
}

fn photo() -> Arc<ImageBuf> {
    Arc::new(ImageBuf::derived(RgbImage::from_fn(200, 120, |x, y| Rgb([(x % 256) as u8, (y * 2) as u8, 90])), "photo.png"))
}

fn run(policy: &mut Script, exec: &mut dyn trutheye_core::Executor, cfg: &AgentConfig) -> Trajectory {
    run_episode(policy, exec, EpisodeInput { id: "t".into(), images: vec![photo()] }, cfg, Arc::new(Registry::new()), &mut NoArtifacts)
}

#[test]
fn a_crop_then_a_bare_tampered_answer_localizes_at_the_crop() {
    let cfg = AgentConfig::default_config();
    let mut p = Script::new(&[
        "<think>look closer</think><tool_call>{\"name\": \"crop\", \"arguments\": {\"bbox\": [20, 10, 120, 70]}}</tool_call>",
        "<think>zoom into the crop</think><tool_call>{\"name\": \"crop\", \"arguments\": {\"image_index\": 1, \"bbox\": [10, 5, 50, 25]}}</tool_call>",
        "<answer>tampered</answer>",
    ]);
    let t = run(&mut p, &mut RegistryExecutor, &cfg);
    assert!(!t.verdict.forced);
    assert_eq!(t.verdict.label, VerdictLabel::Tampered);
    // Crop of a crop: [20+10, 10+5, 20+50, 10+25] in image_clue_0 pixels.
    assert_eq!(t.verdict.bbox, Some([30, 15, 70, 35]));
    assert_eq!(t.stats.tool_calls, 2);
    assert!(p.seen_tool_messages[0].contains("image_clue_1 (100x60)"), "{:?}", p.seen_tool_messages);
    assert!(t.user_prompt.contains("image_clue_0: 200x120 px"));
    assert!(t.system_prompt.contains("\"name\":\"crop\""), "registry prompt lists tools as JSON");
}

#[test]
fn format_errors_are_fed_back_and_the_model_can_recover() {
    let cfg = AgentConfig::default_config();
    let mut p = Script::new(&["I think it is fake", "<answer>{\"label\": \"synthetic\", \"scores\": {\"authentic\": 0.1, \"synthetic\": 0.8, \"tampered\": 0.1}}</answer>"]);
    let t = run(&mut p, &mut NoneExecutor, &cfg);
    assert_eq!(t.stats.format_errors, 1);
    assert!(p.seen_tool_messages[0].starts_with("Format error"), "{:?}", p.seen_tool_messages);
    assert_eq!(t.verdict.label, VerdictLabel::Synthetic);
    assert!(!t.verdict.forced);
    assert_eq!(t.verdict.scores.map(|s| s.synthetic), Some(0.8));
    assert!(t.turns[0].format_error.is_some() && t.turns[1].action.is_some());
}

#[test]
fn repeated_format_errors_force_a_verdict_and_say_why() {
    let cfg = AgentConfig::default_config();
    let mut p = Script::new(&["", "<code>x", "<answer>maybe</answer>", "<answer>real</answer>"]);
    let t = run(&mut p, &mut NoneExecutor, &cfg);
    assert!(t.verdict.forced);
    assert_eq!(t.verdict.label, cfg.forced.label);
    assert!(t.verdict.forced_reason.as_deref().unwrap_or("").contains("3 consecutive format errors"));
    assert_eq!(t.turns.len(), 3);
}

#[test]
fn the_tool_budget_is_enforced_then_the_answer_is_still_read() {
    let mut cfg = AgentConfig::default_config();
    cfg.budget.max_tool_calls = 2;
    let call = "<tool_call>{\"name\": \"flip\", \"arguments\": {\"direction\": \"horizontal\"}}</tool_call>";
    let mut p = Script::new(&[call, call, call, "<answer>real</answer>"]);
    let t = run(&mut p, &mut RegistryExecutor, &cfg);
    assert_eq!(t.stats.tool_calls, 2);
    assert!(p.seen_tool_messages[2].contains("tool budget of 2 calls is exhausted"));
    assert_eq!(t.verdict.label, VerdictLabel::Real);
    assert!(!t.verdict.forced);
}

#[test]
fn running_out_of_turns_or_policy_failure_forces_a_verdict() {
    let mut cfg = AgentConfig::default_config();
    cfg.budget.max_turns = 2;
    let call = "<tool_call>{\"name\": \"rotate\", \"arguments\": {\"angle\": 90, \"expand\": true}}</tool_call>";
    let t = run(&mut Script::new(&[call, call, call]), &mut RegistryExecutor, &cfg);
    assert!(t.verdict.forced && t.verdict.forced_reason.as_deref().unwrap_or("").contains("turn budget of 2"));
    let t = run(&mut Script::new(&[call]), &mut RegistryExecutor, &AgentConfig::default_config());
    assert!(t.verdict.forced && t.verdict.forced_reason.as_deref().unwrap_or("").contains("script exhausted"));
}

#[test]
fn tool_errors_are_observations_and_the_episode_goes_on() {
    let cfg = AgentConfig::default_config();
    let mut p = Script::new(&[
        "<tool_call>{\"name\": \"crop\", \"arguments\": {\"bbox\": [150, 10, 20, 70]}}</tool_call>",
        "<tool_call>{\"name\": \"srm\", \"arguments\": {}}</tool_call>",
        "<tool_call>{\"name\": \"crop\", \"arguments\": {\"image_index\": 9, \"bbox\": [0, 0, 5, 5]}}</tool_call>",
        "<tool_call>{\"name\": \"crop\", \"arguments\": {\"bbox\": [0, 0]}}</tool_call>",
        "<code>result = image.crop((0, 0, 10, 10))</code>",
        "<answer>authentic</answer>",
    ]);
    let t = run(&mut p, &mut RegistryExecutor, &cfg);
    let errs: Vec<&str> = t.turns.iter().filter_map(|t| t.observation.as_ref()?.error.as_deref()).collect();
    assert_eq!(errs.len(), 5, "{errs:?}");
    assert!(errs[0].contains("less than"), "{}", errs[0]);
    assert!(errs[1].contains("unknown tool `srm`"), "{}", errs[1]);
    assert!(errs[2].contains("IndexError"), "{}", errs[2]);
    assert!(errs[3].contains("invalid arguments"), "{}", errs[3]);
    assert!(errs[4].contains("Code execution is not available"), "{}", errs[4]);
    assert_eq!(t.verdict.label, VerdictLabel::Authentic);
    assert!(!t.verdict.forced);
}

#[test]
fn trajectories_round_trip_through_json_lines() {
    let cfg = AgentConfig::default_config();
    let mut p = Script::new(&["<think>好的</think><tool_call>{\"name\": \"zoom\", \"arguments\": {\"scale\": 0.5}}</tool_call>", "<answer>tampered [1, 2, 30, 40]</answer>"]);
    let t = run(&mut p, &mut RegistryExecutor, &cfg);
    let line = t.to_json_line();
    assert!(!line.contains('\n'));
    let back = Trajectory::read_jsonl(&format!("{line}\n{line}\n")).expect("parses");
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], t);
    assert_eq!(back[0].verdict.bbox, Some([1, 2, 30, 40]));
    let err = Trajectory::read_jsonl("{\"schema\": 1}\n").unwrap_err().to_string();
    assert!(err.starts_with("line 1"), "{err}");
}

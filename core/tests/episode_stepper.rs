//! The episode stepper driven directly, as `trutheye serve` drives it: what each
//! message is, what the model reads next, when the episode ends; a panicking
//! executor is an error the model reads (in every host, `run_episode`
//! included); host limits withhold images and refuse actions.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::executors::RegistryExecutor;
use trutheye_core::{Action, AgentConfig, Episode, EpisodeState, Executor, HostLimits, ImageBuf, Observation, PolicyReply, Registry, TurnKind, VerdictLabel};

fn photo() -> Arc<ImageBuf> {
    Arc::new(ImageBuf::derived(RgbImage::from_fn(200, 120, |x, y| Rgb([(x % 256) as u8, (y * 2) as u8, 90])), "photo.png"))
}

fn episode(executor: Box<dyn Executor>, host: HostLimits) -> Episode<'static> {
    Episode::new("e", &AgentConfig::default_config(), executor, vec![photo()], Arc::new(Registry::new())).with_host_limits(host)
}

fn say(ep: &mut Episode, text: &str) -> trutheye_core::Step {
    ep.step(&PolicyReply::text(text), 0)
}

const CROP: &str = "<tool_call>{\"name\": \"crop\", \"arguments\": {\"bbox\": [20, 10, 120, 70]}}</tool_call>";

#[test]
fn each_message_is_one_turn_of_a_known_kind() {
    let mut ep = episode(Box::new(RegistryExecutor), HostLimits::default());
    assert!(ep.wants_turn());
    let s = say(&mut ep, "no tags at all");
    assert_eq!((s.index, s.kind, s.done), (0, TurnKind::FormatError, false));
    assert!(s.text.as_deref().is_some_and(|t| !t.is_empty()), "format feedback is read by the model");
    let s = say(&mut ep, CROP);
    assert_eq!((s.index, s.kind, s.done, s.images.len()), (1, TurnKind::Action("tool_call"), false, 1));
    assert_eq!((s.images[0].image.width(), s.images[0].image.height()), (100, 60));
    // The conversation holds system, user, and each turn's message and feedback.
    assert_eq!(ep.conversation().messages.len(), 6);
    let s = say(&mut ep, "<answer>tampered</answer>");
    assert_eq!((s.kind, s.done, s.text), (TurnKind::Answer, true, None));
    assert!(!ep.wants_turn());
    let t = ep.trajectory("host");
    assert_eq!((t.turns.len(), t.stats.tool_calls, t.stats.format_errors), (3, 1, 1));
    assert_eq!((t.verdict.label, t.verdict.bbox), (VerdictLabel::Tampered, Some([20, 10, 120, 70])));
}

#[test]
fn budgets_end_the_episode_with_a_forced_verdict() {
    let mut cfg = AgentConfig::default_config();
    cfg.budget.max_tool_calls = 1;
    cfg.budget.max_turns = 3;
    let mut ep = Episode::new("b", &cfg, Box::new(RegistryExecutor), vec![photo()], Arc::new(Registry::new()));
    assert_eq!(say(&mut ep, CROP).kind, TurnKind::Action("tool_call"));
    let s = say(&mut ep, CROP);
    assert_eq!(s.kind, TurnKind::Budget);
    assert!(s.text.as_deref().is_some_and(|t| t.contains("tool budget of 1")), "{:?}", s.text);
    let s = say(&mut ep, CROP);
    assert!(s.done && ep.verdict().forced, "the turn budget ends it");
    assert!(ep.end_reason().contains("turn budget of 3"), "{}", ep.end_reason());
}

struct Panics;

impl Executor for Panics {
    fn name(&self) -> &'static str {
        "registry"
    }
    fn execute(&mut self, _: &Action, _: &mut EpisodeState) -> Observation {
        panic!("a bug in an executor")
    }
}

#[test]
fn a_panicking_executor_is_an_error_the_model_reads() {
    let mut ep = episode(Box::new(Panics), HostLimits::default());
    let s = say(&mut ep, CROP);
    assert!(!s.done);
    assert!(s.text.as_deref().is_some_and(|t| t.contains("internal executor error")), "{:?}", s.text);
    let s = say(&mut ep, "<answer>authentic</answer>");
    assert!(s.done && !ep.verdict().forced);
}

#[test]
fn host_limits_withhold_images_and_refuse_actions() {
    // 100x60 = 6000 pixels per crop; a limit of 5000 withholds it and says so.
    let mut ep = episode(Box::new(RegistryExecutor), HostLimits { max_image_bytes: None, max_shown_pixels_per_turn: Some(5000) });
    let s = say(&mut ep, CROP);
    assert!(s.images.is_empty());
    assert!(s.text.as_deref().is_some_and(|t| t.contains("[not shown: ") && t.contains("(100x60)")), "{:?}", s.text);
    // The photo alone is 72000 bytes: a quota below it refuses every action.
    let mut ep = episode(Box::new(RegistryExecutor), HostLimits { max_image_bytes: Some(50_000), max_shown_pixels_per_turn: None });
    let s = say(&mut ep, CROP);
    assert_eq!(s.kind, TurnKind::Quota);
    assert!(s.text.as_deref().is_some_and(|t| t.starts_with("MemoryError:")), "{:?}", s.text);
    assert_eq!(ep.trajectory("host").stats.tool_calls, 0);
}

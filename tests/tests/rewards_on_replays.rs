//! Rewards on real episodes: replayed model messages run through the real parser,
//! executors and operators, so the tool records rewards read (which image a crop
//! made, which image an operator read) come from the sandbox and the registry
//! executor, not from hand-built trajectories.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::executors::RegistryExecutor;
use trutheye_core::{run_episode, AgentConfig, EpisodeInput, Executor, ImageBuf, NoArtifacts, Registry, Trajectory, VerdictLabel};
use trutheye_model::ReplayPolicy;
use trutheye_plugin_std::srm::Srm;
use trutheye_sandbox::{PvrExecutor, PvrLimits};
use trutheye_eval::rewards::{r_coh, r_global, r_logic, score, RewardTruth, RewardWeights};

fn replay(msgs: &[&str], exec: &mut dyn Executor) -> Trajectory {
    let img = Arc::new(ImageBuf::derived(RgbImage::from_fn(128, 96, |x, y| Rgb([(x * 2) as u8, (y * 2) as u8, 7])), "x.png"));
    let mut r = Registry::new();
    r.register_native::<Srm>();
    let mut p = ReplayPolicy::new(msgs.iter().map(|m| m.as_bytes().to_vec()).collect());
    run_episode(&mut p, exec, EpisodeInput { id: "x".into(), images: vec![img] }, &AgentConfig::default_config(), Arc::new(r), &mut NoArtifacts)
}

fn truth() -> RewardTruth {
    RewardTruth { label: VerdictLabel::Tampered, bbox: Some([16, 16, 48, 48]) }
}

#[test]
fn pvr_crop_then_operator_on_the_crop_is_coherent_across_turns() {
    let t = replay(
        &[
            "<code>srm(image_clue_0)</code>",
            "<code>c = image_clue_0.crop((16, 16, 48, 48))\nprint(c.size)</code>",
            "<code>srm(c)</code>",
            "<answer>tampered</answer>",
        ],
        &mut PvrExecutor::new(PvrLimits::default()),
    );
    assert_eq!((r_global(&t, 0.8), r_coh(&t), r_logic(&t)), (1.0, 1.0, 1.0));
    let r = score(&t, &truth(), &RewardWeights::default());
    // Answer box missing: the crop's box is the localization, exactly the truth.
    assert_eq!((r.acc, r.loc), (1.0, 1.0));
}

#[test]
fn pvr_operator_on_the_whole_image_after_a_crop_is_not_coherent() {
    let t = replay(
        &["<code>c = image.crop((0, 0, 32, 32))\nd = c.rotate(90)\nsrm(image)</code>", "<answer>authentic</answer>"],
        &mut PvrExecutor::new(PvrLimits::default()),
    );
    assert_eq!(r_coh(&t), 0.0);
    assert_eq!(r_global(&t, 0.8), 0.0, "a basic operation came first");
    // Within one block, crop then the operator on that crop does chain.
    let t = replay(&["<code>c = image.crop((0, 0, 32, 32))\nsrm(c)</code>", "<answer>tampered</answer>"], &mut PvrExecutor::new(PvrLimits::default()));
    assert_eq!(r_coh(&t), 1.0);
}

#[test]
fn registry_crop_then_operator_on_its_output_is_coherent() {
    let t = replay(
        &[
            r#"<tool_call>{"name": "srm", "arguments": {}}</tool_call>"#,
            r#"<tool_call>{"name": "crop", "arguments": {"bbox": [16, 16, 48, 48]}}</tool_call>"#,
            r#"<tool_call>{"name": "srm", "arguments": {"image": "image_clue_2"}}</tool_call>"#,
            "<answer>tampered</answer>",
        ],
        &mut RegistryExecutor,
    );
    let tools: Vec<_> = t.turns.iter().filter_map(|x| x.observation.as_ref()).flat_map(|o| o.tools.clone()).collect();
    assert_eq!(tools.len(), 3, "{tools:?}\n{:?}", t.turns.iter().map(|x| x.observation.as_ref().map(|o| o.text.clone())).collect::<Vec<_>>());
    assert_eq!(r_coh(&t), 1.0, "{tools:?}");
}

//! Rewards on hand-built trajectories, each value computed by hand in the comments.

use trutheye_core::trajectory::{EpisodeStats, ObservationRecord};
use trutheye_core::{Action, CodeSource, FormatError, ToolKind, ToolUse, Trajectory, Turn, Verdict, VerdictLabel};
use trutheye_eval::rewards::{label_correct, r_coh, r_global, r_logic, score, RewardTruth, RewardWeights};

fn tool(name: &str, kind: ToolKind, input: &str, outputs: &[&str], ok: bool) -> ToolUse {
    ToolUse { name: name.into(), kind, input: Some(input.into()), outputs: outputs.iter().map(|s| s.to_string()).collect(), ok }
}

fn low(name: &str, input: &str) -> ToolUse {
    tool(name, ToolKind::Forensic, input, &["map"], true)
}

fn crop(input: &str, out: &str) -> ToolUse {
    tool("crop", ToolKind::Basic, input, &[out], true)
}

/// A turn that ran `tools` (as one code action) with an optional error.
fn act(tools: Vec<ToolUse>, error: Option<&str>, bbox: Option<[u32; 4]>) -> Turn {
    Turn {
        index: 0,
        assistant: String::new(),
        think: None,
        action: Some(Action::Code { code: "...".into(), image_index: None, source: CodeSource::Tag }),
        format_error: None,
        observation: Some(ObservationRecord { text: String::new(), images: vec![], artifacts: vec![], bbox_candidate: bbox, error: error.map(String::from), tools, evidence: vec![] }),
        policy_ms: 0,
        exec_ms: 0,
        tokens: None,
    }
}

fn garbled() -> Turn {
    Turn { action: None, format_error: Some(FormatError::NoAction), observation: None, ..act(vec![], None, None) }
}

fn answer() -> Turn {
    Turn { action: None, observation: None, ..act(vec![], None, None) }
}

fn episode(turns: Vec<Turn>, label: VerdictLabel, bbox: Option<[u32; 4]>, forced: bool) -> Trajectory {
    Trajectory {
        schema: 1,
        id: "x".into(),
        images: vec![],
        policy: "p".into(),
        strategy: "s".into(),
        backend: None,
        code_isolation: None,
        system_prompt: String::new(),
        user_prompt: String::new(),
        turns,
        verdict: Verdict { label, scores: None, bbox, mask: None, explanation: None, forced, forced_reason: None },
        stats: EpisodeStats::default(),
        started_unix_ms: 0,
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn a_textbook_forenagent_episode() {
    // 1: srm on the image; 2: a format error; 3: crop → c1, then srm(c1) in the same block;
    // 4: answer tampered with box [10,10,30,30]; truth tampered, box [10,10,50,30].
    let t = episode(
        vec![
            act(vec![low("srm", "image_clue_0")], None, None),
            garbled(),
            act(vec![crop("image_clue_0", "c1"), low("srm", "c1")], None, Some([0, 0, 40, 40])),
            answer(),
        ],
        VerdictLabel::Tampered,
        Some([10, 10, 30, 30]),
        false,
    );
    let truth = RewardTruth { label: VerdictLabel::Tampered, bbox: Some([10, 10, 50, 30]) };
    let w = RewardWeights::default();
    let r = score(&t, &truth, &w);
    close(r.acc, 1.0);
    close(r.format, 3.0 / 4.0); // 3 of 4 messages parsed
    close(r.global, 1.0); // t_low = 1 < t_basic = 3: γ^0
    close(r.logic, 1.0); // both actions clean
    close(r.crop, w.b_tamper); // predicted tampered
    close(r.coh, 1.0); // srm consumed c1 right after the crop
    close(r.tool, 0.25 * 1.0 + 0.25 * 1.0 + 0.25 * 1.0 + 0.25 * 1.0);
    close(r.loc, 400.0 / 800.0); // 20x20 inside 40x20
    close(r.forenagent, 1.0 + 0.2 * 0.75 + 0.4 * 1.0);
    close(r.trutheye2, 1.0 + 0.2 * 0.75 + 0.5 * 0.5);
}

#[test]
fn order_chains_errors_and_forced_verdicts() {
    // Crop first, then an operator: R_global = 0 (t_basic < t_low).
    let t = episode(vec![act(vec![crop("image_clue_0", "c1")], None, None), act(vec![low("ela", "image_clue_0")], None, None)], VerdictLabel::Authentic, None, false);
    close(r_global(&t, 0.8), 0.0);
    // The operator on the whole image, not on the crop: no coherence.
    close(r_coh(&t), 0.0);

    // First operator in turn 3 (turns 1–2 fail/format): γ² = 0.64; one of two actions failed.
    let t = episode(
        vec![act(vec![], Some("NameError: name 'x' is not defined"), None), garbled(), act(vec![low("srm", "image_clue_0")], None, None)],
        VerdictLabel::Synthetic,
        None,
        true,
    );
    close(r_global(&t, 0.8), 0.64);
    close(r_logic(&t), 0.5);
    let r = score(&t, &RewardTruth { label: VerdictLabel::Synthetic, bbox: None }, &RewardWeights::default());
    close(r.acc, 0.0); // forced: not the model's answer, even though the label matches
    close(r.format, 0.0);
    close(r.crop, 0.0);

    // Crop in turn 1, operator on its output in turn 3: not "right after".
    let t = episode(
        vec![act(vec![crop("image_clue_0", "c1")], None, None), act(vec![low("srm", "image_clue_0")], None, None), act(vec![low("srm", "c1")], None, None)],
        VerdictLabel::Authentic,
        None,
        false,
    );
    close(r_coh(&t), 0.0);
    // A failed operator call does not chain.
    let t = episode(vec![act(vec![crop("image_clue_0", "c1"), tool("srm", ToolKind::Forensic, "c1", &[], false)], None, None)], VerdictLabel::Authentic, None, false);
    close(r_coh(&t), 0.0);
    close(r_logic(&t), 0.0);

    // No tools at all.
    let t = episode(vec![answer()], VerdictLabel::Authentic, None, false);
    let r = score(&t, &RewardTruth { label: VerdictLabel::Real, bbox: None }, &RewardWeights::default());
    close(r.acc, 1.0); // binary truth: authentic is real
    close(r.format, 1.0);
    close(r.tool, 0.0);
    close(r.forenagent, 1.2);
}

#[test]
fn labels_compare_in_the_truths_view() {
    assert!(label_correct(VerdictLabel::Tampered, VerdictLabel::Fake));
    assert!(label_correct(VerdictLabel::Fake, VerdictLabel::Synthetic)); // a binary answer is judged binary
    assert!(!label_correct(VerdictLabel::Synthetic, VerdictLabel::Tampered));
    assert!(!label_correct(VerdictLabel::Real, VerdictLabel::Tampered));
}

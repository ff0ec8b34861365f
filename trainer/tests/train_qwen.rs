//! Native LoRA training on the tiny random-weight Qwen2.5-VL fixture: SFT
//! loss falls, GRPO runs and resumes exactly, and the agent-loop rollouts
//! mask observations out of the loss.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trutheye_trainer::train::grpo::{self, GrpoArgs};
use trutheye_trainer::train::grpo_env::{AgentEnv, RolloutEnv, ToyEvenEnv};
use trutheye_trainer::train::lora_args::LoraArgs;
use trutheye_trainer::train::sft::{self, SftArgs};

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/fixtures/qwen25vl/tiny")
}

/// The LoRA settings both tests share (the rest are the CLI's defaults).
fn lora(model: PathBuf, out: &Path, steps: u64, lr: f64, save_every: u64, resume: bool) -> LoraArgs {
    LoraArgs { model, out: out.to_path_buf(), steps, lr, save_every, resume, ..LoraArgs::default() }
}

fn sft_data(dir: &Path) -> PathBuf {
    for (name, v) in [("a.png", 60u8), ("b.png", 200u8)] {
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([v, (x * 3) as u8, (y * 5) as u8])).save(dir.join(name)).expect("png");
    }
    let lines = [
        r#"{"messages":[{"role":"system","content":"You are a forensic analyst."},{"role":"user","content":"<image>Is this image tampered?"},{"role":"assistant","content":"I will look at the noise."},{"role":"tool_call","content":"{\"name\":\"srm\",\"arguments\":{}}"},{"role":"tool_response","content":"srm: anomaly_z 3.1"},{"role":"assistant","content":"<answer>tampered</answer>"}],"images":["a.png"],"tools":"[]"}"#,
        r#"{"messages":[{"role":"user","content":"<image>Is this image real or fake?"},{"role":"assistant","content":"<answer>real</answer>"}],"images":["b.png"],"tools":"[]"}"#,
    ];
    let p = dir.join("sft.jsonl");
    std::fs::write(&p, lines.join("\n")).expect("write");
    p
}

#[test]
fn sft_loss_falls_and_resume_continues() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = sft_data(dir.path());
    let out = dir.path().join("run");
    let model = tiny();
    let args = |steps: u64, resume: bool| SftArgs { data: data.clone(), common: lora(model.clone(), &out, steps, 3e-3, 2, resume), ..SftArgs::default() };
    let st = sft::run(&args(6, false)).expect("sft");
    assert_eq!(st.step, 6);
    // Without --resume an existing run is refused.
    assert!(sft::run(&args(8, false)).expect_err("must refuse").to_string().contains("--resume"));
    let st = sft::run(&args(12, true)).expect("resumed");
    assert_eq!(st.step, 12);
    assert_eq!(st.history.len(), 12, "history continues across the resume");
    let loss: Vec<f64> = st.history.iter().map(|r| r["loss"]).collect();
    let (first, last) = (loss[0] + loss[1], loss[10] + loss[11]);
    assert!(last < 0.5 * first, "SFT loss must fall clearly: {loss:?}");
    for f in ["adapter.safetensors", "optimizer.safetensors", "state.json", "metrics.jsonl", "curves.svg"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
}

fn grpo_args(out: &Path, steps: u64, resume: bool) -> GrpoArgs {
    GrpoArgs { common: lora(tiny(), out, steps, 5e-3, 1, resume), group: 4, prompts: 1, max_new_tokens: 6, ..GrpoArgs::default() }
}

#[test]
fn grpo_resumes_exactly() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = ToyEvenEnv::new(4);
    let straight = grpo::run(&grpo_args(&dir.path().join("a"), 4, false), &env).expect("straight");
    grpo::run(&grpo_args(&dir.path().join("b"), 2, false), &env).expect("first half");
    let resumed = grpo::run(&grpo_args(&dir.path().join("b"), 4, true), &env).expect("resumed");
    let key = |s: &trutheye_trainer::train::run_state::RunState| s.history.iter().map(|r| (r["reward_mean"], r.get("loss").copied().unwrap_or(f64::NAN))).collect::<Vec<_>>();
    let (a, b) = (key(&straight), key(&resumed));
    for ((ra, la), (rb, lb)) in a.iter().zip(&b) {
        assert_eq!(ra, rb, "rewards must replay exactly: {a:?} vs {b:?}");
        assert!((la - lb).abs() < 1e-5 || (la.is_nan() && lb.is_nan()), "losses {a:?} vs {b:?}");
    }
    let load = |p: PathBuf| candle_core::safetensors::load(p, &candle_core::Device::Cpu).expect("adapters");
    let (x, y) = (load(dir.path().join("a/adapter.safetensors")), load(dir.path().join("b/adapter.safetensors")));
    for (k, t) in &x {
        let d = (t - &y[k]).and_then(|d| d.abs()).and_then(|d| d.max_all()).and_then(|d| d.to_scalar::<f32>()).expect("diff");
        assert!(d < 1e-5, "{k} differs by {d} after resume");
    }
}

#[test]
fn agent_rollouts_mask_observations() {
    let dir = tempfile::tempdir().expect("tmp");
    let img = dir.path().join("t.png");
    image::RgbImage::from_fn(96, 64, |x, y| image::Rgb([(x * 2) as u8, (y * 3) as u8, 90])).save(&img).expect("png");
    let manifest = dir.path().join("m.jsonl");
    std::fs::write(&manifest, format!("{{\"id\": \"t0\", \"image\": \"{}\", \"label\": \"tampered\"}}\n", img.display())).expect("manifest");
    let ds = trutheye_eval::Dataset::load(&manifest).expect("dataset");
    assert_eq!(ds.samples.len(), 1, "{:?}", ds.bad_rows);
    let mut config = trutheye_core::AgentConfig::default_config();
    config.budget.max_turns = 3;
    let env = AgentEnv { samples: ds.samples, config, registry: Arc::new(trutheye_core::Registry::new()), weights: Default::default() };
    let args = grpo_args(&dir.path().join("run"), 1, false);
    let setup = args.common.setup(0).expect("setup");
    let model = Arc::new(setup.model);
    let gen = trutheye_model::qwen25vl::GenerationConfig { max_new_tokens: 16, temperature: 1.0, seed: 5, ..Default::default() };
    let r = env.rollout(&model, 0, &gen).expect("rollout");
    let n = r.seq.trainable.iter().filter(|&&t| t).count();
    assert!(n > 0 && n < r.seq.trainable.len() / 2, "model turns trained, prompt and observations masked: {n} of {}", r.seq.trainable.len());
    assert!(r.reward.is_finite());
}

//! The training-side pieces of the Qwen2.5-VL backend on the tiny fixture:
//! adapters start as the identity, the differentiable path computes what the
//! fast path does, loss masks cover exactly the assistant's tokens, gradients
//! match finite differences, and saved adapters load back for inference.

use std::path::Path;
use std::sync::Arc;

use candle_core::{Tensor, Var};
use trutheye_model::qwen25vl::{load_adapters, ChatMessage, ChatPart, LoadOptions, LoraConfig, LoraSet, Qwen25Vl};

fn tiny() -> Qwen25Vl {
    Qwen25Vl::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen25vl/tiny"), &LoadOptions::default()).expect("tiny checkpoint")
}

fn conversation() -> Vec<ChatMessage> {
    let img = image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen25vl/images/square.png")).expect("image").to_rgb8();
    vec![
        ChatMessage { role: "user".into(), parts: vec![ChatPart::Image(Arc::new(img)), ChatPart::Text("Is this image tampered?".into())] },
        ChatMessage::text("assistant", "<code>result = image.crop((0,0,32,32))</code>"),
        ChatMessage::text("user", "<observation>crop 32x32</observation>"),
        ChatMessage::text("assistant", "<answer>tampered</answer>"),
    ]
}

fn vec1(t: &Tensor) -> Vec<f32> {
    t.to_vec1::<f32>().expect("vec")
}

#[test]
fn masks_cover_exactly_the_assistant_replies() {
    let m = tiny();
    let seq = m.train_sequence(&conversation()).expect("sequence");
    // The whole sequence is the template's rendering of the conversation.
    assert_eq!(seq.prompt.text, m.chat.render(&conversation(), false).expect("render"));
    let trained: Vec<u32> = seq.prompt.ids.iter().zip(&seq.trainable).filter(|(_, &t)| t).map(|(&i, _)| i).collect();
    let text = m.chat.decode(&trained).expect("decode");
    assert_eq!(text, "<code>result = image.crop((0,0,32,32))</code><|im_end|><answer>tampered</answer><|im_end|>");
    assert_eq!(seq.prompt.images.len(), 1);
}

#[test]
fn fresh_adapters_leave_the_model_unchanged_and_paths_agree() {
    let mut m = tiny();
    let seq = m.train_sequence(&conversation()).expect("sequence");
    let before = vec1(&m.token_logprobs(&seq.prompt, false).expect("logprobs"));
    let lora = LoraSet::attach(&mut m, LoraConfig::default(), 7).expect("attach");
    let after = vec1(&m.token_logprobs(&seq.prompt, false).expect("logprobs"));
    let d = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d < 1e-5, "B = 0 must make the adapters a no-op, got {d}");
    // Perturb B so the adapters matter, then compare fast and differentiable paths.
    for (name, v) in &lora.vars {
        if name.ends_with("lora_b") {
            v.set(&(v.as_tensor().ones_like().expect("ones") * 0.01).expect("scale")).expect("set");
        }
    }
    let fast = vec1(&m.token_logprobs(&seq.prompt, false).expect("fast"));
    let slow = vec1(&m.token_logprobs(&seq.prompt, true).expect("slow"));
    let moved = fast.iter().zip(&before).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let d = fast.iter().zip(&slow).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 1e-3, "perturbed adapters must change the output");
    assert!(d < 1e-4, "fused and differentiable paths differ by {d}");
    lora.set_enabled(false);
    let off = vec1(&m.token_logprobs(&seq.prompt, false).expect("off"));
    let d = off.iter().zip(&before).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d < 1e-5, "switched-off adapters must give the base model, got {d}");
}

#[test]
fn gradients_match_finite_differences() {
    let mut m = tiny();
    let seq = m.train_sequence(&conversation()).expect("sequence");
    let lora = LoraSet::attach(&mut m, LoraConfig { rank: 2, alpha: 2.0, targets: vec!["v".into(), "down".into()] }, 3).expect("attach");
    let loss = |m: &Qwen25Vl| -> Tensor { m.token_logprobs(&seq.prompt, true).expect("lp").sum_all().expect("sum") };
    let grads = loss(&m).backward().expect("backward");
    let (name, var): &(String, Var) = lora.vars.iter().find(|(n, _)| n == "layers.1.down.lora_b").expect("var");
    let g = vec1(&grads.get(var.as_tensor()).expect("grad").flatten_all().expect("flat"));
    let base = var.as_tensor().flatten_all().expect("flat").to_vec1::<f32>().expect("v");
    let shape = var.as_tensor().shape().clone();
    let h = 1e-2f32;
    for idx in [0usize, 7, 31] {
        let mut plus = base.clone();
        plus[idx] += h;
        var.set(&Tensor::from_vec(plus, shape.clone(), var.device()).expect("t")).expect("set");
        let lp = loss(&m).to_scalar::<f32>().expect("s");
        let mut minus = base.clone();
        minus[idx] -= h;
        var.set(&Tensor::from_vec(minus, shape.clone(), var.device()).expect("t")).expect("set");
        let lm = loss(&m).to_scalar::<f32>().expect("s");
        let fd = (lp - lm) / (2.0 * h);
        assert!((fd - g[idx]).abs() <= 0.02 * fd.abs().max(g[idx].abs()).max(1.0), "{name}[{idx}]: backprop {} vs finite difference {fd}", g[idx]);
    }
}

#[test]
fn saved_adapters_load_for_inference() {
    let mut m = tiny();
    let seq = m.train_sequence(&conversation()).expect("sequence");
    let lora = LoraSet::attach(&mut m, LoraConfig::default(), 11).expect("attach");
    for (_, v) in &lora.vars {
        v.set(&(v.as_tensor().ones_like().expect("ones") * 0.02).expect("scale")).expect("set");
    }
    let want = vec1(&m.token_logprobs(&seq.prompt, false).expect("lp"));
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("adapter.safetensors");
    lora.save(&path).expect("save");
    let mut fresh = tiny();
    let n = load_adapters(&mut fresh, &path).expect("load");
    assert_eq!(n, 2 * 7, "7 projections per layer, 2 layers");
    let got = vec1(&fresh.token_logprobs(&seq.prompt, false).expect("lp"));
    let d = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d < 1e-6, "loaded adapters differ by {d}");
    // A file that is not an adapter file is refused with its name.
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"not safetensors").expect("write");
    let err = load_adapters(&mut fresh, &bad).expect_err("must fail").to_string();
    assert!(err.contains("bad.safetensors"), "{err}");
}

//! Agreement with the reference implementation (transformers 5.23, torch 2.15)
//! on tiny random-weight checkpoints made by `model/fixtures/qwen25vl/make_fixtures.py`:
//! rendered template, token ids, `image_grid_thw`, pixel values (1e-5), the
//! tower's output, M-RoPE positions, last-position logits (1e-4, f32) and 40
//! greedy tokens, for every recorded case. `tiny-deep` (made by
//! `make_deep_fixtures.py`) has the published vision layout scaled down (full
//! attention between windowed blocks, 112 px windows, images whose grids do not
//! divide into windows, above `max_pixels` and below `min_pixels`), with
//! reference values from transformers 5.23 *and* 4.51.3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Tensor};
use serde_json::Value;
use trutheye_model::qwen25vl::{ChatMessage, ChatPart, GenerationConfig, LoadOptions, Qwen25Vl};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen25vl")
}

fn messages(v: &Value) -> Vec<ChatMessage> {
    let images = fixtures().join("images");
    v.as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            let role = m["role"].as_str().expect("role").to_string();
            let parts = match &m["content"] {
                Value::String(s) => vec![ChatPart::Text(s.clone())],
                Value::Array(parts) => parts
                    .iter()
                    .map(|p| match p["type"].as_str() {
                        Some("image") => {
                            let name = p["image"].as_str().expect("image name");
                            ChatPart::Image(Arc::new(open_like_pillow(&images.join(name))))
                        }
                        _ => ChatPart::Text(p["text"].as_str().expect("text").to_string()),
                    })
                    .collect(),
                other => panic!("content {other}"),
            };
            ChatMessage { role, parts }
        })
        .collect()
}

/// `Image.open(p).convert("RGB")`: JPEG through libjpeg-turbo as Pillow does
/// (trutheye-imaging), PNG through the `image` crate (lossless: no choice to make).
fn open_like_pillow(path: &Path) -> image::RgbImage {
    let bytes = std::fs::read(path).expect("fixture image");
    if path.extension().is_some_and(|e| e == "jpg") {
        let (px, w, h, _) = trutheye_imaging::jpeg_to_rgb(&bytes, u64::MAX, false).expect("jpeg");
        image::RgbImage::from_raw(w, h, px).expect("size")
    } else {
        image::load_from_memory(&bytes).expect("png").to_rgb8()
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("int") as u32).collect()
}

fn check_checkpoint(name: &str) {
    check_against(name, name);
}

/// Checks checkpoint `name` against every case under `expected/<expected>`.
/// Records from `make_deep_fixtures.py` carry no tensors and no positions;
/// those checks run only where the record has them.
fn check_against(name: &str, expected: &str) {
    let dir = fixtures().join(name);
    let model = Qwen25Vl::load(&dir, &LoadOptions::default()).expect("load checkpoint");
    assert!(model.chat.from_checkpoint, "the checkpoint's own template must be used");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("expected").join(expected))
        .expect("expected dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        let exp: Value = serde_json::from_str(&std::fs::read_to_string(&case).expect("read")).expect("json");
        let label = format!("{expected}/{}", case.file_stem().unwrap_or_default().to_string_lossy());
        let version = exp["transformers_version"].as_str().unwrap_or("?").to_string();
        let msgs = messages(&exp["messages"]);
        let prompt = model.chat.prompt(&msgs, &model.preprocessor, true).expect("prompt");
        assert_eq!(prompt.text, exp["prompt_text"].as_str().expect("prompt_text"), "{label}: rendered template");
        assert_eq!(prompt.ids, u32s(&exp["input_ids"]), "{label}: token ids");
        let grids: Vec<Vec<usize>> = prompt.images.iter().map(|p| p.grid_thw.to_vec()).collect();
        let exp_grids: Vec<Vec<usize>> = exp["image_grid_thw"].as_array().map(|a| a.iter().map(|g| u32s(g).iter().map(|&x| x as usize).collect()).collect()).unwrap_or_default();
        assert_eq!(grids, exp_grids, "{label}: image_grid_thw");

        let st = case.with_extension("safetensors");
        let tensors = if st.exists() { candle_core::safetensors::load(st, &candle_core::Device::Cpu).expect("expected tensors") } else { Default::default() };
        let (mut px_diff, mut vis_diff) = (0.0, 0.0);
        if !prompt.images.is_empty() && tensors.contains_key("pixel_values") {
            let ours: Vec<f32> = prompt.images.iter().flat_map(|p| p.values.iter().copied()).collect();
            let theirs = tensors["pixel_values"].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("pixel_values");
            px_diff = max_abs_diff(&ours, &theirs);
            assert!(px_diff <= 1e-5, "{label}: pixel values differ by {px_diff}");
            let emb = model.image_embeds(&prompt.images, false).expect("tower");
            let theirs = tensors["vision_embeds"].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("vision_embeds");
            vis_diff = max_abs_diff(&emb.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("ours"), &theirs);
            assert!(vis_diff <= 1e-4, "{label}: vision tower output differs by {vis_diff}");
        }
        if let Some(sum) = exp["pixel_values_sum"].as_f64() {
            let ours: f64 = prompt.images.iter().flat_map(|p| p.values.iter()).map(|&v| v as f64).sum();
            assert!((ours - sum).abs() <= 1e-3, "{label}: pixel values sum {ours} vs {sum}");
        }
        let pre = model.prepare(&prompt).expect("prepare");
        if !exp["position_ids"].is_null() {
        let exp_pos: Vec<Vec<i64>> = exp["position_ids"].as_array().expect("position_ids").iter().map(|r| r.as_array().expect("row").iter().map(|x| x.as_i64().expect("int")).collect()).collect();
        assert_eq!(pre.positions.to_vec(), exp_pos, "{label}: M-RoPE positions");
        assert_eq!(pre.rope_delta, exp["rope_delta"].as_i64().expect("rope_delta"), "{label}: rope delta");
        }

        let logits = model.last_logits(&prompt).expect("logits").to_vec1::<f32>().expect("vec");
        let exp_logits: Vec<f32> = exp["last_logits"].as_array().expect("last_logits").iter().map(|x| x.as_f64().expect("f") as f32).collect();
        let logit_diff = max_abs_diff(&logits, &exp_logits);
        assert!(logit_diff <= 1e-4, "{label}: last-position logits differ by {logit_diff}");

        let cfg = GenerationConfig { max_new_tokens: 40, eos_ids: Some(vec![]), stop: vec![], runaway_repeats: 0, suppress_vision_tokens: false, ..Default::default() };
        let g = model.generate(&prompt, &cfg, &mut |_| {}).expect("generate");
        let exp_greedy = u32s(&exp["greedy_ids"]);
        let same = g.ids.iter().zip(&exp_greedy).take_while(|(a, b)| a == b).count();
        assert_eq!(g.ids, exp_greedy, "{label}: greedy tokens diverge after {same}");
        println!("{label} [transformers {version}]: {} tokens, grids {grids:?}, pixel max|Δ| {px_diff:.2e}, tower max|Δ| {vis_diff:.2e}, logits max|Δ| {logit_diff:.2e}, greedy {same}/40 identical", prompt.ids.len());
    }
}

#[test]
fn tiny_matches_reference() {
    check_checkpoint("tiny");
}

#[test]
fn tiny_deep_matches_transformers_5() {
    check_against("tiny-deep", "tiny-deep");
}

#[test]
fn tiny_deep_matches_transformers_4_51() {
    check_against("tiny-deep", "tiny-deep-t4");
}

#[test]
fn tiny_sharded_tied_matches_reference() {
    check_checkpoint("tiny-sharded");
}

#[test]
fn bf16_stays_close_to_f32() {
    let dir = fixtures().join("tiny");
    let f32m = Qwen25Vl::load(&dir, &LoadOptions::default()).expect("f32");
    let bf = Qwen25Vl::load(&dir, &LoadOptions { dtype: DType::BF16, ..Default::default() }).expect("bf16");
    let exp: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected/tiny/one_image.json")).expect("read")).expect("json");
    let msgs = messages(&exp["messages"]);
    let p = f32m.chat.prompt(&msgs, &f32m.preprocessor, true).expect("prompt");
    let a: Tensor = f32m.last_logits(&p).expect("f32 logits");
    let b: Tensor = bf.last_logits(&p).expect("bf16 logits");
    let (a, b) = (a.to_vec1::<f32>().expect("a"), b.to_vec1::<f32>().expect("b"));
    let scale = a.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
    let d = max_abs_diff(&a, &b);
    println!("bf16 vs f32 last logits: max|Δ| {d:.3e} (max |logit| {scale:.2})");
    assert!(d <= 0.05 * scale.max(1.0), "bf16 drifted: {d}");
}

#[test]
fn jpeg_decodes_as_pillow_does() {
    // photo_pil_decoded.png is Pillow's decode of photo.jpg, saved losslessly by the fixture script.
    let images = fixtures().join("images");
    let ours = open_like_pillow(&images.join("photo.jpg"));
    let pil = image::open(images.join("photo_pil_decoded.png")).expect("png").to_rgb8();
    let n = ours.as_raw().iter().zip(pil.as_raw()).filter(|(a, b)| a != b).count();
    assert_eq!(n, 0, "photo.jpg: {n} samples differ from Pillow's decode");
}

//! `trutheye model check|bench`: look inside a local Qwen2.5-VL checkpoint —
//! the exact inputs it sees and its next-token logits (to compare with
//! transformers), and its speed on this machine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use trutheye_model::qwen25vl::{ChatMessage, ChatPart, GenerationConfig, Prompt};
use trutheye_model::Qwen25Vl;

use crate::local::{load_model, DeviceArg, DtypeArg};

/// `trutheye model ...`.
#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Tokenize a prompt (with images) and show what the model sees and predicts next.
    Check(CheckArgs),
    /// Prefill and decode speed (tokens/s) on this machine.
    Bench(BenchArgs),
}

/// Flags of `trutheye model check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Qwen2.5-VL checkpoint directory.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Images of the user message, in order (they come before the text).
    #[arg(long = "image", value_name = "IMG")]
    pub images: Vec<PathBuf>,
    /// The user message's text.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// A system message (default: the template's own, "You are a helpful assistant.").
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Write the inputs and the full last-position logits as JSON (compare with
    /// model/fixtures/qwen25vl/compare_logits.py).
    #[arg(long, value_name = "FILE.json")]
    pub dump_logits: Option<PathBuf>,
    /// Weight dtype.
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Also generate N tokens greedily as the reference does (no stop strings, no
    /// end-of-sequence stop, vision tokens not suppressed).
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,
    /// One JSON object on stdout instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `trutheye model bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Qwen2.5-VL checkpoint directory.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Length of the text prompt for the prefill and decode measurements.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub prompt_tokens: usize,
    /// The text prompt's token ids, a JSON array (overrides --prompt-tokens):
    /// lets a comparison feed both sides the same ids (model/bench/qwen25vl_speed.py does).
    #[arg(long, value_name = "FILE.json")]
    pub prompt_ids: Option<PathBuf>,
    /// Tokens to decode (greedy, with the KV cache, no stop).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub decode: usize,
    /// Also time the prefill of a chat prompt holding this image (vision tower included).
    #[arg(long, value_name = "IMG")]
    pub image: Option<PathBuf>,
    /// Timed runs per measurement (the median is reported), after one warm-up.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub runs: usize,
    /// CPU threads (sets RAYON_NUM_THREADS and CANDLE_NUM_THREADS; default: theirs, else all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Weight dtype.
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trutheye model ...`.
pub fn run(cmd: &ModelCommand) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Check(a) => check(a),
        ModelCommand::Bench(a) => bench(a),
    }
    .map(|_| ExitCode::SUCCESS)
}

fn open_image(path: &Path) -> Result<Arc<image::RgbImage>> {
    if !path.is_file() {
        bail!("--image {}: no such file", path.display());
    }
    // Decoded as Pillow decodes (libjpeg-turbo for JPEG): the pixels the reference saw.
    let img = trutheye_core::ImageBuf::open(path, trutheye_core::image::DEFAULT_MAX_PIXELS).with_context(|| format!("--image {}: cannot decode", path.display()))?;
    Ok(img.rgb)
}

/// Text of one token, quoted for a terminal.
fn token_text(model: &Qwen25Vl, id: u32) -> String {
    match model.chat.decode(&[id]) {
        Ok(t) if !t.is_empty() => format!("{t:?}"),
        _ => "(no text)".into(),
    }
}

/// The k largest (id, logit) pairs.
fn top_k(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    idx.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|i| (i, logits[i as usize])).collect()
}

fn check(a: &CheckArgs) -> Result<()> {
    let images: Vec<Arc<image::RgbImage>> = a.images.iter().map(|p| open_image(p)).collect::<Result<_>>()?;
    let model = load_model(&a.model, a.dtype, a.device, None)?;
    let mut messages = Vec::new();
    if let Some(s) = &a.system {
        messages.push(ChatMessage::text("system", s.clone()));
    }
    let mut parts: Vec<ChatPart> = images.iter().map(|i| ChatPart::Image(i.clone())).collect();
    parts.push(ChatPart::Text(a.prompt.clone()));
    messages.push(ChatMessage { role: "user".into(), parts });
    let prompt = model.chat.prompt(&messages, &model.preprocessor, true).map_err(|e| anyhow::anyhow!("building the prompt: {e}"))?;
    let merge = model.config.vision.spatial_merge_size;
    let grids: Vec<[usize; 3]> = prompt.images.iter().map(|p| p.grid_thw).collect();
    let patches: usize = prompt.images.iter().map(|p| p.values.len() / p.patch_dim.max(1)).sum();
    let patch_dim = prompt.images.first().map(|p| p.patch_dim).unwrap_or(0);
    let pixel_shape = if prompt.images.is_empty() { json!(null) } else { json!([patches, patch_dim]) };

    let t0 = Instant::now();
    let logits = model.last_logits(&prompt).map_err(|e| anyhow::anyhow!("forward: {e}"))?.to_vec1::<f32>()?;
    let forward_s = t0.elapsed().as_secs_f64();
    let top = top_k(&logits, 5);
    let generated = match a.generate {
        Some(n) if n > 0 => {
            // Plain greedy, as the reference's generate() does: the agent's
            // vision-token suppression would make the comparison fail by design.
            let cfg = GenerationConfig { max_new_tokens: n, eos_ids: Some(vec![]), stop: vec![], runaway_repeats: 0, suppress_vision_tokens: false, ..Default::default() };
            Some(model.generate(&prompt, &cfg, &mut |_| {}).map_err(|e| anyhow::anyhow!("generate: {e}"))?)
        }
        _ => None,
    };

    if let Some(path) = &a.dump_logits {
        let dump = json!({
            "model": a.model,
            "images": a.images,
            "prompt": a.prompt,
            "system": a.system,
            "prompt_text": prompt.text,
            "input_ids": prompt.ids,
            "image_grid_thw": grids,
            "pixel_values_shape": pixel_shape,
            "last_logits": logits,
            "dtype": a.dtype.as_str(),
            "greedy_ids": generated.as_ref().map(|g| g.ids.clone()),
        });
        std::fs::write(path, serde_json::to_string(&dump)? + "\n").with_context(|| format!("--dump-logits {}: cannot write", path.display()))?;
    }

    if a.json {
        let out = json!({
            "model": a.model,
            "dtype": a.dtype.as_str(),
            "prompt_tokens": prompt.ids.len(),
            "image_grid_thw": grids,
            "image_tokens": prompt.images.iter().map(|p| p.tokens(merge)).collect::<Vec<_>>(),
            "pixel_values_shape": pixel_shape,
            "top5": top.iter().map(|(id, l)| json!({"id": id, "logit": l, "text": model.chat.decode(&[*id]).unwrap_or_default()})).collect::<Vec<_>>(),
            "forward_s": forward_s,
            "generated": generated.as_ref().map(|g| json!({"ids": g.ids, "text": g.text, "decode_s": g.decode_s})),
            "dump_logits": a.dump_logits,
        });
        println!("{out}");
        return Ok(());
    }
    println!("model:        {} ({}, {} layers, hidden {}, vocab {})", a.model.display(), a.dtype.as_str(), model.config.text.num_hidden_layers, model.config.text.hidden_size, model.config.text.vocab_size);
    println!("template:     {}", if model.chat.from_checkpoint { "the checkpoint's" } else { "Qwen2.5-VL's stock one (the checkpoint has none)" });
    println!("tokens:       {}", prompt.ids.len());
    for (i, p) in prompt.images.iter().enumerate() {
        println!("image {i}:      {}  image_grid_thw {:?} → {} tokens", a.images[i].display(), p.grid_thw, p.tokens(merge));
    }
    if !prompt.images.is_empty() {
        println!("pixel_values: [{patches}, {patch_dim}]");
    }
    println!("forward:      {forward_s:.3} s");
    println!("top-5 next tokens:");
    for (rank, (id, l)) in top.iter().enumerate() {
        println!("  {}. {id:>7}  {l:>10.4}  {}", rank + 1, token_text(&model, *id));
    }
    if let Some(g) = &generated {
        println!("greedy {} tokens ({:.2} tok/s): {:?}", g.ids.len(), g.ids.len() as f64 / g.decode_s.max(1e-9), g.text);
        println!("  ids: {:?}", g.ids);
    }
    if let Some(p) = &a.dump_logits {
        println!("wrote {} (compare: python model/fixtures/qwen25vl/compare_logits.py {})", p.display(), p.display());
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median seconds of `runs` calls of `f` after one warm-up call.
fn timed(runs: usize, mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    f()?;
    let mut ts = Vec::with_capacity(runs);
    for _ in 0..runs {
        ts.push(f()?);
    }
    Ok(median(ts))
}

/// A text-only prompt of exactly `n` ids: ordinary tokens of the tokenizer, repeated.
fn text_prompt(model: &Qwen25Vl, n: usize) -> Result<Prompt> {
    let seed = "The quick brown fox jumps over the lazy dog. Is this image authentic, synthetic or tampered? Look at the noise residuals, the JPEG grid and the edges of the suspicious region before answering.";
    let base = model.chat.encode(seed).map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
    if base.is_empty() {
        bail!("the tokenizer turns text into no tokens");
    }
    let ids: Vec<u32> = base.iter().copied().cycle().take(n).collect();
    let text = model.chat.decode(&ids).unwrap_or_default();
    Ok(Prompt { text, ids, images: vec![] })
}

fn bench(a: &BenchArgs) -> Result<()> {
    if let Some(t) = a.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        // Before any work: candle reads these when it sizes its thread pools.
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", t.to_string());
    }
    if a.prompt_tokens == 0 || a.runs == 0 {
        bail!("--prompt-tokens and --runs must be at least 1");
    }
    let given_ids: Option<Vec<u32>> = match &a.prompt_ids {
        Some(p) => {
            let text = trutheye_core::input::read_text_bounded(p, trutheye_core::input::MAX_TEXT_BYTES).map_err(|e| anyhow::anyhow!("--prompt-ids {e}"))?;
            let ids: Vec<u32> = serde_json::from_str(&text).with_context(|| format!("--prompt-ids {}: not a JSON array of token ids", p.display()))?;
            if ids.is_empty() {
                bail!("--prompt-ids {}: empty", p.display());
            }
            Some(ids)
        }
        None => None,
    };
    let image = a.image.as_deref().map(open_image).transpose()?;
    let model = load_model(&a.model, a.dtype, a.device, None)?;
    let threads = candle_core::utils::get_num_threads();
    let err = |e: trutheye_model::qwen25vl::ModelError| anyhow::anyhow!("{e}");

    let prompt = match given_ids {
        Some(ids) => {
            if let Some(bad) = ids.iter().find(|&&i| i as usize >= model.config.text.vocab_size) {
                bail!("--prompt-ids: id {bad} is outside the vocabulary ({})", model.config.text.vocab_size);
            }
            Prompt { text: String::new(), ids, images: vec![] }
        }
        None => text_prompt(&model, a.prompt_tokens)?,
    };
    let prompt_tokens = prompt.ids.len();
    let prefill_s = timed(a.runs, || {
        let t = Instant::now();
        model.last_logits(&prompt).map_err(err)?;
        Ok(t.elapsed().as_secs_f64())
    })?;

    let mut image_stats = None;
    if let Some(img) = &image {
        let msgs = vec![ChatMessage { role: "user".into(), parts: vec![ChatPart::Image(img.clone()), ChatPart::Text("Is this image tampered?".into())] }];
        let p = model.chat.prompt(&msgs, &model.preprocessor, true).map_err(err)?;
        let merge = model.config.vision.spatial_merge_size;
        let image_tokens: usize = p.images.iter().map(|x| x.tokens(merge)).sum();
        let s = timed(a.runs, || {
            let t = Instant::now();
            model.last_logits(&p).map_err(err)?;
            Ok(t.elapsed().as_secs_f64())
        })?;
        image_stats = Some((p.ids.len(), image_tokens, s, p.images[0].grid_thw));
    }

    let mut decode_tok_s = None;
    if a.decode > 0 {
        // Forward + argmax per step only, as the reference's timed loop.
        let s = timed(a.runs, || Ok(model.greedy_decode_timed(&prompt, a.decode).map_err(err)?.1))?;
        decode_tok_s = Some(a.decode as f64 / s);
    }

    let prefill_tok_s = prompt_tokens as f64 / prefill_s;
    let out = json!({
        "prefill_tok_s": prefill_tok_s,
        "image_prefill_tok_s": image_stats.map(|(n, _, s, _)| n as f64 / s),
        "decode_tok_s": decode_tok_s,
        "prompt_tokens": prompt_tokens,
        "image_prompt_tokens": image_stats.map(|(n, ..)| n),
        "image_tokens": image_stats.map(|(_, n, ..)| n),
        "image_grid_thw": image_stats.map(|(.., g)| g),
        "decode_tokens": a.decode,
        "runs": a.runs,
        "threads": threads,
        "dtype": a.dtype.as_str(),
        "device": a.device.as_str(),
    });
    if a.json {
        println!("{out}");
        return Ok(());
    }
    println!("model:   {} ({}, {}, {threads} threads, median of {} runs after a warm-up)", a.model.display(), a.dtype.as_str(), a.device.as_str(), a.runs);
    println!("prefill        {prefill_tok_s:>9.1} tok/s  ({prompt_tokens} text tokens, {prefill_s:.3} s, last-position logits only)");
    if let Some((n, k, s, g)) = image_stats {
        println!("image prefill  {:>9.1} tok/s  ({n} tokens, {k} of them image tokens, grid {g:?}, {s:.3} s, vision tower included)", n as f64 / s);
    }
    if let Some(d) = decode_tok_s {
        println!("decode         {d:>9.1} tok/s  ({} tokens, forward + argmax per step, KV cache, after a {prompt_tokens}-token prompt)", a.decode);
    }
    Ok(())
}

//! Generation: prefill once, then decode token by token with the KV cache;
//! greedy or seeded sampling (temperature, top-k, top-p), repetition penalty,
//! stop strings and a runaway-repetition guard; tokens streamed to a callback.

use std::time::Instant;

use candle_core::{DType, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};

use super::chat::Prompt;
use super::text::KvCache;
use super::{ModelError, Qwen25Vl};

/// How to generate.
#[derive(Clone, Debug)]
pub struct GenerationConfig {
    /// Tokens to generate at most.
    pub max_new_tokens: usize,
    /// End-of-sequence tokens are suppressed until this many were generated.
    pub min_new_tokens: usize,
    /// 0 means greedy.
    pub temperature: f64,
    /// Nucleus sampling mass (1.0: off).
    pub top_p: f64,
    /// Top-k (0: off).
    pub top_k: usize,
    /// >1 discourages tokens already in the context (1.0: off).
    pub repetition_penalty: f32,
    /// Seed of the sampler.
    pub seed: u64,
    /// Generation ends once the text contains one of these (kept in the text).
    pub stop: Vec<String>,
    /// End-of-sequence token ids (`None`: `<|im_end|>` and `<|endoftext|>`;
    /// `Some(vec![])`: none, generation runs to the length limit).
    pub eos_ids: Option<Vec<u32>>,
    /// Stop when the last tokens repeat a short cycle this many times (0: off).
    pub runaway_repeats: usize,
    /// Never sample `<|image_pad|>`, `<|video_pad|>`, `<|vision_start|>`,
    /// `<|vision_end|>`: generated, they would be taken for image slots when
    /// the reply is fed back. (The reference does not do this; agreement
    /// tests turn it off.)
    pub suppress_vision_tokens: bool,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 1024,
            min_new_tokens: 0,
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            repetition_penalty: 1.0,
            seed: 0,
            stop: vec!["</code>".into(), "</tool_call>".into(), "</answer>".into()],
            eos_ids: None,
            runaway_repeats: 12,
            suppress_vision_tokens: true,
        }
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// An end-of-sequence token.
    Eos,
    /// A stop string.
    StopString,
    /// `max_new_tokens`.
    Length,
    /// A short cycle of tokens repeating.
    Runaway,
}

/// What generation produced.
#[derive(Clone, Debug)]
pub struct Generated {
    /// New token ids (the EOS token not included).
    pub ids: Vec<u32>,
    /// Their text.
    pub text: String,
    /// Why it ended.
    pub stop: StopReason,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// Wall time of the prefill (vision tower included), seconds.
    pub prefill_s: f64,
    /// Wall time of decoding, seconds.
    pub decode_s: f64,
}

impl Qwen25Vl {
    /// The decode loop reduced to what a speed comparison should time: `n`
    /// steps of one forward pass with the KV cache plus an argmax, after an
    /// untimed prefill; no sampling, detokenizing or stop checks (the
    /// reference's timed loop does the same). Returns the ids and the seconds
    /// of the `n` steps.
    pub fn greedy_decode_timed(&self, prompt: &Prompt, n: usize) -> Result<(Vec<u32>, f64), ModelError> {
        let pre = self.prepare(prompt)?;
        let mut cache = KvCache::new();
        let h = self.text.forward_hidden(&pre.embeds, &pre.positions, &mut cache, false)?;
        let len = h.dim(1)?;
        let logits = self.text.logits(&h.narrow(1, len - 1, 1)?)?.flatten_all()?;
        let mut next = logits.argmax(0)?.to_scalar::<u32>()?;
        let mut ids = Vec::with_capacity(n);
        let t = Instant::now();
        for _ in 0..n {
            let pos = cache.len as i64 + pre.rope_delta;
            let positions = [vec![pos], vec![pos], vec![pos]];
            let emb = self.text.embed(&Tensor::new(&[next], &self.device)?)?.unsqueeze(0)?;
            let h = self.text.forward_hidden(&emb, &positions, &mut cache, false)?;
            next = self.text.logits(&h)?.flatten_all()?.argmax(0)?.to_scalar::<u32>()?;
            ids.push(next);
        }
        Ok((ids, t.elapsed().as_secs_f64()))
    }

    /// Generates a continuation of `prompt`, calling `on_text` with each new
    /// piece of text as it is decoded.
    pub fn generate(&self, prompt: &Prompt, cfg: &GenerationConfig, on_text: &mut dyn FnMut(&str)) -> Result<Generated, ModelError> {
        let t0 = Instant::now();
        let eos: Vec<u32> = match &cfg.eos_ids {
            None => ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| self.chat.token_id(t)).collect(),
            Some(ids) => ids.clone(),
        };
        let sampling = if cfg.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match (cfg.top_k, cfg.top_p < 1.0) {
                (0, false) => Sampling::All { temperature: cfg.temperature },
                (0, true) => Sampling::TopP { p: cfg.top_p, temperature: cfg.temperature },
                (k, false) => Sampling::TopK { k, temperature: cfg.temperature },
                (k, true) => Sampling::TopKThenTopP { k, p: cfg.top_p, temperature: cfg.temperature },
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(cfg.seed, sampling);
        let banned: Vec<u32> = if cfg.suppress_vision_tokens {
            ["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"].iter().filter_map(|t| self.chat.token_id(t)).collect()
        } else {
            Vec::new()
        };
        let pre = self.prepare(prompt)?;
        let mut cache = KvCache::new();
        let h = self.text.forward_hidden(&pre.embeds, &pre.positions, &mut cache, false)?;
        let len = h.dim(1)?;
        let mut logits = self.text.logits(&h.narrow(1, len - 1, 1)?)?.flatten_all()?.to_dtype(DType::F32)?;
        let prefill_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut context: Vec<u32> = prompt.ids.clone();
        let mut ids = Vec::new();
        let mut text = String::new();
        let mut stop = StopReason::Length;
        while ids.len() < cfg.max_new_tokens {
            if cfg.repetition_penalty != 1.0 {
                logits = candle_transformers::utils::apply_repeat_penalty(&logits, cfg.repetition_penalty, &context)?;
            }
            if ids.len() < cfg.min_new_tokens && !eos.is_empty() {
                logits = suppress(&logits, &eos)?;
            }
            if !banned.is_empty() {
                logits = suppress(&logits, &banned)?;
            }
            let next = sampler.sample(&logits)?;
            if eos.contains(&next) {
                stop = StopReason::Eos;
                break;
            }
            ids.push(next);
            context.push(next);
            let full = self.chat.decode(&ids)?;
            // Stream only whole characters: a partial UTF-8 sequence decodes to U+FFFD.
            if full.len() > text.len() && full.starts_with(&text) && !full.ends_with('\u{FFFD}') {
                on_text(&full[text.len()..]);
                text = full;
            } else if !full.ends_with('\u{FFFD}') {
                text = full;
            }
            if let Some(s) = cfg.stop.iter().find(|s| text.contains(s.as_str())) {
                let end = text.find(s.as_str()).map(|i| i + s.len()).unwrap_or(text.len());
                text.truncate(end);
                stop = StopReason::StopString;
                break;
            }
            if cfg.runaway_repeats > 0 && runaway(&ids, cfg.runaway_repeats) {
                stop = StopReason::Runaway;
                break;
            }
            if ids.len() == cfg.max_new_tokens {
                break;
            }
            let pos = cache.len as i64 + pre.rope_delta;
            let positions = [vec![pos], vec![pos], vec![pos]];
            let emb = self.text.embed(&Tensor::new(&[next], &self.device)?)?.unsqueeze(0)?;
            let h = self.text.forward_hidden(&emb, &positions, &mut cache, false)?;
            logits = self.text.logits(&h)?.flatten_all()?.to_dtype(DType::F32)?;
        }
        if text.is_empty() && !ids.is_empty() {
            text = self.chat.decode(&ids)?;
        }
        Ok(Generated { ids, text, stop, prompt_tokens: prompt.ids.len(), prefill_s, decode_s: t1.elapsed().as_secs_f64() })
    }
}

fn suppress(logits: &Tensor, ids: &[u32]) -> Result<Tensor, ModelError> {
    let mut v = logits.to_vec1::<f32>()?;
    for &i in ids {
        if let Some(x) = v.get_mut(i as usize) {
            *x = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor::from_vec(v, logits.dims1()?, logits.device())?)
}

/// Whether the tail of `ids` is one cycle of 1..=16 tokens repeated `times` times.
fn runaway(ids: &[u32], times: usize) -> bool {
    (1..=16).any(|period| {
        let need = period * times;
        need <= ids.len() && {
            let tail = &ids[ids.len() - need..];
            tail.iter().enumerate().all(|(i, t)| *t == tail[i % period])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::runaway;

    #[test]
    fn runaway_detects_short_cycles_only_when_repeated_enough() {
        let cyc: Vec<u32> = [1, 2, 3].iter().cycle().take(36).copied().collect();
        assert!(runaway(&cyc, 12));
        assert!(!runaway(&cyc[..33], 12));
        let distinct: Vec<u32> = (0..200).collect();
        assert!(!runaway(&distinct, 12));
    }
}

//! The Qwen2 language model with multimodal rotary positions (M-RoPE) and a
//! KV cache: the rotary half-dims are split into temporal / height / width
//! sections, each rotated by its own position component.

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{Embedding, Module, VarBuilder};

use super::config::TextConfig;
use super::kernels::{self, attention::{attend, Dims, Heads, Mask}};
use super::layers::{rope, softmax_last, Proj, RmsNorm, SwiGlu};

/// One decoder layer.
pub struct Layer {
    input_norm: RmsNorm,
    post_norm: RmsNorm,
    /// Query projection.
    pub q: Proj,
    /// Key projection.
    pub k: Proj,
    /// Value projection.
    pub v: Proj,
    /// Output projection.
    pub o: Proj,
    /// The MLP.
    pub mlp: SwiGlu,
}

/// Keys and values of the tokens seen so far, per layer.
#[derive(Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    /// Tokens cached.
    pub len: usize,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The language model.
pub struct TextModel {
    cfg: TextConfig,
    embed: Embedding,
    /// Decoder layers (public so adapters can be attached).
    pub layers: Vec<Layer>,
    norm: RmsNorm,
    lm_head: Tensor,
    inv_freq: Vec<f32>,
}

impl TextModel {
    /// Loads from `vb` (the prefix holding `embed_tokens`, `layers`, `norm`)
    /// and `head` (the prefix of `lm_head`, unused when tied).
    pub fn load(cfg: &TextConfig, vb: VarBuilder, head: VarBuilder) -> Result<Self> {
        let (d, hd) = (cfg.hidden_size, cfg.head_dim());
        let embed = candle_nn::embedding(cfg.vocab_size, d, vb.pp("embed_tokens"))?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp("layers").pp(i);
            let a = l.pp("self_attn");
            layers.push(Layer {
                input_norm: RmsNorm::load(d, cfg.rms_norm_eps, l.pp("input_layernorm"))?,
                post_norm: RmsNorm::load(d, cfg.rms_norm_eps, l.pp("post_attention_layernorm"))?,
                q: Proj::load(d, cfg.num_attention_heads * hd, true, a.pp("q_proj"))?,
                k: Proj::load(d, cfg.num_key_value_heads * hd, true, a.pp("k_proj"))?,
                v: Proj::load(d, cfg.num_key_value_heads * hd, true, a.pp("v_proj"))?,
                o: Proj::load(cfg.num_attention_heads * hd, d, false, a.pp("o_proj"))?,
                mlp: SwiGlu::load(d, cfg.intermediate_size, false, l.pp("mlp"))?,
            });
        }
        let norm = RmsNorm::load(d, cfg.rms_norm_eps, vb.pp("norm"))?;
        let lm_head = if cfg.tie_word_embeddings && !head.contains_tensor("weight") {
            embed.embeddings().clone()
        } else {
            head.get((cfg.vocab_size, d), "weight")?
        };
        let half = hd / 2;
        let inv_freq = (0..half).map(|i| 1.0 / (cfg.rope_theta as f32).powf((2 * i) as f32 / hd as f32)).collect();
        Ok(Self { cfg: cfg.clone(), embed, layers, norm, lm_head, inv_freq })
    }

    /// The configuration.
    pub fn config(&self) -> &TextConfig {
        &self.cfg
    }

    /// Token embeddings `[len, hidden]`.
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        self.embed.forward(ids)
    }

    /// cos/sin `[len, head_dim/2]` for M-RoPE positions `[3][len]`.
    fn rotary(&self, pos: &[Vec<i64>; 3], dev: &Device) -> Result<(Tensor, Tensor)> {
        let len = pos[0].len();
        let half = self.inv_freq.len();
        // Which position component drives each rotary half-dim.
        let mut section = Vec::with_capacity(half);
        for (c, &n) in self.cfg.mrope_section.iter().enumerate() {
            section.extend(std::iter::repeat_n(c, n));
        }
        let (mut cos, mut sin) = (Vec::with_capacity(len * half), Vec::with_capacity(len * half));
        // `t` indexes the second axis of whichever `pos` row `section[j]` names.
        #[allow(clippy::needless_range_loop)]
        for t in 0..len {
            for (j, f) in self.inv_freq.iter().enumerate() {
                let a = pos[section[j]][t] as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok((Tensor::from_vec(cos, (len, half), dev)?, Tensor::from_vec(sin, (len, half), dev)?))
    }

    /// Runs `embeds` `[1, len, hidden]` at positions `pos` through the layers,
    /// appending to `cache`; returns the final hidden states `[1, len, hidden]`.
    pub fn forward_hidden(&self, embeds: &Tensor, pos: &[Vec<i64>; 3], cache: &mut KvCache, train: bool) -> Result<Tensor> {
        let (_, len, _) = embeds.dims3()?;
        let dev = embeds.device();
        let (cos, sin) = self.rotary(pos, dev)?;
        let past = cache.len;
        let fused = len > 1 && kernels::applies(embeds, train);
        let mask = if len > 1 && !fused { Some(causal_mask(len, past, dev, embeds.dtype())?) } else { None };
        if cache.layers.len() < self.layers.len() {
            cache.layers.resize(self.layers.len(), None);
        }
        let mut x = embeds.clone();
        // Prefill on the CPU in f32: fused kernels (see `kernels`), residual
        // adds folded into the output projections.
        for (layer, slot) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let normed = layer.input_norm.forward(&x, train)?;
            let attn = if fused { self.attention_fused(layer, &normed, &cos, &sin, slot, &x)? } else { None };
            x = match attn {
                Some(x) => x,
                None => {
                    // The fused path declined (batch > 1): it needs the mask after all.
                    let mask = match &mask {
                        Some(m) => Some(m.clone()),
                        None if len > 1 => Some(causal_mask(len, past, dev, embeds.dtype())?),
                        None => None,
                    };
                    (&x + self.attention(layer, &normed, &cos, &sin, mask.as_ref(), slot, train)?)?
                }
            };
            x = layer.mlp.forward_add(&layer.post_norm.forward(&x, train)?, Some(&x), train)?;
        }
        cache.len += len;
        self.norm.forward(&x, train)
    }

    /// Logits `[.., vocab]` of hidden states.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        if let Some(y) = super::layers::matvec_parallel(hidden, &self.lm_head, None)? {
            return Ok(y);
        }
        hidden.broadcast_matmul(&self.lm_head.t()?)
    }

    #[allow(clippy::too_many_arguments)]
    fn attention(&self, l: &Layer, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: Option<&Tensor>, slot: &mut Option<(Tensor, Tensor)>, train: bool) -> Result<Tensor> {
        let (b, len, _) = x.dims3()?;
        let (h, kvh, hd) = (self.cfg.num_attention_heads, self.cfg.num_key_value_heads, self.cfg.head_dim());
        let q = l.q.forward(x)?.reshape((b, len, h, hd))?.transpose(1, 2)?;
        let k = l.k.forward(x)?.reshape((b, len, kvh, hd))?.transpose(1, 2)?;
        let v = l.v.forward(x)?.reshape((b, len, kvh, hd))?.transpose(1, 2)?.contiguous()?;
        let q = rope(&q, cos, sin, train)?;
        let k = rope(&k, cos, sin, train)?;
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        // Grouped-query attention: fold the query heads that share a kv head into rows.
        let g = h / kvh;
        let kv_len = k.dim(2)?;
        let q = q.reshape((b, kvh, g * len, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let mut att = (q.matmul(&k.t()?)? * scale)?;
        if let Some(m) = mask {
            att = att.reshape((b, kvh, g, len, kv_len))?.broadcast_add(m)?.reshape((b, kvh, g * len, kv_len))?;
        }
        let o = softmax_last(&att, train)?.matmul(&v)?;
        let o = o.reshape((b, h, len, hd))?.transpose(1, 2)?.reshape((b, len, h * hd))?;
        l.o.forward(&o)
    }
}

impl TextModel {
    /// `residual + o_proj(attention(x))` through the fused CPU kernels: rotary
    /// in the projections' `[len, heads, hd]` layout, causal attention per head
    /// block without a mask tensor. `None` (nothing changed) when they do not
    /// apply.
    fn attention_fused(&self, l: &Layer, x: &Tensor, cos: &Tensor, sin: &Tensor, slot: &mut Option<(Tensor, Tensor)>, residual: &Tensor) -> Result<Option<Tensor>> {
        let (b, len, _) = x.dims3()?;
        if b != 1 {
            return Ok(None);
        }
        let (h, kvh, hd) = (self.cfg.num_attention_heads, self.cfg.num_key_value_heads, self.cfg.head_dim());
        let q = l.q.forward_add(x, None, false)?.reshape((1, len, h, hd))?;
        let k = l.k.forward_add(x, None, false)?.reshape((1, len, kvh, hd))?;
        let v = l.v.forward_add(x, None, false)?.reshape((1, len, kvh, hd))?;
        let q = candle_nn::rotary_emb::rope_thd(&q, cos, sin)?;
        // The cache keeps the `[1, kv heads, tokens, hd]` layout of the plain path.
        let k = candle_nn::rotary_emb::rope_thd(&k, cos, sin)?.transpose(1, 2)?.contiguous()?;
        let v = v.transpose(1, 2)?.contiguous()?;
        let past = slot.as_ref().map(|(pk, _)| pk.dim(2)).transpose()?.unwrap_or(0);
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        let kv_rows = past + len;
        let dims = Dims { rows: len, kv_rows, heads: h, kv_heads: kvh, head_dim: hd };
        let scale = 1.0 / (hd as f64).sqrt();
        let o = kernels::with_f32(&q, |qd| {
            kernels::with_f32(&k, |kd| {
                kernels::with_f32(&v, |vd| {
                    let q = Heads { data: qd, offset: 0, row_stride: h * hd, head_stride: hd };
                    let k = Heads { data: kd, offset: 0, row_stride: hd, head_stride: kv_rows * hd };
                    attend(q, k, Heads { data: vd, ..k }, dims, Mask::Causal { past }, scale as f32)
                })
            })
        });
        let Some(o) = o.flatten().flatten().flatten() else {
            candle_core::bail!("fused attention: unexpected layout (q {:?}, k {:?})", q.dims(), k.dims())
        };
        l.o.forward_add(&kernels::tensor(o, &[1, len, h * hd])?, Some(residual), false).map(Some)
    }
}

/// Additive mask `[len, past + len]`: -inf above the diagonal.
fn causal_mask(len: usize, past: usize, dev: &Device, dtype: DType) -> Result<Tensor> {
    let data: Vec<f32> = (0..len).flat_map(|i| (0..past + len).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(data, (len, past + len), dev)?.to_dtype(dtype)
}

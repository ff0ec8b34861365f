//! Building blocks shared by the tower and the language model: projections
//! with optional LoRA adapters, RMSNorm, attention and rotary helpers.
//!
//! Each has a fast inference path (candle's fused CPU kernels) and a
//! differentiable path (plain tensor ops) used when gradients are needed:
//! candle's fused kernels do not define a backward pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use super::kernels;

/// A low-rank adapter `x -> scale * (x A^T) B^T` added to a projection.
#[derive(Clone, Debug)]
pub struct Lora {
    /// `[rank, in]`.
    pub a: Tensor,
    /// `[out, rank]`, zero at initialisation so the adapted model starts as the base.
    pub b: Tensor,
    /// `alpha / rank`.
    pub scale: f64,
    /// Shared by all adapters of a model: off gives the base model (GRPO's
    /// frozen reference) without a second copy of the weights.
    pub enabled: Arc<AtomicBool>,
}

/// A linear projection, optionally adapted.
#[derive(Clone, Debug)]
pub struct Proj {
    linear: Linear,
    /// The adapter, when one is attached.
    pub lora: Option<Lora>,
    in_dim: usize,
    out_dim: usize,
}

impl Proj {
    /// Loads `weight` (and `bias` when `bias`) from `vb`.
    pub fn load(in_dim: usize, out_dim: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let linear = if bias { candle_nn::linear(in_dim, out_dim, vb)? } else { candle_nn::linear_no_bias(in_dim, out_dim, vb)? };
        Ok(Self { linear, lora: None, in_dim, out_dim })
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// The frozen weight `[out, in]`.
    pub fn weight(&self) -> &Tensor {
        self.linear.weight()
    }

    /// Applies the projection (plus the adapter).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match matvec_parallel(x, self.linear.weight(), self.linear.bias())? {
            Some(y) => y,
            None => match *x.dims() {
                // One 2-D GEMM instead of a batched one against a broadcast
                // weight: candle's batched path was 8.8 ms against 7.0 ms for
                // the 2-D one at 256x896 @ 896x4864 here.
                [b, s, i] => self.linear.forward(&x.reshape((b * s, i))?)?.reshape((b, s, self.out_dim))?,
                _ => self.linear.forward(x)?,
            },
        };
        self.add_lora(x, y)
    }

    /// `forward(x) + residual` (residual optional) for inference: one fused
    /// GEMM on the CPU in f32 (bias and residual are its initial output, see
    /// `kernels::linear`), the plain ops otherwise.
    pub fn forward_add(&self, x: &Tensor, residual: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let lora_on = self.lora.as_ref().is_some_and(|l| l.enabled.load(Ordering::Relaxed));
        if kernels::applies(x, train) && !lora_on {
            if let Some(y) = kernels::linear::linear(x, self.linear.weight(), self.linear.bias(), residual)? {
                return Ok(y);
            }
        }
        let y = self.forward(x)?;
        match residual {
            Some(r) => r + y,
            None => Ok(y),
        }
    }

    fn add_lora(&self, x: &Tensor, y: Tensor) -> Result<Tensor> {
        match &self.lora {
            None => Ok(y),
            Some(l) if l.enabled.load(Ordering::Relaxed) => {
                let a = l.a.to_dtype(x.dtype())?;
                let b = l.b.to_dtype(x.dtype())?;
                let low = x.broadcast_matmul(&a.t()?)?.broadcast_matmul(&b.t()?)?;
                y + (low * l.scale)?
            }
            Some(_) => Ok(y),
        }
    }
}

/// RMSNorm computed in f32 whatever the weights' dtype, as the reference does.
#[derive(Clone, Debug)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// Loads `weight` of width `dim`.
    pub fn load(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get(dim, "weight")?, eps })
    }

    /// Normalises the last dimension.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let dtype = x.dtype();
        if !train && dtype == DType::F32 {
            return candle_nn::ops::rms_norm(x, &self.weight, self.eps as f32);
        }
        let xf = x.to_dtype(DType::F32)?;
        let var = xf.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = xf.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        // The reference casts back before scaling by the weight.
        normed.to_dtype(dtype)?.broadcast_mul(&self.weight)
    }
}

/// Softmax over the last dimension, in f32.
pub fn softmax_last(x: &Tensor, train: bool) -> Result<Tensor> {
    let dtype = x.dtype();
    let xf = x.to_dtype(DType::F32)?;
    let p = if train { candle_nn::ops::softmax(&xf, D::Minus1)? } else { candle_nn::ops::softmax_last_dim(&xf)? };
    p.to_dtype(dtype)
}

/// Rotary embedding, non-interleaved halves: `x` is `[b, heads, t, d]`,
/// `cos`/`sin` are `[t, d/2]`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, train: bool) -> Result<Tensor> {
    let (cos, sin) = (cos.to_dtype(x.dtype())?, sin.to_dtype(x.dtype())?);
    if train {
        candle_nn::rotary_emb::rope_slow(x, &cos, &sin)
    } else {
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }
}

/// SwiGLU MLP: `down(silu(gate(x)) * up(x))`.
#[derive(Clone, Debug)]
pub struct SwiGlu {
    /// Gate projection.
    pub gate: Proj,
    /// Up projection.
    pub up: Proj,
    /// Down projection.
    pub down: Proj,
}

impl SwiGlu {
    /// Loads `gate_proj`, `up_proj`, `down_proj`.
    pub fn load(dim: usize, hidden: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gate: Proj::load(dim, hidden, bias, vb.pp("gate_proj"))?,
            up: Proj::load(dim, hidden, bias, vb.pp("up_proj"))?,
            down: Proj::load(hidden, dim, bias, vb.pp("down_proj"))?,
        })
    }

    /// Applies the MLP.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let g = candle_nn::ops::silu(&self.gate.forward(x)?)?;
        self.down.forward(&(g * self.up.forward(x)?)?)
    }

    /// `forward(x) + residual` for inference, through the fused CPU kernels
    /// where they apply (see [`Proj::forward_add`]).
    pub fn forward_add(&self, x: &Tensor, residual: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let g = self.gate.forward_add(x, None, train)?;
        let u = self.up.forward_add(x, None, train)?;
        let fused = if kernels::applies(&g, train) { kernels::elementwise::silu_mul(&g, &u)? } else { None };
        let a = match fused {
            Some(a) => a,
            None => (candle_nn::ops::silu(&g)? * u)?,
        };
        self.down.forward_add(&a, residual, train)
    }
}

/// `x W^T (+ bias)` for a single input row on the CPU (decoding), split over
/// the rayon pool by rows of `W`: gemm's matrix-vector path, which candle takes
/// when there is one row, runs on one thread whatever the thread setting.
/// Each output is the same dot product as in the one-thread path. `None` when
/// it does not apply (several rows, GPU, one thread, small `W`).
pub fn matvec_parallel(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Option<Tensor>> {
    let threads = rayon::current_num_threads();
    let (out, inp) = w.dims2()?;
    if threads < 2 || !x.device().is_cpu() || x.elem_count() != inp || x.rank() == 0 || out < 256 * threads || !w.is_contiguous() || x.dtype() != w.dtype() {
        return Ok(None);
    }
    use rayon::prelude::*;
    let row = x.reshape((1, inp))?;
    let chunk = out.div_ceil(threads);
    let parts = (0..threads)
        .into_par_iter()
        .filter(|i| i * chunk < out)
        .map(|i| {
            let start = i * chunk;
            row.matmul(&w.narrow(0, start, chunk.min(out - start))?.t()?)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut y = Tensor::cat(&parts, 1)?;
    if let Some(b) = bias {
        y = y.broadcast_add(b)?;
    }
    let mut shape = x.dims().to_vec();
    if let Some(last) = shape.last_mut() {
        *last = out;
    }
    y.reshape(shape).map(Some)
}

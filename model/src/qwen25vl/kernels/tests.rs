//! Each kernel against the plain candle composition it replaces.

use candle_core::{Device, Result, Tensor, D};

use super::attention::{attend, Dims, Heads, Mask};
use super::elementwise::{exp, silu_mul};
use super::linear::linear;
use super::with_f32;

fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
}

fn randn(shape: &[usize], seed: u64) -> Result<Tensor> {
    // A deterministic pseudo-normal fill (candle's randn is not seedable on the CPU).
    let n: usize = shape.iter().product();
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let data: Vec<f32> = (0..n)
        .map(|_| {
            let mut sum = 0f32;
            for _ in 0..4 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                sum += (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            }
            sum * 1.7
        })
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu)
}

#[test]
fn exp_matches_libm() {
    let mut worst = 0f32;
    let mut x = -87.0f32;
    while x < 88.0 {
        let (a, b) = (exp(x), x.exp());
        worst = worst.max(((a - b) / b).abs());
        x += 0.0137;
    }
    assert!(worst < 4e-7, "relative error {worst}");
    assert!(exp(f32::NEG_INFINITY) < 1e-37);
}

#[test]
fn silu_mul_matches_candle() -> Result<()> {
    let g = randn(&[37, 300], 1)?;
    let u = randn(&[37, 300], 2)?;
    let fused = silu_mul(&g, &u)?.expect("applies");
    let plain = (candle_nn::ops::silu(&g)? * &u)?;
    assert!(max_diff(&fused, &plain)? < 1e-5);
    // A non-contiguous input is left to candle.
    assert!(silu_mul(&g.t()?, &u.t()?)?.is_none());
    Ok(())
}

#[test]
fn linear_fuses_bias_and_residual() -> Result<()> {
    let x = randn(&[1, 45, 70], 3)?;
    let w = randn(&[130, 70], 4)?;
    let b = randn(&[130], 5)?;
    let r = randn(&[1, 45, 130], 6)?;
    let plain = x.broadcast_matmul(&w.t()?)?;
    let cases = [(None, None, plain.clone()), (Some(&b), None, plain.broadcast_add(&b)?), (None, Some(&r), (&plain + &r)?), (Some(&b), Some(&r), (plain.broadcast_add(&b)? + &r)?)];
    for (bias, res, want) in cases {
        let got = linear(&x, &w, bias, res)?.expect("applies");
        assert_eq!(got.dims(), want.dims());
        assert!(max_diff(&got, &want)? < 1e-4, "bias {} residual {}", bias.is_some(), res.is_some());
    }
    // One row (decoding) is left to the matrix-vector path.
    assert!(linear(&x.narrow(1, 0, 1)?, &w, None, None)?.is_none());
    Ok(())
}

/// The candle composition: `[heads, rows, hd]` inputs, additive mask.
fn reference(q: &Tensor, k: &Tensor, v: &Tensor, group: usize, mask: &Tensor, scale: f64) -> Result<Tensor> {
    let (heads, rows, hd) = q.dims3()?;
    let k = k.repeat_interleave_heads(group)?;
    let v = v.repeat_interleave_heads(group)?;
    let att = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
    let o = candle_nn::ops::softmax(&att, D::Minus1)?.matmul(&v)?;
    o.transpose(0, 1)?.reshape((rows, heads * hd))
}

trait RepeatHeads {
    fn repeat_interleave_heads(&self, n: usize) -> Result<Tensor>;
}

impl RepeatHeads for Tensor {
    fn repeat_interleave_heads(&self, n: usize) -> Result<Tensor> {
        let (h, t, d) = self.dims3()?;
        self.unsqueeze(1)?.broadcast_as((h, n, t, d))?.reshape((h * n, t, d))
    }
}

#[test]
fn causal_attention_with_past_and_grouped_heads() -> Result<()> {
    let (heads, kvh, hd, past, rows) = (6, 2, 16, 5, 70);
    let kv_rows = past + rows;
    // Layouts as the text model has them: q [rows, heads, hd], cache [kvh, kv_rows, hd].
    let q = randn(&[rows, heads, hd], 7)?;
    let k = randn(&[kvh, kv_rows, hd], 8)?;
    let v = randn(&[kvh, kv_rows, hd], 9)?;
    let scale = 0.25f32;
    let got = with_f32(&q, |qd| {
        with_f32(&k, |kd| {
            with_f32(&v, |vd| {
                let qh = Heads { data: qd, offset: 0, row_stride: heads * hd, head_stride: hd };
                let kh = Heads { data: kd, offset: 0, row_stride: hd, head_stride: kv_rows * hd };
                let vh = Heads { data: vd, ..kh };
                attend(qh, kh, vh, Dims { rows, kv_rows, heads, kv_heads: kvh, head_dim: hd }, Mask::Causal { past }, scale)
            })
        })
    })
    .flatten()
    .flatten()
    .flatten()
    .expect("applies");
    let mask: Vec<f32> = (0..rows).flat_map(|i| (0..kv_rows).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    let mask = Tensor::from_vec(mask, (rows, kv_rows), &Device::Cpu)?;
    let want = reference(&q.transpose(0, 1)?.contiguous()?, &k, &v, heads / kvh, &mask, scale as f64)?;
    let got = Tensor::from_vec(got, (rows, heads * hd), &Device::Cpu)?;
    assert!(max_diff(&got, &want)? < 1e-5);
    Ok(())
}

#[test]
fn segment_attention_as_the_vision_windows() -> Result<()> {
    let (heads, hd, rows) = (3, 8, 50);
    let bounds = [0usize, 16, 16, 40, 50];
    // Layout as the tower's qkv output: [rows, 3, heads, hd].
    let qkv = randn(&[rows, 3, heads, hd], 10)?;
    let got = with_f32(&qkv, |d| {
        let at = |part: usize| Heads { data: d, offset: part * heads * hd, row_stride: 3 * heads * hd, head_stride: hd };
        attend(at(0), at(1), at(2), Dims { rows, kv_rows: rows, heads, kv_heads: heads, head_dim: hd }, Mask::Segments(&bounds), 0.3)
    })
    .flatten()
    .expect("applies");
    let mut mask = vec![f32::NEG_INFINITY; rows * rows];
    for w in bounds.windows(2) {
        for i in w[0]..w[1] {
            for j in w[0]..w[1] {
                mask[i * rows + j] = 0.0;
            }
        }
    }
    let mask = Tensor::from_vec(mask, (rows, rows), &Device::Cpu)?;
    let part = |i: usize| qkv.narrow(1, i, 1)?.squeeze(1)?.transpose(0, 1)?.contiguous();
    let want = reference(&part(0)?, &part(1)?, &part(2)?, 1, &mask, 0.3)?;
    let got = Tensor::from_vec(got, (rows, heads * hd), &Device::Cpu)?;
    assert!(max_diff(&got, &want)? < 1e-5);
    Ok(())
}

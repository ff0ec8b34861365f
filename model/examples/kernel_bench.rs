//! Time of each prefill piece of a Qwen2.5-0.5B-sized decoder layer at 256
//! tokens: candle's op vs the fused kernel (`qwen25vl::kernels`):
//! `RAYON_NUM_THREADS=2 cargo run --release -p trutheye-model --example kernel_bench`
//! (`BENCH_CPU=1`: CPU time instead of wall time, for a busy machine).
use std::time::Instant;

use candle_core::{Device, Result, Tensor, D};
use trutheye_model::qwen25vl::kernels::{attention, elementwise, linear, with_f32};

/// CPU seconds of the whole process (all threads) from /proc/self/stat; on a
/// machine shared with other jobs this is steadier than wall time (run with
/// RAYON_NUM_THREADS=1 for a per-thread cost; BENCH_CPU=1).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after.split_whitespace().skip(11).take(2).filter_map(|x| x.parse().ok()).collect();
    f.iter().sum::<f64>() / 100.0
}

/// Milliseconds per call: wall time of 10 calls, or with BENCH_CPU=1 process
/// CPU time over at least one CPU second.
fn time(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    if std::env::var("BENCH_CPU").is_ok_and(|v| v == "1") {
        let (c0, mut n) = (cpu_seconds(), 0);
        while cpu_seconds() - c0 < 1.0 {
            f()?;
            n += 1;
        }
        return Ok((cpu_seconds() - c0) / n as f64 * 1e3);
    }
    let t = Instant::now();
    for _ in 0..10 {
        f()?;
    }
    Ok(t.elapsed().as_secs_f64() / 10.0 * 1e3)
}

fn main() -> Result<()> {
    let dev = Device::Cpu;
    let m = 256usize;
    println!("{:<22}{:>12}{:>12}", "piece (ms)", "candle", "fused");
    let (mut total_c, mut total_f) = (0.0, 0.0);
    for (name, k, n, count) in [("q,o", 896, 896, 2), ("k,v", 896, 128, 2), ("gate,up", 896, 4864, 2), ("down", 4864, 896, 1)] {
        let x = Tensor::randn(0f32, 1., (m, k), &dev)?;
        let w = Tensor::randn(0f32, 1., (n, k), &dev)?;
        let b = Tensor::randn(0f32, 1., n, &dev)?;
        let c = time(|| x.matmul(&w.t()?)?.broadcast_add(&b).map(drop))?;
        let f = time(|| linear::linear(&x, &w, Some(&b), None).map(drop))?;
        let gflops = 2.0 * (m * k * n) as f64 / f / 1e6;
        println!("{:<22}{c:>12.2}{f:>12.2}   ({gflops:.0} GFLOP/s fused, x{count} per layer)", format!("{name} {k}->{n}+bias"));
        total_c += c * count as f64;
        total_f += f * count as f64;
    }
    let g = Tensor::randn(0f32, 1., (m, 4864), &dev)?;
    let u = Tensor::randn(0f32, 1., (m, 4864), &dev)?;
    let c = time(|| (candle_nn::ops::silu(&g)? * &u).map(drop))?;
    let f = time(|| elementwise::silu_mul(&g, &u).map(drop))?;
    println!("{:<22}{c:>12.2}{f:>12.2}", "silu(gate)*up");
    total_c += c;
    total_f += f;
    let r = Tensor::randn(0f32, 1., (1, m, 896), &dev)?;
    let c = time(|| (&r + &r).map(drop))?;
    println!("{:<22}{c:>12.2}{:>12}", "residual add x2", "in GEMM");
    total_c += 2.0 * c;
    // Attention: 14 heads, 2 kv heads, hd 64, causal.
    let (h, kvh, hd) = (14usize, 2usize, 64usize);
    let q = Tensor::randn(0f32, 1., (1, m, h, hd), &dev)?;
    let kk = Tensor::randn(0f32, 1., (1, kvh, m, hd), &dev)?;
    let vv = Tensor::randn(0f32, 1., (1, kvh, m, hd), &dev)?;
    let mask: Vec<f32> = (0..m).flat_map(|i| (0..m).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
    let mask = Tensor::from_vec(mask, (m, m), &dev)?;
    let c = time(|| {
        let qt = q.transpose(1, 2)?.reshape((1, kvh, h / kvh * m, hd))?;
        let att = (qt.matmul(&kk.t()?)? * 0.125)?.reshape((1, kvh, h / kvh, m, m))?.broadcast_add(&mask)?.reshape((1, kvh, h / kvh * m, m))?;
        let o = candle_nn::ops::softmax_last_dim(&att)?.matmul(&vv)?;
        o.reshape((1, h, m, hd))?.transpose(1, 2)?.reshape((1, m, h * hd)).map(drop)
    })?;
    let f = time(|| {
        let dims = attention::Dims { rows: m, kv_rows: m, heads: h, kv_heads: kvh, head_dim: hd };
        let out = with_f32(&q, |qd| {
            with_f32(&kk, |kd| {
                with_f32(&vv, |vd| {
                    let qh = attention::Heads { data: qd, offset: 0, row_stride: h * hd, head_stride: hd };
                    let kh = attention::Heads { data: kd, offset: 0, row_stride: hd, head_stride: m * hd };
                    attention::attend(qh, kh, attention::Heads { data: vd, ..kh }, dims, attention::Mask::Causal { past: 0 }, 0.125)
                })
            })
        });
        assert!(out.flatten().flatten().flatten().is_some());
        Ok(())
    })?;
    println!("{:<22}{c:>12.2}{f:>12.2}", "causal attention");
    total_c += c;
    total_f += f;
    let x = Tensor::randn(0f32, 1., (1, m, 896), &dev)?;
    let wn = Tensor::ones(896, candle_core::DType::F32, &dev)?;
    let c = time(|| candle_nn::ops::rms_norm(&x, &wn, 1e-6).map(drop))?;
    println!("{:<22}{c:>12.2}{c:>12.2}   (x2 per layer, candle's in both)", "rms_norm");
    let _ = x.sum_keepdim(D::Minus1)?;
    println!("{:<22}{total_c:>12.2}{total_f:>12.2}   (per layer, without norms and rope)", "total");
    Ok(())
}

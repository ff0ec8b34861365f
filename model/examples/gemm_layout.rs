//! GEMM time per projection shape of a Qwen2.5-0.5B-sized decoder layer at a
//! 256-token prefill (candle's 2-D matmul against the `[out, in]` weight, as
//! `Proj::forward` calls it), and what fusing q/k/v or gate/up would give.
//! Tells how much of `trutheye model bench`'s prefill time is GEMM:
//! `cargo run --release -p trutheye-model --example gemm_layout`.
use candle_core::{Device, Tensor};
use std::time::Instant;
fn time(x: &Tensor, w: &Tensor) -> candle_core::Result<f64> {
    x.matmul(&w.t()?)?;
    let t = Instant::now();
    for _ in 0..10 {
        x.matmul(&w.t()?)?;
    }
    Ok(t.elapsed().as_secs_f64() / 10.0)
}
fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let m = 256usize;
    let shapes = [("q", 896, 896, 1), ("k,v", 896, 128, 2), ("o", 896, 896, 1), ("gate,up", 896, 4864, 2), ("down", 4864, 896, 1), ("qkv fused", 896, 1152, 0), ("gate_up fused", 896, 9728, 0)];
    let mut total = 0.0;
    for (name, k, n, count) in shapes {
        let x = Tensor::randn(0f32, 1., (m, k), &dev)?;
        let w = Tensor::randn(0f32, 1., (n, k), &dev)?;
        let s = time(&x, &w)?;
        total += s * count as f64;
        println!("{name:<14} {k}->{n}: {:.2} ms  {:.0} GFLOP/s  (x{count} per layer)", s * 1e3, 2.0 * (m * k * n) as f64 / s / 1e9);
    }
    println!("unfused GEMMs per layer {:.1} ms, x24 layers = {:.3} s", total * 1e3, total * 24.0);
    Ok(())
}

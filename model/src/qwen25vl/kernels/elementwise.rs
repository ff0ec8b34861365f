//! SiLU(gate) * up and row softmax with a vectorisable `exp`.
//!
//! `f32::exp` is a libm call the compiler cannot vectorise; a 256-token
//! prefill of a 0.5B model evaluates ~30 M of them in the MLPs alone. The
//! polynomial below (Cephes' `expf`: range reduction by ln 2, degree-5
//! polynomial) is within ~2 ulp of libm, is branch-free, and compiles to
//! AVX-512 / AVX2 code through the runtime-dispatched copies below (the crate
//! is built for baseline x86-64, so the wide instructions must be enabled per
//! function).

use candle_core::{Result, Tensor};
use rayon::prelude::*;

use super::{rows_per_task, tensor, with_f32};

/// `e^x`, branch-free so that loops over it vectorise. Inputs below -87.3 give
/// ~1e-38 instead of a denormal or 0, inputs above 88.7 give ~3e38 instead of
/// infinity: both are absorbed where it is used (`1 + e`, or `e / sum`).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that `x - n ln2` stays exact for |n| < 128.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.7);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2^n through the exponent bits; n + 127 is an integer in [1, 255] after
    // the clamp, so adding 2^23 leaves it in the low mantissa bits (no
    // float-to-int conversion, which vectorises poorly).
    let biased = (n + 127.0 + 8_388_608.0).to_bits() & 0xff;
    y * f32::from_bits(biased << 23)
}

/// Defines `$name(args)` that runs `$body` compiled for AVX-512, AVX2+FMA or
/// baseline x86-64, whichever the CPU has (chosen per call: the check is a
/// cached load).
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
                    // SAFETY: the CPU has the features `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

dispatch! {
    /// `out = silu(gate) * up` elementwise, with candle's formula
    /// `g / (1 + e^-g)`.
    fn silu_mul_slice(gate: &[f32], up: &[f32], out: &mut [f32]) {
        for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
            *o = g / (1.0 + exp(-g)) * u;
        }
    }
}

dispatch! {
    /// Softmax of `row[..valid]` after scaling by `scale` (candle's order:
    /// scale, max, `e^(x - max)`, sum, divide); `row[valid..]` (masked
    /// positions) become 0, as `e^-inf` would.
    fn softmax_scaled(row: &mut [f32], valid: usize, scale: f32) {
        let (live, masked) = row.split_at_mut(valid.min(row.len()));
        // Max and sum over 16 lanes (one AVX-512 register) so that the loops
        // vectorise; a single running sum is a chain of dependent adds. The
        // max is exact in any order; the sum differs from a sequential one in
        // rounding only.
        let mut lanes = [f32::NEG_INFINITY; 16];
        let mut chunks = live.chunks_exact_mut(16);
        for c in &mut chunks {
            for (l, x) in lanes.iter_mut().zip(c.iter_mut()) {
                *x *= scale;
                *l = if *x > *l { *x } else { *l };
            }
        }
        for x in chunks.into_remainder() {
            *x *= scale;
            lanes[0] = if *x > lanes[0] { *x } else { lanes[0] };
        }
        let max = lanes.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
        let mut sums = [0f32; 16];
        let mut chunks = live.chunks_exact_mut(16);
        for c in &mut chunks {
            for (l, x) in sums.iter_mut().zip(c.iter_mut()) {
                *x = exp(*x - max);
                *l += *x;
            }
        }
        for x in chunks.into_remainder() {
            *x = exp(*x - max);
            sums[0] += *x;
        }
        let sum: f32 = sums.iter().sum();
        for x in live.iter_mut() {
            *x /= sum;
        }
        masked.fill(0.0);
    }
}

/// `silu(gate) * up` for two CPU f32 tensors of the same shape, rows split
/// over the rayon pool. `None` when either is not contiguous f32 on the CPU.
pub fn silu_mul(gate: &Tensor, up: &Tensor) -> Result<Option<Tensor>> {
    if gate.dims() != up.dims() {
        return Ok(None);
    }
    let width = gate.dims().last().copied().unwrap_or(1).max(1);
    let out = with_f32(gate, |g| {
        with_f32(up, |u| {
            let mut out = vec![0f32; g.len()];
            let chunk = rows_per_task(g.len() / width, width) * width;
            out.par_chunks_mut(chunk)
                .zip(g.par_chunks(chunk).zip(u.par_chunks(chunk)))
                .for_each(|(o, (g, u))| silu_mul_slice(g, u, o));
            out
        })
    })
    .flatten();
    out.map(|o| tensor(o, gate.dims())).transpose()
}

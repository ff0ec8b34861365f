//! `x W^T + bias + residual` as one GEMM: the output buffer starts as the
//! bias rows or the residual and the GEMM accumulates into it, which saves the
//! separate broadcast-add and residual-add passes (and their allocations).

use candle_core::{Result, Tensor};
use rayon::prelude::*;

use super::{tensor, with_f32, SharedMut};

/// Rows below which the fused path does not apply: single-row decoding has
/// its own parallel matrix-vector path (`layers::matvec_parallel`).
const MIN_ROWS: usize = 2;

/// `x [.., in] @ w[out, in]^T (+ bias[out]) (+ residual [.., out])` for CPU f32
/// contiguous tensors with at least two rows; `None` when that does not hold.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, residual: Option<&Tensor>) -> Result<Option<Tensor>> {
    let (n, k) = w.dims2()?;
    let Some(&in_dim) = x.dims().last() else { return Ok(None) };
    let m = x.elem_count() / in_dim.max(1);
    if in_dim != k || m < MIN_ROWS || residual.is_some_and(|r| r.elem_count() != m * n) {
        return Ok(None);
    }
    // The initial output: residual, else bias rows, else zeros.
    let init = match (residual, bias) {
        (Some(r), _) => with_f32(r, <[f32]>::to_vec),
        (None, Some(b)) => with_f32(b, |b| (b.len() == n).then(|| b.repeat(m))).flatten(),
        (None, None) => Some(vec![0f32; m * n]),
    };
    let Some(mut out) = init else { return Ok(None) };
    if residual.is_some() {
        if let Some(b) = bias {
            let ok = with_f32(b, |b| {
                if b.len() != n {
                    return false;
                }
                out.par_chunks_mut(n).for_each(|row| row.iter_mut().zip(b).for_each(|(o, b)| *o += b));
                true
            });
            if ok != Some(true) {
                return Ok(None);
            }
        }
    }
    let accumulate = residual.is_some() || bias.is_some();
    let done = with_f32(x, |a| with_f32(w, |wd| gemm_nt_into(m, n, k, a, wd, &mut out, accumulate))).flatten();
    if done.is_none() {
        return Ok(None);
    }
    let mut shape = x.dims().to_vec();
    if let Some(last) = shape.last_mut() {
        *last = n;
    }
    tensor(out, &shape).map(Some)
}

/// `c [m, n] (+)= a [m, k] @ w [n, k]^T`, row-major, contiguous, with the
/// `gemm` crate; split over the rayon pool by blocks of output columns, one
/// single-threaded GEMM each (each thread then reads only its part of `w`,
/// the operand that does not fit in cache).
pub fn gemm_nt_into(m: usize, n: usize, k: usize, a: &[f32], w: &[f32], c: &mut [f32], accumulate: bool) {
    assert!(a.len() >= m * k && w.len() >= n * k && c.len() >= m * n, "gemm_nt_into: slice too short");
    let threads = rayon::current_num_threads().max(1);
    // Column blocks a multiple of 16 (one AVX-512 register) wide.
    let block = n.div_ceil(threads).div_ceil(16) * 16;
    let c_ptr = SharedMut(c.as_mut_ptr());
    (0..n.div_ceil(block)).into_par_iter().for_each(|i| {
        let (j0, nb) = (i * block, block.min(n - i * block));
        let w_blk = &w[j0 * k..(j0 + nb) * k];
        // SAFETY: task `i` writes only columns j0..j0 + nb of `c` (m rows of
        // length n, inside `c` by the assert above); the blocks of different
        // tasks do not overlap and `c` outlives the parallel loop. The
        // operands by strides: dst (i, j) at i * n + j from column j0, lhs
        // (i, l) at i * k + l, rhs (l, j) = w_blk[j][l] at j * k + l.
        unsafe {
            gemm::gemm(m, nb, k, c_ptr.get().add(j0), 1, n as isize, accumulate, a.as_ptr(), 1, k as isize, w_blk.as_ptr(), k as isize, 1, 1.0f32, 1.0f32, false, false, false, gemm::Parallelism::None)
        };
    });
}

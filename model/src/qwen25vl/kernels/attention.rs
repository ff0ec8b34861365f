//! Scaled dot-product attention over per-head blocks of rows, in parallel,
//! with the mask applied while normalising.
//!
//! The candle composition materialises scores for all heads, a scaled copy,
//! a masked copy and the softmax (four `[heads, len, len]` buffers, mostly on
//! one thread) and transposes the output back. Here each rayon task takes one
//! query head and a block of query rows, computes their scores against only
//! the keys they may see (GEMM), normalises them in place and writes `P V`
//! straight into the `[rows, heads * head_dim]` output the projection reads.

use rayon::prelude::*;

use super::elementwise::softmax_scaled;
use super::SharedMut;

/// Per-head matrices inside a flat buffer: element (row `r`, head `h`, `d`)
/// at `offset + r * row_stride + h * head_stride + d`.
#[derive(Clone, Copy, Debug)]
pub struct Heads<'a> {
    /// The buffer.
    pub data: &'a [f32],
    /// Where element (0, 0, 0) is.
    pub offset: usize,
    /// Distance between consecutive rows (tokens).
    pub row_stride: usize,
    /// Distance between consecutive heads.
    pub head_stride: usize,
}

impl Heads<'_> {
    /// Whether `rows` rows of `heads` heads of width `hd` lie inside the buffer.
    fn fits(&self, rows: usize, heads: usize, hd: usize) -> bool {
        rows == 0 || heads == 0 || self.offset + (rows - 1) * self.row_stride + (heads - 1) * self.head_stride + hd <= self.data.len()
    }
}

/// Which keys a query row sees.
#[derive(Clone, Copy, Debug)]
pub enum Mask<'a> {
    /// Query row `i` sees keys `0..=past + i` (a prefill after `past` cached tokens).
    Causal {
        /// Tokens already in the cache before the first query row.
        past: usize,
    },
    /// Rows and keys share one index; a row in `[b[s], b[s + 1])` sees the
    /// keys of that segment only (the vision tower's windows and images).
    Segments(&'a [usize]),
}

/// Shapes of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    /// Query rows.
    pub rows: usize,
    /// Key/value rows.
    pub kv_rows: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (query head `h` uses kv head `h / (heads / kv_heads)`).
    pub kv_heads: usize,
    /// Head width.
    pub head_dim: usize,
}

/// Query rows per task: small enough for load balance, large enough for the
/// score GEMM to be efficient.
const BLOCK: usize = 32;

/// `softmax(q k^T * scale + mask) v` per head; returns `[rows, heads * head_dim]`.
/// `None` when the views do not fit their buffers or the shapes disagree.
pub fn attend(q: Heads, k: Heads, v: Heads, d: Dims, mask: Mask, scale: f32) -> Option<Vec<f32>> {
    let Dims { rows, kv_rows, heads, kv_heads, head_dim: hd } = d;
    if kv_heads == 0 || heads % kv_heads != 0 || !q.fits(rows, heads, hd) || !k.fits(kv_rows, kv_heads, hd) || !v.fits(kv_rows, kv_heads, hd) {
        return None;
    }
    // Tasks: (head, first row, rows, first key, keys).
    let mut tasks = Vec::new();
    match mask {
        Mask::Causal { past } => {
            if past + rows != kv_rows {
                return None;
            }
            for h in 0..heads {
                for r0 in (0..rows).step_by(BLOCK) {
                    let nb = BLOCK.min(rows - r0);
                    tasks.push((h, r0, nb, 0, past + r0 + nb));
                }
            }
        }
        Mask::Segments(bounds) => {
            if rows != kv_rows || bounds.last().is_some_and(|&e| e > rows) || bounds.windows(2).any(|w| w[0] > w[1]) {
                return None;
            }
            for h in 0..heads {
                for w in bounds.windows(2) {
                    for r0 in (w[0]..w[1]).step_by(BLOCK) {
                        tasks.push((h, r0, BLOCK.min(w[1] - r0), w[0], w[1] - w[0]));
                    }
                }
            }
        }
    }
    let width = heads * hd;
    let mut out = vec![0f32; rows * width];
    let out_ptr = SharedMut(out.as_mut_ptr());
    let group = heads / kv_heads;
    tasks.into_par_iter().for_each(|(h, r0, nb, k0, nk)| {
        let kh = h / group;
        let mut s = vec![0f32; nb * nk];
        let q0 = q.offset + r0 * q.row_stride + h * q.head_stride;
        let kb = k.offset + k0 * k.row_stride + kh * k.head_stride;
        let vb = v.offset + k0 * v.row_stride + kh * v.head_stride;
        // SAFETY: `fits` checked above that rows r0..r0 + nb of head h (q)
        // and rows k0..k0 + nk of head kh (k, v) lie inside their buffers;
        // `s` is nb x nk, row stride nk. lhs (i, d) at q0 + i * row + d; rhs
        // (d, j) = K[k0 + j][d] at kb + j * row + d.
        unsafe {
            gemm::gemm(nb, nk, hd, s.as_mut_ptr(), 1, nk as isize, false, q.data.as_ptr().add(q0), 1, q.row_stride as isize, k.data.as_ptr().add(kb), k.row_stride as isize, 1, 0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None)
        };
        for (i, row) in s.chunks_mut(nk).enumerate() {
            let valid = match mask {
                Mask::Causal { past } => past + r0 + i + 1,
                Mask::Segments(_) => nk,
            };
            softmax_scaled(row, valid, scale);
        }
        // SAFETY: dst (i, d) is out[(r0 + i) * width + h * hd + d]: rows
        // r0..r0 + nb of head h, written by this task only (tasks differ in
        // head or in row block) and inside `out` (rows * width long), which
        // outlives the loop. rhs (j, d) = V[k0 + j][d] at vb + j * row + d,
        // inside `v` by `fits`; lhs is `s`.
        unsafe {
            gemm::gemm(nb, hd, nk, out_ptr.get().add(r0 * width + h * hd), 1, width as isize, false, s.as_ptr(), 1, nk as isize, v.data.as_ptr().add(vb), 1, v.row_stride as isize, 0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None)
        };
    });
    Some(out)
}

//! Fused CPU kernels for inference (f32, contiguous, no gradients).
//!
//! candle's CPU backend runs most elementwise ops on one thread and allocates
//! a fresh tensor per op; in a 256-token prefill of a 0.5B model that was
//! about a third of the time next to the GEMMs. These kernels work on plain
//! slices, split rows over the rayon pool, and fold the small ops into the
//! GEMMs around them (bias and residual add as the GEMM's initial output,
//! SiLU(gate) * up in one pass, attention per head block with the causal or
//! window mask applied while normalising instead of as a mask tensor).
//!
//! Every entry point returns `None` (or is not called) when its preconditions
//! do not hold (GPU, another dtype, non-contiguous input, gradients wanted):
//! the callers then take the plain candle path, which is also the reference
//! the tests compare against.

pub mod alloc;
pub mod attention;
pub mod elementwise;
pub mod linear;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use candle_core::{DType, Result, Storage, Tensor};

/// Whether the fused path may run on `t`: f32 on the CPU, outside training,
/// and not switched off with `TRUTHEYE_FUSED=0` (for A/B timing and for
/// ruling the kernels out when chasing a numerical difference).
pub fn applies(t: &Tensor, train: bool) -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    let on = *ON.get_or_init(|| {
        let on = std::env::var("TRUTHEYE_FUSED").map_or(true, |v| v != "0" && v != "off");
        tracing::debug!(on, "fused CPU kernels (TRUTHEYE_FUSED)");
        on
    });
    on && !train && t.dtype() == DType::F32 && t.device().is_cpu()
}

/// Runs `f` on the contiguous f32 data of a CPU tensor; `None` when `t` is not
/// such a tensor (the caller falls back to candle ops).
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else { return None };
    let data = cpu.as_slice::<f32>().ok()?;
    let (start, end) = layout.contiguous_offsets()?;
    Some(f(data.get(start..end)?))
}

/// A new CPU f32 tensor of `shape` from `data`.
pub fn tensor(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &candle_core::Device::Cpu)
}

/// A raw pointer that rayon tasks may share to write disjoint parts of one
/// output buffer.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);

impl SharedMut {
    /// The pointer. A method rather than the field so that closures capture
    /// the whole (`Send`) wrapper, not the bare pointer.
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: the pointer is only dereferenced by tasks that write disjoint index
// ranges of a buffer that outlives them (each use says which ranges).
unsafe impl Send for SharedMut {}
// SAFETY: as above; no two tasks touch the same element.
unsafe impl Sync for SharedMut {}

/// Rows per rayon task so that each of the pool's threads gets a few tasks
/// (load balance) while each task stays long enough to amortise scheduling.
fn rows_per_task(rows: usize, row_len: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    // At least ~16k elements per task: below that scheduling costs show.
    let min_rows = (16 * 1024 / row_len.max(1)).max(1);
    rows.div_ceil(threads * 4).max(min_rows)
}

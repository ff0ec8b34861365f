//! Keeps glibc from handing activation buffers back to the kernel between ops.
//!
//! Every candle op and fused kernel allocates its output (a 256 x 4864 f32
//! MLP activation is 5 MB). glibc serves such sizes with `mmap` or trims them
//! off the heap top when freed, so the next op faults the same memory in again
//! page by page: measured on the 0.5B bench, ~60k page faults per 256-token
//! prefill, and `perf` put ~10% of prefill time in the kernel's fault path.
//! With a 32 MiB mmap threshold and a 256 MiB trim threshold, freed buffers
//! stay in the heap and are reused: the faults go away and the process keeps
//! at most that much freed memory around.
//!
//! Applied once, when a model is loaded; not when `TRUTHEYE_MALLOPT=0`, nor
//! when the user already tunes malloc (`GLIBC_TUNABLES` with a malloc
//! setting, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`), nor outside
//! glibc.

use std::sync::Once;

/// Raises glibc's mmap and trim thresholds (see the module documentation).
pub fn keep_freed_buffers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let off = std::env::var("TRUTHEYE_MALLOPT").is_ok_and(|v| v == "0" || v == "off");
        let user_tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|v| v.contains("malloc"))
            || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
            || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some();
        if off || user_tuned {
            tracing::debug!(off, user_tuned, "malloc thresholds left as they are");
            return;
        }
        set_thresholds();
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() {
    // glibc's <malloc.h> parameter numbers.
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only changes allocator parameters; glibc serialises it
    // with allocations internally. 32 MiB is glibc's largest allowed mmap
    // threshold on 64-bit.
    let ok = unsafe { mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1 };
    tracing::debug!(ok, "malloc: mmap threshold 32 MiB, trim threshold 256 MiB");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() {}

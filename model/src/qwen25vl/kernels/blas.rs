//! An optional OpenBLAS `sgemm`, loaded at run time.
//!
//! OpenBLAS's AVX-512 sgemm is faster than the `gemm` crate candle uses on
//! the prefill projection shapes (256 x 896 @ 896 x {128, 896, 4864}; numbers
//! in model/README.md, Speed), so when a library is found it does the 2-D
//! projections; otherwise (or with `TRUTHEYE_BLAS=off`) everything stays on
//! `gemm`. Nothing is linked at build time, so a fresh clone builds and runs
//! without OpenBLAS.
//!
//! Where it looks: `TRUTHEYE_BLAS=/path/to/libopenblas.so` (or `off`), else
//! the system's `libopenblas.so.0` (Debian: `libopenblas0-pthread`). numpy's
//! bundled `libscipy_openblas*.so` works too when named explicitly: its
//! symbols carry a `scipy_` prefix (and `64_` suffix for the ILP64 build),
//! which is handled.

use std::sync::OnceLock;

use libloading::Library;

/// `cblas_sgemm` with 32-bit integer arguments (LP64 builds).
type Sgemm32 = unsafe extern "C" fn(i32, i32, i32, i32, i32, i32, f32, *const f32, i32, *const f32, i32, f32, *mut f32, i32);
/// `cblas_sgemm` with 64-bit integer arguments (ILP64 builds).
type Sgemm64 = unsafe extern "C" fn(i32, i32, i32, i64, i64, i64, f32, *const f32, i64, *const f32, i64, f32, *mut f32, i64);
/// `openblas_set_num_threads` (either integer width takes an `int`).
type SetThreads = unsafe extern "C" fn(i32);

enum Sgemm {
    Lp64(Sgemm32),
    Ilp64(Sgemm64),
}

/// A loaded OpenBLAS.
pub struct Blas {
    sgemm: Sgemm,
    /// Where it came from (for the log line).
    pub path: String,
    // Keeps the library mapped as long as the function pointers live.
    _lib: Library,
}

// CBLAS constants.
const ROW_MAJOR: i32 = 101;
const NO_TRANS: i32 = 111;
const TRANS: i32 = 112;

impl Blas {
    /// The process-wide library, loaded on first use; `None` when none is found
    /// or `TRUTHEYE_BLAS=off`.
    pub fn get() -> Option<&'static Blas> {
        static BLAS: OnceLock<Option<Blas>> = OnceLock::new();
        BLAS.get_or_init(|| {
            let wanted = std::env::var("TRUTHEYE_BLAS").ok();
            let candidates: Vec<String> = match wanted.as_deref() {
                Some("off") | Some("0") | Some("") => vec![],
                Some(path) => vec![path.to_string()],
                None => vec!["libopenblas.so.0".into(), "libopenblas.so".into()],
            };
            let found = candidates.iter().find_map(|p| match Self::load(p) {
                Ok(b) => Some(b),
                Err(e) => {
                    if wanted.is_some() {
                        tracing::warn!(path = %p, error = %e, "TRUTHEYE_BLAS: cannot load; using the gemm crate");
                    }
                    None
                }
            });
            match &found {
                Some(b) => tracing::info!(path = %b.path, "prefill GEMMs use OpenBLAS"),
                None => tracing::info!("prefill GEMMs use the gemm crate (no OpenBLAS found; TRUTHEYE_BLAS=/path/libopenblas.so to name one)"),
            }
            found
        })
        .as_ref()
    }

    fn load(path: &str) -> Result<Self, libloading::Error> {
        // SAFETY: loading a shared library runs its initialisers; OpenBLAS's
        // only set up its thread pool and CPU detection.
        let lib = unsafe { Library::new(path)? };
        // SAFETY (all three lookups): the symbol types match the CBLAS /
        // OpenBLAS C prototypes of the respective builds.
        let sgemm = unsafe {
            if let Ok(f) = lib.get::<Sgemm32>(b"cblas_sgemm\0") {
                Sgemm::Lp64(*f)
            } else if let Ok(f) = lib.get::<Sgemm64>(b"scipy_cblas_sgemm64_\0") {
                Sgemm::Ilp64(*f)
            } else {
                Sgemm::Lp64(*lib.get::<Sgemm32>(b"scipy_cblas_sgemm\0")?)
            }
        };
        // One thread per call: the callers split the work over the rayon pool,
        // so OpenBLAS's own threads would only compete with it for the cores.
        // SAFETY: as above.
        let set_threads = unsafe {
            [&b"openblas_set_num_threads\0"[..], b"scipy_openblas_set_num_threads64_\0", b"scipy_openblas_set_num_threads\0"]
                .iter()
                .find_map(|name| lib.get::<SetThreads>(*name).ok().map(|f| *f))
        };
        if let Some(f) = set_threads {
            // SAFETY: a plain setter with an `int` argument.
            unsafe { f(1) };
        }
        Ok(Self { sgemm, path: path.to_string(), _lib: lib })
    }

    /// `c[m x n] = beta * c + a[m x k] @ w[n x k]^T`, all row-major with leading
    /// dimensions `lda`, `ldw`, `ldc`, on the calling thread.
    ///
    /// # Safety
    /// `a` must hold `(m - 1) * lda + k` readable elements, `w` `(n - 1) * ldw + k`,
    /// and `c` `(m - 1) * ldc + n` elements that nothing else reads or writes
    /// during the call (other threads may use the columns outside `0..n`).
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn sgemm_nt(&self, m: usize, n: usize, k: usize, a: *const f32, lda: usize, w: *const f32, ldw: usize, beta: f32, c: *mut f32, ldc: usize) {
        if m == 0 || n == 0 {
            return;
        }
        match self.sgemm {
            // SAFETY: the caller upholds the extents above.
            Sgemm::Lp64(f) => unsafe { f(ROW_MAJOR, NO_TRANS, TRANS, m as i32, n as i32, k as i32, 1.0, a, lda as i32, w, ldw as i32, beta, c, ldc as i32) },
            // SAFETY: as above.
            Sgemm::Ilp64(f) => unsafe { f(ROW_MAJOR, NO_TRANS, TRANS, m as i64, n as i64, k as i64, 1.0, a, lda as i64, w, ldw as i64, beta, c, ldc as i64) },
        }
    }
}

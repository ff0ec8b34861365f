//! The standard forensic operator plugin: ForenAgent's twelve low-level tools,
//! error level analysis, a JPEG quantization report and a copy-move detector.
//!
//! Built as a `cdylib` (what the host loads) and an `rlib` (what tests and
//! benchmarks call directly). Every operator follows the same contract: a visual
//! map, a heat-map where larger is more suspicious, a summary with numbers, a
//! `stats` object whose `anomaly_z` is the strongest local anomaly as a robust
//! z-score, and the most anomalous regions as boxes.

pub mod common;
pub mod bayar;
pub mod copy_move;
pub mod dct_highpass;
pub mod dwt;
pub mod ela;
pub mod fft_residual;
pub mod jpeg_ghost;
pub mod jpeg_quality;
pub mod laplacian;
pub mod local_correlation;
pub mod median_traces;
pub mod prnu;
pub mod resampling;
pub mod sobel;
pub mod srm;
mod strips;
mod visual;

// 12-megapixel buffers fault in 2 MiB at a time, as NumPy's do (see the allocator's docs).
#[global_allocator]
static ALLOC: trutheye_plugin_api::alloc::HugePageAlloc = trutheye_plugin_api::alloc::HugePageAlloc;

trutheye_plugin_api::export_plugin! {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    operators: [
        fft_residual::FftResidual,
        dwt::DwtSubbands,
        resampling::Resampling,
        dct_highpass::DctHighpass,
        srm::Srm,
        bayar::Bayar,
        prnu::Prnu,
        sobel::Sobel,
        laplacian::Laplacian,
        jpeg_ghost::JpegGhost,
        median_traces::MedianTraces,
        local_correlation::LocalCorrelation,
        ela::Ela,
        jpeg_quality::JpegQuality,
        copy_move::CopyMove,
    ],
}

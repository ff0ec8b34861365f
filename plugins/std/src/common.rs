//! Building blocks shared by the standard operators: convolution, block
//! means, map rendering; the robust z-scores and region extraction every
//! block-map operator shares (the ONNX backend and researchers' plugins too)
//! live in [`trutheye_plugin_api::blocks`] and are re-exported here.

use rayon::prelude::*;
use trutheye_plugin_api::OperatorError;

pub use trutheye_plugin_api::blocks::{median, robust_z, top_regions};

/// Runs `f` in a copy compiled for AVX2 and FMA when the CPU has them (checked
/// once, cached), else as is. The hot per-pixel loops are plain Rust that LLVM
/// vectorises; at the default x86-64 baseline (SSE2) it can only use 4 lanes and
/// lacks blends, unsigned compares and rounding, so this roughly doubles their
/// throughput. Results are unchanged: LLVM never fuses a multiply and an add
/// into an FMA unless the source asks for it, and the vector forms of `+ - * /`,
/// `sqrt`, `min`/`max` and compares are exact IEEE operations like the scalar ones.
/// Caveat: LLVM may keep a large closure out of line, in baseline code, so the hot
/// loops of this crate do not go through here; each is a small [`pulp::WithSimd`]
/// struct whose `#[inline(always)] with_simd` holds the loop itself (`SobelBand`,
/// `SrmRow`, `DctBand`, ...). Use this form only for short closures.
#[inline(always)]
pub fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// BT.601 luma of the RGB pixels `rgb` into `dst` (one value per pixel): the exact
/// expression of `ImageRef::luma`. Written over 3-byte chunks and compiled for AVX2,
/// LLVM turns it into de-interleaving loads and 8-wide conversions, several times
/// faster than per-pixel code.
pub(crate) fn luma_row(rgb: &[u8], dst: &mut [f32]) {
    // Pixels past the end of either slice are left alone (the zip stops there).
    pulp::Arch::new().dispatch(LumaRow { rgb, dst })
}

/// [`luma_row`] as a [`pulp::WithSimd`], so the loop itself lands in the AVX2 copy.
struct LumaRow<'a> {
    rgb: &'a [u8],
    dst: &'a mut [f32],
}

impl pulp::WithSimd for LumaRow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for (d, p) in self.dst.iter_mut().zip(self.rgb.chunks_exact(3)) {
            *d = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
        }
    }
}

/// Reflect-101 index (OpenCV's default border: `dcb|abcd|cba`), valid for any `i`.
#[inline]
pub fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * (n - 1);
    let mut m = i.rem_euclid(period);
    if m >= n {
        m = period - m;
    }
    m as usize
}

/// 2-D correlation (OpenCV `filter2D` convention: the kernel is not flipped) of a
/// single-channel image with a `kw x kh` kernel, reflect-101 borders. Rows run in
/// parallel.
pub fn filter2d(src: &[f32], w: usize, h: usize, kernel: &[f32], kw: usize, kh: usize) -> Vec<f32> {
    assert_eq!(kernel.len(), kw * kh);
    let (ax, ay) = ((kw / 2) as isize, (kh / 2) as isize);
    let mut out = vec![0f32; w * h];
    out.par_chunks_mut(w.max(1)).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            let mut acc = 0f32;
            for ky in 0..kh {
                let sy = reflect(y as isize + ky as isize - ay, h);
                let line = &src[sy * w..sy * w + w];
                for kx in 0..kw {
                    let sx = reflect(x as isize + kx as isize - ax, w);
                    acc += kernel[ky * kw + kx] * line[sx];
                }
            }
            *o = acc;
        }
    });
    out
}

/// Means of non-overlapping `block x block` tiles (partial tiles at the right and
/// bottom edges are dropped). Returns the tile grid and its size.
pub fn block_means(map: &[f32], w: usize, h: usize, block: usize) -> (Vec<f32>, usize, usize) {
    let (bw, bh) = (w / block, h / block);
    let mut out = vec![0f32; bw * bh];
    out.par_chunks_mut(bw.max(1)).enumerate().for_each(|(by, row)| {
        for (bx, o) in row.iter_mut().enumerate() {
            let mut s = 0f64;
            for y in by * block..(by + 1) * block {
                for v in &map[y * w + bx * block..y * w + (bx + 1) * block] {
                    s += *v as f64;
                }
            }
            *o = (s / (block * block) as f64) as f32;
        }
    });
    (out, bw, bh)
}

/// Renders a scalar map to 8-bit for viewing: linear between the 1st and 99th
/// percentiles (so a few extreme pixels do not wash the map out).
pub fn to_visual(map: &[f32]) -> Vec<u8> {
    if map.is_empty() {
        return Vec::new();
    }
    let mut sorted = map.to_vec();
    sorted.sort_unstable_by(|a, b| a.total_cmp(b));
    let lo = sorted[(sorted.len() - 1) / 100];
    let hi = sorted[(sorted.len() - 1) * 99 / 100];
    let span = (hi - lo).max(1e-12);
    map.iter().map(|v| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8).collect()
}

/// Fails with a clear message when the image is smaller than an operator needs.
pub fn require_size(name: &str, w: usize, h: usize, min: usize) -> Result<(), OperatorError> {
    if w < min || h < min {
        return Err(OperatorError::Image(format!("{name} needs an image of at least {min}x{min} pixels, got {w}x{h}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect101_matches_opencv() {
        // OpenCV BORDER_REFLECT_101 on n=4: index -1 -> 1, -2 -> 2, 4 -> 2, 5 -> 1.
        assert_eq!([reflect(-1, 4), reflect(-2, 4), reflect(4, 4), reflect(5, 4)], [1, 2, 2, 1]);
        assert_eq!(reflect(7, 1), 0);
    }

    #[test]
    fn filter2d_identity_and_box() {
        let src: Vec<f32> = (0..20).map(|v| v as f32).collect();
        let id = filter2d(&src, 5, 4, &[0., 0., 0., 0., 1., 0., 0., 0., 0.], 3, 3);
        assert_eq!(id, src);
        let boxed = filter2d(&src, 5, 4, &[1.0 / 9.0; 9], 3, 3);
        // Interior pixel (2,1): mean of rows 0..3, cols 1..4 = 7.0.
        assert!((boxed[5 + 2] - 7.0).abs() < 1e-5);
    }
}

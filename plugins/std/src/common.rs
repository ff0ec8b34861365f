//! Building blocks shared by the standard operators: convolution, block
//! statistics, robust z-scores, region extraction and map rendering.

use rayon::prelude::*;
use trutheye_plugin_api::{OperatorError, Region};

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

/// Median of a slice (NaN-free input assumed); 0 for an empty slice.
pub fn median(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    *m
}

/// Robust z-scores `(v - median) / sigma` with `sigma = 1.4826 * MAD`. Returns
/// `(z, median, sigma)`.
///
/// When more than half the values are equal the MAD is 0 (blocks of a clipped
/// highlight or of a flat fill, all at exactly the same energy), and a z over
/// it is meaningless: with only a tiny floor, a map flat but for a few blocks
/// gave z in the hundreds of thousands. Then `sigma = 1.253314 * MeanAD`, the
/// mean absolute deviation from the median made normal-consistent, as the
/// modified z-score does (IBM's definition). A perfectly flat map keeps a tiny
/// floor, so it gives 0, not NaN.
pub fn robust_z(values: &[f32]) -> (Vec<f32>, f32, f32) {
    let med = median(values);
    let dev: Vec<f32> = values.iter().map(|v| (v - med).abs()).collect();
    let sigma = robust_sigma(&dev, 1e-6 * med.abs().max(1.0));
    (values.iter().map(|v| (v - med) / sigma).collect(), med, sigma)
}

/// The scale of [`robust_z`] from the absolute deviations from the median
/// `dev`: 1.4826 MAD, or 1.253314 MeanAD when 1.4826 MAD is not above
/// `floor`, never below `floor`.
pub fn robust_sigma(dev: &[f32], floor: f32) -> f32 {
    let mad = 1.4826 * median(dev);
    if mad > floor {
        return mad;
    }
    let mean_ad = dev.iter().map(|&d| d as f64).sum::<f64>() / dev.len().max(1) as f64;
    ((1.253314 * mean_ad) as f32).max(floor)
}

/// Bounding boxes of 4-connected groups of tiles whose z exceeds `threshold`,
/// in image pixels, most suspicious (highest max z) first, at most `k`. When no tile
/// passes, the single highest tile is returned so the model always gets a place to
/// look (its score tells how weak it is).
pub fn top_regions(z: &[f32], bw: usize, bh: usize, block: usize, threshold: f32, k: usize) -> Vec<Region> {
    if z.is_empty() || bw == 0 || bh == 0 {
        return Vec::new();
    }
    let mut seen = vec![false; z.len()];
    let mut regions = Vec::new();
    for start in 0..z.len() {
        if seen[start] || z[start] <= threshold {
            continue;
        }
        let (mut x1, mut y1, mut x2, mut y2, mut best) = (usize::MAX, usize::MAX, 0, 0, f32::MIN);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            x1 = x1.min(x);
            y1 = y1.min(y);
            x2 = x2.max(x + 1);
            y2 = y2.max(y + 1);
            best = best.max(z[i]);
            let mut push = |j: usize| {
                if !seen[j] && z[j] > threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 { push(i - 1); }
            if x + 1 < bw { push(i + 1); }
            if y > 0 { push(i - bw); }
            if y + 1 < bh { push(i + bw); }
        }
        regions.push(Region {
            bbox: [(x1 * block) as u32, (y1 * block) as u32, (x2 * block) as u32, (y2 * block) as u32],
            score: best,
        });
    }
    if regions.is_empty() {
        let (i, s) = z.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
        let (x, y) = (i % bw, i / bw);
        regions.push(Region {
            bbox: [(x * block) as u32, (y * block) as u32, ((x + 1) * block) as u32, ((y + 1) * block) as u32],
            score: s,
        });
    }
    regions.sort_by(|a, b| b.score.total_cmp(&a.score));
    regions.truncate(k);
    regions
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

    #[test]
    fn regions_group_connected_tiles() {
        let mut z = vec![0f32; 16];
        z[5] = 5.0;
        z[6] = 4.0;
        z[15] = 3.5;
        let r = top_regions(&z, 4, 4, 8, 3.0, 5);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].bbox, [8, 8, 24, 16]);
        assert_eq!(r[1].bbox, [24, 24, 32, 32]);
    }

    #[test]
    fn robust_z_falls_back_to_the_mean_absolute_deviation_when_the_mad_is_zero() {
        // A clipped highlight: 90 blocks at exactly 0 energy, 10 at 0.7. MAD = 0,
        // MeanAD = 0.07, so sigma = 1.253314 * 0.07 and z(0.7) = 7.979 (the old
        // 1e-6 floor gave 700,000).
        let v: Vec<f32> = (0..100).map(|i| if i < 90 { 0.0 } else { 0.7 }).collect();
        let (z, med, sigma) = robust_z(&v);
        assert_eq!(med, 0.0);
        assert!((sigma - 0.087732).abs() < 1e-5, "{sigma}");
        assert!((z[95] - 7.9788).abs() < 1e-3, "{}", z[95]);
        // numpy on the same values: np.median(v) = 0, 1.253314 * np.mean(np.abs(v)) = 0.0877320 (same fallback in benches/py_ops_a.py).
        // With a MAD, the usual 1.4826 MAD: values 1..=9 have median 5 and MAD 2.
        let (z, _, sigma) = robust_z(&(1..=9).map(|i| i as f32).collect::<Vec<_>>());
        assert!((sigma - 2.9652).abs() < 1e-5 && (z[8] - 4.0 / 2.9652).abs() < 1e-5);
        // Perfectly flat: all 0, no NaN.
        let (z, _, _) = robust_z(&[3.0; 16]);
        assert!(z.iter().all(|&x| x == 0.0));
    }
}

//! Sobel gradient magnitude of luma (OpenCV `cv2.Sobel`, ksize=3, BORDER_REFLECT_101).

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, MapRole, Operator, Output, OperatorError};

use crate::common::{reflect, robust_z, top_regions};

/// OpenCV's 3x3 Sobel kernel for dx=1, dy=0 (correlation order, row-major).
pub const SOBEL_X: [f32; 9] = [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0];
/// OpenCV's 3x3 Sobel kernel for dx=0, dy=1.
pub const SOBEL_Y: [f32; 9] = [-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0];

/// Rows per parallel task when a pass has no block grid to follow: big enough that
/// rayon's per-task cost vanishes at 1 MP, small enough that both cores stay busy.
const BAND_ROWS: usize = 32;

/// Applies `f` to every 3x3 neighbourhood `[above-left, above, above-right, left, centre,
/// right, below-left, below, below-right]` of one output row. Columns are mirrored
/// reflect-101 at the two ends; the interior runs over equal-length shifted slices, so
/// it has no bounds checks or border logic and vectorises. Slices shorter than `out`
/// leave `out` untouched (never panics).
#[inline(always)]
pub(crate) fn stencil_row<T: Copy, U>(r0: &[T], r1: &[T], r2: &[T], out: &mut [U], f: impl Fn([T; 9]) -> U) {
    let w = out.len();
    if w == 0 || r0.len() < w || r1.len() < w || r2.len() < w {
        return;
    }
    let tap = |xm: usize, x: usize, xp: usize| f([r0[xm], r0[x], r0[xp], r1[xm], r1[x], r1[xp], r2[xm], r2[x], r2[xp]]);
    if w == 1 {
        out[0] = tap(0, 0, 0);
        return;
    }
    out[0] = tap(1, 0, 1);
    out[w - 1] = tap(w - 2, w - 1, w - 2);
    let n = w - 2;
    let (a0, a1, a2) = (&r0[..n], &r0[1..n + 1], &r0[2..n + 2]);
    let (b0, b1, b2) = (&r1[..n], &r1[1..n + 1], &r1[2..n + 2]);
    let (c0, c1, c2) = (&r2[..n], &r2[1..n + 1], &r2[2..n + 2]);
    for (i, o) in out[1..w - 1].iter_mut().enumerate() {
        *o = f([a0[i], a1[i], a2[i], b0[i], b1[i], b2[i], c0[i], c1[i], c2[i]]);
    }
}

/// `f` over every 3x3 neighbourhood of a `w x h` map with reflect-101 borders (see
/// [`stencil_row`]), in parallel bands of rows.
pub(crate) fn map3x3<T: Copy + Sync, U: Copy + Default + Send>(
    src: &[T],
    w: usize,
    h: usize,
    f: impl Fn([T; 9]) -> U + Sync,
) -> Vec<U> {
    let mut out = vec![U::default(); w * h];
    if w == 0 || h == 0 || src.len() < w * h {
        return out;
    }
    out.par_chunks_mut(BAND_ROWS * w).enumerate().for_each(|(band, rows)| {
        for (j, row) in rows.chunks_exact_mut(w).enumerate() {
            let y = band * BAND_ROWS + j;
            let line = |yy: usize| &src[yy * w..yy * w + w];
            let (ym, yp) = (reflect(y as isize - 1, h), reflect(y as isize + 1, h));
            stencil_row(line(ym), line(y), line(yp), row, &f);
        }
    });
    out
}

/// 3x3 correlation with reflect-101 borders, the same result as
/// [`crate::common::filter2d`] with a 3x3 kernel but with border handling hoisted out
/// of the inner loop. Rows run in parallel.
pub fn conv3x3(src: &[f32], w: usize, h: usize, k: &[f32; 9]) -> Vec<f32> {
    let k = *k;
    map3x3(src, w, h, |p| {
        k[0] * p[0] + k[1] * p[1] + k[2] * p[2] + k[3] * p[3] + k[4] * p[4] + k[5] * p[5] + k[6] * p[6] + k[7] * p[7]
            + k[8] * p[8]
    })
}

/// `ImageRef::luma` computed in parallel (identical values).
pub(crate) fn par_luma(image: &ImageRef<'_>) -> Vec<f32> {
    let n = image.width * image.height;
    let mut out = vec![0f32; n];
    if n == 0 || image.rgb.len() < n * 3 {
        return out;
    }
    out.par_chunks_mut(1 << 16).zip(image.rgb.par_chunks(3 << 16)).for_each(|(o, px)| crate::common::luma_row(px, o));
    out
}

/// Splits the `w x h` output map into bands of `rows` rows and runs
/// `f(y0, luma, band)` on them in parallel, returning the results in band order.
/// `luma` holds `conv(luma)` of image rows `y0-1 ..= y0+n` (n = rows in the band,
/// reflect-101 at the top and bottom), i.e. band row `j` has its neighbourhood in
/// `luma` rows `j..j+3`. Computing luma per band keeps it in cache and costs only two
/// extra rows per band.
///
/// With a `w x h` `out`, `band` is that band of `out`. With an empty `out` (nobody
/// reads the per-pixel map, only what `f` returns; see [`map_for_visual`]) it is a
/// per-thread scratch band that still holds an earlier band's values, so no
/// full-size map is allocated and page-faulted: `f` must write every element of
/// `band` before it reads one.
pub(crate) fn luma_bands<T: Send, U: Send + Copy + Default, R: Send>(
    image: &ImageRef<'_>,
    rows: usize,
    conv: impl Fn(f32) -> T + Sync,
    out: &mut [U],
    f: impl Fn(usize, &[T], &mut [U]) -> R + Sync,
) -> Vec<R> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 || !(out.is_empty() || out.len() == w * h) || image.rgb.len() != w * h * 3 {
        return Vec::new();
    }
    let rows = rows.max(1);
    let band_luma = |y0: usize, n: usize| {
        let mut buf = Vec::with_capacity((n + 2) * w);
        let mut row = vec![0f32; w];
        for j in 0..n + 2 {
            let y = reflect((y0 + j) as isize - 1, h);
            crate::common::luma_row(&image.rgb[y * w * 3..(y + 1) * w * 3], &mut row);
            buf.extend(row.iter().map(|&v| conv(v)));
        }
        buf
    };
    if out.is_empty() {
        (0..h.div_ceil(rows))
            .into_par_iter()
            .map_init(Vec::new, |scratch, band| {
                let y0 = band * rows;
                let n = rows.min(h - y0);
                scratch.resize(n * w, U::default());
                f(y0, &band_luma(y0, n), &mut scratch[..n * w])
            })
            .collect()
    } else {
        out.par_chunks_mut(rows * w)
            .enumerate()
            .map(|(band, chunk)| {
                let y0 = band * rows;
                f(y0, &band_luma(y0, chunk.len() / w), chunk)
            })
            .collect()
    }
}

/// The zeroed full-size map a pass keeps only to draw the visual from: `len`
/// samples when the caller reads visuals, else empty, which makes [`luma_bands`]
/// work in scratch bands.
pub(crate) fn map_for_visual<U: Copy + Default>(image: &ImageRef<'_>, len: usize) -> Vec<U> {
    if image.wants(MapRole::Visual) {
        vec![U::default(); len]
    } else {
        Vec::new()
    }
}

/// Rows per band for a pass that also sums `block x block` tiles: a whole number of
/// block rows (so no tile straddles two tasks), about [`BAND_ROWS`] rows.
pub(crate) fn band_rows(block: usize) -> usize {
    block.max(1) * (BAND_ROWS / block.max(1)).max(1)
}

/// Tile sums of one band of a map (rows `y0..y0+band.len()/w`): `(sums, total)` where
/// `sums` holds, for each block row lying wholly inside the band and the image, the
/// `bw` tile sums in f64, added in the same order as [`crate::common::block_means`]
/// (so the means are bit-identical), and `total` is the f64 sum of every sample of
/// the band (tile sums plus the ragged right and bottom edges).
#[inline(always)]
pub(crate) fn band_block_sums(band: &[f32], w: usize, h: usize, y0: usize, block: usize) -> (Vec<f64>, f64) {
    let (bw, bh) = (w / block, h / block);
    let n = band.len() / w.max(1);
    let mut sums = Vec::new();
    let mut total = 0f64;
    let mut j = 0;
    while j < n {
        let by = (y0 + j) / block;
        if (y0 + j).is_multiple_of(block) && by < bh && j + block <= n {
            let first = sums.len();
            sums.resize(first + bw, 0f64);
            for row in band[j * w..(j + block) * w].chunks_exact(w) {
                for (s, tile) in sums[first..].iter_mut().zip(row.chunks_exact(block)) {
                    for &v in tile {
                        *s += v as f64;
                    }
                }
                total += row[bw * block..].iter().map(|&v| v as f64).sum::<f64>();
            }
            total += sums[first..].iter().sum::<f64>();
            j += block;
        } else {
            total += band[j * w..(j + 1) * w].iter().map(|&v| v as f64).sum::<f64>();
            j += 1;
        }
    }
    (sums, total)
}

/// `x.round() as u8` (round half away from zero, saturating, NaN -> 0) for every
/// `x`, without the `roundf` call that baseline x86-64 (no SSE4.1) makes per value.
#[inline(always)]
pub(crate) fn round_u8(x: f32) -> u8 {
    let t = (x as i32).min(255);
    (t + (x - t as f32 >= 0.5) as i32).clamp(0, 255) as u8
}

/// Same rendering as [`crate::common::to_visual`] (linear between the 1st and 99th
/// percentiles) with the percentiles found without sorting, on a regular subsample of
/// at most ~1M values for large maps (identical output for maps up to 2M samples).
pub(crate) fn fast_visual(map: &[f32]) -> Vec<u8> {
    crate::visual::percentile_visual(map)
}

/// `(gx, gy)`: `cv2.Sobel(luma, CV_32F, 1, 0, ksize=3)` and `(.., 0, 1, ..)`.
pub fn sobel_gradients(luma: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    (conv3x3(luma, w, h, &SOBEL_X), conv3x3(luma, w, h, &SOBEL_Y))
}

/// `sqrt(gx^2 + gy^2)` of one 3x3 neighbourhood (the two Sobel responses fused).
#[inline(always)]
fn sobel_mag(p: [f32; 9]) -> f32 {
    let gx = (p[2] - p[0]) + 2.0 * (p[5] - p[3]) + (p[8] - p[6]);
    let gy = (p[6] - p[0]) + 2.0 * (p[7] - p[1]) + (p[8] - p[2]);
    (gx * gx + gy * gy).sqrt()
}

/// `sqrt(gx^2 + gy^2)` of the two Sobel responses in one pass (no intermediate maps).
pub fn sobel_magnitude(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    map3x3(src, w, h, sobel_mag)
}

/// One band of [`Sobel`]'s fused pass (magnitude, tile sums, total, edge count), as
/// a [`pulp::WithSimd`] so the stencil and sums are compiled for AVX2 (see
/// [`crate::common::simd`]).
struct SobelBand<'a> {
    w: usize,
    h: usize,
    y0: usize,
    block: usize,
    thr: f32,
    l: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for SobelBand<'_> {
    type Output = (Vec<f64>, f64, usize);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Self::Output {
        let SobelBand { w, h, y0, block, thr, l, out } = self;
        for (j, row) in out.chunks_exact_mut(w).enumerate() {
            stencil_row(&l[j * w..][..w], &l[(j + 1) * w..][..w], &l[(j + 2) * w..][..w], row, sobel_mag);
        }
        let (sums, total) = band_block_sums(out, w, h, y0, block);
        (sums, total, out.iter().filter(|&&v| v > thr).count())
    }
}

trutheye_plugin_api::params! {
    /// Parameters of [`Sobel`].
    pub struct SobelParams {
        /// block side in pixels for the heat-map
        pub block: usize = 16, range(4, 256);
        /// gradient magnitude above which a pixel counts as an edge (edge_density)
        pub edge_threshold: f64 = 100.0, range(0, 1500);
    }
}

/// Sobel gradient magnitude.
#[derive(Default)]
pub struct Sobel;

impl Operator for Sobel {
    const NAME: &'static str = "sobel";
    const DESCRIPTION: &'static str = "Sobel gradient magnitude of luma (OpenCV 3x3 kernels, reflect-101 border). \
        The visual shows edges (bright = strong edge). The heat-map is the robust z-score of each block's log \
        mean gradient: high z marks blocks with unusually strong or dense edges (sharp splice boundaries, pasted \
        high-detail objects); strongly negative z in stats (`smooth_z`) marks unusually edge-free blocks \
        (blurred or inpainted areas). Edges follow content, so judge outliers against similar content.";
    const CATEGORY: &'static str = "edge";
    type Params = SobelParams;

    fn analyze(&self, image: &ImageRef<'_>, p: SobelParams) -> Result<Output, OperatorError> {
        let (block, thr) = (p.block, p.edge_threshold as f32);
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(OperatorError::Image(format!("sobel needs an image of at least one {block}x{block} block, got {w}x{h}")));
        }
        // One fused pass per band: luma, magnitude, tile sums, total and edge count.
        let mut mag = map_for_visual(image, w * h);
        let bands = luma_bands(image, band_rows(block), |v| v, &mut mag, |y0, l, out| {
            pulp::Arch::new().dispatch(SobelBand { w, h, y0, block, thr, l, out })
        });
        let n = (w * h) as f64;
        let mean_gradient = (bands.iter().map(|b| b.1).sum::<f64>() / n) as f32;
        let edge_density = (bands.iter().map(|b| b.2).sum::<usize>() as f64 / n) as f32;
        let (bw, bh) = (w / block, h / block);
        let area = (block * block) as f64;
        let bm: Vec<f32> = bands.iter().flat_map(|b| &b.0).map(|s| (s / area) as f32).collect();
        let logm: Vec<f32> = bm.iter().map(|v| v.ln_1p()).collect();
        let (z, _, _) = robust_z(&logm);
        let anomaly_z = z.iter().copied().fold(f32::MIN, f32::max);
        let smooth_z = -z.iter().copied().fold(f32::MAX, f32::min);
        let regions = top_regions(&z, bw, bh, block, 3.0, 5);
        let summary = match regions.first() {
            Some(r) => format!(
                "Sobel: mean gradient {mean_gradient:.1}, edge density {:.1}% (|g|>{thr}); strongest edge block \
                 [{},{},{},{}] z={:.1}; smoothest block z={:.1} below the median.",
                edge_density * 100.0, r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], r.score, smooth_z
            ),
            None => format!("Sobel: mean gradient {mean_gradient:.1}, edge density {:.1}%.", edge_density * 100.0),
        };
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "smooth_z": smooth_z,
                "edge_density": edge_density,
                "mean_gradient": mean_gradient,
                "edge_threshold": thr,
                "block": block,
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual(&mag)).into_iter().chain([Map::heatmap("edge_energy_z", bw, bh, z)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;
    use crate::common::filter2d;

    #[test]
    fn kernels_are_opencv_sobel_ksize3() {
        assert_eq!(SOBEL_X, [-1., 0., 1., -2., 0., 2., -1., 0., 1.]);
        assert_eq!(SOBEL_Y, [-1., -2., -1., 0., 0., 0., 1., 2., 1.]);
    }

    #[test]
    fn conv3x3_matches_filter2d_on_odd_sizes() {
        for (w, h) in [(1, 1), (1, 5), (5, 1), (2, 3), (7, 7), (13, 9)] {
            let src: Vec<f32> = (0..w * h).map(|i| ((i * 37 + 11) % 101) as f32).collect();
            for k in [SOBEL_X, SOBEL_Y] {
                let a = conv3x3(&src, w, h, &k);
                let b = filter2d(&src, w, h, &k, 3, 3);
                assert_eq!(a, b, "{w}x{h}");
            }
        }
    }

    #[test]
    fn fast_visual_equals_to_visual() {
        let m: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 20.0).collect();
        assert_eq!(fast_visual(&m), crate::common::to_visual(&m));
        assert_eq!(fast_visual(&[3.0]), crate::common::to_visual(&[3.0]));
        assert!(fast_visual(&[]).is_empty());
    }

    /// The selection-based renderer this module used before radix selection.
    fn select_visual(map: &[f32]) -> Vec<u8> {
        let step = (map.len() / 1_000_000).max(1);
        let mut s: Vec<f32> = map.iter().step_by(step).copied().collect();
        let n = s.len();
        let lo = *s.select_nth_unstable_by((n - 1) / 100, |a, b| a.total_cmp(b)).1;
        let hi = *s.select_nth_unstable_by((n - 1) * 99 / 100, |a, b| a.total_cmp(b)).1;
        let span = (hi - lo).max(1e-12);
        map.iter().map(|v| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8).collect()
    }

    #[test]
    fn fast_visual_handles_signs_ties_and_specials() {
        let odd = [0.0, -0.0, -3.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-30, -1e-30, 7.0, 7.0];
        let mut m: Vec<f32> = (0..3000).map(|i| odd[i % odd.len()] * if i % 7 == 0 { 1.0 } else { 0.5 }).collect();
        assert_eq!(fast_visual(&m), crate::common::to_visual(&m));
        m.retain(|v| v.is_finite());
        assert_eq!(fast_visual(&m), crate::common::to_visual(&m));
        let ties = vec![2.5f32; 777];
        assert_eq!(fast_visual(&ties), crate::common::to_visual(&ties));
        // Above 1M values the percentiles come from a regular subsample.
        let big: Vec<f32> = (0..2_345_678u32).map(|i| ((i.wrapping_mul(2654435761) >> 13) % 5000) as f32 * 0.173 - 9.0).collect();
        assert_eq!(fast_visual(&big), select_visual(&big));
    }

    #[test]
    fn round_u8_is_round_then_saturate() {
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.5, 1.5, 2.5, 254.5, 255.49, 255.5, 256.0, 3e9, -3e9];
        let steps = (0..=600_000).map(|i| i as f32 * 0.000_5 - 20.0);
        let near_half = (0..300u32).flat_map(|i| {
            let x = i as f32 + 0.5;
            [f32::from_bits(x.to_bits() - 1), x, f32::from_bits(x.to_bits() + 1)]
        });
        for x in specials.into_iter().chain(steps).chain(near_half) {
            assert_eq!(round_u8(x), x.round() as u8, "{x}");
        }
    }

    #[test]
    fn fused_magnitude_matches_separate_gradients() {
        for (w, h) in [(1, 1), (2, 1), (1, 3), (7, 7), (19, 11)] {
            let src: Vec<f32> = (0..w * h).map(|i| ((i * 53 + 7) % 97) as f32).collect();
            let (gx, gy) = sobel_gradients(&src, w, h);
            let m = sobel_magnitude(&src, w, h);
            for i in 0..w * h {
                assert!((m[i] - (gx[i] * gx[i] + gy[i] * gy[i]).sqrt()).abs() < 1e-3, "{w}x{h} at {i}");
            }
        }
    }

    #[test]
    fn hand_computed_gradients() {
        // Rows [0,0,9]: at the centre column gx = (9-0)*(1+2+1) = 36; in columns 0 and 2
        // reflect-101 mirrors onto column 1 (value 0) on both sides, so gx = 0 there.
        let src = [0., 0., 9., 0., 0., 9., 0., 0., 9.];
        let (gx, gy) = sobel_gradients(&src, 3, 3);
        assert_eq!(gx, vec![0., 36., 0., 0., 36., 0., 0., 36., 0.]);
        assert_eq!(gy, vec![0.; 9]);
        // Vertical: a bright bottom row.
        let src = [0., 0., 0., 0., 0., 0., 4., 4., 4.];
        let (gx, gy) = sobel_gradients(&src, 3, 3);
        assert_eq!(gx, vec![0.; 9]);
        assert_eq!(gy, vec![0., 0., 0., 16., 16., 16., 0., 0., 0.]);
    }

    #[test]
    fn runs_and_rejects() {
        let (w, h) = (67, 45);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
        let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
        let out = Sobel.run(&img, &json!({})).unwrap();
        assert_eq!(out.maps.len(), 2);
        assert!(out.maps.iter().all(|m| m.is_consistent()));
        assert!(out.stats["anomaly_z"].is_number() && out.stats["edge_density"].is_number());
        assert!(Sobel.run(&img, &json!({"block": 2})).is_err());
        assert!(Sobel.run(&img, &json!({"bogus": 1})).is_err());
        assert!(Sobel.run(&img, &json!({"edge_threshold": "x"})).is_err());
        for (w, h) in [(1, 1), (7, 7)] {
            let rgb = vec![9u8; w * h * 3];
            let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
            assert!(Sobel.run(&img, &json!({})).is_err());
            assert!(Sobel.run(&img, &json!({"block": 4})).is_ok() || w < 4);
        }
    }
}

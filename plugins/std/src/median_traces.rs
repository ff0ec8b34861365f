//! Median-filtering forensics: the median filter residual (MFR = median3x3(I) - I)
//! relative to local activity, and the share of zero first differences
//! (Kirchner & Fridrich's "streaking").

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{robust_z, top_regions};
use crate::sobel::{band_rows, luma_bands, map3x3, map_for_visual, round_u8, stencil_row};

/// Compare-exchange on anything ordered (`min`/`max`, branch-free for f32 and u8, so
/// the network below vectorises: `minps`/`maxps`, `pminub`/`pmaxub`).
#[inline(always)]
fn sort2<T: Copy + MinMax>(a: &mut T, b: &mut T) {
    let (lo, hi) = (a.min_of(*b), a.max_of(*b));
    *a = lo;
    *b = hi;
}

/// `min`/`max` as the median network needs them (f32 uses IEEE `min`/`max`, as before).
trait MinMax {
    fn min_of(self, o: Self) -> Self;
    fn max_of(self, o: Self) -> Self;
}

impl MinMax for f32 {
    #[inline(always)]
    fn min_of(self, o: Self) -> Self {
        self.min(o)
    }
    #[inline(always)]
    fn max_of(self, o: Self) -> Self {
        self.max(o)
    }
}

impl MinMax for u8 {
    #[inline(always)]
    fn min_of(self, o: Self) -> Self {
        self.min(o)
    }
    #[inline(always)]
    fn max_of(self, o: Self) -> Self {
        self.max(o)
    }
}

/// Median of nine values with the classic 19-exchange network (Paeth / Devillard `opt_med9`).
#[inline(always)]
fn med9<T: Copy + MinMax>(mut p: [T; 9]) -> T {
    let [p0, p1, p2, p3, p4, p5, p6, p7, p8] = &mut p;
    sort2(p1, p2); sort2(p4, p5); sort2(p7, p8);
    sort2(p0, p1); sort2(p3, p4); sort2(p6, p7);
    sort2(p1, p2); sort2(p4, p5); sort2(p7, p8);
    sort2(p0, p3); sort2(p5, p8); sort2(p4, p7);
    sort2(p3, p6); sort2(p1, p4); sort2(p2, p5);
    sort2(p4, p7); sort2(p4, p2); sort2(p6, p4);
    sort2(p4, p2);
    *p4
}

/// 3x3 median filter with reflect-101 borders (`scipy.ndimage.median_filter(size=3,
/// mode="mirror")`; note `cv2.medianBlur` replicates the border instead). Rows run in parallel.
pub fn median3x3(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    map3x3(src, w, h, med9)
}

/// Everything the operator needs from one pass over the 8-bit luma: the |MFR| map
/// (`|median3x3(L) - L|`, exact in u8 because L is integral), the integer tile sums
/// (see [`band_stats`]) and a histogram of every `step`-th |MFR| value (for the visual's
/// percentiles). The map and the histogram serve only the visual: for a caller
/// that reads none, the map is empty and the histogram all zeros.
struct Pass {
    resid: Vec<u8>,
    sums: Vec<[u32; 4]>,
    hist: [u64; 256],
}

/// Per tile of the band's block rows: (sum |MFR|, sum |first differences| to the right
/// and below, zero first differences, difference count). Integers, so they equal the
/// f64 sums the operator used to accumulate exactly (at most 2 * 256^2 * 255 < 2^32).
fn band_stats(l: &[u8], resid: &[u8], w: usize, h: usize, y0: usize, block: usize) -> Vec<[u32; 4]> {
    let (bw, bh) = (w / block, h / block);
    let n = resid.len() / w;
    let mut out = Vec::new();
    for j in (0..n).step_by(block) {
        if (y0 + j) / block >= bh || j + block > n {
            break;
        }
        let first = out.len();
        out.resize(first + bw, [0u32; 4]);
        for jj in j..j + block {
            let y = y0 + jj;
            // `l` row jj + 1 is image row y; row jj + 2 is y + 1 (a reflected row when y + 1 == h).
            let row = &l[(jj + 1) * w..][..w];
            let below = (y + 1 < h).then(|| &l[(jj + 2) * w..][..w]);
            let res = &resid[jj * w..][..w];
            for (bx, acc) in out[first..].iter_mut().enumerate() {
                let (x0, x1) = (bx * block, (bx + 1) * block);
                acc[0] += res[x0..x1].iter().map(|&v| v as u32).sum::<u32>();
                // Right differences exist for x + 1 < w only.
                let xe = x1.min(w - 1);
                for (a, b) in row[x0..xe].iter().zip(&row[x0 + 1..xe + 1]) {
                    let d = a.abs_diff(*b);
                    acc[1] += d as u32;
                    acc[2] += (d == 0) as u32;
                }
                acc[3] += (xe - x0) as u32;
                if let Some(below) = below {
                    for (a, b) in row[x0..x1].iter().zip(&below[x0..x1]) {
                        let d = a.abs_diff(*b);
                        acc[1] += d as u32;
                        acc[2] += (d == 0) as u32;
                    }
                    acc[3] += block as u32;
                }
            }
        }
    }
    out
}

/// Histogram of every `step`-th value of `band`, whose first sample is `start` in the
/// whole map (so the subsample is the map's `step_by(step)`). Four interleaved
/// histograms so runs of equal values do not serialise on one counter.
fn band_hist(band: &[u8], start: usize, step: usize) -> [u64; 256] {
    let mut h = [[0u32; 256]; 4];
    let skip = (step - start % step) % step;
    let mut it = band.get(skip..).unwrap_or(&[]).iter().step_by(step);
    'outer: loop {
        for hh in h.iter_mut() {
            match it.next() {
                Some(&v) => hh[v as usize] += 1,
                None => break 'outer,
            }
        }
    }
    std::array::from_fn(|i| h.iter().map(|hh| hh[i] as u64).sum())
}

/// The luma (rounded to 8 bits), |MFR| map, tile sums and |MFR| histogram in one
/// parallel pass over bands of block rows.
fn analyse(image: &ImageRef<'_>, block: usize) -> Pass {
    let (w, h) = (image.width, image.height);
    let step = (w * h / 1_000_000).max(1);
    let mut resid = map_for_visual(image, w * h);
    let visual = !resid.is_empty();
    let bands = luma_bands(image, band_rows(block), round_u8, &mut resid, |y0, l, out| {
        for (j, row) in out.chunks_exact_mut(w).enumerate() {
            stencil_row(&l[j * w..][..w], &l[(j + 1) * w..][..w], &l[(j + 2) * w..][..w], row, |p| {
                med9(p).abs_diff(p[4])
            });
        }
        (band_stats(l, out, w, h, y0, block), if visual { band_hist(out, y0 * w, step) } else { [0; 256] })
    });
    let mut hist = [0u64; 256];
    let mut sums = Vec::with_capacity((w / block) * (h / block));
    for (s, hh) in bands {
        sums.extend(s);
        hist.iter_mut().zip(hh).for_each(|(a, b)| *a += b);
    }
    Pass { resid, sums, hist }
}

/// [`crate::sobel::fast_visual`] of an 8-bit map from its histogram: the same
/// percentiles (ranks of the same subsample) and the same f32 formula, once per grey
/// level through a lookup table. Rewrites `map` in place.
fn visual_u8(mut map: Vec<u8>, hist: &[u64; 256]) -> Vec<u8> {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return map;
    }
    let at = |rank: u64| {
        let mut seen = 0;
        for (v, &c) in hist.iter().enumerate() {
            seen += c;
            if rank < seen {
                return v as f32;
            }
        }
        255.0
    };
    let (lo, hi) = (at((n - 1) / 100), at((n - 1) * 99 / 100));
    let span = (hi - lo).max(1e-12);
    let lut: [u8; 256] = std::array::from_fn(|v| (((v as f32 - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8);
    map.par_chunks_mut(1 << 16).for_each(|c| c.iter_mut().for_each(|v| *v = lut[*v as usize]));
    map
}

trutheye_plugin_api::params! {
    /// Parameters of [`MedianTraces`].
    pub struct MedianTracesParams {
        /// block side in pixels for the heat-map
        pub block: usize = 16, range(4, 256);
    }
}

/// Median filtering traces.
#[derive(Default)]
pub struct MedianTraces;

impl Operator for MedianTraces {
    const NAME: &'static str = "median_traces";
    const DESCRIPTION: &'static str = "Median-filtering forensics on luma (rounded to 8 bits). A 3x3 median filter \
        barely changes an image that was already median-filtered, so such regions have a median filter residual \
        |median3x3(I) - I| that is tiny relative to their local activity (mean |first difference|), and many \
        exactly-zero neighbour differences (streaking). The visual shows |residual| (dark = filter-invariant); \
        the heat-map is the robust z-score of -log(residual/activity) per block: high z = likely median-filtered \
        (or otherwise smoothed) area. `zero_diff_ratio` is the image-wide share of zero first differences.";
    const CATEGORY: &'static str = "statistics";
    type Params = MedianTracesParams;

    fn analyze(&self, image: &ImageRef<'_>, p: MedianTracesParams) -> Result<Output, OperatorError> {
        let block = p.block;
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(OperatorError::Image(format!("median_traces needs an image of at least one {block}x{block} block, got {w}x{h}")));
        }
        let pass = analyse(image, block);
        let sums: Vec<[f64; 4]> = pass.sums.iter().map(|s| s.map(f64::from)).collect();
        let (bw, bh) = (w / block, h / block);
        let n = (block * block) as f64;
        // Mean |MFR| over mean |difference|, +0.5 grey levels each so flat areas do not explode.
        let sig: Vec<f32> = sums
            .iter()
            .map(|s| -(((s[0] / n + 0.5) / (s[1] / s[3].max(1.0) + 0.5)).ln() as f32))
            .collect();
        let (z, _, _) = robust_z(&sig);
        let anomaly_z = z.iter().copied().fold(f32::MIN, f32::max);
        let (zero, cnt, mfr) = sums.iter().fold((0f64, 0f64, 0f64), |a, s| (a.0 + s[2], a.1 + s[3], a.2 + s[0]));
        let zero_diff_ratio = (zero / cnt.max(1.0)) as f32;
        let mean_mfr = (mfr / (n * (bw * bh) as f64)) as f32;
        let regions = top_regions(&z, bw, bh, block, 3.0, 5);
        let (top_zero, top_ratio) = regions
            .first()
            .map(|r| {
                let i = (r.bbox[1] as usize / block) * bw + r.bbox[0] as usize / block;
                let s = sums[i.min(sums.len() - 1)];
                ((s[2] / s[3].max(1.0)) as f32, ((s[0] / n) / (s[1] / s[3].max(1.0) + 1e-9)) as f32)
            })
            .unwrap_or((0.0, 0.0));
        let summary = match regions.first() {
            Some(r) => format!(
                "Median traces: image-wide zero first-difference ratio {:.1}%, mean |median residual| {mean_mfr:.2}; \
                 block region [{},{},{},{}] is the most median-filter-invariant (z={:.1}; its residual/activity \
                 ratio {top_ratio:.3}, zero differences {:.1}%).",
                zero_diff_ratio * 100.0, r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], r.score, top_zero * 100.0
            ),
            None => format!("Median traces: zero first-difference ratio {:.1}%.", zero_diff_ratio * 100.0),
        };
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "zero_diff_ratio": zero_diff_ratio,
                "mean_median_residual": mean_mfr,
                "top_block_zero_diff_ratio": top_zero,
                "top_block_residual_activity_ratio": top_ratio,
                "block": block,
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || visual_u8(pass.resid, &pass.hist))
                .into_iter()
                .chain([Map::heatmap("median_filtered_z", bw, bh, z)])
                .collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::reflect;

    #[test]
    fn med9_is_the_median_of_every_permutation_sample() {
        let mut s = 1u32;
        for _ in 0..2000 {
            let mut v = [0f32; 9];
            for x in v.iter_mut() {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                *x = (s >> 28) as f32;
            }
            let mut sorted = v;
            sorted.sort_by(|a, b| a.total_cmp(b));
            assert_eq!(med9(v), sorted[4], "{v:?}");
        }
    }

    #[test]
    fn median_border_is_reflect101() {
        // 3x1 row [1, 5, 3] padded reflect-101 vertically (h=1 -> all rows the same) and
        // horizontally: x=0 sees [5,1,5]x3 -> 5; x=1 sees [1,5,3]x3 -> 3; x=2 sees [5,3,5] -> 5.
        assert_eq!(median3x3(&[1., 5., 3.], 3, 1), vec![5., 3., 5.]);
        assert_eq!(median3x3(&[4.], 1, 1), vec![4.]);
        assert_eq!(median3x3(&[4., 2.], 2, 1), vec![2., 4.]);
    }

    #[test]
    fn median3x3_matches_a_naive_filter() {
        for (w, h) in [(1, 4), (2, 2), (3, 5), (9, 7), (16, 3)] {
            let src: Vec<f32> = (0..w * h).map(|i| ((i * 71 + 3) % 29) as f32).collect();
            let got = median3x3(&src, w, h);
            for y in 0..h {
                for x in 0..w {
                    let mut v = Vec::new();
                    for dy in -1..=1isize {
                        for dx in -1..=1isize {
                            v.push(src[reflect(y as isize + dy, h) * w + reflect(x as isize + dx, w)]);
                        }
                    }
                    v.sort_by(|a, b| a.total_cmp(b));
                    assert_eq!(got[y * w + x], v[4], "{w}x{h} ({x},{y})");
                }
            }
        }
    }
}

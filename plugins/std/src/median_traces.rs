//! Median-filtering forensics: the median filter residual (MFR = median3x3(I) - I)
//! relative to local activity, and the share of zero first differences
//! (Kirchner & Fridrich's "streaking").

use rayon::prelude::*;
use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, Map, Operator, Output};

use crate::common::{param_usize, reflect, robust_z, top_regions};
use crate::ela::check_keys;

#[inline(always)]
fn sort2(a: &mut f32, b: &mut f32) {
    let (lo, hi) = (a.min(*b), a.max(*b));
    *a = lo;
    *b = hi;
}

/// Median of nine values with the classic 19-exchange network (Paeth / Devillard `opt_med9`).
#[inline(always)]
fn med9(mut p: [f32; 9]) -> f32 {
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
    let mut out = vec![0f32; w * h];
    if w == 0 || h == 0 || src.len() < w * h {
        return out;
    }
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let ym = reflect(y as isize - 1, h);
        let yp = reflect(y as isize + 1, h);
        let (r0, r1, r2) = (&src[ym * w..ym * w + w], &src[y * w..y * w + w], &src[yp * w..yp * w + w]);
        let at = |x: usize| {
            let xm = if x == 0 { reflect(-1, w) } else { x - 1 };
            let xp = if x + 1 == w { reflect(w as isize, w) } else { x + 1 };
            med9([r0[xm], r0[x], r0[xp], r1[xm], r1[x], r1[xp], r2[xm], r2[x], r2[xp]])
        };
        row[0] = at(0);
        if w > 1 {
            row[w - 1] = at(w - 1);
        }
        if w > 2 {
            // Interior: fixed-width windows, no border logic, so the network vectorises.
            let inner = &mut row[1..w - 1];
            for (o, ((a, b), c)) in inner.iter_mut().zip(r0.windows(3).zip(r1.windows(3)).zip(r2.windows(3))) {
                *o = med9([a[0], a[1], a[2], b[0], b[1], b[2], c[0], c[1], c[2]]);
            }
        }
    });
    out
}

/// Per block: (sum |MFR|, sum |first differences|, zero first differences, difference count).
fn block_sums(luma: &[f32], med: &[f32], w: usize, h: usize, block: usize) -> Vec<[f64; 4]> {
    let (bw, bh) = (w / block, h / block);
    let mut out = vec![[0f64; 4]; bw * bh];
    out.par_chunks_mut(bw.max(1)).enumerate().for_each(|(by, row)| {
        for y in by * block..(by + 1) * block {
            let l = &luma[y * w..y * w + w];
            let m = &med[y * w..y * w + w];
            let below = (y + 1 < h).then(|| &luma[(y + 1) * w..(y + 2) * w]);
            for (bx, acc) in row.iter_mut().enumerate() {
                for x in bx * block..(bx + 1) * block {
                    acc[0] += (m[x] - l[x]).abs() as f64;
                    if x + 1 < w {
                        let d = l[x + 1] - l[x];
                        acc[1] += d.abs() as f64;
                        acc[2] += (d == 0.0) as u8 as f64;
                        acc[3] += 1.0;
                    }
                    if let Some(b) = below {
                        let d = b[x] - l[x];
                        acc[1] += d.abs() as f64;
                        acc[2] += (d == 0.0) as u8 as f64;
                        acc[3] += 1.0;
                    }
                }
            }
        }
    });
    out
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

    fn params_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "block": {"type": "integer", "minimum": 4, "maximum": 256, "default": 16,
                          "description": "block side in pixels for the heat-map"}
            },
            "additionalProperties": false
        })
    }

    fn run(&self, image: &ImageRef<'_>, params: &Value) -> Result<Output, String> {
        check_keys(Self::NAME, params, &["block"])?;
        let block = param_usize(params, "block", 16, 4, 256)?;
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(format!("median_traces needs an image of at least one {block}x{block} block, got {w}x{h}"));
        }
        let luma: Vec<f32> = image.luma().into_iter().map(f32::round).collect();
        let med = median3x3(&luma, w, h);
        let sums = block_sums(&luma, &med, w, h, block);
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
        let resid: Vec<f32> = med.par_iter().zip(luma.par_iter()).map(|(m, l)| (m - l).abs()).collect();
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
            maps: vec![
                Map::visual("visual", w, h, 1, crate::sobel::fast_visual(&resid)),
                Map::heatmap("median_filtered_z", bw, bh, z),
            ],
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

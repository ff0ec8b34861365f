//! Sobel gradient magnitude of luma (OpenCV `cv2.Sobel`, ksize=3, BORDER_REFLECT_101).

use rayon::prelude::*;
use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, Map, Operator, Output};

use crate::common::{block_means, param_usize, reflect, robust_z, top_regions};
use crate::ela::{check_keys, param_f32};

/// OpenCV's 3x3 Sobel kernel for dx=1, dy=0 (correlation order, row-major).
pub const SOBEL_X: [f32; 9] = [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0];
/// OpenCV's 3x3 Sobel kernel for dx=0, dy=1.
pub const SOBEL_Y: [f32; 9] = [-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0];

/// 3x3 correlation with reflect-101 borders, the same result as
/// [`crate::common::filter2d`] with a 3x3 kernel but with border handling hoisted out
/// of the inner loop. Rows run in parallel.
pub fn conv3x3(src: &[f32], w: usize, h: usize, k: &[f32; 9]) -> Vec<f32> {
    let mut out = vec![0f32; w * h];
    if w == 0 || h == 0 || src.len() < w * h {
        return out;
    }
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let ym = reflect(y as isize - 1, h);
        let yp = reflect(y as isize + 1, h);
        let (r0, r1, r2) = (&src[ym * w..ym * w + w], &src[y * w..y * w + w], &src[yp * w..yp * w + w]);
        let tap = |x: usize, xm: usize, xp: usize| {
            k[0] * r0[xm] + k[1] * r0[x] + k[2] * r0[xp]
                + k[3] * r1[xm] + k[4] * r1[x] + k[5] * r1[xp]
                + k[6] * r2[xm] + k[7] * r2[x] + k[8] * r2[xp]
        };
        if w == 1 {
            row[0] = tap(0, 0, 0);
            return;
        }
        row[0] = tap(0, 1, 1);
        for (x, o) in row.iter_mut().enumerate().take(w - 1).skip(1) {
            *o = tap(x, x - 1, x + 1);
        }
        row[w - 1] = tap(w - 1, w - 2, w - 2);
    });
    out
}

/// Same rendering as [`crate::common::to_visual`] (linear between the 1st and 99th
/// percentiles) but with the percentiles found by selection instead of a full sort,
/// on a regular subsample of at most ~1M values for large maps (identical output for
/// maps up to 1M samples).
pub(crate) fn fast_visual(map: &[f32]) -> Vec<u8> {
    if map.is_empty() {
        return Vec::new();
    }
    let step = (map.len() / 1_000_000).max(1);
    let mut s: Vec<f32> = map.iter().step_by(step).copied().collect();
    let n = s.len();
    let lo = *s.select_nth_unstable_by((n - 1) / 100, |a, b| a.total_cmp(b)).1;
    let hi = *s.select_nth_unstable_by((n - 1) * 99 / 100, |a, b| a.total_cmp(b)).1;
    let span = (hi - lo).max(1e-12);
    map.par_iter().map(|v| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8).collect()
}

/// `(gx, gy)`: `cv2.Sobel(luma, CV_32F, 1, 0, ksize=3)` and `(.., 0, 1, ..)`.
pub fn sobel_gradients(luma: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    (conv3x3(luma, w, h, &SOBEL_X), conv3x3(luma, w, h, &SOBEL_Y))
}

/// `sqrt(gx^2 + gy^2)` of the two Sobel responses in one pass (no intermediate maps).
pub fn sobel_magnitude(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0f32; w * h];
    if w == 0 || h == 0 || src.len() < w * h {
        return out;
    }
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let ym = reflect(y as isize - 1, h);
        let yp = reflect(y as isize + 1, h);
        let (r0, r1, r2) = (&src[ym * w..ym * w + w], &src[y * w..y * w + w], &src[yp * w..yp * w + w]);
        let mag = |x: usize, xm: usize, xp: usize| {
            let gx = (r0[xp] - r0[xm]) + 2.0 * (r1[xp] - r1[xm]) + (r2[xp] - r2[xm]);
            let gy = (r2[xm] - r0[xm]) + 2.0 * (r2[x] - r0[x]) + (r2[xp] - r0[xp]);
            (gx * gx + gy * gy).sqrt()
        };
        if w == 1 {
            row[0] = mag(0, 0, 0);
            return;
        }
        row[0] = mag(0, 1, 1);
        for (x, o) in row.iter_mut().enumerate().take(w - 1).skip(1) {
            *o = mag(x, x - 1, x + 1);
        }
        row[w - 1] = mag(w - 1, w - 2, w - 2);
    });
    out
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

    fn params_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "block": {"type": "integer", "minimum": 4, "maximum": 256, "default": 16,
                          "description": "block side in pixels for the heat-map"},
                "edge_threshold": {"type": "number", "minimum": 0, "maximum": 1500, "default": 100,
                                   "description": "gradient magnitude above which a pixel counts as an edge (edge_density)"}
            },
            "additionalProperties": false
        })
    }

    fn run(&self, image: &ImageRef<'_>, params: &Value) -> Result<Output, String> {
        check_keys(Self::NAME, params, &["block", "edge_threshold"])?;
        let block = param_usize(params, "block", 16, 4, 256)?;
        let thr = param_f32(params, "edge_threshold", 100.0, 0.0, 1500.0)?;
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(format!("sobel needs an image of at least one {block}x{block} block, got {w}x{h}"));
        }
        let luma = image.luma();
        let mag = sobel_magnitude(&luma, w, h);
        let n = (w * h) as f64;
        let mean_gradient = (mag.par_iter().map(|&v| v as f64).sum::<f64>() / n) as f32;
        let edge_density = (mag.par_iter().filter(|&&v| v > thr).count() as f64 / n) as f32;

        let (bm, bw, bh) = block_means(&mag, w, h, block);
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
            maps: vec![Map::visual("visual", w, h, 1, fast_visual(&mag)), Map::heatmap("edge_energy_z", bw, bh, z)],
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

//! Bayar–Stamm constrained-convolution residual, used as a fixed (untrained)
//! residual extractor: a 5x5 kernel whose centre is −1 and whose other 24 weights
//! are each 1/24 (they sum to +1), i.e. "mean of the 5x5 neighbourhood minus the
//! pixel". This is the uniform member of the constraint set
//! `w(0,0) = −1, Σ_{(i,j)≠(0,0)} w(i,j) = 1` of Bayar & Stamm (2016/2018).

use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::require_size;
use crate::srm::{fast_visual, strip_filter, two_sided_report, BlockZ};

/// The fixed constrained kernel (row-major 5x5).
pub fn bayar_kernel() -> [f32; 25] {
    let mut k = [1.0f32 / 24.0; 25];
    k[12] = -1.0;
    k
}

/// One output row of the Bayar residual from the five padded luma rows
/// `y-2..=y+2`: the kernel is (5x5 box sum − centre)/24 − centre, so a vertical
/// 5-sum per column and a horizontal 5-sum replace the 25 taps. Writes |r| into
/// `rms`, r² into `e`, and returns Σ r² of the row.
fn bayar_row(p: &[&[f32]], s: &mut [Vec<f32>; 5], rms: &mut [f32], e: &mut [f32]) -> f64 {
    pulp::Arch::new().dispatch(BayarRow { p, s, rms, e })
}

/// [`bayar_row`]'s loops as a [`pulp::WithSimd`], so they are compiled for AVX2
/// (see [`crate::common::simd`]).
struct BayarRow<'a, 'b> {
    p: &'a [&'b [f32]],
    s: &'a mut [Vec<f32>; 5],
    rms: &'a mut [f32],
    e: &'a mut [f32],
}

impl pulp::WithSimd for BayarRow<'_, '_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
        let BayarRow { p, s, rms, e } = self;
        let w = rms.len();
        let pw = w + 4;
        let (p0, p1, p2, p3, p4) = (&p[0][..pw], &p[1][..pw], &p[2][..pw], &p[3][..pw], &p[4][..pw]);
        let vs = &mut s[0][..pw];
        for j in 0..pw {
            vs[j] = p0[j] + p1[j] + p2[j] + p3[j] + p4[j];
        }
        let e = &mut e[..w];
        let (v0, v1, v2, v3, v4, c) = (&vs[..w], &vs[1..w + 1], &vs[2..w + 2], &vs[3..w + 3], &vs[4..w + 4], &p2[2..w + 2]);
        for x in 0..w {
            let r = (v0[x] + v1[x] + v2[x] + v3[x] + v4[x] - c[x]) / 24.0 - c[x];
            e[x] = r * r;
            rms[x] = r.abs();
        }
        crate::srm::lane_sum(e)
    }
}

trutheye_plugin_api::params! {
    /// Parameters of [`Bayar`].
    pub struct BayarParams {
        /// side in pixels of the square blocks whose statistics are compared (partial blocks at the right/bottom edges are ignored)
        pub block: usize = 32, range(8, 256);
    }
}

/// Bayar constrained-convolution residual energy.
#[derive(Default)]
pub struct Bayar;

impl Operator for Bayar {
    const NAME: &'static str = "bayar";
    const DESCRIPTION: &'static str = "Bayar–Stamm constrained-convolution residual (fixed 5x5 kernel: centre −1, the other \
        24 weights 1/24, so it removes image content and keeps local noise) on luma. The visual shows residual \
        magnitude; the heat-map is the absolute robust z of each block's residual energy: unusually noisy blocks \
        (anomaly_z) and unusually smooth blocks (smooth_z: denoised, inpainted or synthetic pastes) both light up. \
        Strong edges and texture also raise the residual.";
    const CATEGORY: &'static str = "noise";
    type Params = BayarParams;

    fn analyze(&self, image: &ImageRef<'_>, p: BayarParams) -> Result<Output, OperatorError> {
        let block = p.block;
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, block)?;
        let (rms, sums, raw) = strip_filter(image, 2, block, bayar_row);
        let residual_std = (raw / (w * h) as f64).sqrt() as f32;
        let bz = BlockZ::from_sums(&sums, w / block, h / block, block);
        let (summary, a, s, abs, regions) = two_sided_report(
            "Bayar constrained residual energy",
            &bz,
            &format!("global residual std {residual_std:.2} grey levels"),
        );
        Ok(Output {
            summary,
            stats: json!({"anomaly_z": a, "smooth_z": s, "residual_std": residual_std, "block": block, "blocks": [bz.bw, bz.bh]}),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual(&rms)).into_iter().chain([Map::heatmap("energy_abs_z", bz.bw, bz.bh, abs)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn kernel_satisfies_the_bayar_constraint() {
        let k = bayar_kernel();
        assert_eq!(k[12], -1.0);
        let others: f32 = k.iter().enumerate().filter(|(i, _)| *i != 12).map(|(_, v)| v).sum();
        assert!((others - 1.0).abs() < 1e-6, "off-centre sum {others}");
        assert!(k.iter().sum::<f32>().abs() < 1e-6);
    }

    #[test]
    fn fused_row_matches_filter2d() {
        let (w, h) = (37usize, 29usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
        let luma = crate::srm::luma_par(&img);
        let want = crate::common::filter2d(&luma, w, h, &bayar_kernel(), 5, 5);
        let (rms, _, raw) = crate::srm::strip_filter(&img, 2, 8, bayar_row);
        for (a, b) in rms.iter().zip(&want) {
            assert!((a - b.abs()).abs() < 1e-3, "{a} vs {b}");
        }
        let raw_ref: f64 = want.iter().map(|v| (v * v) as f64).sum();
        assert!((raw - raw_ref).abs() < 1e-4 * raw_ref);
    }

    #[test]
    fn flat_image_has_zero_residual_and_small_images_error() {
        let rgb = vec![77u8; 40 * 40 * 3];
        let img = ImageRef::from_rgb(40, 40, &rgb).unwrap();
        let out = Bayar.run(&img, &json!({})).unwrap();
        assert!(out.stats["residual_std"].as_f64().unwrap() < 1e-4);
        let small = vec![0u8; 7 * 7 * 3];
        let img = ImageRef::from_rgb(7, 7, &small).unwrap();
        assert!(Bayar.run(&img, &json!({})).unwrap_err().to_string().contains("at least"));
        assert!(Bayar.run(&img, &json!({"block": 2})).is_err());
    }
}

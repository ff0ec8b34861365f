//! Laplacian high-pass of luma (OpenCV `cv2.Laplacian`, BORDER_REFLECT_101).

use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{robust_z, top_regions};
use crate::sobel::{band_block_sums, band_rows, fast_visual, luma_bands, map3x3, map_for_visual, stencil_row};

/// `cv2.Laplacian(ksize=1)`: the 4-neighbour kernel.
pub const LAPLACIAN_K1: [f32; 9] = [0.0, 1.0, 0.0, 1.0, -4.0, 1.0, 0.0, 1.0, 0.0];
/// `cv2.Laplacian(ksize=3)`: OpenCV's 3x3 aperture kernel (sum of the 3x3 second
/// derivative Sobel kernels).
pub const LAPLACIAN_K3: [f32; 9] = [2.0, 0.0, 2.0, 0.0, -8.0, 0.0, 2.0, 0.0, 2.0];

/// [`LAPLACIAN_K1`] on one 3x3 neighbourhood. Only the non-zero taps, added in the
/// order `conv3x3` adds them: the skipped `0 * v` terms can change only the sign of
/// a zero result, so values match `conv3x3` exactly (`-0.0 == 0.0`).
#[inline(always)]
fn lap_k1(p: [f32; 9]) -> f32 {
    p[1] + p[3] + -4.0 * p[4] + p[5] + p[7]
}

/// [`LAPLACIAN_K3`] on one 3x3 neighbourhood (non-zero taps only, as [`lap_k1`]).
#[inline(always)]
fn lap_k3(p: [f32; 9]) -> f32 {
    2.0 * p[0] + 2.0 * p[2] + -8.0 * p[4] + 2.0 * p[6] + 2.0 * p[8]
}

/// The Laplacian response for `ksize` 1 or 3 (anything else is treated as 1).
pub fn laplacian_response(luma: &[f32], w: usize, h: usize, ksize: usize) -> Vec<f32> {
    if ksize == 3 {
        map3x3(luma, w, h, lap_k3)
    } else {
        map3x3(luma, w, h, lap_k1)
    }
}

/// |Laplacian| of the image's luma in one fused pass per band of rows, with the tile
/// sums ([`band_block_sums`]) of each band: `(abs, tile sums, total of abs)`.
/// `abs` is empty when the caller reads no visual (the only reader of the full map).
fn abs_response(image: &ImageRef<'_>, ksize: usize, block: usize) -> (Vec<f32>, Vec<f64>, f64) {
    let (w, h) = (image.width, image.height);
    let mut abs = map_for_visual(image, w * h);
    let bands = luma_bands(image, band_rows(block), |v| v, &mut abs, |y0, l, out| {
        pulp::Arch::new().dispatch(LaplacianBand { w, h, y0, block, ksize, l, out })
    });
    let total = bands.iter().map(|b| b.1).sum();
    (abs, bands.into_iter().flat_map(|b| b.0).collect(), total)
}

/// One band of [`abs_response`], as a [`pulp::WithSimd`] so the stencil and sums
/// are compiled for AVX2 (see [`crate::common::simd`]).
struct LaplacianBand<'a> {
    w: usize,
    h: usize,
    y0: usize,
    block: usize,
    ksize: usize,
    l: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for LaplacianBand<'_> {
    type Output = (Vec<f64>, f64);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Self::Output {
        let LaplacianBand { w, h, y0, block, ksize, l, out } = self;
        for (j, row) in out.chunks_exact_mut(w).enumerate() {
            let (r0, r1, r2) = (&l[j * w..][..w], &l[(j + 1) * w..][..w], &l[(j + 2) * w..][..w]);
            if ksize == 3 {
                stencil_row(r0, r1, r2, row, |p| lap_k3(p).abs());
            } else {
                stencil_row(r0, r1, r2, row, |p| lap_k1(p).abs());
            }
        }
        band_block_sums(out, w, h, y0, block)
    }
}

trutheye_plugin_api::params! {
    /// Parameters of [`Laplacian`].
    pub struct LaplacianParams {
        /// OpenCV aperture: 1 = 4-neighbour kernel, 3 = diagonal 3x3 kernel
        pub ksize: i32 = 1, one_of(1, 3);
        /// block side in pixels for the heat-map
        pub block: usize = 16, range(4, 256);
    }
}

/// Laplacian high-frequency energy.
#[derive(Default)]
pub struct Laplacian;

impl Operator for Laplacian {
    const NAME: &'static str = "laplacian";
    const DESCRIPTION: &'static str = "Laplacian high-pass of luma (cv2.Laplacian; ksize=1 kernel \
        [[0,1,0],[1,-4,1],[0,1,0]], ksize=3 kernel [[2,0,2],[0,-8,0],[2,0,2]]). The visual shows |response| \
        (bright = fine detail/noise). The heat-map is |robust z| of each block's log mean |response|: blocks \
        much sharper or much smoother than the image's typical high-frequency level (pasted, blurred, \
        inpainted or denoised areas). `smooth_z` reports the strongest unusually smooth block.";
    const CATEGORY: &'static str = "edge";
    type Params = LaplacianParams;

    fn analyze(&self, image: &ImageRef<'_>, p: LaplacianParams) -> Result<Output, OperatorError> {
        // `one_of(1, 3)` admits only positive values, so the cast is exact.
        let (ksize, block) = (p.ksize as usize, p.block);
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(OperatorError::Image(format!("laplacian needs an image of at least one {block}x{block} block, got {w}x{h}")));
        }
        let (abs, sums, total) = abs_response(image, ksize, block);
        let hf_energy = (total / (w * h) as f64) as f32;
        let (bw, bh) = (w / block, h / block);
        let area = (block * block) as f64;
        let logm: Vec<f32> = sums.iter().map(|s| ((s / area) as f32).ln_1p()).collect();
        let (z, _, _) = robust_z(&logm);
        let sharp_z = z.iter().copied().fold(f32::MIN, f32::max);
        let smooth_z = -z.iter().copied().fold(f32::MAX, f32::min);
        let heat: Vec<f32> = z.iter().map(|v| v.abs()).collect();
        let anomaly_z = sharp_z.max(smooth_z);
        let regions = top_regions(&heat, bw, bh, block, 3.0, 5);
        let summary = match regions.first() {
            Some(r) => {
                let i = (r.bbox[1] as usize / block) * bw + r.bbox[0] as usize / block;
                let kind = if z.get(i).copied().unwrap_or(0.0) < 0.0 { "smoother" } else { "sharper" };
                format!(
                    "Laplacian (ksize={ksize}): mean |response| {hf_energy:.2}; most anomalous block region \
                     [{},{},{},{}] is {kind} than typical (|z|={:.1}); sharpest z={sharp_z:.1}, smoothest z=-{smooth_z:.1}.",
                    r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], r.score
                )
            }
            None => format!("Laplacian (ksize={ksize}): mean |response| {hf_energy:.2}."),
        };
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "hf_energy": hf_energy,
                "smooth_z": smooth_z,
                "sharp_z": sharp_z,
                "ksize": ksize,
                "block": block,
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual(&abs)).into_iter().chain([Map::heatmap("hf_energy_abs_z", bw, bh, heat)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn kernels_are_opencv_laplacian() {
        assert_eq!(LAPLACIAN_K1, [0., 1., 0., 1., -4., 1., 0., 1., 0.]);
        assert_eq!(LAPLACIAN_K3, [2., 0., 2., 0., -8., 0., 2., 0., 2.]);
    }

    #[test]
    fn hand_computed_response() {
        // A single bright pixel of 10 in the centre of a 3x3 zero image. At the edge
        // midpoints reflect-101 mirrors the centre onto the outside neighbour too: 2 * 10.
        let mut src = [0f32; 9];
        src[4] = 10.0;
        assert_eq!(laplacian_response(&src, 3, 3, 1), vec![0., 20., 0., 20., -40., 20., 0., 20., 0.]);
        // ksize=3: diagonals see the centre with weight 2; corner (0,0) also sees it via
        // reflect-101 at (-1,-1) -> (1,1), (1,-1) -> (1,1), (-1,1) -> (1,1): 4 * 2 * 10 = 80.
        assert_eq!(laplacian_response(&src, 3, 3, 3), vec![80., 0., 80., 0., -80., 0., 80., 0., 80.]);
    }

    #[test]
    fn finds_blurred_patch_and_validates() {
        let (w, h) = (128usize, 96usize);
        let mut s = 7u32;
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                let v = if (64..96).contains(&x) && (32..64).contains(&y) { 120 } else { 80 + (s >> 26) as u8 };
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
        let out = Laplacian.run(&img, &json!({})).unwrap();
        let b = out.regions[0].bbox;
        assert!(b[0] >= 48 && b[2] <= 112 && b[1] >= 16 && b[3] <= 80, "{b:?}");
        assert!(out.stats["smooth_z"].as_f64().unwrap() > 3.0);
        assert!(Laplacian.run(&img, &json!({"ksize": 2})).is_err());
        assert!(Laplacian.run(&img, &json!({"ksize": 5})).is_err());
        assert!(Laplacian.run(&img, &json!({"ksize": 3})).is_ok());
        let one = [1u8, 2, 3];
        assert!(Laplacian.run(&ImageRef::from_rgb(1, 1, &one).unwrap(), &json!({})).is_err());
    }
}

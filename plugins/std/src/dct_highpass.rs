//! 8x8 block DCT high-pass residual of luma.
//!
//! Each full 8x8 block (grid anchored at (0, 0), like JPEG) gets an orthonormal
//! DCT-II (identical to `scipy.fft.dctn(block, norm='ortho')`), coefficients with
//! `u + v < cutoff` are zeroed, and the inverse DCT gives the high-pass residual.
//! Pixels in the partial strips at the right/bottom edges (when the size is not a
//! multiple of 8) get residual 0 and are excluded from all statistics.

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{require_size, top_regions};
use crate::srm::{block_sq_sums, fast_visual_with, lane_sum_sq, BlockZ};

/// Orthonormal DCT-II matrix `D[u][x] = c(u) cos((2x+1)uπ/16)`.
pub fn dct8_matrix() -> [[f32; 8]; 8] {
    let mut d = [[0f32; 8]; 8];
    for (u, row) in d.iter_mut().enumerate() {
        let c = if u == 0 { (1.0f64 / 8.0).sqrt() } else { (2.0f64 / 8.0).sqrt() };
        for (x, v) in row.iter_mut().enumerate() {
            *v = (c * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()) as f32;
        }
    }
    d
}

/// `scipy.fft.dctn(block, norm='ortho')` of an 8x8 block (row-major, `[v][u]` = row v, column u).
#[inline(always)]
pub fn dct8(block: &[f32; 64], d: &[[f32; 8]; 8]) -> [f32; 64] {
    // T = B Dᵀ (rows), C = D T (columns); written as row += scalar * row so it vectorises.
    let dt = transpose8(d);
    let mut t = [[0f32; 8]; 8];
    for y in 0..8 {
        for x in 0..8 {
            let b = block[y * 8 + x];
            for u in 0..8 {
                t[y][u] += b * dt[x][u];
            }
        }
    }
    let mut out = [0f32; 64];
    for v in 0..8 {
        for y in 0..8 {
            let c = d[v][y];
            for u in 0..8 {
                out[v * 8 + u] += c * t[y][u];
            }
        }
    }
    out
}

#[inline(always)]
fn transpose8(d: &[[f32; 8]; 8]) -> [[f32; 8]; 8] {
    let mut t = [[0f32; 8]; 8];
    for i in 0..8 {
        for j in 0..8 {
            t[j][i] = d[i][j];
        }
    }
    t
}

/// Inverse of [`dct8`].
#[inline(always)]
pub fn idct8(coef: &[f32; 64], d: &[[f32; 8]; 8]) -> [f32; 64] {
    // T = C D (rows), X = Dᵀ T (columns).
    let mut t = [[0f32; 8]; 8];
    for v in 0..8 {
        for u in 0..8 {
            let c = coef[v * 8 + u];
            for x in 0..8 {
                t[v][x] += c * d[u][x];
            }
        }
    }
    let mut out = [0f32; 64];
    for y in 0..8 {
        for v in 0..8 {
            let c = d[v][y];
            for x in 0..8 {
                out[y * 8 + x] += c * t[v][x];
            }
        }
    }
    out
}

/// High-pass residual of luma; returns `(residual, kept AC energy, total AC energy)`.
pub(crate) fn dct_highpass(luma: &[f32], w: usize, h: usize, cutoff: usize) -> (Vec<f32>, f64, f64) {
    let d = dct8_matrix();
    let (nbx, nby) = (w / 8, h / 8);
    let mut res = vec![0f32; w * h];
    let (kept, total) = res
        .par_chunks_mut(8 * w)
        .take(nby)
        .enumerate()
        .map(|(by, rows)| pulp::Arch::new().dispatch(DctBand { luma, w, by, nbx, cutoff, d: &d, rows }))
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    (res, kept, total)
}

/// One row of 8x8 blocks of [`dct_highpass`] (image rows `8 by ..`, written to
/// `rows`), as a [`pulp::WithSimd`] so the transforms, inlined, are compiled for AVX2
/// (see [`crate::common::simd`]). Returns the row's `(kept, total)` AC energy.
struct DctBand<'a> {
    luma: &'a [f32],
    w: usize,
    by: usize,
    nbx: usize,
    cutoff: usize,
    d: &'a [[f32; 8]; 8],
    rows: &'a mut [f32],
}

impl pulp::WithSimd for DctBand<'_> {
    type Output = (f64, f64);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> (f64, f64) {
        let DctBand { luma, w, by, nbx, cutoff, d, rows } = self;
        let d = *d;
        let (mut kept, mut total) = (0f64, 0f64);
        for bx in 0..nbx {
            let mut b = [0f32; 64];
            for y in 0..8 {
                let o = (by * 8 + y) * w + bx * 8;
                b[y * 8..y * 8 + 8].copy_from_slice(&luma[o..o + 8]);
            }
            let mut c = dct8(&b, &d);
            for v in 0..8 {
                for u in 0..8 {
                    let e = (c[v * 8 + u] as f64).powi(2);
                    if u + v > 0 {
                        total += e;
                    }
                    if u + v < cutoff {
                        c[v * 8 + u] = 0.0;
                    } else if u + v > 0 {
                        kept += e;
                    }
                }
            }
            let r = idct8(&c, &d);
            for y in 0..8 {
                rows[y * w + bx * 8..y * w + bx * 8 + 8].copy_from_slice(&r[y * 8..y * 8 + 8]);
            }
        }
        (kept, total)
    }
}

trutheye_plugin_api::params! {
    /// Parameters of [`DctHighpass`].
    pub struct DctHighpassParams {
        /// DCT coefficients with u+v below this are zeroed
        pub cutoff: usize = 4, range(0, 14);
        /// side in pixels of the square blocks whose statistics are compared (partial blocks at the right/bottom edges are ignored)
        pub block: usize = 32, range(8, 256);
    }
}

/// Block-DCT high-pass operator.
#[derive(Default)]
pub struct DctHighpass;

impl Operator for DctHighpass {
    const NAME: &'static str = "dct_highpass";
    const DESCRIPTION: &'static str = "8x8 block DCT high-pass of luma (JPEG grid): DCT coefficients with u+v < cutoff are \
        removed and the block transformed back. The visual shows |residual| (bright = fine detail/noise kept by the \
        filter); the heat-map is the robust z of block residual energy (high = unusually much high-frequency content, \
        strongly negative = unusually smooth: see smooth_z). hf_ratio is the share of AC energy at u+v ≥ cutoff; \
        heavy JPEG compression, blur or upscaling lower it.";
    const CATEGORY: &'static str = "frequency";
    type Params = DctHighpassParams;

    fn analyze(&self, image: &ImageRef<'_>, p: DctHighpassParams) -> Result<Output, OperatorError> {
        let (cutoff, block) = (p.cutoff, p.block);
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, block.max(8))?;
        let luma = crate::srm::luma_par(image);
        let (res, kept, total) = dct_highpass(&luma, w, h, cutoff);
        let hf_ratio = if total > 0.0 { (kept / total) as f32 } else { 0.0 };
        // Analyse only the area covered by full 8x8 blocks.
        let (aw, ah) = (w / 8 * 8, h / 8 * 8);
        if aw < block || ah < block {
            return Err(OperatorError::Image(format!(
                "{} needs at least {block}x{block} pixels covered by full 8x8 blocks, got {w}x{h}",
                Self::NAME
            )));
        }
        // Block energies straight from the residual (no energy map is materialised).
        let (sums, bw, bh) = block_sq_sums(&res, w, aw, ah, block);
        let bz = BlockZ::from_sums(&sums, bw, bh, block);
        let n_px = (aw * ah).max(1) as f64;
        let sq: f64 = res.par_chunks(w).take(ah).map(|row| lane_sum_sq(&row[..aw])).sum();
        let residual_std = (sq / n_px).sqrt() as f32;
        let (ia, anomaly_z) = bz.extreme(1.0);
        let (is, smooth_z) = bz.extreme(-1.0);
        let regions = top_regions(&bz.z, bz.bw, bz.bh, block, 3.0, 5);
        let summary = format!(
            "8x8 DCT high-pass (u+v ≥ {cutoff}): strongest block at {:?} is {anomaly_z:.1}σ above the image median, \
             smoothest at {:?} is {smooth_z:.1}σ below; {:.1}% of AC energy is high-frequency; residual std {residual_std:.2}.",
            bz.bbox(ia),
            bz.bbox(is),
            100.0 * hf_ratio
        );
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z, "smooth_z": smooth_z, "hf_ratio": hf_ratio, "residual_std": residual_std,
                "cutoff": cutoff, "block": block, "blocks": [bz.bw, bz.bh]
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual_with(&res, f32::abs)).into_iter().chain([Map::heatmap("energy_z", bz.bw, bz.bh, bz.z)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn dct_known_answers() {
        let d = dct8_matrix();
        // Constant block of 10: only DC = 8 * 10 (orthonormal: sum / sqrt(64) * 8).
        let c = dct8(&[10.0; 64], &d);
        assert!((c[0] - 80.0).abs() < 1e-4);
        assert!(c[1..].iter().all(|v| v.abs() < 1e-4));
        // A pure (u=1, v=0) cosine basis function maps to a single unit coefficient.
        let mut b = [0f32; 64];
        for y in 0..8 {
            for x in 0..8 {
                b[y * 8 + x] = d[1][x] * d[0][y];
            }
        }
        let c = dct8(&b, &d);
        assert!((c[1] - 1.0).abs() < 1e-5, "{}", c[1]);
        assert!(c.iter().enumerate().filter(|(i, _)| *i != 1).all(|(_, v)| v.abs() < 1e-5));
        // Round trip.
        let x: [f32; 64] = std::array::from_fn(|i| ((i * 37) % 11) as f32);
        let y = idct8(&dct8(&x, &d), &d);
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-4));
    }

    #[test]
    fn cutoff_zero_keeps_everything_and_low_freq_image_has_no_residual() {
        let (w, h) = (19usize, 17usize);
        let luma: Vec<f32> = (0..w * h).map(|i| ((i * 53) % 29) as f32).collect();
        let (res, kept, total) = dct_highpass(&luma, w, h, 0);
        assert!((kept - total).abs() < 1e-3 * total.max(1.0));
        for y in 0..16 {
            for x in 0..16 {
                assert!((res[y * w + x] - luma[y * w + x]).abs() < 1e-3);
            }
        }
        assert_eq!(res[16], 0.0); // partial strip
        // A linear ramp inside a block has only u+v <= 1 ... plus small odd terms; cutoff 1 removes DC only.
        let flat = vec![42.0f32; 64];
        let (res, _, _) = dct_highpass(&flat, 8, 8, 4);
        assert!(res.iter().all(|v| v.abs() < 1e-4));
    }

    #[test]
    fn sizes_and_params() {
        for (w, h) in [(1usize, 1usize), (7, 7), (9, 8), (37, 29), (40, 40)] {
            let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
            let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
            let r = DctHighpass.run(&img, &json!({"block": 8}));
            if w < 8 || h < 8 {
                assert!(r.is_err());
            } else {
                assert!(r.unwrap().maps.iter().all(|m| m.is_consistent()));
            }
        }
        let rgb = vec![0u8; 64 * 64 * 3];
        let img = ImageRef::from_rgb(64, 64, &rgb).unwrap();
        assert!(DctHighpass.run(&img, &json!({"cutoff": 15})).is_err());
        assert!(DctHighpass.run(&img, &json!({"cutoff": -1})).is_err());
    }
}

//! Haar 2-D discrete wavelet transform of luma, matching PyWavelets
//! `pywt.dwt2(x, 'haar', mode='symmetric')` exactly (for Haar, modes
//! `symmetric` and `periodization` give identical coefficients, odd sizes
//! included: both extend an odd row by repeating its last sample).
//!
//! Sub-band naming follows PyWavelets' `(cA, (cH, cV, cD))`:
//! `ll` = cA, `lh` = cH (horizontal detail: high-pass down the columns),
//! `hl` = cV (vertical detail: high-pass along the rows), `hh` = cD.
//! With `x = [[a, b], [c, d]]`: `ll = (a+b+c+d)/2`, `lh = (a+b−c−d)/2`,
//! `hl = (a−b+c−d)/2`, `hh = (a−b−c+d)/2`. Multi-level = repeat on `ll`.

use rayon::prelude::*;
use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{require_size, top_regions};
use crate::srm::{block_sq_sums, fast_visual, fast_visual_with, lane_sum_sq, BlockZ};

/// One level of sub-bands, each `sw x sh = ceil(w/2) x ceil(h/2)`.
pub struct Subbands {
    pub sw: usize,
    pub sh: usize,
    pub ll: Vec<f32>,
    pub lh: Vec<f32>,
    pub hl: Vec<f32>,
    pub hh: Vec<f32>,
}

/// One Haar level (PyWavelets `dwt2(x, 'haar', mode='symmetric')`).
pub fn haar2(x: &[f32], w: usize, h: usize) -> Subbands {
    let (sw, sh) = (w.div_ceil(2), h.div_ceil(2));
    let mut ll = vec![0f32; sw * sh];
    let mut lh = vec![0f32; sw * sh];
    let mut hl = vec![0f32; sw * sh];
    let mut hh = vec![0f32; sw * sh];
    ll.par_chunks_mut(sw)
        .zip(lh.par_chunks_mut(sw))
        .zip(hl.par_chunks_mut(sw).zip(hh.par_chunks_mut(sw)))
        .enumerate()
        .for_each(|(j, ((ll, lh), (hl, hh)))| {
            let (y0, y1) = (2 * j, (2 * j + 1).min(h - 1));
            let (r0, r1) = (&x[y0 * w..y0 * w + w], &x[y1 * w..y1 * w + w]);
            pulp::Arch::new().dispatch(HaarRow { r0, r1, out: [ll, lh, hl, hh] });
        });
    Subbands { sw, sh, ll, lh, hl, hh }
}

/// One output row of [`haar2`] from input rows `r0`, `r1`, as a [`pulp::WithSimd`]
/// so the loop is compiled for AVX2 (see [`crate::common::simd`]).
struct HaarRow<'a> {
    r0: &'a [f32],
    r1: &'a [f32],
    out: [&'a mut [f32]; 4],
}

impl pulp::WithSimd for HaarRow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let HaarRow { r0, r1, out: [ll, lh, hl, hh] } = self;
        let px = |a: f32, b: f32, c: f32, d: f32| {
            (0.5 * (a + b + c + d), 0.5 * (a + b - c - d), 0.5 * (a - b + c - d), 0.5 * (a - b - c + d))
        };
        // Full column pairs as exact chunks (no clamped indices, so it vectorises);
        // an odd last column pairs with itself (symmetric extension).
        let pairs = r0.len() / 2;
        let outs = ll.iter_mut().zip(lh.iter_mut()).zip(hl.iter_mut().zip(hh.iter_mut()));
        for (((a, b), (c, d)), (p, q)) in outs.zip(r0.chunks_exact(2).zip(r1.chunks_exact(2))) {
            (*a, *b, *c, *d) = px(p[0], p[1], q[0], q[1]);
        }
        if r0.len() % 2 == 1 && pairs < ll.len() {
            let (a, c) = (r0[r0.len() - 1], r1[r1.len() - 1]);
            (ll[pairs], lh[pairs], hl[pairs], hh[pairs]) = px(a, a, c, c);
        }
    }
}

fn mean_sq(v: &[f32]) -> f64 {
    v.par_chunks(1 << 16).map(lane_sum_sq).sum::<f64>() / v.len().max(1) as f64
}

/// Writes `src` (`sw x sh`) into `canvas` (`cw` wide) at `(x0, y0)`, clipped.
#[allow(clippy::too_many_arguments)]
fn blit(canvas: &mut [u8], cw: usize, ch: usize, src: &[u8], sw: usize, sh: usize, x0: usize, y0: usize) {
    if x0 >= cw {
        return;
    }
    let n = sw.min(cw - x0);
    for y in 0..sh.min(ch.saturating_sub(y0)) {
        let o = (y0 + y) * cw + x0;
        canvas[o..o + n].copy_from_slice(&src[y * sw..y * sw + n]);
    }
}

trutheye_plugin_api::params! {
    /// Parameters of [`DwtSubbands`].
    pub struct DwtParams {
        /// number of decomposition levels
        pub levels: usize = 1, range(1, 4);
        /// side in image pixels of the blocks whose level-1 HH energy is compared (even; shrunk to fit images smaller than one block)
        pub block: usize = 32, range(2, 256);
    }
}

/// Haar DWT sub-band operator.
#[derive(Default)]
pub struct DwtSubbands;

impl Operator for DwtSubbands {
    const NAME: &'static str = "dwt_subbands";
    const DESCRIPTION: &'static str = "Haar 2-D wavelet decomposition of luma (PyWavelets dwt2 'haar' layout). The visual \
        tiles the sub-bands like PyWavelets: top-left approximation (recursively for more levels), top-right LH \
        (horizontal edges), bottom-left HL (vertical edges), bottom-right HH (diagonal detail/noise), each shown as \
        magnitude. The heat-map is the robust z of level-1 HH energy per block: bright blocks carry unusually much \
        fine diagonal detail/noise, strongly negative values (smooth_z) unusually little (smoothed, inpainted or \
        synthetic). hh_ratio = HH/(LH+HL) energy: low for smooth/upsampled content, ≈1 for sensor noise.";
    const CATEGORY: &'static str = "frequency";
    type Params = DwtParams;

    fn analyze(&self, image: &ImageRef<'_>, p: DwtParams) -> Result<Output, OperatorError> {
        let (levels, block) = (p.levels, p.block);
        if block % 2 != 0 {
            return Err(OperatorError::Params(format!("parameter `block` = {block} must be even")));
        }
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, 1 << levels)?;
        let mut cur = crate::srm::luma_par(image);
        let (mut cw, mut chh) = (w, h);
        let mut bands: Vec<Subbands> = Vec::with_capacity(levels);
        for _ in 0..levels {
            let sb = haar2(&cur, cw, chh);
            cw = sb.sw;
            chh = sb.sh;
            cur = sb.ll.clone();
            bands.push(sb);
        }
        let level_stats: Vec<Value> = bands
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (ll, lh, hl, hh) = (mean_sq(&b.ll), mean_sq(&b.lh), mean_sq(&b.hl), mean_sq(&b.hh));
                json!({"level": i + 1, "ll_energy": ll, "lh_energy": lh, "hl_energy": hl, "hh_energy": hh,
                       "hh_ratio": if lh + hl > 0.0 { hh / (lh + hl) } else { 0.0 }})
            })
            .collect();
        // Heat-map: level-1 HH energy per block of `block/2` coefficients.
        let b1 = &bands[0];
        let cb = (block / 2).min(b1.sw).min(b1.sh).max(1);
        let (sums, bw, bh) = block_sq_sums(&b1.hh, b1.sw, b1.sw, b1.sh, cb);
        let bz = BlockZ::from_sums(&sums, bw, bh, cb);
        let bz = BlockZ { block: 2 * cb, ..bz };
        let (ia, anomaly_z) = bz.extreme(1.0);
        let (is, smooth_z) = bz.extreme(-1.0);
        let regions = top_regions(&bz.z, bz.bw, bz.bh, bz.block, 3.0, 5);
        // Visual: PyWavelets tiling, detail bands as magnitude.
        let (vw, vh) = (2 * b1.sw, 2 * b1.sh);
        let render = || {
            let mut canvas = vec![0u8; vw * vh];
            for (i, b) in bands.iter().enumerate().rev() {
                let (ox, oy) = (0, 0); // every level's sub-bands tile the top-left LL area
                let abs = |v: &[f32]| -> Vec<u8> { fast_visual_with(v, f32::abs) };
                if i + 1 == levels {
                    blit(&mut canvas, vw, vh, &fast_visual(&b.ll), b.sw, b.sh, ox, oy);
                }
                blit(&mut canvas, vw, vh, &abs(&b.lh), b.sw, b.sh, ox + b.sw, oy);
                blit(&mut canvas, vw, vh, &abs(&b.hl), b.sw, b.sh, ox, oy + b.sh);
                blit(&mut canvas, vw, vh, &abs(&b.hh), b.sw, b.sh, ox + b.sw, oy + b.sh);
            }
            canvas
        };
        let l1 = &level_stats[0];
        let hh_ratio = l1["hh_ratio"].as_f64().unwrap_or(0.0);
        let summary = format!(
            "Haar DWT ({levels} level{}): level-1 HH/(LH+HL) energy ratio {hh_ratio:.3}; strongest HH block at {:?} is \
             {anomaly_z:.1}σ above the image median, smoothest at {:?} is {smooth_z:.1}σ below.",
            if levels > 1 { "s" } else { "" },
            bz.bbox(ia),
            bz.bbox(is)
        );
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z, "smooth_z": smooth_z, "hh_ratio": hh_ratio,
                "ll_energy": l1["ll_energy"], "lh_energy": l1["lh_energy"],
                "hl_energy": l1["hl_energy"], "hh_energy": l1["hh_energy"],
                "levels": level_stats, "block": bz.block, "blocks": [bz.bw, bz.bh]
            }),
            maps: Map::visual_for(image, "visual", vw, vh, 1, render).into_iter().chain([Map::heatmap("hh_energy_z", bz.bw, bz.bh, bz.z)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn haar_of_a_2x2_block_by_hand() {
        // [[1, 2], [3, 5]] -> PyWavelets: cA 5.5, cH -2.5, cV -1.5, cD 0.5
        let sb = haar2(&[1.0, 2.0, 3.0, 5.0], 2, 2);
        assert_eq!((sb.ll[0], sb.lh[0], sb.hl[0], sb.hh[0]), (5.5, -2.5, -1.5, 0.5));
        let rgb: Vec<u8> = [1u8, 2, 3, 5].iter().flat_map(|&v| [v, v, v]).collect();
        let img = ImageRef::from_rgb(2, 2, &rgb).unwrap();
        let out = DwtSubbands.run(&img, &json!({"block": 2})).unwrap();
        let s = &out.stats;
        assert!((s["ll_energy"].as_f64().unwrap() - 30.25).abs() < 1e-3);
        assert!((s["lh_energy"].as_f64().unwrap() - 6.25).abs() < 1e-3);
        assert!((s["hl_energy"].as_f64().unwrap() - 2.25).abs() < 1e-3);
        assert!((s["hh_energy"].as_f64().unwrap() - 0.25).abs() < 1e-3);
        assert!((s["hh_ratio"].as_f64().unwrap() - 0.25 / 8.5).abs() < 1e-4);
    }

    #[test]
    fn odd_sizes_repeat_the_last_sample() {
        // 3x1: [1, 2, 4] -> ll row pairs (1,2), (4,4); single row repeated.
        let sb = haar2(&[1.0, 2.0, 4.0], 3, 1);
        assert_eq!(sb.sw, 2);
        assert_eq!(sb.ll, vec![3.0, 8.0]);
        assert_eq!(sb.hl, vec![-1.0, 0.0]);
    }

    #[test]
    fn sizes_and_params() {
        for (w, h) in [(1usize, 1usize), (7, 7), (37, 29), (64, 48)] {
            let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
            let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
            let r = DwtSubbands.run(&img, &json!({"levels": 2}));
            if w < 4 {
                assert!(r.is_err());
            } else {
                let out = r.unwrap();
                assert!(out.maps.iter().all(|m| m.is_consistent()));
                assert_eq!(out.stats["levels"].as_array().unwrap().len(), 2);
            }
        }
        let rgb = vec![0u8; 16 * 16 * 3];
        let img = ImageRef::from_rgb(16, 16, &rgb).unwrap();
        assert!(DwtSubbands.run(&img, &json!({"levels": 5})).is_err());
        assert!(DwtSubbands.run(&img, &json!({"block": 3})).is_err());
    }
}

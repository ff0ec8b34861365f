//! PRNU-style single-image noise analysis.
//!
//! 1. Noise residual `W = I − wiener3(I)` on luma, where `wiener3` is the local
//!    adaptive Wiener filter of `scipy.signal.wiener(I, 3)` (3x3 local mean and
//!    variance, noise power = mean local variance; reflect-101 borders here).
//! 2. Row and column means of `W` are subtracted (removes linear/periodic
//!    row-column patterns, as in Lukáš–Fridrich–Goljan).
//! 3. For each block `b`, the multiplicative fingerprint gain is estimated from the
//!    OTHER blocks, `K̂₋b = Σ_{¬b} W·I / Σ_{¬b} I²` (leave-block-out), and the
//!    block's residual is correlated with the predicted pattern `K̂₋b·I`
//!    (normalised cross-correlation, `ρ_b`).
//! 4. Heat-map per block = max(−z(ρ_b), |z(ln noise energy_b)|): blocks whose noise
//!    fails to match the image-wide pattern, or whose noise level differs.
//!
//! With a single image the fingerprint is a scalar gain (a per-pixel PRNU needs
//! several images of the camera), so the noise-level term is the stronger cue.

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{reflect, require_size, robust_z, top_regions};
use crate::srm::{fast_visual, BlockZ};

/// 3x3 local mean and variance (reflect-101 borders, same as `filter2d` with a
/// 1/9 box), computed separably: horizontal 3-sums of `I` and `I²` per row, then
/// vertical sums of three rows.
pub(crate) fn box3_mean_var(src: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let mut hs = vec![0f32; w * h];
    let mut hs2 = vec![0f32; w * h];
    hs.par_chunks_mut(w).zip(hs2.par_chunks_mut(w)).enumerate().for_each(|(y, (a, a2))| {
        let row = &src[y * w..y * w + w];
        for x in 0..w {
            let (l, r) = (row[reflect(x as isize - 1, w)], row[reflect(x as isize + 1, w)]);
            let c = row[x];
            a[x] = l + c + r;
            a2[x] = l * l + c * c + r * r;
        }
    });
    let mut mean = vec![0f32; w * h];
    let mut var = vec![0f32; w * h];
    mean.par_chunks_mut(w).zip(var.par_chunks_mut(w)).enumerate().for_each(|(y, (m, v))| {
        let (u, d) = (reflect(y as isize - 1, h), reflect(y as isize + 1, h));
        for x in 0..w {
            let s = (hs[u * w + x] + hs[y * w + x] + hs[d * w + x]) / 9.0;
            let s2 = (hs2[u * w + x] + hs2[y * w + x] + hs2[d * w + x]) / 9.0;
            m[x] = s;
            v[x] = (s2 - s * s).max(0.0);
        }
    });
    (mean, var)
}

/// The Wiener residual `I − wiener3(I)` with row/column means removed, and the
/// plain local-mean residual `I − box3(I)` (used for the noise level: the adaptive
/// Wiener residual shrinks where local variance is high, so it is not monotone in
/// the noise level).
pub(crate) fn prnu_residual(luma: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let (mean, var) = box3_mean_var(luma, w, h);
    let noise = (var.par_iter().map(|&v| v as f64).sum::<f64>() / var.len().max(1) as f64) as f32;
    let mut res: Vec<f32> = luma
        .par_iter()
        .zip(mean.par_iter().zip(&var))
        .map(|(&i, (&m, &v))| {
            let den = if v < noise { 0.0 } else { 1.0 - noise / v.max(1e-12) };
            // I − (m + den (I − m)) = (I − m)(1 − den)
            (i - m) * (1.0 - den)
        })
        .collect();
    res.par_chunks_mut(w).for_each(|row| {
        let m = row.iter().map(|&v| v as f64).sum::<f64>() / w as f64;
        row.iter_mut().for_each(|v| *v -= m as f32);
    });
    let col: Vec<f64> = res
        .par_chunks(w)
        .fold(
            || vec![0f64; w],
            |mut acc, row| {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v as f64);
                acc
            },
        )
        .reduce(
            || vec![0f64; w],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let col: Vec<f32> = col.iter().map(|s| (s / h as f64) as f32).collect();
    res.par_chunks_mut(w).for_each(|row| row.iter_mut().zip(&col).for_each(|(v, c)| *v -= c));
    let hp: Vec<f32> = luma.par_iter().zip(&mean).map(|(i, m)| i - m).collect();
    (res, hp)
}

trutheye_plugin_api::params! {
    /// Parameters of [`Prnu`].
    pub struct PrnuParams {
        /// side in pixels of the square blocks whose statistics are compared (partial blocks at the right/bottom edges are ignored)
        pub block: usize = 64, range(8, 256);
    }
}

/// PRNU-style fingerprint consistency.
#[derive(Default)]
pub struct Prnu;

impl Operator for Prnu {
    const NAME: &'static str = "prnu";
    const DESCRIPTION: &'static str = "PRNU-style sensor-noise consistency: noise residual W = I − Wiener3x3(I) on luma \
        (row/column means removed), each block correlated with the image-wide multiplicative noise pattern K̂·I estimated \
        from the other blocks. Heat-map per block = the larger of (a) how far its correlation falls below the image \
        median (robust z) and (b) how far its noise level deviates (|robust z| of log energy of I − 3x3 mean). Pasted or \
        synthetic regions from another source tend to break the pattern or change the noise level (smooth_z = \
        unusually clean block). The visual is the residual W itself (mid-grey = 0).";
    const CATEGORY: &'static str = "noise";
    type Params = PrnuParams;

    fn analyze(&self, image: &ImageRef<'_>, p: PrnuParams) -> Result<Output, OperatorError> {
        let block = p.block;
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, block)?;
        let luma = crate::srm::luma_par(image);
        let (res, hp) = prnu_residual(&luma, w, h);
        let (bw, bh) = (w / block, h / block);
        // Per-block sums: [Σ W·I, Σ I², Σ W², Σ (I − box3 I)²].
        let sums: Vec<[f64; 4]> = (0..bw * bh)
            .into_par_iter()
            .map(|b| {
                let (bx, by) = (b % bw, b / bw);
                let mut s = [0f64; 4];
                for y in by * block..(by + 1) * block {
                    let o = y * w + bx * block;
                    for ((wv, iv), hv) in res[o..o + block].iter().zip(&luma[o..o + block]).zip(&hp[o..o + block]) {
                        s[0] += (wv * iv) as f64;
                        s[1] += (iv * iv) as f64;
                        s[2] += (wv * wv) as f64;
                        s[3] += (hv * hv) as f64;
                    }
                }
                s
            })
            .collect();
        let tot = sums.iter().fold([0f64; 4], |a, s| [a[0] + s[0], a[1] + s[1], a[2] + s[2], a[3] + s[3]]);
        let corr: Vec<f32> = sums
            .iter()
            .map(|s| {
                let den_k = tot[1] - s[1];
                let k = if den_k > 0.0 { (tot[0] - s[0]) / den_k } else { 0.0 };
                let den = (s[2] * s[1]).sqrt() * k.abs();
                if den > 0.0 && k != 0.0 { (s[0] * k / den) as f32 } else { 0.0 }
            })
            .collect();
        let (zc, _, _) = robust_z(&corr);
        let energy: Vec<f32> = sums.iter().map(|s| (s[3] / (block * block) as f64) as f32).collect();
        let logm: Vec<f32> = energy.iter().map(|v| (v + 1e-3).ln()).collect();
        let (ze, _, _) = robust_z(&logm);
        let heat: Vec<f32> = zc.iter().zip(&ze).map(|(c, e)| (-c).max(e.abs())).collect();
        let bzh = BlockZ { z: heat.clone(), bw, bh, block };
        let (ia, anomaly_z) = bzh.extreme(1.0);
        let bze = BlockZ { z: ze, bw, bh, block };
        let (is, smooth_z) = bze.extreme(-1.0);
        let (ic, corr_low_z) = BlockZ { z: zc, bw, bh, block }.extreme(-1.0);
        let noise_std = (tot[2] / (w * h) as f64).sqrt() as f32;
        let mean_block_corr = corr.iter().map(|&v| v as f64).sum::<f64>() as f32 / corr.len().max(1) as f32;
        let k_hat = if tot[1] > 0.0 { tot[0] / tot[1] } else { 0.0 };
        let regions = top_regions(&heat, bw, bh, block, 3.0, 5);
        let summary = format!(
            "PRNU noise consistency: most anomalous block at {:?} is {anomaly_z:.1}σ off (weakest fingerprint match at {:?}, \
             {corr_low_z:.1}σ below median correlation; smoothest block at {:?}, {smooth_z:.1}σ below median noise). \
             Noise residual std {noise_std:.2}, mean block correlation {mean_block_corr:.3}.",
            bzh.bbox(ia),
            bzh.bbox(ic),
            bze.bbox(is)
        );
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z, "smooth_z": smooth_z, "corr_low_z": corr_low_z,
                "noise_std": noise_std, "mean_block_corr": mean_block_corr, "k_hat": k_hat,
                "block": block, "blocks": [bw, bh]
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual(&res)).into_iter().chain([Map::heatmap("inconsistency_z", bw, bh, heat)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn residual_rows_and_columns_are_zero_mean() {
        let (w, h) = (33, 21);
        let luma: Vec<f32> = (0..w * h).map(|i| ((i * 7919) % 97) as f32 + (i % w) as f32).collect();
        let (r, _) = prnu_residual(&luma, w, h);
        for row in r.chunks(w) {
            assert!(row.iter().sum::<f32>().abs() / (w as f32) < 1e-3);
        }
        for x in 0..w {
            let s: f32 = (0..h).map(|y| r[y * w + x]).sum();
            assert!(s.abs() / (h as f32) < 1e-3);
        }
    }

    #[test]
    fn separable_box_matches_filter2d() {
        let (w, h) = (11, 6);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 31) % 17) as f32).collect();
        let (m, v) = box3_mean_var(&src, w, h);
        let m_ref = crate::common::filter2d(&src, w, h, &[1.0 / 9.0; 9], 3, 3);
        let sq: Vec<f32> = src.iter().map(|x| x * x).collect();
        let m2_ref = crate::common::filter2d(&sq, w, h, &[1.0 / 9.0; 9], 3, 3);
        for i in 0..w * h {
            assert!((m[i] - m_ref[i]).abs() < 1e-4);
            assert!((v[i] - (m2_ref[i] - m_ref[i] * m_ref[i]).max(0.0)).abs() < 1e-2);
        }
    }

    #[test]
    fn bad_params_and_sizes() {
        let rgb = vec![9u8; 7 * 7 * 3];
        let img = ImageRef::from_rgb(7, 7, &rgb).unwrap();
        assert!(Prnu.run(&img, &json!({})).is_err());
        let out = Prnu.run(&img, &json!({"block": 8}));
        assert!(out.is_err());
        let rgb = vec![9u8; 70 * 65 * 3];
        let img = ImageRef::from_rgb(70, 65, &rgb).unwrap();
        assert!(Prnu.run(&img, &json!({"block": "x"})).is_err());
        let out = Prnu.run(&img, &json!({"block": 16})).unwrap();
        assert!(out.maps.iter().all(|m| m.is_consistent()));
    }
}

//! SRM residuals: the three rich-model high-pass kernels used by RGB-N / ManTra-Net
//! (Fridrich & Kodovsky 2012), applied to luma, truncated, and summarised as
//! block residual energy.
//!
//! This file also holds small helpers shared by the other noise / frequency
//! operators of this group (`bayar`, `prnu`, `resampling`, `fft_residual`,
//! `dwt`, `dct_highpass`): parameter checking, a fast reflect-101 correlation,
//! block log-energy z-scores and the two-sided (noisy / smooth) report.

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, Region, OperatorError};

use crate::common::{block_means, reflect, require_size, robust_z, top_regions};
// Re-exported: the operators of this group import their shared helpers from here.
pub(crate) use crate::strips::{block_sq_sums, lane_sum, lane_sum_sq, strip_filter};

/// The KV ("square 5x5") kernel, integer weights; divide by [`SRM_DIVISORS`]`[0]` = 12.
pub const SRM_KV: [[i32; 5]; 5] = [
    [-1, 2, -2, 2, -1],
    [2, -6, 8, -6, 2],
    [-2, 8, -12, 8, -2],
    [2, -6, 8, -6, 2],
    [-1, 2, -2, 2, -1],
];
/// The second-order "square 3x3" kernel embedded in 5x5; divide by 4.
pub const SRM_SQ3: [[i32; 5]; 5] = [
    [0, 0, 0, 0, 0],
    [0, -1, 2, -1, 0],
    [0, 2, -4, 2, 0],
    [0, -1, 2, -1, 0],
    [0, 0, 0, 0, 0],
];
/// The horizontal second-order kernel embedded in 5x5; divide by 2.
pub const SRM_H2: [[i32; 5]; 5] = [
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
    [0, 1, -2, 1, 0],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
];
/// Normalisers of the three kernels, in order KV, SQ3, H2 (as in RGB-N).
pub const SRM_DIVISORS: [f32; 3] = [12.0, 4.0, 2.0];

/// The three kernels as flat normalised `f32` 5x5 arrays.
pub fn srm_kernels() -> [[f32; 25]; 3] {
    let mut out = [[0f32; 25]; 3];
    for (k, (kern, div)) in [SRM_KV, SRM_SQ3, SRM_H2].iter().zip(SRM_DIVISORS).enumerate() {
        for y in 0..5 {
            for x in 0..5 {
                out[k][y * 5 + x] = kern[y][x] as f32 / div;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Shared helpers (crate-private, used by the operators of this group)
// ---------------------------------------------------------------------------

/// BT.601 luma exactly as `ImageRef::luma` computes it, but in parallel.
pub(crate) fn luma_par(image: &ImageRef<'_>) -> Vec<f32> {
    let mut out = vec![0f32; image.rgb.len() / 3];
    out.par_chunks_mut(1 << 16).zip(image.rgb.par_chunks(3 << 16)).for_each(|(o, px)| crate::common::luma_row(px, o));
    out
}

/// Reflect-101 padding by `r` pixels on every side; returns the padded buffer and its width.
pub(crate) fn pad_reflect(src: &[f32], w: usize, h: usize, r: usize) -> (Vec<f32>, usize) {
    let pw = w + 2 * r;
    let mut out = vec![0f32; pw * (h + 2 * r)];
    out.par_chunks_mut(pw).enumerate().for_each(|(py, row)| {
        let sy = reflect(py as isize - r as isize, h);
        let line = &src[sy * w..sy * w + w];
        row[r..r + w].copy_from_slice(line);
        for i in 0..r {
            row[i] = line[reflect(i as isize - r as isize, w)];
            row[r + w + i] = line[reflect((w + i) as isize, w)];
        }
    });
    (out, pw)
}

/// Applies several `k x k` kernels (correlation, OpenCV `filter2D` convention,
/// reflect-101 borders, identical to `common::filter2d`) and folds each pixel's
/// residuals with `fold(residuals) -> (map value, raw squared sum)`. Returns the
/// folded map and the sum of the second fold output over the image.
pub(crate) fn filter_bank<F>(src: &[f32], w: usize, h: usize, kernels: &[&[f32]], k: usize, fold: F) -> (Vec<f32>, f64)
where
    F: Fn(&[f32]) -> (f32, f64) + Sync,
{
    let r = k / 2;
    let (pad, pw) = pad_reflect(src, w, h, r);
    let taps: Vec<Vec<(usize, usize, f32)>> = kernels
        .iter()
        .map(|kern| {
            (0..k * k).filter(|&i| kern[i] != 0.0).map(|i| (i / k, i % k, kern[i])).collect()
        })
        .collect();
    let nk = kernels.len();
    let mut out = vec![0f32; w * h];
    let total: f64 = out
        .par_chunks_mut(w)
        .enumerate()
        .map_init(
            || (vec![0f32; w * nk], vec![0f32; nk]),
            |(acc, px), (y, row)| {
                acc.iter_mut().for_each(|v| *v = 0.0);
                for (ki, t) in taps.iter().enumerate() {
                    let a = &mut acc[ki * w..(ki + 1) * w];
                    for &(ky, kx, c) in t {
                        let s = &pad[(y + ky) * pw + kx..(y + ky) * pw + kx + w];
                        for (o, v) in a.iter_mut().zip(s) {
                            *o += c * v;
                        }
                    }
                }
                let mut sum = 0f64;
                for (x, o) in row.iter_mut().enumerate() {
                    for ki in 0..nk {
                        px[ki] = acc[ki * w + x];
                    }
                    let (m, s) = fold(px);
                    *o = m;
                    sum += s;
                }
                sum
            },
        )
        .sum();
    (out, total)
}

/// Block statistics turned into robust z-scores.
pub(crate) struct BlockZ {
    /// Signed robust z per block (row-major, `bw x bh`).
    pub z: Vec<f32>,
    pub bw: usize,
    pub bh: usize,
    /// Block side in image pixels.
    pub block: usize,
}

impl BlockZ {
    /// Robust z of `ln(block mean + eps)` of a non-negative per-pixel energy map.
    #[allow(dead_code)] // the operators now use `from_sums`; kept as its map-based reference form
    pub fn log_energy(map: &[f32], w: usize, h: usize, block: usize) -> Self {
        let (m, bw, bh) = block_means(map, w, h, block);
        let logm: Vec<f32> = m.iter().map(|v| (v.max(0.0) + 1e-3).ln()).collect();
        let (z, _, _) = robust_z(&logm);
        Self { z, bw, bh, block }
    }

    /// Same as [`BlockZ::log_energy`] from per-block sums of the energy.
    pub fn from_sums(sums: &[f64], bw: usize, bh: usize, block: usize) -> Self {
        let area = (block * block) as f64;
        let logm: Vec<f32> = sums.iter().map(|s| (((s / area) as f32).max(0.0) + 1e-3).ln()).collect();
        let (z, _, _) = robust_z(&logm);
        Self { z, bw, bh, block }
    }

    /// Pixel box of block `i`.
    pub fn bbox(&self, i: usize) -> [u32; 4] {
        let (x, y) = (i % self.bw.max(1), i / self.bw.max(1));
        let b = self.block;
        [(x * b) as u32, (y * b) as u32, ((x + 1) * b) as u32, ((y + 1) * b) as u32]
    }

    /// `(index, value)` of the largest `sign * z` (sign = +1 or -1).
    pub fn extreme(&self, sign: f32) -> (usize, f32) {
        self.z
            .iter()
            .map(|v| sign * v)
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    }
}

/// Fast 8-bit rendering of a scalar map: linear between the 1st and 99th
/// percentiles estimated on a strided subsample (no full sort of large maps).
pub(crate) fn fast_visual(map: &[f32]) -> Vec<u8> {
    fast_visual_with(map, |v| v)
}

/// [`fast_visual`] of `f(map)` without materialising the mapped values (e.g. `f = abs`).
pub(crate) fn fast_visual_with<F: Fn(f32) -> f32 + Sync>(map: &[f32], f: F) -> Vec<u8> {
    crate::visual::strided_visual(map, f)
}

/// Two-sided residual-energy report shared by `srm` and `bayar`: heat-map = |z|
/// of block log-energy, `anomaly_z` = strongest high-energy block, `smooth_z` =
/// strongest low-energy block (as a positive number).
pub(crate) fn two_sided_report(what: &str, bz: &BlockZ, tail: &str) -> (String, f32, f32, Vec<f32>, Vec<Region>) {
    let (ia, a) = bz.extreme(1.0);
    let (is, s) = bz.extreme(-1.0);
    let abs: Vec<f32> = bz.z.iter().map(|v| v.abs()).collect();
    let regions = top_regions(&abs, bz.bw, bz.bh, bz.block, 3.0, 5);
    let summary = format!(
        "{what}: strongest high-energy block at {:?} is {a:.1}σ above the image median; smoothest block at {:?} is {s:.1}σ below it; {tail}.",
        bz.bbox(ia),
        bz.bbox(is)
    );
    (summary, a, s, abs, regions)
}

/// One output row of the three SRM kernels, fused. `p` holds the five padded
/// luma rows `y-2..=y+2` (width `w + 4`). All kernels are symmetric, so they are
/// built from vertical pair sums `s0 = p0+p4`, `s1 = p1+p3`, `s2 = p2`:
/// KV = Σ over column offsets of (row weights · s), SQ3 = −d²x(s1 − 2 s2), H2 = d²x(p2).
/// Writes the RMS of the clipped residuals into `rms` and the mean clipped energy
/// into `e`; returns the row's raw (unclipped) squared sum.
fn srm_row(p: &[&[f32]], t: f32, s: &mut [Vec<f32>; 5], rms: &mut [f32], e: &mut [f32]) -> f64 {
    pulp::Arch::new().dispatch(SrmRow { p, t, s, rms, e })
}

/// [`srm_row`]'s loops as a [`pulp::WithSimd`], so they are compiled for AVX2
/// (see [`crate::common::simd`]).
struct SrmRow<'a, 'b> {
    p: &'a [&'b [f32]],
    t: f32,
    s: &'a mut [Vec<f32>; 5],
    rms: &'a mut [f32],
    e: &'a mut [f32],
}

impl pulp::WithSimd for SrmRow<'_, '_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
        let SrmRow { p, t, s, rms, e } = self;
        let w = rms.len();
        let pw = w + 4;
        let (p0, p1, p2, p3, p4) = (&p[0][..pw], &p[1][..pw], &p[2][..pw], &p[3][..pw], &p[4][..pw]);
        let [va, vb, vc, tt, q] = s;
        let (va, vb, vc, tt) = (&mut va[..pw], &mut vb[..pw], &mut vc[..pw], &mut tt[..pw]);
        for j in 0..pw {
            let (s0, s1, s2) = (p0[j] + p4[j], p1[j] + p3[j], p2[j]);
            va[j] = -s0 + 2.0 * s1 - 2.0 * s2;
            vb[j] = 2.0 * s0 - 6.0 * s1 + 8.0 * s2;
            vc[j] = -2.0 * s0 + 8.0 * s1 - 12.0 * s2;
            tt[j] = s1 - 2.0 * s2;
        }
        let e = &mut e[..w];
        let (a0, a4, b1, b3, c2) = (&va[..w], &va[4..w + 4], &vb[1..w + 1], &vb[3..w + 3], &vc[2..w + 2]);
        let (t1, t2, t3) = (&tt[1..w + 1], &tt[2..w + 2], &tt[3..w + 3]);
        let (l, c, r) = (&p2[1..w + 1], &p2[2..w + 2], &p2[3..w + 3]);
        // Unclipped squared sums go to a scratch row first, so this loop has no
        // lane bookkeeping and vectorises.
        let q = &mut q[..w];
        for x in 0..w {
            let kv = (a0[x] + a4[x] + b1[x] + b3[x] + c2[x]) / 12.0;
            let sq3 = (2.0 * t2[x] - t1[x] - t3[x]) / 4.0;
            let h2 = (l[x] - 2.0 * c[x] + r[x]) / 2.0;
            q[x] = kv * kv + sq3 * sq3 + h2 * h2;
            let (k1, k2, k3) = (kv.clamp(-t, t), sq3.clamp(-t, t), h2.clamp(-t, t));
            let en = (k1 * k1 + k2 * k2 + k3 * k3) / 3.0;
            e[x] = en;
            rms[x] = en.sqrt();
        }
        // Lane x % 8 gets q[x], each lane in x order: whole groups of 8 as one vector
        // add, then the tail (the same sums as one scalar loop would give).
        let mut raw = [0f32; 8];
        let mut groups = q.chunks_exact(8);
        for g in &mut groups {
            for i in 0..8 {
                raw[i] += g[i];
            }
        }
        for (i, &v) in groups.remainder().iter().enumerate() {
            raw[i] += v;
        }
        raw.iter().map(|&v| v as f64).sum()
    }
}

// ---------------------------------------------------------------------------
// The operator
// ---------------------------------------------------------------------------

trutheye_plugin_api::params! {
    /// Parameters of [`Srm`].
    pub struct SrmParams {
        /// side in pixels of the square blocks whose statistics are compared (partial blocks at the right/bottom edges are ignored)
        pub block: usize = 32, range(8, 256);
        /// residuals (grey levels, after kernel normalisation) are clipped to ±truncate before energy is measured; 0 disables clipping
        pub truncate: f64 = 3.0, range(0, 255);
    }
}

/// SRM filter-bank residual energy.
#[derive(Default)]
pub struct Srm;

impl Operator for Srm {
    const NAME: &'static str = "srm";
    const DESCRIPTION: &'static str = "SRM noise residuals (the 3 rich-model high-pass kernels of RGB-N: KV 5x5/12, \
        second-order 3x3/4, horizontal [1,-2,1]/2) on luma, truncated to ±T. The visual shows residual magnitude \
        (bright = strong high-frequency noise/texture); the heat-map is the absolute robust z of each block's \
        residual energy, so both unusually noisy blocks (anomaly_z) and unusually smooth ones (smooth_z: denoised, \
        inpainted or synthetic pastes) light up. Edges and textures also raise residual energy — compare with image content.";
    const CATEGORY: &'static str = "noise";
    type Params = SrmParams;

    fn analyze(&self, image: &ImageRef<'_>, p: SrmParams) -> Result<Output, OperatorError> {
        let (block, t) = (p.block, p.truncate as f32);
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, block)?;
        let tc = if t > 0.0 { t } else { f32::INFINITY }; // clamp to ±inf = no clipping
        let (rms, sums, raw) = strip_filter(image, 2, block, |p, s, rms, e| srm_row(p, tc, s, rms, e));
        let residual_std = (raw / (3.0 * (w * h) as f64)).sqrt() as f32;
        let bz = BlockZ::from_sums(&sums, w / block, h / block, block);
        let (summary, a, s, abs, regions) = two_sided_report(
            "SRM residual energy",
            &bz,
            &format!("global residual std {residual_std:.2} grey levels (before truncation at ±{t})"),
        );
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": a, "smooth_z": s, "residual_std": residual_std,
                "block": block, "truncate": t, "blocks": [bz.bw, bz.bh]
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual(&rms)).into_iter().chain([Map::heatmap("energy_abs_z", bz.bw, bz.bh, abs)]).collect(),
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
    fn kernels_are_the_published_ones() {
        assert_eq!(
            SRM_KV,
            [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]
        );
        assert_eq!(
            SRM_SQ3,
            [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]]
        );
        assert_eq!(SRM_H2, [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]);
        assert_eq!(SRM_DIVISORS, [12.0, 4.0, 2.0]);
        let ks = srm_kernels();
        assert_eq!(ks[0][12], -1.0);
        assert_eq!(ks[1][12], -1.0);
        assert_eq!(ks[2][12], -1.0);
        // Every kernel is a high-pass filter: weights sum to zero.
        for k in ks {
            assert!(k.iter().sum::<f32>().abs() < 1e-6);
        }
    }

    #[test]
    fn filter_bank_matches_common_filter2d() {
        let (w, h) = (13, 9);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 37 % 23) as f32) * 1.5).collect();
        let ks = srm_kernels();
        for k in &ks {
            let (fb, _) = filter_bank(&src, w, h, &[&k[..]], 5, |r| (r[0], 0.0));
            let reference = filter2d(&src, w, h, k, 5, 5);
            for (a, b) in fb.iter().zip(&reference) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn fused_srm_matches_filter2d() {
        let (w, h) = (37usize, 29usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
        let luma = luma_par(&img);
        let refs: Vec<Vec<f32>> = srm_kernels().iter().map(|k| filter2d(&luma, w, h, k, 5, 5)).collect();
        for t in [3.0f32, f32::INFINITY] {
            let (rms, sums, raw) = strip_filter(&img, 2, 8, |p, s, r, e| srm_row(p, t, s, r, e));
            let mut raw_ref = 0f64;
            let mut e_ref = vec![0f32; w * h];
            for i in 0..w * h {
                let mut e = 0f32;
                for r in &refs {
                    raw_ref += (r[i] * r[i]) as f64;
                    e += r[i].clamp(-t, t).powi(2);
                }
                e_ref[i] = e / 3.0;
                assert!((rms[i] - e_ref[i].sqrt()).abs() < 1e-3, "{} vs {}", rms[i], e_ref[i].sqrt());
            }
            assert!((raw - raw_ref).abs() < 1e-4 * raw_ref);
            let (m, bw, _) = block_means(&e_ref, w, h, 8);
            for (i, s) in sums.iter().enumerate() {
                assert!((s / 64.0 - m[i] as f64).abs() < 1e-3 * (1.0 + m[i] as f64), "block {i} of {bw}");
            }
        }
    }

    #[test]
    fn params_are_validated() {
        let rgb = vec![0u8; 64 * 64 * 3];
        let img = ImageRef::from_rgb(64, 64, &rgb).unwrap();
        assert!(Srm.run(&img, &json!({"block": 3})).is_err());
        assert!(Srm.run(&img, &json!({"truncate": -1})).is_err());
        assert!(Srm.run(&img, &json!({"bogus": 1})).is_err());
        assert!(Srm.run(&img, &json!([1])).is_err());
        let out = Srm.run(&img, &json!({"truncate": 0})).unwrap();
        assert!(out.maps.iter().all(|m| m.is_consistent()));
    }
}

//! Resampling (interpolation) periodicity detector, Kirchner's fast variant of
//! Popescu–Farid:
//!
//! 1. Fixed linear predictor `α = [[-¼, ½, -¼], [½, 0, ½], [-¼, ½, -¼]]`, residual
//!    `e = I − α ⋆ I` on luma (reflect-101 borders).
//! 2. p-map `p = exp(−e² / σ)` with `σ = 1` (λ = 1, τ = 2 in Kirchner 2008):
//!    ≈ 1 where a pixel is a linear combination of its neighbours (interpolated),
//!    ≈ 0 in ordinary noisy content.
//! 3. Per block: power spectrum of the Hann-windowed, mean-removed p-map; the
//!    block score is `ln(max non-DC power / median power)` (excluding the 3x3 bins
//!    around DC). Heat-map = robust z of block scores.
//! 4. Global: the same peak-to-median ratio on the Welch spectrum (mean of all
//!    block spectra) = `periodicity_score`; `peak_freqs` are its 3 strongest
//!    local maxima in cycles/pixel.

use rayon::prelude::*;
use rustfft::FftPlanner;
use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{median, require_size, robust_z, top_regions};
use crate::fft_residual::{freq, TileFft};
use crate::srm::{fast_visual, filter_bank, BlockZ};

/// Kirchner's fixed predictor (row-major 3x3, centre 0).
pub const KIRCHNER_ALPHA: [f32; 9] = [-0.25, 0.5, -0.25, 0.5, 0.0, 0.5, -0.25, 0.5, -0.25];

/// p-map of an `w x h` luma image.
pub(crate) fn p_map(luma: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut k = KIRCHNER_ALPHA.map(|v| -v);
    k[4] = 1.0; // e = I − α ⋆ I
    filter_bank(luma, w, h, &[&k[..]], 3, |r| ((-(r[0] * r[0])).exp(), 0.0)).0
}

/// `(ln(peak/median), bin index of the peak)` of an `n x n` power spectrum,
/// ignoring the 3x3 bins around DC.
pub(crate) fn peak_ratio(p: &[f32], n: usize) -> (f32, usize) {
    let near_dc = |i: usize| {
        let (kx, ky) = (i % n, i / n);
        (kx <= 1 || kx >= n - 1) && (ky <= 1 || ky >= n - 1)
    };
    let vals: Vec<f32> = p.iter().enumerate().filter(|(i, _)| !near_dc(*i)).map(|(_, &v)| v).collect();
    let med = median(&vals);
    let (imax, pmax) = p
        .iter()
        .enumerate()
        .filter(|(i, _)| !near_dc(*i))
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, &v)| (i, v))
        .unwrap_or((0, 0.0));
    (((pmax + 1e-12) / (med + 1e-12)).ln(), imax)
}

trutheye_plugin_api::params! {
    /// Parameters of [`Resampling`].
    pub struct ResamplingParams {
        /// side in pixels of the blocks whose p-map spectra are analysed
        pub block: usize = 32, range(16, 256);
    }
}

/// Resampling periodicity operator.
#[derive(Default)]
pub struct Resampling;

impl Operator for Resampling {
    const NAME: &'static str = "resampling";
    const DESCRIPTION: &'static str = "Resampling detector (Kirchner's fast Popescu–Farid variant): a fixed linear predictor \
        residual is turned into a p-map (bright = pixel is a linear mix of its neighbours, as after interpolation; \
        shown as the visual). Scaled or rotated regions make the p-map periodic; the heat-map is the robust z of each \
        block's strongest non-DC spectral peak (high = periodic = likely resampled), periodicity_score is the global \
        peak-to-median log ratio of the mean block spectrum, and peak_freqs are its peak frequencies in cycles/pixel \
        (peaks at multiples of 1/8 are usually JPEG blocking, not resampling).";
    const CATEGORY: &'static str = "frequency";
    type Params = ResamplingParams;

    fn analyze(&self, image: &ImageRef<'_>, p: ResamplingParams) -> Result<Output, OperatorError> {
        let block = p.block;
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, block)?;
        let luma = crate::srm::luma_par(image);
        let p = p_map(&luma, w, h);
        let (bw, bh) = (w / block, h / block);
        let fft = FftPlanner::<f32>::new().plan_fft_forward(block);
        let nn = block * block;
        // Per block: (score, peak bin); plus the summed spectrum.
        let (scores, sum): (Vec<(f32, usize)>, Vec<f64>) = {
            let per: Vec<((f32, usize), Vec<f32>)> = (0..bw * bh)
                .into_par_iter()
                .map_init(
                    || TileFft::new(fft.clone()),
                    |tf, b| {
                        let mut spec = vec![0f32; nn];
                        tf.power(&p, w, (b % bw) * block, (b / bw) * block, &mut spec);
                        (peak_ratio(&spec, block), spec)
                    },
                )
                .collect();
            let mut sum = vec![0f64; nn];
            for (_, s) in &per {
                sum.iter_mut().zip(s).for_each(|(a, &v)| *a += v as f64);
            }
            (per.into_iter().map(|(s, _)| s).collect(), sum)
        };
        let raw: Vec<f32> = scores.iter().map(|s| s.0).collect();
        let (z, _, _) = robust_z(&raw);
        let bz = BlockZ { z, bw, bh, block };
        let (ia, anomaly_z) = bz.extreme(1.0);
        let regions = top_regions(&bz.z, bw, bh, block, 3.0, 5);
        let nb = (bw * bh).max(1) as f64;
        let welch: Vec<f32> = sum.iter().map(|v| (v / nb) as f32).collect();
        let (periodicity_score, _) = peak_ratio(&welch, block);
        // Three strongest local maxima of the Welch spectrum (half plane, off DC).
        let mut cands: Vec<(usize, f32)> = (0..nn)
            .filter(|&i| {
                let (kx, ky) = (i % block, i / block);
                let (fx, fy) = (freq(kx, block), freq(ky, block));
                let near_dc = (kx <= 1 || kx >= block - 1) && (ky <= 1 || ky >= block - 1);
                let half = fy > 0.0 || (fy == 0.0 && fx >= 0.0);
                let v = welch[i];
                let is_max = [(block - 1, 0), (1, 0), (0, block - 1), (0, 1)]
                    .iter()
                    .all(|&(dx, dy)| welch[((ky + dy) % block) * block + (kx + dx) % block] <= v);
                !near_dc && half && is_max
            })
            .map(|i| (i, welch[i]))
            .collect();
        cands.sort_by(|a, b| b.1.total_cmp(&a.1));
        let wmed = median(&welch).max(1e-12);
        let peak_freqs: Vec<Value> = cands
            .iter()
            .take(3)
            .map(|&(i, v)| json!({"freq": [freq(i % block, block), freq(i / block, block)], "log_ratio": (v / wmed).max(1e-12).ln()}))
            .collect();
        let top_block_peak = {
            let i = scores.get(ia).map(|s| s.1).unwrap_or(0);
            [freq(i % block, block), freq(i / block, block)]
        };
        let summary = format!(
            "Resampling p-map periodicity: strongest block at {:?} is {anomaly_z:.1}σ above the image median \
             (its spectral peak at ({:.3}, {:.3}) cycles/pixel); global periodicity score {periodicity_score:.2} \
             (log peak/median of the mean block spectrum; below ~1 for unresampled noise).",
            bz.bbox(ia),
            top_block_peak[0].abs(),
            top_block_peak[1].abs()
        );
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z, "periodicity_score": periodicity_score, "peak_freqs": peak_freqs,
                "top_block_peak_freq": top_block_peak, "block": block, "blocks": [bw, bh]
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || fast_visual(&p)).into_iter().chain([Map::heatmap("periodicity_z", bw, bh, bz.z)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn predictor_is_exact_on_bilinear_surfaces() {
        let (w, h) = (9, 7);
        let luma: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                3.0 + 0.5 * x - 0.25 * y + 0.125 * x * y
            })
            .collect();
        let p = p_map(&luma, w, h);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                assert!((p[y * w + x] - 1.0).abs() < 1e-4);
            }
        }
        let s: f32 = KIRCHNER_ALPHA.iter().sum();
        assert!((s - 1.0).abs() < 1e-6);
    }

    #[test]
    fn small_and_bad_inputs() {
        let rgb = vec![1u8; 3];
        let img = ImageRef::from_rgb(1, 1, &rgb).unwrap();
        assert!(Resampling.run(&img, &json!({})).is_err());
        let rgb = vec![1u8; 33 * 47 * 3];
        let img = ImageRef::from_rgb(33, 47, &rgb).unwrap();
        assert!(Resampling.run(&img, &json!({"block": 8})).is_err());
        let out = Resampling.run(&img, &json!({"block": 16})).unwrap();
        assert!(out.maps.iter().all(|m| m.is_consistent()));
        assert!(out.stats["periodicity_score"].as_f64().unwrap().is_finite());
    }
}

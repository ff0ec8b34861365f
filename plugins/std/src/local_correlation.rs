//! Local neighbour correlation of the high-pass residual: interpolation
//! (resampling, upscaling) and smoothing make neighbouring residuals correlated.

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{robust_z, top_regions};
use crate::laplacian::laplacian_response;

/// Per block, the lag-1 correlation coefficient of `r` with its right neighbour and
/// with its lower neighbour (pairs whose both pixels lie in the block), averaged.
pub fn block_neighbour_corr(r: &[f32], w: usize, h: usize, block: usize) -> (Vec<f32>, usize, usize) {
    let (bw, bh) = (w / block, h / block);
    let mut out = vec![0f32; bw * bh];
    out.par_chunks_mut(bw.max(1)).enumerate().for_each(|(by, row)| {
        for (bx, o) in row.iter_mut().enumerate() {
            let corr = |dx: usize, dy: usize| {
                // Pearson correlation over pairs (p, p + (dx, dy)).
                let (mut sa, mut sb, mut saa, mut sbb, mut sab, mut n) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
                for y in by * block..(by + 1) * block - dy {
                    for x in bx * block..(bx + 1) * block - dx {
                        let a = r[y * w + x] as f64;
                        let b = r[(y + dy) * w + x + dx] as f64;
                        sa += a;
                        sb += b;
                        saa += a * a;
                        sbb += b * b;
                        sab += a * b;
                        n += 1.0;
                    }
                }
                let cov = sab / n - sa / n * sb / n;
                let va = (saa / n - (sa / n).powi(2)).max(0.0);
                let vb = (sbb / n - (sb / n).powi(2)).max(0.0);
                let d = (va * vb).sqrt();
                // A residual-free (flat) block carries no evidence: correlation 0.
                if d < 1e-6 { 0.0 } else { (cov / d).clamp(-1.0, 1.0) }
            };
            *o = (0.5 * (corr(1, 0) + corr(0, 1))) as f32;
        }
    });
    (out, bw, bh)
}

trutheye_plugin_api::params! {
    /// Parameters of [`LocalCorrelation`].
    pub struct LocalCorrelationParams {
        /// block side in pixels
        pub block: usize = 16, range(4, 256);
    }
}

/// Local neighbour-correlation map.
#[derive(Default)]
pub struct LocalCorrelation;

impl Operator for LocalCorrelation {
    const NAME: &'static str = "local_correlation";
    const DESCRIPTION: &'static str = "Local correlation of the high-pass residual: luma is filtered with the \
        4-neighbour Laplacian and, per block, the correlation coefficient between each residual sample and its \
        right/lower neighbour is computed (average of the two). Camera noise gives a stable, negative value \
        (about -0.4 for white noise); interpolated content (resampled, upscaled, smoothed or pasted-and-scaled \
        regions) has abnormally high neighbour correlation. The visual shows the correlation per block \
        (bright = high); the heat-map is its robust z-score (high = suspicious).";
    const CATEGORY: &'static str = "statistics";
    type Params = LocalCorrelationParams;

    fn analyze(&self, image: &ImageRef<'_>, p: LocalCorrelationParams) -> Result<Output, OperatorError> {
        let block = p.block;
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(OperatorError::Image(format!("local_correlation needs an image of at least one {block}x{block} block, got {w}x{h}")));
        }
        let resid = laplacian_response(&crate::sobel::par_luma(image), w, h, 1);
        let (corr, bw, bh) = block_neighbour_corr(&resid, w, h, block);
        let mean_corr = corr.iter().sum::<f32>() / corr.len().max(1) as f32;
        let (z, med, _) = robust_z(&corr);
        let anomaly_z = z.iter().copied().fold(f32::MIN, f32::max);
        let regions = top_regions(&z, bw, bh, block, 3.0, 5);
        let summary = match regions.first() {
            Some(r) => {
                let i = (r.bbox[1] as usize / block) * bw + r.bbox[0] as usize / block;
                format!(
                    "Local correlation: mean residual neighbour correlation {mean_corr:.3} (block median {med:.3}); \
                     block region [{},{},{},{}] is the most correlated (corr {:.3}, z={:.1}).",
                    r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], corr.get(i).copied().unwrap_or(0.0), r.score
                )
            }
            None => format!("Local correlation: mean {mean_corr:.3}."),
        };
        let vis: Vec<u8> = corr.iter().map(|c| ((c + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8).collect();
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "mean_corr": mean_corr,
                "median_corr": med,
                "block": block,
            }),
            maps: Map::visual_for(image, "visual", bw, bh, 1, || vis).into_iter().chain([Map::heatmap("correlation_z", bw, bh, z)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_noise_residual_correlation_is_about_minus_0_4() {
        let (w, h) = (256usize, 256usize);
        let mut s = 99u32;
        let r: Vec<f32> = (0..w * h)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 16) as f32 / 65536.0
            })
            .collect();
        let lap = laplacian_response(&r, w, h, 1);
        let (c, _, _) = block_neighbour_corr(&lap, w, h, 256);
        assert!((c[0] + 0.4).abs() < 0.03, "{}", c[0]);
    }
}

//! Block residual-energy report for `residual` outputs, computed exactly as the
//! native `srm` / `bayar` operators do (clip, mean square over kernels, block
//! log-energy robust z), so the ONNX backend of a classic operator returns the
//! same summary, statistics, heat-map and regions as the native one.

use crate::OnnxError;
use serde_json::json;
use trutheye_plugin_api::{Map, Output, Region};

trutheye_plugin_api::params! {
    /// Parameters of a `residual` operator; the manifest supplies the defaults
    /// (see [`crate::catalog::params_schema`]).
    pub struct ResidualParams {
        /// side in pixels of the square blocks whose residual energy is compared
        pub block: usize = 32, range(8, 256);
        /// residuals are clipped to ±truncate before energy is measured; 0 disables clipping
        pub truncate: f64 = 3.0, range(0, 255);
    }
}

/// Same size rule as the native operators: at least one block each way.
pub fn check_size(name: &str, w: usize, h: usize, block: usize) -> Result<(), OnnxError> {
    if w < block || h < block {
        return Err(OnnxError::Input(format!("`{name}` needs an image of at least {block}x{block} pixels, got {w}x{h}")));
    }
    Ok(())
}

fn median(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
}

/// Robust z `(v - median) / (1.4826 MAD)` with the native operators' fallback
/// (`trutheye-plugin-std`'s `robust_z`): 1.253314 MeanAD (from the median)
/// when 1.4826 MAD is not above the floor, i.e. when more than half the
/// blocks are equal, so a map flat but for a few blocks does not give z in
/// the hundreds of thousands.
pub fn robust_z(values: &[f32]) -> Vec<f32> {
    let med = median(values);
    let dev: Vec<f32> = values.iter().map(|v| (v - med).abs()).collect();
    let floor = 1e-6 * med.abs().max(1.0);
    let mad = 1.4826 * median(&dev);
    let sigma = if mad > floor { mad } else { ((1.253314 * dev.iter().map(|&d| d as f64).sum::<f64>() / dev.len().max(1) as f64) as f32).max(floor) };
    values.iter().map(|v| (v - med) / sigma).collect()
}

/// 4-connected groups of blocks above `threshold`, strongest first, at most `k`;
/// the single strongest block when none passes (as the native operators do).
fn top_regions(z: &[f32], bw: usize, block: usize, threshold: f32, k: usize) -> Vec<Region> {
    let bh = z.len() / bw.max(1);
    let mut seen = vec![false; z.len()];
    let mut regions = Vec::new();
    for start in 0..z.len() {
        if seen[start] || z[start] <= threshold {
            continue;
        }
        let (mut x1, mut y1, mut x2, mut y2, mut best) = (usize::MAX, usize::MAX, 0, 0, f32::MIN);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            (x1, y1, x2, y2, best) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1), best.max(z[i]));
            let nbrs = [(x > 0).then(|| i - 1), (x + 1 < bw).then(|| i + 1), (y > 0).then(|| i - bw), (y + 1 < bh).then(|| i + bw)];
            for j in nbrs.into_iter().flatten() {
                if !seen[j] && z[j] > threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        let b = block as u32;
        regions.push(Region { bbox: [x1 as u32 * b, y1 as u32 * b, x2 as u32 * b, y2 as u32 * b], score: best });
    }
    regions.sort_by(|a, b| b.score.total_cmp(&a.score));
    regions.truncate(k);
    if regions.is_empty() {
        if let Some((i, s)) = z.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) {
            let (x, y, b) = ((i % bw) as u32, (i / bw) as u32, block as u32);
            regions.push(Region { bbox: [x * b, y * b, (x + 1) * b, (y + 1) * b], score: s });
        }
    }
    regions
}

/// 8-bit rendering between the 1st and 99th percentile of a strided sample.
fn visual(map: &[f32]) -> Vec<u8> {
    let stride = (map.len() / 262_144).max(1);
    let mut s: Vec<f32> = map.iter().step_by(stride).copied().collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let (lo, hi) = (s[s.len() / 100], s[(s.len() * 99 / 100).min(s.len() - 1)]);
    let span = (hi - lo).max(1e-6);
    map.iter().map(|v| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8).collect()
}

/// How to summarise residual planes.
pub struct Report<'a> {
    /// Block side in pixels.
    pub block: usize,
    /// Clip residuals to ±t before energy (0 = no clipping).
    pub truncate: f32,
    /// Opening phrase of the summary.
    pub what: &'a str,
    /// Backend label appended to the summary.
    pub backend: &'a str,
    /// Whether the caller reads visuals ([`ImageRef::wants`](trutheye_plugin_api::ImageRef::wants));
    /// without them the picture of the residual is not rendered.
    pub visual: bool,
}

/// Builds the native-style report from `k` residual planes (`[k][h][w]`).
pub fn report(planes: &[f32], k: usize, w: usize, h: usize, r: &Report<'_>) -> Output {
    let (block, t, what, backend) = (r.block, r.truncate, r.what, r.backend);
    let tc = if t > 0.0 { t } else { f32::INFINITY };
    let (bw, bh) = (w / block, h / block);
    let mut rms = vec![0f32; w * h];
    let mut sums = vec![0f64; bw * bh];
    let mut raw = 0f64;
    for y in 0..h {
        for x in 0..w {
            let mut e = 0f32;
            for c in 0..k {
                let r = planes[(c * h + y) * w + x];
                raw += (r * r) as f64;
                let rc = r.clamp(-tc, tc);
                e += rc * rc;
            }
            let e = e / k as f32;
            rms[y * w + x] = e.sqrt();
            if x / block < bw && y / block < bh {
                sums[(y / block) * bw + x / block] += e as f64;
            }
        }
    }
    let area = (block * block) as f64;
    let logm: Vec<f32> = sums.iter().map(|s| (((s / area) as f32).max(0.0) + 1e-3).ln()).collect();
    let z = robust_z(&logm);
    let arg = |sign: f32| z.iter().map(|v| sign * v).enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
    let bbox = |i: usize| {
        let (x, y) = (i % bw.max(1), i / bw.max(1));
        [(x * block) as u32, (y * block) as u32, ((x + 1) * block) as u32, ((y + 1) * block) as u32]
    };
    let ((ia, a), (is, s)) = (arg(1.0), arg(-1.0));
    let abs: Vec<f32> = z.iter().map(|v| v.abs()).collect();
    let residual_std = (raw / (k * w * h) as f64).sqrt() as f32;
    let trunc = if t > 0.0 { format!(" (before truncation at ±{t})") } else { String::new() };
    Output {
        summary: format!(
            "{what}: strongest high-energy block at {:?} is {a:.1}σ above the image median; smoothest block at {:?} is {s:.1}σ below it; global residual std {residual_std:.2} grey levels{trunc}; backend {backend}.",
            bbox(ia),
            bbox(is)
        ),
        stats: json!({"anomaly_z": a, "smooth_z": s, "residual_std": residual_std, "block": block, "truncate": t,
                      "blocks": [bw, bh], "backend": backend}),
        regions: top_regions(&abs, bw, block, 3.0, 5),
        maps: r.visual.then(|| Map::visual("visual", w, h, 1, visual(&rms))).into_iter().chain([Map::heatmap("energy_abs_z", bw, bh, abs)]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_z_falls_back_as_the_native_operators_do() {
        // The native operators' unit test case: 90 blocks at 0, 10 at 0.7.
        let v: Vec<f32> = (0..100).map(|i| if i < 90 { 0.0 } else { 0.7 }).collect();
        let z = robust_z(&v);
        assert!((z[95] - 7.9788).abs() < 1e-3, "{}", z[95]);
        assert!(robust_z(&[2.0; 9]).iter().all(|&x| x == 0.0));
    }
}

//! Block residual-energy report for `residual` outputs, computed exactly as the
//! native `srm` / `bayar` operators do (clip, mean square over kernels, block
//! log-energy robust z), so the ONNX backend of a classic operator returns the
//! same summary, statistics, heat-map and regions as the native one.

use crate::OnnxError;
use serde_json::json;
use trutheye_plugin_api::blocks::{robust_z, top_regions};
use trutheye_plugin_api::{Map, Output};

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
    let (z, _, _) = robust_z(&logm);
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
        regions: top_regions(&abs, bw, bh, block, 3.0, 5),
        maps: r.visual.then(|| Map::visual("visual", w, h, 1, visual(&rms))).into_iter().chain([Map::heatmap("energy_abs_z", bw, bh, abs)]).collect(),
    }
}

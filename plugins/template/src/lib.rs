//! A template forensic operator plugin: copy this crate, rename it
//! `trutheye-plugin-<yours>`, replace the operator, `cargo build --release`, and drop
//! the library into a plugin directory. See `docs/write-an-operator.md`.

use trutheye_plugin_api::{export_plugin, ImageRef, Map, Operator, Output, Region};

/// Per-block luma variance. Camera photos carry sensor noise everywhere, so a block
/// that is much smoother than the rest (a low outlier) hints at inpainting, heavy
/// denoising or generator output pasted in.
#[derive(Default)]
pub struct BlockVariance;

impl Operator for BlockVariance {
    const NAME: &'static str = "block_variance";
    const DESCRIPTION: &'static str = "Variance of luma in square blocks. Reports blocks that are \
        unusually smooth compared with the image median (robust z-score), a cue for inpainted or \
        synthetic patches. Example plugin from the template crate.";
    const CATEGORY: &'static str = "statistics";

    fn params_schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "properties": {
                "block": {"type": "integer", "minimum": 4, "maximum": 256, "default": 16,
                          "description": "block side in pixels"}
            },
            "additionalProperties": false
        })
    }

    fn run(&self, image: &ImageRef<'_>, params: &serde_json::Value) -> Result<Output, String> {
        let block = params.get("block").and_then(|v| v.as_u64()).unwrap_or(16) as usize;
        let (bw, bh) = (image.width / block, image.height / block);
        if bw == 0 || bh == 0 {
            return Err(format!(
                "image is {}x{}, smaller than one {block}x{block} block",
                image.width, image.height
            ));
        }
        let luma = image.luma();
        let mut var = vec![0f32; bw * bh];
        for by in 0..bh {
            for bx in 0..bw {
                let (mut s, mut s2) = (0f64, 0f64);
                for y in by * block..(by + 1) * block {
                    for &v in &luma[y * image.width + bx * block..y * image.width + (bx + 1) * block] {
                        s += v as f64;
                        s2 += (v as f64) * (v as f64);
                    }
                }
                let n = (block * block) as f64;
                var[by * bw + bx] = (s2 / n - (s / n).powi(2)).max(0.0) as f32;
            }
        }
        // Log-variance makes the spread of textures roughly symmetric, so a
        // median/MAD z-score is meaningful for both smooth and busy images.
        let logv: Vec<f32> = var.iter().map(|v| (v + 1.0).ln()).collect();
        let mut sorted = logv.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let med = sorted[sorted.len() / 2];
        let mut dev: Vec<f32> = logv.iter().map(|v| (v - med).abs()).collect();
        dev.sort_by(|a, b| a.total_cmp(b));
        let mad = (dev[dev.len() / 2] * 1.4826).max(1e-3);
        let z: Vec<f32> = logv.iter().map(|v| (med - v) / mad).collect();
        let (imax, zmax) = z
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        let (bx, by) = (imax % bw, imax / bw);
        let bbox = [(bx * block) as u32, (by * block) as u32, ((bx + 1) * block) as u32, ((by + 1) * block) as u32];
        Ok(Output {
            summary: format!(
                "Smoothest {block}px block at ({}, {}) has log-variance {zmax:.1} robust sigma below the image median.",
                bbox[0], bbox[1]
            ),
            stats: serde_json::json!({"block": block, "max_smooth_z": zmax, "median_log_variance": med}),
            maps: vec![Map::heatmap("smoothness_z", bw, bh, z)],
            regions: vec![Region { bbox, score: zmax }],
        })
    }
}

export_plugin! {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    operators: [BlockVariance],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise image with a flat 32x32 square planted at (64, 32).
    fn noisy_with_flat_patch() -> Vec<u8> {
        let (w, h) = (128usize, 96usize);
        let mut state = 12345u32;
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                let noisy = 100 + (state >> 27) as u8; // 100..131
                let v = if (64..96).contains(&x) && (32..64).contains(&y) { 115 } else { noisy };
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        rgb
    }

    #[test]
    fn finds_the_planted_smooth_block() {
        let rgb = noisy_with_flat_patch();
        let img = ImageRef::from_rgb(128, 96, &rgb).expect("size matches");
        let out = BlockVariance.run(&img, &serde_json::json!({"block": 16})).expect("runs");
        let b = out.regions[0].bbox;
        assert!(b[0] >= 64 && b[2] <= 96 && b[1] >= 32 && b[3] <= 64, "bbox {b:?} outside the planted patch");
        assert!(out.regions[0].score > 3.0, "score {}", out.regions[0].score);
        assert_eq!(out.maps[0].width, 8);
        assert_eq!(out.maps[0].height, 6);
    }

    #[test]
    fn too_small_image_is_an_error_not_a_panic() {
        let rgb = vec![0u8; 7 * 7 * 3];
        let img = ImageRef::from_rgb(7, 7, &rgb).expect("size matches");
        let err = BlockVariance.run(&img, &serde_json::json!({})).unwrap_err();
        assert!(err.contains("smaller than one"), "{err}");
    }
}

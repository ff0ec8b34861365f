//! A template forensic operator plugin: copy this crate, set the package and
//! `[lib] name` in `Cargo.toml`, replace the operator, `cargo build --release`, and
//! drop the library into a plugin directory. See `docs/write-an-operator.md`.

use trutheye_plugin_api::serde_json::json;
use trutheye_plugin_api::{blocks, export_plugin, params, ImageRef, Map, Operator, OperatorError, Output};

params! {
    /// Parameters of [`BlockVariance`]: each one declared once; the schema the
    /// model sees and the checks before `analyze` both come from here.
    pub struct BlockVarianceParams {
        /// block side in pixels
        pub block: usize = 16, range(4, 256);
    }
}

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

    type Params = BlockVarianceParams;

    fn analyze(&self, image: &ImageRef<'_>, params: BlockVarianceParams) -> Result<Output, OperatorError> {
        let block = params.block;
        let (bw, bh) = (image.width / block, image.height / block);
        if bw == 0 || bh == 0 {
            return Err(OperatorError::Image(format!(
                "image is {}x{}, smaller than one {block}x{block} block",
                image.width, image.height
            )));
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
        // `blocks::robust_z` is the one every built-in block-map operator uses
        // (with its fallback for maps where most blocks are equal), so this z is
        // on their scale; negated, since a smooth block is a low outlier.
        let logv: Vec<f32> = var.iter().map(|v| (v + 1.0).ln()).collect();
        let (z, med, _) = blocks::robust_z(&logv);
        let z: Vec<f32> = z.into_iter().map(|v| -v).collect();
        // Groups of blocks above 3 sigma, smoothest first (the smoothest single
        // block when none passes, so the model always gets a place to look).
        let regions = blocks::top_regions(&z, bw, bh, block, 3.0, 5);
        let (zmax, bbox) = regions.first().map(|r| (r.score, r.bbox)).unwrap_or((0.0, [0; 4]));
        Ok(Output {
            summary: format!(
                "Smoothest area {bbox:?}: its smoothest {block}px block has log-variance {zmax:.1} robust sigma below the image median."
            ),
            // `anomaly_z` by convention (docs/write-an-operator.md): the evaluator's
            // single-operator baseline and the fusion read the strongest local
            // anomaly under that name.
            stats: json!({"block": block, "anomaly_z": zmax, "median_log_variance": med}),
            maps: vec![Map::heatmap("smoothness_z", bw, bh, z)],
            regions,
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
    use trutheye_plugin_api::testing;

    use super::*;

    /// Deterministic noise image with a flat 32x32 square planted at (64, 32).
    fn noisy_with_flat_patch() -> Vec<u8> {
        let mut rgb = testing::noise_image(128, 96, 7);
        for y in 32..64 {
            for x in 64..96 {
                rgb[(y * 128 + x) * 3..(y * 128 + x) * 3 + 3].fill(115);
            }
        }
        rgb
    }

    #[test]
    fn finds_the_planted_smooth_block() {
        let rgb = noisy_with_flat_patch();
        let img = ImageRef::from_rgb(128, 96, &rgb).expect("size matches");
        let out = testing::run::<BlockVariance>(&img, &json!({"block": 16})).expect("runs");
        let b = out.regions[0].bbox;
        assert!(b[0] >= 64 && b[2] <= 96 && b[1] >= 32 && b[3] <= 64, "bbox {b:?} outside the planted patch");
        assert!(out.regions[0].score > 3.0, "score {}", out.regions[0].score);
        // The four flat blocks form one region, exactly the patch, and its score is
        // the `anomaly_z` the evaluator's baseline and the fusion read.
        assert_eq!(b, [64, 32, 96, 64]);
        assert_eq!(out.stats["anomaly_z"].as_f64(), Some(out.regions[0].score as f64));
        assert_eq!(out.maps[0].width, 8);
        assert_eq!(out.maps[0].height, 6);
    }

    #[test]
    fn too_small_image_is_an_error_not_a_panic() {
        let err = testing::run_on_noise::<BlockVariance>(7, 7, &json!({})).unwrap_err().to_string();
        assert!(err.contains("smaller than one"), "{err}");
    }

    #[test]
    fn bad_parameters_are_refused_naming_the_parameter() {
        let err = testing::run_on_noise::<BlockVariance>(64, 64, &json!({"block": 2})).unwrap_err().to_string();
        assert_eq!(err, "parameter `block` = 2 is outside 4..=256");
    }

    #[test]
    fn schema_is_documented_and_the_library_is_loadable() {
        testing::check_schema::<BlockVariance>().expect("schema");
        testing::check_plugin_name(env!("CARGO_CRATE_NAME")).expect("library name");
    }
}

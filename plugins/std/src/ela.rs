//! Error level analysis (ELA): re-save the image as JPEG at a fixed quality and show
//! the absolute difference, amplified. Also holds the JPEG re-encoding and parameter
//! helpers shared by this crate's compression operators (`jpeg_ghost`, `jpeg_quality`).

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{jpeg, ImageRef, Map, MapRole, Operator, Output, OperatorError};

use crate::common::{block_means, robust_z, top_regions};

/// How to re-encode: grayscale, or colour with the luma sampling factors
/// (`(2, 2)` = 4:2:0, `(1, 1)` = 4:4:4, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sampling {
    Gray,
    Color(u8, u8),
}

impl Sampling {
    pub(crate) fn name(self) -> String {
        match self {
            Sampling::Gray => "gray".into(),
            Sampling::Color(1, 1) => "4:4:4".into(),
            Sampling::Color(2, 1) => "4:2:2".into(),
            Sampling::Color(2, 2) => "4:2:0".into(),
            Sampling::Color(1, 2) => "4:4:0".into(),
            Sampling::Color(4, 1) => "4:1:1".into(),
            Sampling::Color(h, v) => format!("{h}x{v}"),
        }
    }
}

/// The sampling of a JPEG's components, when the headers can be read.
pub(crate) fn sampling_of(info: &jpeg::JpegInfo) -> Sampling {
    match info.components.as_slice() {
        [_] => Sampling::Gray,
        [(_, h0, v0, _), (_, h1, v1, _), ..] => {
            let (h, v) = ((*h0).max(1) / (*h1).max(1), (*v0).max(1) / (*v1).max(1));
            // libjpeg takes luma sampling factors 1..=4.
            if (1..=4).contains(&h) && (1..=4).contains(&v) {
                Sampling::Color(h.max(1), v.max(1))
            } else {
                Sampling::Color(2, 2)
            }
        }
        [] => Sampling::Color(2, 2),
    }
}

/// The sampling to re-encode with: the source's own when the image is an untouched
/// JPEG whose headers parse, else 4:2:0 (the libjpeg/Pillow default). Also returns the
/// parsed headers.
pub(crate) fn source_sampling(image: &ImageRef<'_>) -> (Sampling, Option<jpeg::JpegInfo>) {
    if image.is_jpeg() {
        if let Some(info) = image.encoded.and_then(|b| jpeg::parse(b).ok()) {
            return (sampling_of(&info), Some(info));
        }
    }
    (Sampling::Color(2, 2), None)
}

/// Encodes RGB8 as a baseline JPEG exactly as Pillow's `save(..., quality=q)`
/// does (libjpeg-turbo, `trutheye_imaging::jpeg_encode`), so the re-saved
/// pixels, and the error levels and ghosts computed from them, are what a
/// Pillow script computes.
pub(crate) fn encode_jpeg(rgb: &[u8], w: usize, h: usize, quality: u8, sampling: Sampling) -> Result<Vec<u8>, String> {
    let layout = match sampling {
        Sampling::Gray => trutheye_imaging::jpeg_encode::JpegLayout::Gray,
        Sampling::Color(sh, sv) => trutheye_imaging::jpeg_encode::JpegLayout::Color(sh, sv),
    };
    let (w, h) = (u32::try_from(w).map_err(|_| format!("cannot JPEG-encode a {w}-pixel-wide image"))?, u32::try_from(h).map_err(|_| format!("cannot JPEG-encode a {h}-pixel-high image"))?);
    trutheye_imaging::jpeg_encode::encode_rgb(rgb, w, h, quality, layout).map_err(|e| format!("JPEG encoding failed: {e}"))
}

/// Decodes a JPEG to interleaved RGB8 of the expected size, with libjpeg-turbo
/// as Pillow does: the Python references re-open their re-saved JPEG with Pillow.
pub(crate) fn decode_jpeg(bytes: &[u8], w: usize, h: usize) -> Result<Vec<u8>, String> {
    let (rgb, dw, dh, _) =
        trutheye_imaging::jpeg_to_rgb(bytes, (w as u64) * (h as u64), false).map_err(|e| format!("JPEG decoding failed: {e}"))?;
    if dw as usize != w || dh as usize != h {
        return Err(format!("re-decoded JPEG is {dw}x{dh}, expected {w}x{h}"));
    }
    Ok(rgb)
}

/// Re-saves RGB8 as JPEG at `quality` and decodes it again.
pub(crate) fn recompress(rgb: &[u8], w: usize, h: usize, quality: u8, sampling: Sampling) -> Result<Vec<u8>, String> {
    decode_jpeg(&encode_jpeg(rgb, w, h, quality, sampling)?, w, h)
}

trutheye_plugin_api::params! {
    /// Parameters of [`Ela`].
    pub struct ElaParams {
        /// JPEG quality of the re-save
        pub quality: usize = 90, range(1, 100);
        /// multiplier of the absolute difference in the visual
        pub scale: f64 = 15.0, range(1, 100);
        /// block side in pixels for the heat-map
        pub block: usize = 16, range(4, 256);
    }
}

/// Error level analysis.
#[derive(Default)]
pub struct Ela;

impl Operator for Ela {
    const NAME: &'static str = "ela";
    const DESCRIPTION: &'static str = "Error level analysis: the image is re-saved as JPEG at a fixed quality \
        (matching the file's chroma subsampling) and the absolute per-pixel difference, multiplied by `scale`, is \
        shown as the visual (bright = large change). Regions whose compression history differs from the rest \
        (pasted from another JPEG, edited after saving) stand out with a different error level than similar \
        content elsewhere. The heat-map is |robust z| of each block's mean error: both unusually high error \
        (edited after the last save) and unusually low error (content already compressed more coarsely, e.g. \
        pasted from a low-quality JPEG) are flagged; `high_z`/`low_z` give the sign. Edges and texture naturally \
        have more error, so compare like with like. Re-saving at the file's own quality shows little contrast.";
    const CATEGORY: &'static str = "compression";
    type Params = ElaParams;

    fn analyze(&self, image: &ImageRef<'_>, p: ElaParams) -> Result<Output, OperatorError> {
        let (quality, scale, block) = (p.quality as u8, p.scale as f32, p.block);
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(OperatorError::Image(format!("ela needs an image of at least one {block}x{block} block, got {w}x{h}")));
        }
        let (sampling, info) = source_sampling(image);
        let re = recompress(image.rgb, w, h, quality, sampling)?;

        // One pass gives the error map and, when the caller reads it, the visual.
        let row = |y: usize, erow: &mut [f32], mut vrow: Option<&mut [u8]>| {
            let a = &image.rgb[y * w * 3..(y + 1) * w * 3];
            let b = &re[y * w * 3..(y + 1) * w * 3];
            for x in 0..w {
                let mut s = 0f32;
                for c in 0..3 {
                    let d = (a[3 * x + c] as f32 - b[3 * x + c] as f32).abs();
                    s += d;
                    if let Some(v) = vrow.as_deref_mut() {
                        v[3 * x + c] = (d * scale).min(255.0) as u8;
                    }
                }
                erow[x] = s / 3.0;
            }
        };
        let mut err = vec![0f32; w * h];
        let mut vis = Vec::new();
        if image.wants(MapRole::Visual) {
            vis = vec![0u8; w * h * 3];
            err.par_chunks_mut(w).zip(vis.par_chunks_mut(w * 3)).enumerate().for_each(|(y, (e, v))| row(y, e, Some(v)));
        } else {
            err.par_chunks_mut(w).enumerate().for_each(|(y, e)| row(y, e, None));
        }
        let mean_error = err.iter().map(|&v| v as f64).sum::<f64>() / (w * h) as f64;
        let (bm, bw, bh) = block_means(&err, w, h, block);
        let (z, med, _) = robust_z(&bm);
        let high_z = z.iter().copied().fold(f32::MIN, f32::max);
        let low_z = z.iter().copied().fold(f32::MAX, f32::min);
        // Two-sided: a region saved with a different history shows a different error
        // level, higher (edited after the last save) or lower (already compressed
        // more coarsely, e.g. pasted from a low-quality JPEG).
        let heat: Vec<f32> = z.iter().map(|v| v.abs()).collect();
        let anomaly_z = high_z.max(-low_z);
        let regions = top_regions(&heat, bw, bh, block, 3.0, 5);
        let src_q = info.as_ref().and_then(|i| i.estimate_quality()).map(|(q, _)| q);
        let summary = match regions.first() {
            Some(r) => {
                let i = (r.bbox[1] as usize / block) * bw + r.bbox[0] as usize / block;
                let kind = if z.get(i).copied().unwrap_or(0.0) < 0.0 { "lower" } else { "higher" };
                format!(
                    "ELA at quality {quality} ({}): mean error {mean_error:.2}/255, block median {med:.2}; block region \
                     [{},{},{},{}] has a {kind} error level than typical (|z|={:.1}); highest z={high_z:.1}, lowest \
                     z={low_z:.1}.{}",
                    sampling.name(),
                    r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], r.score,
                    match src_q {
                        Some(q) if q == quality => format!(
                            " Source JPEG quality ~{q} equals the re-save quality, so error levels are compressed \
                             (try a lower quality, e.g. 75)."
                        ),
                        Some(q) => format!(" Source JPEG quality ~{q}."),
                        None => " Source is not an untouched JPEG.".into(),
                    }
                )
            }
            None => format!("ELA at quality {quality}: mean error {mean_error:.2}/255."),
        };
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "high_z": high_z,
                "low_z": low_z,
                "mean_error": mean_error as f32,
                "block_median_error": med,
                "quality": quality,
                "scale": scale,
                "subsampling": sampling.name(),
                "source_quality": src_q,
            }),
            maps: Map::visual_for(image, "visual", w, h, 3, || vis).into_iter().chain([Map::heatmap("ela_abs_z", bw, bh, heat)]).collect(),
            regions,
        })
    }
}

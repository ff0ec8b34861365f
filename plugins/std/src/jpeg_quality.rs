//! A report of a JPEG file's quantization tables and sampling.

use serde_json::json;
use trutheye_plugin_api::{jpeg, ImageRef, Map, NoParams, Operator, Output, OperatorError};


/// Side of one table cell in the visual, in pixels.
const CELL: usize = 16;

/// The IJG quality whose chroma table is closest, and the mean absolute difference.
fn estimate_chroma(table: &[u16; 64]) -> (u8, f32) {
    (1..=100u8)
        .map(|q| {
            let t = jpeg::ijg_table(&jpeg::IJG_CHROMA, q);
            let d: u32 = t.iter().zip(table).map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs()).sum();
            (q, d as f32 / 64.0)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .unwrap_or((0, f32::MAX))
}

/// JPEG quantization table report.
#[derive(Default)]
pub struct JpegQuality;

impl Operator for JpegQuality {
    const NAME: &'static str = "jpeg_quality";
    const DESCRIPTION: &'static str = "Reads the JPEG file's quantization tables and reports the closest IJG \
        (libjpeg/Pillow) quality for luma and chroma, whether the tables are exact IJG scalings (cameras and \
        some editors use their own tables), the chroma subsampling and whether the file is progressive. The \
        visual renders the 8x8 luma table (bright = coarse quantization, top-left = DC); the heat-map is the \
        luma table itself. It is a whole-file report, so there are no regions and anomaly_z is 0. Needs the \
        untouched JPEG file.";
    const CATEGORY: &'static str = "compression";
    type Params = NoParams;

    fn analyze(&self, image: &ImageRef<'_>, _: NoParams) -> Result<Output, OperatorError> {
        let bytes = match (image.encoded, image.format) {
            (Some(b), Some("jpeg")) => b,
            (Some(_), Some(f)) => return Err(OperatorError::Image(format!("jpeg_quality needs a JPEG file; this image is {f}"))),
            _ => return Err(OperatorError::Image("jpeg_quality needs a JPEG file; this image is a derived image (crop/edit)".into())),
        };
        let info = jpeg::parse(bytes).map_err(|e| OperatorError::Image(e.to_string()))?;
        let luma = *info.luma_table().ok_or("JPEG has no quantization table for its first component")?;
        let (quality, luma_mad) = info.estimate_quality().ok_or("JPEG has no luma quantization table")?;
        let chroma = info.chroma_table().copied();
        let chroma_est = chroma.as_ref().map(estimate_chroma);
        let exact_ijg = luma_mad == 0.0 && chroma_est.is_none_or(|c| c.1 == 0.0);
        let subsampling = info.subsampling();

        let max = luma.iter().copied().max().unwrap_or(1).max(1) as f32;
        let side = 8 * CELL;
        // One grey level per table entry, then each CELL x CELL square filled with it
        // (rounding once per entry, not once per pixel, keeps the call near the cost of
        // reading the tables).
        let levels: Vec<u8> = luma.iter().map(|&q| (q as f32 / max * 255.0).round() as u8).collect();
        let mut vis = Vec::with_capacity(side * side);
        for row in levels.chunks_exact(8) {
            let line: Vec<u8> = row.iter().flat_map(|&v| [v; CELL]).collect();
            for _ in 0..CELL {
                vis.extend_from_slice(&line);
            }
        }
        let summary = format!(
            "JPEG quantization: luma tables match IJG quality {quality}{}, chroma {}; {} tables; subsampling {subsampling}; {}. \
             Luma DC step {}, max step {}.",
            if luma_mad == 0.0 { " exactly".to_string() } else { format!(" approximately (mean |diff| {luma_mad:.2})") },
            match chroma_est {
                Some((q, 0.0)) => format!("quality {q} exactly"),
                Some((q, d)) => format!("~quality {q} (mean |diff| {d:.2})"),
                None => "none (grayscale)".into(),
            },
            if exact_ijg { "standard IJG-scaled" } else { "non-standard (not exact IJG)" },
            if info.progressive { "progressive" } else { "baseline/sequential" },
            luma[0],
            max as u16,
        );
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": 0.0,
                "quality": quality,
                "luma_mean_abs_diff": luma_mad,
                "chroma_quality": chroma_est.map(|c| c.0),
                "chroma_mean_abs_diff": chroma_est.map(|c| c.1),
                "subsampling": subsampling,
                "exact_ijg": exact_ijg,
                "progressive": info.progressive,
                "luma_table": luma.to_vec(),
                "chroma_table": chroma.map(|t| t.to_vec()),
                "table_order": "natural (row-major 8x8)",
            }),
            // Only the picture of the table: it is not a spatial map of the image, so it
            // must not pass for a heat-map (the evaluator scores heat-maps against masks).
            maps: Map::visual_for(image, "visual", side, side, 1, || vis).into_iter().collect(),
            regions: Vec::new(),
        })
    }
}

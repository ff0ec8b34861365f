//! JPEG ghosts (Farid 2009): re-compress at a range of qualities; a region that was
//! once compressed at quality q1 shows a local minimum of the difference at q1.

use rayon::prelude::*;
use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{median, robust_z, to_visual, top_regions};
use crate::ela::{recompress, source_sampling};

/// Default quality sweep.
pub const DEFAULT_QUALITIES: [u8; 10] = [50, 55, 60, 65, 70, 75, 80, 85, 90, 95];

/// Floor added to block differences before taking ratios (squared grey levels), so
/// near-lossless qualities where everything is ~0 do not produce noisy ratios.
const EPS: f32 = 1.0;

/// Floor of the robust sigma of dip depths (natural-log units): on a clean image the
/// dips are all tiny and alike, and a 10% relative change is within content variation.
const SIGMA_FLOOR: f32 = 0.1;

/// Block means of the channel-averaged squared difference of two RGB8 images.
fn block_sqdiff(a: &[u8], b: &[u8], w: usize, h: usize, block: usize) -> Vec<f32> {
    let (bw, bh) = (w / block, h / block);
    let mut out = vec![0f32; bw * bh];
    out.par_chunks_mut(bw.max(1)).enumerate().for_each(|(by, row)| {
        let mut acc = vec![0f64; bw];
        for y in by * block..(by + 1) * block {
            let ra = &a[y * w * 3..(y * w + bw * block) * 3];
            let rb = &b[y * w * 3..(y * w + bw * block) * 3];
            for (bx, s) in acc.iter_mut().enumerate() {
                let mut t = 0u64;
                for i in bx * block * 3..(bx + 1) * block * 3 {
                    let d = ra[i] as i32 - rb[i] as i32;
                    t += (d * d) as u64;
                }
                *s += t as f64;
            }
        }
        let n = (block * block * 3) as f64;
        for (o, s) in row.iter_mut().zip(acc) {
            *o = (s / n) as f32;
        }
    });
    out
}

/// The sweep in ascending order without repeats. Length and range are checked by
/// the parameter declaration; repeats are only found here, after de-duplication.
fn distinct_qualities(list: &[u32]) -> Result<Vec<u8>, OperatorError> {
    // `items(1, 100)` holds every entry within u8.
    let mut qs: Vec<u8> = list.iter().map(|&q| q as u8).collect();
    qs.sort_unstable();
    qs.dedup();
    if qs.len() < 2 {
        return Err(OperatorError::Params("parameter `qualities` must hold at least 2 distinct qualities".into()));
    }
    Ok(qs)
}

trutheye_plugin_api::params! {
    /// Parameters of [`JpegGhost`].
    pub struct JpegGhostParams {
        /// re-compression qualities to sweep
        pub qualities: Vec<u32> = DEFAULT_QUALITIES.iter().map(|&q| q as u32).collect(), len(2, 20), items(1, 100);
        /// block side in pixels for averaging differences
        pub block: usize = 16, range(4, 256);
    }
}

/// JPEG ghost detector.
#[derive(Default)]
pub struct JpegGhost;

impl Operator for JpegGhost {
    const NAME: &'static str = "jpeg_ghost";
    const DESCRIPTION: &'static str = "JPEG ghosts (Farid): the image is re-compressed at each quality in \
        `qualities` (with the file's own chroma subsampling) and the squared difference is averaged per block. \
        Each quality's block differences are divided by that quality's image median; a block whose log ratio \
        dips at some quality q1 far below its own level at the other qualities was probably once saved at q1 \
        (a ghost), unlike its surroundings: a pasted or re-saved region. The heat-map is the robust z-score \
        of each block's dip depth; the visual shows the dip depth per block (bright = ghost). On a never-compressed image (PNG etc.) there should be no ghost anywhere.";
    const CATEGORY: &'static str = "compression";
    type Params = JpegGhostParams;

    fn analyze(&self, image: &ImageRef<'_>, p: JpegGhostParams) -> Result<Output, OperatorError> {
        let qualities = distinct_qualities(&p.qualities)?;
        let block = p.block;
        let (w, h) = (image.width, image.height);
        if w < block || h < block {
            return Err(OperatorError::Image(format!("jpeg_ghost needs an image of at least one {block}x{block} block, got {w}x{h}")));
        }
        let (sampling, info) = source_sampling(image);
        let diffs: Vec<Vec<f32>> = qualities
            .par_iter()
            .map(|&q| recompress(image.rgb, w, h, q, sampling).map(|re| block_sqdiff(image.rgb, &re, w, h, block)))
            .collect::<Result<_, _>>()?;
        let (bw, bh) = (w / block, h / block);
        let nb = bw * bh;
        let means: Vec<f32> = diffs.iter().map(|d| d.iter().sum::<f32>() / nb as f32).collect();
        let medians: Vec<f32> = diffs.iter().map(|d| median(d)).collect();
        let gi = (0..qualities.len()).min_by(|&a, &b| means[a].total_cmp(&means[b])).unwrap_or(0);
        let ghost_min_quality = qualities[gi];

        // Per block: log ratio of its difference to the image median at each quality,
        // L[q] = log((D + eps) / (median_q + eps)). A ghost is a dip of L at some q below
        // the block's own typical level (median over q), which cancels content: a smooth
        // block has low L at every quality, a ghost only near the quality it was saved at.
        // Re-saving at or above the file's last quality only shows that last save (the
        // differences there are rounding noise), so a JPEG's ghosts are searched below it.
        let primary = info.as_ref().and_then(|i| i.estimate_quality());
        let searched: Vec<usize> = match primary {
            Some((pq, _)) if qualities.iter().filter(|&&q| q < pq).count() >= 2 => {
                (0..qualities.len()).filter(|&i| qualities[i] < pq).collect()
            }
            _ => (0..qualities.len()).collect(),
        };
        let mut strength = vec![0f32; nb];
        let mut block_q = vec![0u8; nb];
        let mut curve = vec![0f32; searched.len()];
        for b in 0..nb {
            let (mut best, mut bq) = (f32::MAX, qualities[0]);
            for (ci, &qi) in searched.iter().enumerate() {
                let r = ((diffs[qi][b] + EPS) / (medians[qi] + EPS)).ln();
                curve[ci] = r;
                if r < best {
                    best = r;
                    bq = qualities[qi];
                }
            }
            strength[b] = median(&curve) - best;
            block_q[b] = bq;
        }
        let (_, smed, ssig) = robust_z(&strength);
        let sigma = ssig.max(SIGMA_FLOOR);
        let z: Vec<f32> = strength.iter().map(|s| (s - smed) / sigma).collect();
        let anomaly_z = z.iter().copied().fold(f32::MIN, f32::max);
        let regions = top_regions(&z, bw, bh, block, 3.0, 5);
        let top_idx = regions
            .first()
            .map(|r| ((r.bbox[1] as usize / block) * bw + r.bbox[0] as usize / block).min(nb - 1));
        // The ghost quality of a region: the most common block minimum inside it.
        let region_q = regions.first().map(|r| {
            let mut counts = [0u32; 101];
            for by in r.bbox[1] as usize / block..r.bbox[3] as usize / block {
                for bx in r.bbox[0] as usize / block..r.bbox[2] as usize / block {
                    if z[by * bw + bx] > 3.0 || r.score <= 3.0 {
                        counts[block_q[by * bw + bx] as usize] += 1;
                    }
                }
            }
            (0..=100).max_by_key(|&q| (counts[q], q)).unwrap_or(0) as u8
        });
        let src = match primary {
            Some((q, mad)) => format!(
                "The file is a JPEG ({}, estimated quality {q}{}).",
                sampling.name(),
                if mad == 0.0 { ", exact IJG tables" } else { ", non-IJG tables" }
            ),
            None => "The input is not an untouched JPEG (ghosts of a never-compressed image: expect none).".into(),
        };
        let summary = match (regions.first(), region_q) {
            (Some(r), Some(rq)) => format!(
                "JPEG ghost: block region [{},{},{},{}] reaches its minimum relative difference at quality {rq} \
                 (z={:.1}) while the image-wide minimum difference is at quality {ghost_min_quality}. {src}",
                r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3], r.score
            ),
            _ => format!("JPEG ghost: image-wide minimum difference at quality {ghost_min_quality}. {src}"),
        };
        let per_quality: Vec<Value> = qualities
            .iter()
            .zip(means.iter().zip(&medians))
            .map(|(q, (m, md))| json!({"quality": q, "mean_sq_diff": m, "median_sq_diff": md}))
            .collect();
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "primary_quality": primary.map(|p| p.0),
                "primary_exact_ijg": primary.map(|p| p.1 == 0.0),
                "subsampling": sampling.name(),
                "ghost_min_quality": ghost_min_quality,
                "searched_qualities": searched.iter().map(|&i| qualities[i]).collect::<Vec<_>>(),
                "top_region_ghost_quality": region_q,
                "top_block_ghost_strength": top_idx.map(|i| strength[i]),
                "per_quality": per_quality,
                "block": block,
            }),
            maps: Map::visual_for(image, "visual", bw, bh, 1, || to_visual(&strength)).into_iter().chain([Map::heatmap("ghost_z", bw, bh, z)]).collect(),
            regions,
        })
    }
}

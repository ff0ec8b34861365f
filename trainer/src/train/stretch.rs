//! Pixel F1 of a small heat-map stretched onto a mask, as
//! `image::imageops::resize(…, FilterType::Triangle)` followed by reading the
//! result at 128 would give, without building the stretched image.
//!
//! Why: `trutheye train fusion` scores every candidate setting on every
//! fitting image (tens of thousands of scorings per fit, millions under
//! `--select`), and stretching through the generic `image` resampler was 80%
//! of its time. The stretch is linear, so its weights depend only on the two
//! sizes and are computed once per image; the arithmetic below is the
//! resampler's own, in its order (vertical pass to `f32`, then horizontal,
//! clamp and round), so the result is the same bit for bit; and rows whose
//! source cells are all cold are skipped, which a convex combination allows.
//! Tests check it against `image` itself.

use image::GrayImage;
use trutheye_eval::dataset::GtMask;
use trutheye_eval::heatmap::f1_iou;

/// One output row's (or column's) taps: the first source index and the
/// normalised triangle weights from there.
#[derive(Clone, Debug)]
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// `image`'s triangle-filter taps for resampling `from` samples to `to`
/// (its `vertical_sample` / `horizontal_sample` weight computation).
fn taps(from: u32, to: u32) -> Vec<Taps> {
    let ratio = from as f32 / to as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = sratio; // the triangle filter's support is 1
    (0..to)
        .map(|out| {
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, from as i64 - 1);
            let right = ((centre + support).ceil() as i64).clamp(left + 1, from as i64);
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| {
                    let x = ((i as f32 - centre) / sratio).abs();
                    if x < 1.0 {
                        1.0 - x
                    } else {
                        0.0
                    }
                })
                .collect();
            let sum: f32 = weights.iter().sum();
            weights.iter_mut().for_each(|w| *w /= sum);
            Taps { first: left as usize, weights }
        })
        .collect()
}

/// Scores heat-maps of one size against one mask: the stretch's taps and the
/// mask, prepared once.
#[derive(Clone, Debug)]
pub struct HeatScorer {
    from: (u32, u32),
    gt: GtMask,
    /// Changed pixels in `gt`.
    area: usize,
    rows: Vec<Taps>,
    cols: Vec<Taps>,
}

impl HeatScorer {
    /// Prepares scoring `from`-sized (width, height) heat-maps against `gt`.
    pub fn new(from: (u32, u32), gt: GtMask) -> Self {
        let to = (gt.width, gt.height);
        let (rows, cols) = if from.0 == 0 || from.1 == 0 || from == to { (Vec::new(), Vec::new()) } else { (taps(from.1, to.1), taps(from.0, to.0)) };
        let area = gt.on.iter().filter(|&&o| o).count();
        Self { from, gt, area, rows, cols }
    }

    /// The mask.
    pub fn mask(&self) -> &GtMask {
        &self.gt
    }

    /// Pixel F1 at 0.5 of a mask marking nothing, or everything.
    pub fn f1_of_constant(&self, everything: bool) -> f64 {
        if everything {
            f1_iou(self.area, self.gt.on.len() - self.area, 0).0
        } else {
            f1_iou(0, 0, self.area).0
        }
    }

    /// Pixel F1 at 0.5 of `heat` stretched onto the mask (the `f1_fixed` of
    /// `trutheye_eval::heatmap::scores`); `None` when `heat` is not the size
    /// this scorer was made for.
    pub fn f1_fixed(&self, heat: &GrayImage) -> Option<f64> {
        if heat.dimensions() != self.from {
            return None;
        }
        let (tp, marked) = if self.rows.is_empty() {
            let marks = heat.as_raw().iter().map(|&v| v >= 128);
            marks.zip(&self.gt.on).fold((0, 0), |(tp, n), (m, &o)| (tp + usize::from(m && o), n + usize::from(m)))
        } else {
            self.stretched_counts(heat)
        };
        Some(f1_iou(tp, marked - tp, self.area - tp).0)
    }

    /// (true positives, marked pixels) of the stretched heat-map read at 128.
    fn stretched_counts(&self, heat: &GrayImage) -> (usize, usize) {
        let w = self.from.0 as usize;
        let tw = self.gt.width as usize;
        let raw = heat.as_raw();
        let row_max: Vec<u8> = raw.chunks(w).map(|r| r.iter().copied().max().unwrap_or(0)).collect();
        let mut mid = vec![0f32; w];
        let (mut tp, mut marked) = (0, 0);
        for (y, t) in self.rows.iter().enumerate() {
            // A stretched pixel is a convex combination of its source cells,
            // so an output row whose source rows are all below 128 reads below
            // 128 everywhere (at most 127 plus rounding, never 127.5): most
            // rows of a mask-shaped heat-map are skipped.
            if row_max[t.first..t.first + t.weights.len()].iter().all(|&m| m < 128) {
                continue;
            }
            // Vertical pass for this output row, in f32.
            for (x, m) in mid.iter_mut().enumerate() {
                let mut acc = 0f32;
                for (i, wt) in t.weights.iter().enumerate() {
                    acc += raw[(t.first + i) * w + x] as f32 * wt;
                }
                *m = acc;
            }
            // Horizontal pass, read at 128 as the u8 image would be: the
            // resampler clamps to 0..=255 and rounds half away from zero, so a
            // pixel reads >= 128 exactly when the sum is >= 127.5.
            let truth = &self.gt.on[y * tw..(y + 1) * tw];
            for (c, &o) in self.cols.iter().zip(truth) {
                let mut acc = 0f32;
                for (i, wt) in c.weights.iter().enumerate() {
                    acc += mid[c.first + i] * wt;
                }
                if acc >= 127.5 {
                    marked += 1;
                    tp += usize::from(o);
                }
            }
        }
        (tp, marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_eval::heatmap;

    /// A heat-map with smooth slopes and sharp edges, so many stretched
    /// pixels land near the 128 edge where a different rounding would show.
    fn heat(w: u32, h: u32, seed: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let v = (x * 37 + y * 91 + seed * 13) % 256;
            image::Luma([if (x + y + seed).is_multiple_of(7) { 127 } else { v as u8 }])
        })
    }

    #[test]
    fn matches_the_image_crates_triangle_resize_read_at_128() {
        for (from, to, seed) in [((64, 48), (256, 192), 1), ((64, 36), (256, 144), 2), ((37, 64), (148, 256), 3), ((64, 64), (64, 64), 4), ((50, 40), (33, 90), 5)] {
            let heat = heat(from.0, from.1, seed);
            let on: Vec<bool> = (0..to.0 * to.1).map(|i: u32| i.wrapping_mul(2654435761) % 5 < 2).collect();
            let gt = GtMask { width: to.0, height: to.1, on };
            let big = image::imageops::resize(&heat, to.0, to.1, image::imageops::FilterType::Triangle);
            let want = heatmap::scores(&gt, &big).unwrap().f1_fixed;
            let got = HeatScorer::new(from, gt.clone()).f1_fixed(&heat).unwrap();
            assert_eq!(got, want, "{from:?} -> {to:?}");
            // Mostly cold, as a fused mask is: the skipped rows must not change the score.
            let blob = GrayImage::from_fn(from.0, from.1, |x, y| image::Luma([if (x / 5 + y / 4 + seed) % 6 == 0 { heat.get_pixel(x, y)[0] | 128 } else { heat.get_pixel(x, y)[0] / 2 }]));
            let big = image::imageops::resize(&blob, to.0, to.1, image::imageops::FilterType::Triangle);
            let want = heatmap::scores(&gt, &big).unwrap().f1_fixed;
            assert_eq!(HeatScorer::new(from, gt.clone()).f1_fixed(&blob).unwrap(), want, "{from:?} -> {to:?}, mostly cold");
        }
    }

    #[test]
    fn refuses_sizes_it_was_not_made_for() {
        let s = HeatScorer::new((8, 8), GtMask { width: 32, height: 32, on: vec![false; 1024] });
        assert!(s.f1_fixed(&GrayImage::new(8, 9)).is_none());
        assert!(s.f1_fixed(&GrayImage::new(8, 8)).is_some());
    }

    #[test]
    fn constant_masks_score_as_the_evaluator_scores_them() {
        let on: Vec<bool> = (0..400).map(|i| i % 10 == 0).collect();
        let gt = GtMask { width: 20, height: 20, on };
        let s = HeatScorer::new((5, 5), gt.clone());
        for (level, everything) in [(0u8, false), (255u8, true)] {
            let want = heatmap::scores(&gt, &GrayImage::from_pixel(20, 20, image::Luma([level]))).unwrap().f1_fixed;
            assert_eq!(s.f1_of_constant(everything), want);
        }
    }
}

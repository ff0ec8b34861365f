//! Dense verification of a copy-move group, and which of its two regions is the copy.
//!
//! Keypoint matches say that two regions are alike but cover them sparsely: a
//! heat-map of matched keypoints is a cloud around each region, and fused with
//! other maps it tends to join the two clouds into one box spanning the copy,
//! its source and the gap between them. The standard remedy in keypoint
//! copy-move detection (Pan & Lyu, "Region duplication detection using image
//! feature matching", IEEE TIFS 2010; Amerini et al., "Copy-move forgery
//! detection and localization by means of robust clustering with J-Linkage",
//! Signal Processing: Image Communication 2013) is to estimate the affine map
//! between the regions from the matches and then compare the image with itself
//! warped by that map, pixel by pixel: where the correlation is high the content
//! is duplicated. Here the comparison is per block (zero-mean normalised
//! cross-correlation of a block with its warped counterpart), and the blocks that
//! pass and connect to the matched keypoints are the region.
//!
//! Which side is the copy: a copy that was rotated or rescaled was resampled from
//! its source, so interpolating the source through the affine map predicts the
//! copy almost exactly (what is left is JPEG noise and the map's error), while
//! interpolating the already-smoothed copy back cannot restore the source's fine
//! detail. The side with the clearly smaller prediction residual is the copy
//! (BusterNet, Wu et al. ECCV 2018, learns the same source/target decision; this
//! is its classical counterpart). A copy moved without resampling (a pure
//! translation) leaves the two residuals equal, and then both regions are kept.

use rayon::prelude::*;

/// A block is duplicated when its correlation with its warped counterpart is at
/// least this. On the five copy-moves of shared/bench/dev the operator finds,
/// 0.5–0.8 gave the same regions within 0.05 pixel-F1 (NumPy prototype).
pub(super) const MIN_ZNCC: f64 = 0.6;
/// A block whose own or warped luma has a standard deviation below this (grey
/// levels) is flat: its correlation says nothing.
const MIN_STD: f64 = 1.0;
/// One side is called the copy when the other side's prediction residual is at
/// least this many times larger (see [`Verified::copy`]).
/// Chosen with plugins/std/benches/copy_side_check.py (copies pasted into
/// dev's camera photos): at seed 5, no copy read the wrong way above 1.25 and
/// bilinear ones read 1.21–2.65; at seeds 6 and 7, checked afterwards, no copy
/// was named wrongly at 1.3.
pub(super) const COPY_RATIO: f64 = 1.3;
/// Least squares rounds: after each, matches farther than
/// `max(TRIM_PX, TRIM_MEDIANS · median residual)` from the fit are dropped.
const TRIM_ROUNDS: usize = 3;
const TRIM_PX: f64 = 3.0;
const TRIM_MEDIANS: f64 = 2.5;

/// `x' = m[0]·x + m[1]·y + m[2]`, `y' = m[3]·x + m[4]·y + m[5]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Affine(pub [f64; 6]);

impl Affine {
    /// The least-squares affine map taking each `from` point to its `to`
    /// point, refitted without the outlying matches; `None` when fewer than three
    /// matches remain or they are collinear.
    pub fn fit(from: &[(f32, f32)], to: &[(f32, f32)]) -> Option<Affine> {
        let mut keep = vec![true; from.len()];
        let mut fit = None;
        for _ in 0..TRIM_ROUNDS {
            let m = Self::least_squares(from, to, &keep)?;
            let residuals: Vec<f64> = from
                .iter()
                .zip(to)
                .map(|(&p, &q)| {
                    let (x, y) = m.apply((p.0 as f64, p.1 as f64));
                    (x - q.0 as f64).hypot(y - q.1 as f64)
                })
                .collect();
            let mut kept: Vec<f64> = residuals.iter().zip(&keep).filter(|(_, &k)| k).map(|(r, _)| *r).collect();
            kept.sort_unstable_by(f64::total_cmp);
            let limit = TRIM_PX.max(TRIM_MEDIANS * kept[kept.len() / 2]);
            keep = residuals.iter().map(|&r| r <= limit).collect();
            fit = Some(m);
        }
        fit
    }

    /// Normal equations of the kept matches, solved for the two rows.
    fn least_squares(from: &[(f32, f32)], to: &[(f32, f32)], keep: &[bool]) -> Option<Affine> {
        let mut ata = [[0f64; 3]; 3];
        let (mut atx, mut aty) = ([0f64; 3], [0f64; 3]);
        let mut n = 0;
        for ((&p, &q), _) in from.iter().zip(to).zip(keep).filter(|(_, &k)| k) {
            let row = [p.0 as f64, p.1 as f64, 1.0];
            for i in 0..3 {
                for j in 0..3 {
                    ata[i][j] += row[i] * row[j];
                }
                atx[i] += row[i] * q.0 as f64;
                aty[i] += row[i] * q.1 as f64;
            }
            n += 1;
        }
        if n < 3 {
            return None;
        }
        let (r0, r1) = (solve3(ata, atx)?, solve3(ata, aty)?);
        Some(Affine([r0[0], r0[1], r0[2], r1[0], r1[1], r1[2]]))
    }

    /// The image of `(x, y)`.
    pub fn apply(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let m = &self.0;
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    /// The inverse map; `None` when the linear part is (nearly) singular.
    pub fn inverse(&self) -> Option<Affine> {
        let [a, b, c, d, e, f] = self.0;
        let det = a * e - b * d;
        if det.abs() < 1e-6 {
            return None;
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Some(Affine([ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)]))
    }
}

/// Solves the 3×3 system `m · x = v` (Gaussian elimination, partial pivoting).
fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> Option<[f64; 3]> {
    let scale = m.iter().flatten().fold(0f64, |s, x| s.max(x.abs()));
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() <= 1e-12 * scale.max(1.0) {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        for row in col + 1..3 {
            let f = m[row][col] / m[col][col];
            // Rows `row` and `col` of one matrix: an iterator over one would borrow both.
            #[allow(clippy::needless_range_loop)]
            for k in col..3 {
                m[row][k] -= f * m[col][k];
            }
            v[row] -= f * v[col];
        }
    }
    let mut x = [0f64; 3];
    for row in (0..3).rev() {
        let s: f64 = (row + 1..3).map(|k| m[row][k] * x[k]).sum();
        x[row] = (v[row] - s) / m[row][row];
    }
    Some(x)
}

/// Luma at a real position by bilinear interpolation; `None` outside the image.
fn bilinear(luma: &[f32], w: usize, h: usize, (x, y): (f64, f64)) -> Option<f64> {
    if !(x >= 0.0 && y >= 0.0 && x <= (w - 1) as f64 && y <= (h - 1) as f64) {
        return None;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |xx: usize, yy: usize| luma[yy * w + xx] as f64;
    Some((at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx) * (1.0 - fy) + (at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx) * fy)
}

/// One side of the duplication, on the image's block grid.
#[derive(Clone, Debug, Default)]
pub(super) struct Side {
    /// Per block (row-major, `w / block` × `h / block`): whether it belongs to the region.
    pub blocks: Vec<bool>,
    /// Mean squared difference between this side and the other side
    /// interpolated onto it, over the region's inner blocks (grey levels²).
    pub residual: f64,
    /// Pixel box `[x1, y1, x2, y2)` of the region's blocks.
    pub bbox: Option<[u32; 4]>,
}

impl Side {
    /// Number of blocks in the region.
    pub fn len(&self) -> usize {
        self.blocks.iter().filter(|&&b| b).count()
    }

    /// Whether the region has no block.
    pub fn is_empty(&self) -> bool {
        !self.blocks.contains(&true)
    }
}

/// Which end of the group's oriented pairs a region belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// The pairs' `a` ends.
    A,
    /// The pairs' `b` ends.
    B,
}

/// Both regions of a verified duplication.
#[derive(Clone, Debug)]
pub(super) struct Verified {
    /// The `a` ends' region (`a` → `b` is the fitted map).
    pub a: Side,
    /// The `b` ends' region.
    pub b: Side,
    /// The fitted map from the `a` side to the `b` side.
    pub map: Affine,
}

impl Verified {
    /// Larger residual over smaller (≥ 1; infinite when the smaller is 0).
    pub fn residual_ratio(&self) -> f64 {
        let (lo, hi) = if self.a.residual <= self.b.residual { (self.a.residual, self.b.residual) } else { (self.b.residual, self.a.residual) };
        if lo > 0.0 {
            hi / lo
        } else if hi > 0.0 {
            f64::INFINITY
        } else {
            1.0
        }
    }

    /// The copy: the side the other predicts by interpolation with a residual
    /// at least [`COPY_RATIO`] times smaller; `None` when the two are too close
    /// to call (a copy moved without resampling) or a side is empty.
    pub fn copy(&self) -> Option<End> {
        if self.a.is_empty() || self.b.is_empty() || self.residual_ratio() < COPY_RATIO {
            return None;
        }
        Some(if self.a.residual < self.b.residual { End::A } else { End::B })
    }
}

/// Verifies the duplication that maps each `a` to its `b` (the group's oriented
/// pairs): fits the affine map, correlates every block near each side's keypoints
/// with the other side warped onto it, keeps the connected blocks that pass and
/// touch a keypoint. `None` when no map can be fitted or either side keeps no
/// block: a duplication has two regions, and one alone would be named as a copy
/// of nothing (the caller then falls back to the keypoints).
pub(super) fn verify(luma: &[f32], w: usize, h: usize, block: usize, a: &[(f32, f32)], b: &[(f32, f32)]) -> Option<Verified> {
    let map = Affine::fit(a, b)?;
    let back = map.inverse()?;
    // Side a's pixels are compared with the image at map(p), side b's at back(p).
    let side_a = side(luma, w, h, block, a, &map);
    let side_b = side(luma, w, h, block, b, &back);
    (!side_a.is_empty() && !side_b.is_empty()).then_some(Verified { a: side_a, b: side_b, map })
}

/// Per-block correlation statistics of one block against its warped counterpart.
#[derive(Clone, Copy, Default)]
struct BlockMatch {
    zncc: f64,
    /// Σ (luma − warped)² over the block.
    squared_error: f64,
}

/// The region around `points` whose blocks correlate with the image at
/// `warp(p)` (see [`verify`]).
fn side(luma: &[f32], w: usize, h: usize, block: usize, points: &[(f32, f32)], warp: &Affine) -> Side {
    let (bw, bh) = (w / block, h / block);
    let mut out = Side { blocks: vec![false; bw * bh], ..Side::default() };
    if points.is_empty() || bw == 0 || bh == 0 {
        return out;
    }
    // Search window: the keypoints' box grown by half its larger side (a region
    // extends past its outermost corners) and at least two blocks.
    let (mut x1, mut y1, mut x2, mut y2) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in points {
        (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x), y2.max(y));
    }
    let pad = ((x2 - x1).max(y2 - y1) / 2.0).max(2.0 * block as f32);
    let to_block = |v: f32, n: usize| ((v.max(0.0) as usize) / block).min(n - 1);
    let (bx1, by1) = (to_block(x1 - pad, bw), to_block(y1 - pad, bh));
    let (bx2, by2) = (to_block(x2 + pad, bw) + 1, to_block(y2 + pad, bh) + 1);
    let cols = bx2 - bx1;
    let matches: Vec<Option<BlockMatch>> = (by1..by2).into_par_iter().flat_map_iter(|by| (bx1..bx2).map(move |bx| block_match(luma, w, h, block, bx, by, warp))).collect();
    let pass: Vec<bool> = matches.iter().map(|m| m.is_some_and(|m| m.zncc >= MIN_ZNCC)).collect();
    // Components (4-connected) of passing blocks that hold a keypoint or touch one's block.
    let mut seeds = vec![false; pass.len()];
    for &(x, y) in points {
        let (bx, by) = (to_block(x, bw), to_block(y, bh));
        for yy in by.saturating_sub(1)..=(by + 1).min(by2 - 1) {
            for xx in bx.saturating_sub(1)..=(bx + 1).min(bx2 - 1) {
                if yy >= by1 && xx >= bx1 {
                    seeds[(yy - by1) * cols + xx - bx1] = true;
                }
            }
        }
    }
    let rows = by2 - by1;
    let mut region = vec![false; pass.len()];
    let mut stack: Vec<usize> = (0..pass.len()).filter(|&i| seeds[i] && pass[i]).collect();
    stack.iter().for_each(|&i| region[i] = true);
    while let Some(i) = stack.pop() {
        let (cx, cy) = (i % cols, i / cols);
        let neighbours = [(cx.wrapping_sub(1), cy), (cx + 1, cy), (cx, cy.wrapping_sub(1)), (cx, cy + 1)];
        for (nx, ny) in neighbours {
            if nx < cols && ny < rows {
                let j = ny * cols + nx;
                if pass[j] && !region[j] {
                    region[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    // Residual over inner blocks (all four neighbours in the region): a block on
    // the copy's edge mixes in background, which says nothing about resampling.
    // The median block, not the mean: a few blocks on strong edges, misaligned
    // by a fraction of a pixel, would dominate a mean (one bicubic copy in
    // benches/copy_side_check.py read 4.6x the wrong way with the mean).
    let inner = |i: usize| {
        let (cx, cy) = (i % cols, i / cols);
        cx > 0 && cy > 0 && cx + 1 < cols && cy + 1 < rows && region[i - 1] && region[i + 1] && region[i - cols] && region[i + cols]
    };
    let error = |i: usize| matches[i].map_or(0.0, |m| m.squared_error);
    let mut errors: Vec<f64> = (0..region.len()).filter(|&i| region[i] && inner(i)).map(error).collect();
    if errors.is_empty() {
        errors = (0..region.len()).filter(|&i| region[i]).map(error).collect();
    }
    errors.sort_unstable_by(f64::total_cmp);
    out.residual = errors.get(errors.len() / 2).map_or(0.0, |e| e / (block * block) as f64);
    let (mut px1, mut py1, mut px2, mut py2) = (usize::MAX, usize::MAX, 0, 0);
    for (i, _) in region.iter().enumerate().filter(|(_, &r)| r) {
        let (bx, by) = (bx1 + i % cols, by1 + i / cols);
        out.blocks[by * bw + bx] = true;
        (px1, py1, px2, py2) = (px1.min(bx), py1.min(by), px2.max(bx + 1), py2.max(by + 1));
    }
    if px2 > 0 {
        out.bbox = Some([(px1 * block) as u32, (py1 * block) as u32, (px2 * block) as u32, (py2 * block) as u32]);
    }
    out
}

/// Correlation of block `(bx, by)` with the image at `warp(p)` for each of its
/// pixels `p`; `None` when a warped pixel falls outside the image or either side is flat.
fn block_match(luma: &[f32], w: usize, h: usize, block: usize, bx: usize, by: usize, warp: &Affine) -> Option<BlockMatch> {
    let (mut si, mut sw, mut sii, mut sww, mut siw, mut se) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for y in by * block..(by + 1) * block {
        for x in bx * block..(bx + 1) * block {
            let i = luma[y * w + x] as f64;
            let v = bilinear(luma, w, h, warp.apply((x as f64, y as f64)))?;
            si += i;
            sw += v;
            sii += i * i;
            sww += v * v;
            siw += i * v;
            se += (i - v) * (i - v);
        }
    }
    let n = (block * block) as f64;
    let (vi, vw) = (sii / n - (si / n).powi(2), sww / n - (sw / n).powi(2));
    if vi < MIN_STD * MIN_STD || vw < MIN_STD * MIN_STD {
        return None;
    }
    Some(BlockMatch { zncc: (siw / n - si * sw / (n * n)) / (vi * vw).sqrt(), squared_error: se })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_fit_recovers_a_rotation_and_ignores_an_outlier() {
        let truth = Affine([0.95, -0.2, 100.0, 0.2, 0.95, -30.0]);
        let from: Vec<(f32, f32)> = (0..12).map(|i| ((i * 37 % 200) as f32, (i * 53 % 150) as f32)).collect();
        let mut to: Vec<(f32, f32)> = from
            .iter()
            .map(|&(x, y)| {
                let (u, v) = truth.apply((x as f64, y as f64));
                (u as f32, v as f32)
            })
            .collect();
        to[5] = (to[5].0 + 60.0, to[5].1 - 40.0);
        let fit = Affine::fit(&from, &to).unwrap();
        for (f, t) in fit.0.iter().zip(truth.0) {
            assert!((f - t).abs() < 1e-3, "{fit:?}");
        }
        let round = fit.inverse().unwrap().apply(fit.apply((13.0, 17.0)));
        assert!((round.0 - 13.0).abs() < 1e-9 && (round.1 - 17.0).abs() < 1e-9);
        assert!(Affine::fit(&from[..2], &to[..2]).is_none(), "two points fix no affine map");
        let line: Vec<(f32, f32)> = (0..5).map(|i| (i as f32, 2.0 * i as f32)).collect();
        assert!(Affine::fit(&line, &line).is_none(), "collinear points");
    }

    #[test]
    fn copy_is_the_side_with_the_smaller_residual_only_when_clearly_smaller() {
        let side = |residual: f64| Side { blocks: vec![true], residual, bbox: Some([0, 0, 8, 8]) };
        let v = |ra: f64, rb: f64| Verified { a: side(ra), b: side(rb), map: Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]) };
        assert_eq!(v(10.0, 4.0).copy(), Some(End::B));
        assert_eq!(v(2.0, 4.0).copy(), Some(End::A));
        assert_eq!(v(5.0, 4.0).copy(), None, "ratio 1.25 is too close to call");
        assert_eq!(v(5.4, 4.0).copy(), Some(End::B), "ratio 1.35");
        assert_eq!(v(0.0, 0.0).copy(), None, "an exact translation");
        let mut empty = v(10.0, 1.0);
        empty.a.blocks = vec![false];
        assert_eq!(empty.copy(), None);
    }
}

//! Copy-move detection: the image is matched against itself with rotation-invariant
//! keypoint descriptors, and a large group of matches that all move by about the
//! same offset is a duplicated region.
//!
//! The pipeline is the keypoint family of copy-move detectors (Amerini et al.,
//! IEEE TIFS 2011; compared with block-based ones in Christlein et al., IEEE TIFS
//! 2012), with a descriptor chosen so that a pasted copy that was rotated a little
//! and rescaled still matches its source:
//! * keypoints: Harris corners (`cv2.cornerHarris(blur, 3, 3, 0.04)` on luma blurred
//!   with σ = 1), 5×5 non-maximum suppression, the `keypoints` strongest;
//! * descriptor: luma sampled on 7 rings (radius 2..=8 px, 32 samples each); per
//!   ring the mean and the magnitudes of the first three angular Fourier
//!   coefficients. A rotation only shifts the samples along each ring, which leaves
//!   these magnitudes unchanged (polar Fourier descriptors). The ring means lose
//!   the patch mean (brightness offsets) and the vector is L2-normalised (contrast);
//!   the flattest 10% of patches are dropped, since they match anything;
//! * scale: a rescaled copy moves every ring to another radius, which the
//!   descriptor does not absorb (a copy scaled by 1.13 on shared/bench/dev went
//!   unnoticed). Each keypoint is therefore also described on rings of radius
//!   ×`scale_step` and ÷`scale_step`, and a query (radius ×1) is compared with
//!   each candidate at all three scales, the nearest counting;
//! * matching: each keypoint's nearest neighbour at least `min_shift` px away,
//!   kept when it is clearly nearer than the second (Lowe's ratio test, `ratio`);
//! * grouping: a copy moves all its points by about the same offset, so the
//!   matches are grouped by displacement (tolerance 10 px + 15% of its length,
//!   which absorbs the ±15° rotations and 0.85–1.15 scalings of a typical copy).
//!
//! `cluster_matches` is the size of the largest group. Chance matches in textures
//! also form small groups; `anomaly_z` compares the largest group with the largest
//! group at a clearly different offset, `(c1 - c0) / sqrt(c0 + 1)`, so that an image
//! with many repetitive textures is not flagged for them alone. Only a group with
//! `anomaly_z >= min_z` names regions and fills the heat-map: a map of chance
//! matches would otherwise be stretched to full strength by the fusion's
//! per-map normalisation.
//!
//! Such a group is then verified densely ([`verify`]): the affine map between the
//! two regions is fitted to the matches, every block near them is correlated with
//! its image under the map, and the connected blocks that pass outline both
//! regions. The copy is the one the other predicts by interpolation (a rotated
//! or rescaled copy was resampled from its source); the heat-map marks the copy,
//! or both regions when that is not clear (a copy moved by whole pixels). On
//! shared/bench/dev the heat-map alone scores pixel F1 0.91–0.96 on the four
//! copy-moves whose copy it names and 0.66 on the fifth, where it marks both.
//! On shared/bench/dev, with one scale only, the Python twin (benches/py_ops_c.py)
//! found groups of 20 to 131 matches in 5 of the 7 copy-move images, at most 8 in
//! the 20 camera photos; with the three scales, see docs/plugins.md.

use rayon::prelude::*;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, OperatorError, Output, Region};

use crate::common::require_size;

mod keypoints;
mod matching;
mod verify;

use matching::Described;

/// Ring radii of the descriptor, pixels.
const RINGS: std::ops::RangeInclusive<usize> = 2..=8;
/// Samples per ring.
const ANGLES: usize = 32;
/// Angular Fourier coefficients kept per ring (after the mean).
const HARMONICS: usize = 3;
/// Descriptor length.
const DIM: usize = 7 * (1 + HARMONICS);
/// Outermost ring at scale 1, pixels.
const OUTER: usize = 8;

/// Ring scales a candidate is described at: 1, and ×/÷`step` when `step` > 1.
fn scales(step: f64) -> Vec<f32> {
    if step > 1.0 {
        vec![1.0, step as f32, 1.0 / step as f32]
    } else {
        vec![1.0]
    }
}

/// Keypoints closer than this to the border are skipped: the largest ring fits.
fn margin(scales: &[f32]) -> usize {
    (OUTER as f32 * scales.iter().fold(1f32, |m, &s| m.max(s))).ceil() as usize
}

/// One ring: its sampling offsets and the `(cos, sin)` of each angle.
type Ring = (Vec<(isize, isize)>, Vec<(f32, f32)>);

/// Rotation-invariant descriptor of the patch around `(x, y)` (see the module docs)
/// and its norm before normalisation (how much structure the patch has).
fn describe(
    l: &[f32],
    w: usize,
    x: usize,
    y: usize,
    table: &[Ring],
) -> ([f32; DIM], f32) {
    let mut d = [0f32; DIM];
    for (ri, (offsets, trig)) in table.iter().enumerate() {
        let samples = offsets
            .iter()
            .map(|&(dx, dy)| l[(y as isize + dy) as usize * w + (x as isize + dx) as usize]);
        let mut c = [(0f32, 0f32); HARMONICS + 1];
        for (a, s) in samples.enumerate() {
            for (k, ck) in c.iter_mut().enumerate() {
                let (cos, sin) = trig[(a * k) % ANGLES];
                ck.0 += s * cos;
                ck.1 += s * sin;
            }
        }
        let n = ANGLES as f32;
        d[ri * (1 + HARMONICS)] = c[0].0 / n;
        for k in 1..=HARMONICS {
            d[ri * (1 + HARMONICS) + k] = (c[k].0 * c[k].0 + c[k].1 * c[k].1).sqrt() / n;
        }
    }
    let rings = RINGS.count();
    let mean = (0..rings).map(|r| d[r * (1 + HARMONICS)]).sum::<f32>() / rings as f32;
    (0..rings).for_each(|r| d[r * (1 + HARMONICS)] -= mean);
    let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        d.iter_mut().for_each(|v| *v /= norm);
    }
    (d, norm)
}

/// Sampling offsets and `(cos, sin)` of each angle, per ring, the radii times `scale`.
fn ring_table(scale: f32) -> Vec<Ring> {
    let trig: Vec<(f32, f32)> = (0..ANGLES)
        .map(|a| {
            let t = 2.0 * std::f32::consts::PI * a as f32 / ANGLES as f32;
            (t.cos(), -t.sin())
        })
        .collect();
    RINGS
        .map(|r| {
            let offs = trig
                .iter()
                .map(|&(c, s)| {
                    (
                        (r as f32 * scale * c).round() as isize,
                        (-(r as f32) * scale * s).round() as isize,
                    )
                })
                .collect();
            (offs, trig.clone())
        })
        .collect()
}

/// Grouped keypoints per block (both ends), summed over about 32 px around: the
/// heat-map when the regions did not verify densely. Each keypoint adds to the
/// blocks around it, so the cost follows the keypoints, not the image (an empty
/// group costs one zeroed buffer).
fn keypoint_heat(members: &[Pair], bw: usize, bh: usize, block: usize) -> Vec<f32> {
    let mut heat = vec![0f32; bw * bh];
    let r = 32usize.div_ceil(block);
    for q in members {
        for (x, y) in [q.a, q.b] {
            let (bx, by) = ((x as usize / block).min(bw - 1), (y as usize / block).min(bh - 1));
            for yy in by.saturating_sub(r)..=(by + r).min(bh - 1) {
                for cell in &mut heat[yy * bw + bx.saturating_sub(r)..=yy * bw + (bx + r).min(bw - 1)] {
                    *cell += 1.0;
                }
            }
        }
    }
    heat
}

/// Box of keypoints, grown by the descriptor's outer radius and clipped to the image.
fn keypoint_box(ends: &[(f32, f32)], w: usize, h: usize) -> [u32; 4] {
    let pad = *RINGS.end() as f32;
    let (mut x1, mut y1, mut x2, mut y2) = (f32::MAX, f32::MAX, 0f32, 0f32);
    for &(x, y) in ends {
        (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x), y2.max(y));
    }
    [(x1 - pad).max(0.0) as u32, (y1 - pad).max(0.0) as u32, (x2 + pad + 1.0).min(w as f32) as u32, (y2 + pad + 1.0).min(h as f32) as u32]
}

/// A match between two keypoints.
#[derive(Clone, Copy, Debug)]
struct Pair {
    a: (f32, f32),
    b: (f32, f32),
}

impl Pair {
    /// Displacement with a canonical sign (a copy and its source give opposite
    /// signs depending on which end was the query).
    fn shift(&self) -> (f32, f32) {
        let (dx, dy) = (self.b.0 - self.a.0, self.b.1 - self.a.1);
        if dx < 0.0 || (dx == 0.0 && dy < 0.0) {
            (-dx, -dy)
        } else {
            (dx, dy)
        }
    }

    /// The same pair with its ends swapped if needed so that `b - a == shift()`.
    fn oriented(self) -> Pair {
        if self.shift() == (self.b.0 - self.a.0, self.b.1 - self.a.1) {
            self
        } else {
            Pair {
                a: self.b,
                b: self.a,
            }
        }
    }
}

/// Whether two displacements are the same offset within the grouping tolerance.
fn same_shift(u: (f32, f32), v: (f32, f32)) -> bool {
    (u.0 - v.0).hypot(u.1 - v.1) < 10.0 + 0.15 * v.0.hypot(v.1)
}

/// Indices of the largest group of pairs sharing a displacement (seeded at each
/// pair in turn; the first largest wins).
fn largest_group(pairs: &[Pair], exclude: impl Fn(&Pair) -> bool + Sync) -> Vec<usize> {
    let shifts: Vec<(f32, f32)> = pairs.iter().map(Pair::shift).collect();
    let best = (0..pairs.len())
        .into_par_iter()
        .filter(|&i| !exclude(&pairs[i]))
        .map(|i| {
            let n = (0..pairs.len())
                .filter(|&j| !exclude(&pairs[j]) && same_shift(shifts[j], shifts[i]))
                .count();
            (n, std::cmp::Reverse(i))
        })
        .max();
    match best {
        Some((_, std::cmp::Reverse(i))) => (0..pairs.len())
            .filter(|&j| !exclude(&pairs[j]) && same_shift(shifts[j], shifts[i]))
            .collect(),
        None => Vec::new(),
    }
}

trutheye_plugin_api::params! {
    /// Parameters of [`CopyMove`].
    pub struct CopyMoveParams {
        /// how many of the strongest Harris corners are described and matched
        pub keypoints: usize = 3000, range(50, 20000);
        /// Lowe's ratio: a match is kept when its descriptor distance is below this fraction of the second-best
        pub ratio: f64 = 0.6, range(0.1, 1.0);
        /// smallest distance in pixels between a point and its match (nearer points are the same structure, not a copy)
        pub min_shift: usize = 30, range(4, 2000);
        /// side in pixels of the heat-map's blocks, which are also the blocks the regions are verified on
        pub block: usize = 8, range(4, 256);
        /// a group whose anomaly_z is below this is reported in the stats but leaves the heat-map empty and names no region
        pub min_z: f64 = 3.0, range(0.0, 1000.0);
        /// candidates are also described on rings this much larger and smaller, so that a copy rescaled by about this factor still matches its source (1: one scale only)
        pub scale_step: f64 = 1.12, range(1.0, 1.5);
    }
}

/// Copy-move (duplicated region) detector.
#[derive(Default)]
pub struct CopyMove;

impl Operator for CopyMove {
    const NAME: &'static str = "copy_move";
    const DESCRIPTION: &'static str = "Copy-move detector: Harris keypoints with rotation-invariant ring descriptors are \
        matched against the rest of the image, and matches that move by the same offset are grouped. A large group \
        (cluster_matches, with anomaly_z comparing it with the best group at another offset) means a region was \
        duplicated, possibly rotated or rescaled a little. The affine map between the two is fitted to the matches and \
        each block near them is correlated with its image under that map, which outlines both regions; the one the other \
        predicts by interpolation is the copy (residual_ratio; copy_region when it is clear). The visual marks the grouped \
        keypoints on the dimmed image; the heat-map marks the copy's blocks, or both regions when the copy is not clear.";
    const CATEGORY: &'static str = "copy-move";
    type Params = CopyMoveParams;

    fn analyze(&self, image: &ImageRef<'_>, p: CopyMoveParams) -> Result<Output, OperatorError> {
        let (w, h) = (image.width, image.height);
        let scales = scales(p.scale_step);
        let margin = margin(&scales);
        require_size(Self::NAME, w, h, 2 * margin + p.min_shift.max(p.block))?;
        // The visual's dimmed background comes out of the blur's pass over the luma.
        let (blur, mut visual) = keypoints::blurred_luma(image);
        let corners = keypoints::strongest_corners(&blur, w, h, p.keypoints, margin);
        let tables: Vec<_> = scales.iter().map(|&s| ring_table(s)).collect();
        // Per corner: its descriptor at each scale (scale 1 first) and the
        // scale-1 norm.
        let described: Vec<Described> = corners
            .par_iter()
            .map(|&(x, y)| {
                let (d, n) = describe(&blur, w, x, y, &tables[0]);
                let mut ds = vec![d];
                ds.extend(tables[1..].iter().map(|t| describe(&blur, w, x, y, t).0));
                ((x, y), ds, n)
            })
            .collect();
        // The flattest tenth of the patches describe nothing in particular.
        let mut norms: Vec<f32> = described.iter().map(|d| d.2).collect();
        norms.sort_unstable_by(f32::total_cmp);
        let floor = norms.get(norms.len() / 10).copied().unwrap_or(0.0);
        let kept: Vec<&Described> = described.iter().filter(|d| d.2 > floor).collect();
        let nearest = matching::nearest_matches(&kept, scales.len(), p.min_shift, p.ratio);
        // A mutual match is one pair, not two.
        let pairs: Vec<Pair> = nearest
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let j = (*m)?;
                (i < j || nearest[j] != Some(i)).then(|| {
                    let (a, b) = (kept[i].0, kept[j].0);
                    Pair {
                        a: (a.0 as f32, a.1 as f32),
                        b: (b.0 as f32, b.1 as f32),
                    }
                })
            })
            .collect();
        let group = largest_group(&pairs, |_| false);
        let c1 = group.len();
        let lead = group.first().map(|&i| pairs[i].shift());
        // The chance level: the largest group at an offset clearly unlike the lead's.
        let c0 = match lead {
            Some(v) => largest_group(&pairs, |q| {
                let u = q.shift();
                (u.0 - v.0).hypot(u.1 - v.1) < 2.0 * (10.0 + 0.15 * v.0.hypot(v.1))
            })
            .len(),
            None => 0,
        };
        let anomaly_z = (c1 as f32 - c0 as f32) / (c0 as f32 + 1.0).sqrt();

        // Oriented so that every member's `b - a` is the canonical shift: all `a` ends
        // then lie in one of the two regions and all `b` ends in the other.
        // A group at the chance level marks nothing: the map stays empty so that
        // fusing it (robustly normalised, trutheye_core::fusion) adds nothing.
        let significant = c1 >= 3 && anomaly_z as f64 >= p.min_z;
        let members: Vec<Pair> = if significant {
            group.iter().map(|&i| pairs[i].oriented()).collect()
        } else {
            Vec::new()
        };
        let (bw, bh) = (w / p.block, h / p.block);
        let a_ends: Vec<(f32, f32)> = members.iter().map(|q| q.a).collect();
        let b_ends: Vec<(f32, f32)> = members.iter().map(|q| q.b).collect();
        // Verification reads the luma itself; most images have no group to verify.
        let verified = if significant { verify::verify(&crate::srm::luma_par(image), w, h, p.block, &a_ends, &b_ends) } else { None };
        let copy = verified.as_ref().and_then(verify::Verified::copy);
        // Heat: the verified region(s), 1 per block (only the copy when it is
        // known); without a verified region, the grouped keypoints per block
        // spread over about 32 px around.
        let heat: Vec<f32> = match &verified {
            Some(v) => {
                let marked = |i: usize| match copy {
                    Some(verify::End::A) => v.a.blocks[i],
                    Some(verify::End::B) => v.b.blocks[i],
                    None => v.a.blocks[i] || v.b.blocks[i],
                };
                (0..bw * bh).map(|i| if marked(i) { 1.0 } else { 0.0 }).collect()
            }
            None => keypoint_heat(&members, bw, bh, p.block),
        };
        let regions: Vec<Region> = match &verified {
            Some(v) => {
                // The copy first when it is known.
                let sides = if copy == Some(verify::End::B) { [&v.b, &v.a] } else { [&v.a, &v.b] };
                sides.iter().filter_map(|s| s.bbox).map(|bbox| Region { bbox, score: anomaly_z }).collect()
            }
            None if significant => [&a_ends, &b_ends].iter().map(|ends| Region { bbox: keypoint_box(ends, w, h), score: anomaly_z }).collect(),
            None => Vec::new(),
        };
        // Mark the matched keypoints on the visual, when there is one.
        if !visual.is_empty() {
            for q in &members {
                for (x, y) in [q.a, q.b] {
                    for yy in (y as usize).saturating_sub(2)..(y as usize + 3).min(h) {
                        for xx in (x as usize).saturating_sub(2)..(x as usize + 3).min(w) {
                            visual[yy * w + xx] = 255;
                        }
                    }
                }
            }
        }
        let ratio = verified.as_ref().map(verify::Verified::residual_ratio);
        let bx = |r: &Region| format!("[{},{},{},{}]", r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3]);
        let summary = match (regions.first(), regions.get(1), lead) {
            (Some(a), Some(b), Some(v)) => {
                let which = match (copy, ratio) {
                    (Some(_), Some(r)) => format!(
                        "the copy is {} (interpolating {} predicts it {r:.1}x better than the reverse, so it was resampled from there)",
                        bx(a),
                        bx(b)
                    ),
                    (None, Some(r)) => format!("between {} and {}; which is the copy is not clear (residual ratio {r:.1})", bx(a), bx(b)),
                    _ => format!("between {} and {} (keypoints only: the regions did not verify densely)", bx(a), bx(b)),
                };
                format!(
                    "Copy-move: {} of {} keypoint matches move by about ({:.0}, {:.0}) px, {which} \
                     ({anomaly_z:.1} above the largest group at another offset, {c0}).",
                    c1,
                    pairs.len(),
                    v.0,
                    v.1
                )
            }
            _ => format!(
                "Copy-move: no duplicated region; {} keypoint matches, largest consistent group {c1} \
                 ({anomaly_z:.1} above the largest group at another offset, {c0}).",
                pairs.len()
            ),
        };
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "cluster_matches": c1,
                "chance_group": c0,
                "matches": pairs.len(),
                "keypoints": kept.len(),
                "shift": lead.map(|v| [v.0, v.1]),
                "copy_region": copy.and(regions.first()).map(|r| r.bbox),
                "residual_ratio": ratio.map(|r| r.min(1e6)),
                "verified_blocks": verified.as_ref().map_or(0, |v| v.a.len() + v.b.len()),
                "affine": verified.as_ref().map(|v| v.map.0),
                "ratio": p.ratio, "min_shift": p.min_shift, "block": p.block, "min_z": p.min_z, "scale_step": p.scale_step,
            }),
            maps: Map::visual_for(image, "visual", w, h, 1, || visual).into_iter().chain([Map::heatmap("duplicated", bw, bh, heat)]).collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::{MapData, RawOperator};

    fn textured(w: usize, h: usize, seed: u64) -> Vec<u8> {
        // Smoothed noise: texture with corners at many scales, no exact repeats.
        let mut s = seed;
        let noise: Vec<f32> = (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) % 256) as f32
            })
            .collect();
        let b = keypoints::gaussian_blur_sigma1(&keypoints::gaussian_blur_sigma1(&noise, w, h), w, h);
        b.iter()
            .flat_map(|&v| {
                let v = ((v - 128.0) * 3.0 + 128.0).clamp(0.0, 255.0) as u8;
                [v, v, v]
            })
            .collect()
    }

    #[test]
    fn keypoint_heat_sums_the_keypoints_within_32_px_of_each_block() {
        let members = [Pair { a: (3.0, 3.0), b: (70.0, 40.0) }, Pair { a: (9.0, 1.0), b: (78.0, 44.0) }];
        let (bw, bh, block) = (12usize, 7usize, 8usize);
        let heat = keypoint_heat(&members, bw, bh, block);
        // Brute force: a block counts every keypoint whose block is within 4 blocks (32 px) of it.
        let points: Vec<(usize, usize)> = members.iter().flat_map(|q| [q.a, q.b]).map(|(x, y)| (x as usize / block, y as usize / block)).collect();
        for by in 0..bh {
            for bx in 0..bw {
                let want = points.iter().filter(|&&(px, py)| px.abs_diff(bx) <= 4 && py.abs_diff(by) <= 4).count() as f32;
                assert_eq!(heat[by * bw + bx], want, "block ({bx}, {by})");
            }
        }
        assert!(keypoint_heat(&[], bw, bh, block).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn descriptor_is_rotation_invariant_for_a_quarter_turn() {
        let (w, h) = (41usize, 41usize);
        let img: Vec<f32> = (0..w * h)
            .map(|i| ((i % w) as f32 * 1.7 + (i / w) as f32 * 0.3).sin() * 50.0 + (i % 7) as f32)
            .collect();
        // The same image turned 90° about the centre (20, 20).
        let rot: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                img[(w - 1 - x) * w + y]
            })
            .collect();
        let t = ring_table(1.0);
        let (a, _) = describe(&img, w, 20, 20, &t);
        let (b, _) = describe(&rot, w, 20, 20, &t);
        let dist: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!(dist < 1e-3, "{dist}");
    }

    /// `plain` with a disc of radius 36 around `(cx, cy)` replaced by the disc
    /// around `(sx, sy)` rotated by `deg` and enlarged by `scale` (bilinear).
    fn paste_scaled(plain: &[u8], (w, h): (usize, usize), (sx, sy): (f32, f32), (cx, cy): (f32, f32), deg: f32, scale: f32) -> Vec<u8> {
        let mut out = plain.to_vec();
        let (sin, cos) = deg.to_radians().sin_cos();
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                if dx.hypot(dy) > 36.0 {
                    continue;
                }
                // Inverse map: undo the scale, then the rotation.
                let (ux, uy) = (dx / scale, dy / scale);
                let (px, py) = (sx + cos * ux + sin * uy, sy - sin * ux + cos * uy);
                let (x0, y0, fx, fy) = (px.floor() as usize, py.floor() as usize, px.fract(), py.fract());
                for c in 0..3 {
                    let at = |xx: usize, yy: usize| plain[(yy * w + xx) * 3 + c] as f32;
                    let v = (at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx) * (1.0 - fy) + (at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
                    out[(y * w + x) * 3 + c] = v.round() as u8;
                }
            }
        }
        out
    }

    #[test]
    fn finds_a_copy_enlarged_by_an_eighth_only_with_the_scaled_rings() {
        let (w, h) = (320usize, 240usize);
        let plain = textured(w, h, 7);
        // The disc around (70, 80), turned 8° and enlarged 1.13 times, pasted at (230, 150).
        let forged = paste_scaled(&plain, (w, h), (70.0, 80.0), (230.0, 150.0), 8.0, 1.13);
        let image = ImageRef::from_rgb(w, h, &forged).unwrap();
        let three = CopyMove.run(&image, &json!({})).unwrap();
        let one = CopyMove.run(&image, &json!({"scale_step": 1.0})).unwrap();
        let z = |o: &Output| o.stats["anomaly_z"].as_f64().unwrap();
        assert!(z(&three) > 3.0 && !three.regions.is_empty(), "{}", three.summary);
        assert!(z(&one) < 3.0 && one.regions.is_empty(), "one scale: {}", one.summary);
        let shift = three.stats["shift"].as_array().unwrap();
        let (sx, sy) = (shift[0].as_f64().unwrap(), shift[1].as_f64().unwrap());
        // Offsets within the copy spread by its rotation and scale; their centre is (160, 70).
        assert!((sx - 160.0).abs() < 20.0 && (sy - 70.0).abs() < 20.0, "{sx} {sy}");
        let clean = CopyMove.run(&ImageRef::from_rgb(w, h, &plain).unwrap(), &json!({})).unwrap();
        assert!(clean.regions.is_empty(), "three scales on plain texture: {}", clean.summary);
        // The copy was resampled from its source (bilinear, turned and enlarged):
        // the source predicts it, not the reverse, so only the copy is marked.
        assert!(three.stats["residual_ratio"].as_f64().unwrap() >= verify::COPY_RATIO, "{}", three.summary);
        let copy: Vec<u64> = three.stats["copy_region"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert!(copy[0] <= 230 && copy[2] >= 230 && copy[1] <= 150 && copy[3] >= 150, "{copy:?}");
        assert!(copy[0] >= 180 && copy[2] <= 280 && copy[1] >= 100 && copy[3] <= 200, "{copy:?}");
        assert_eq!(three.regions[0].bbox.to_vec(), copy.iter().map(|&v| v as u32).collect::<Vec<_>>(), "the copy is named first");
        let heat = match &three.maps[1].data {
            MapData::F32(v) => v.clone(),
            _ => panic!("heat-map is f32"),
        };
        let (bw, block) = (w / 8, 8);
        let at = |x: usize, y: usize| heat[(y / block) * bw + x / block];
        assert_eq!(at(230, 150), 1.0, "the copy's centre");
        assert_eq!(at(70, 80), 0.0, "the source's centre is not marked");
        // Within about a block of the pasted disc (radius 36 × 1.13 on the source side, 36 here).
        let outside = (0..heat.len()).filter(|&i| heat[i] > 0.0).any(|i| {
            let (cx, cy) = (((i % bw) * block + 4) as f32, ((i / bw) * block + 4) as f32);
            (cx - 230.0).hypot(cy - 150.0) > 36.0 + 8.0
        });
        assert!(!outside, "marked blocks stay within the pasted disc");
    }

    #[test]
    fn finds_a_pasted_copy_and_not_plain_texture() {
        let (w, h) = (320usize, 240usize);
        let plain = textured(w, h, 99);
        let mut forged = plain.clone();
        // Copy the 60x60 block at (30, 40) to (200, 150).
        for y in 0..60 {
            for x in 0..60 {
                for c in 0..3 {
                    forged[((150 + y) * w + 200 + x) * 3 + c] =
                        plain[((40 + y) * w + 30 + x) * 3 + c];
                }
            }
        }
        let clean = CopyMove
            .run(&ImageRef::from_rgb(w, h, &plain).unwrap(), &json!({}))
            .unwrap();
        let out = CopyMove
            .run(&ImageRef::from_rgb(w, h, &forged).unwrap(), &json!({}))
            .unwrap();
        let c1 = out.stats["cluster_matches"].as_u64().unwrap();
        assert!(c1 >= 10, "{}", out.summary);
        assert!(
            clean.stats["cluster_matches"].as_u64().unwrap() < 5,
            "{}",
            clean.summary
        );
        assert!(
            clean.regions.is_empty()
                && matches!(&clean.maps[1].data, MapData::F32(v) if v.iter().all(|&x| x == 0.0)),
            "chance groups mark nothing"
        );
        assert!(out.stats["anomaly_z"].as_f64().unwrap() > 3.0);
        let shift = out.stats["shift"].as_array().unwrap();
        assert!(
            (shift[0].as_f64().unwrap() - 170.0).abs() < 2.0
                && (shift[1].as_f64().unwrap() - 110.0).abs() < 2.0
        );
        // The two regions are the source and the copy.
        let mut boxes: Vec<[u32; 4]> = out.regions.iter().map(|r| r.bbox).collect();
        boxes.sort();
        assert!(
            boxes[0][0] >= 22 && boxes[0][2] <= 98 && boxes[0][1] >= 32 && boxes[0][3] <= 108,
            "{boxes:?}"
        );
        assert!(
            boxes[1][0] >= 192 && boxes[1][2] <= 268 && boxes[1][1] >= 142 && boxes[1][3] <= 218,
            "{boxes:?}"
        );
        assert!(out.maps.iter().all(|m| m.is_consistent()));
        // A copy moved by whole pixels was not resampled: nothing tells it from its
        // source, so both are marked and no copy is named.
        assert!(out.stats["copy_region"].is_null(), "{}", out.summary);
        assert!(out.stats["residual_ratio"].as_f64().unwrap() < verify::COPY_RATIO);
        if let MapData::F32(v) = &out.maps[1].data {
            let bw = w / 8;
            assert_eq!(v[(70 / 8) * bw + 60 / 8], 1.0, "source centre");
            assert_eq!(v[(180 / 8) * bw + 230 / 8], 1.0, "copy centre");
            assert_eq!(v[(200 / 8) * bw + 100 / 8], 0.0, "elsewhere");
        }
        assert!(CopyMove
            .run(
                &ImageRef::from_rgb(w, h, &plain).unwrap(),
                &json!({"ratio": 2.0})
            )
            .is_err());
        let tiny = [0u8; 3 * 20 * 20];
        assert!(CopyMove
            .run(&ImageRef::from_rgb(20, 20, &tiny).unwrap(), &json!({}))
            .is_err());
    }
}

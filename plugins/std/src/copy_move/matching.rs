//! Nearest-neighbour matching of [`super::CopyMove`]'s descriptors: every query
//! against every candidate at every scale, then Lowe's ratio test.
//!
//! The similarities are a small matrix product (n × DIM by DIM × n per scale, n up
//! to a few thousand), computed in register tiles: four queries share each load of
//! sixteen candidates' components, so the candidates stream from cache a quarter
//! as often as one query at a time would make them. That was most of the
//! operator's time on a 12 MP photo. Each similarity is still summed over the
//! components in order from zero, so the matches are the same as one query at a
//! time (test below).

use rayon::prelude::*;

use super::DIM;

/// Candidates per tile: two 8-lane vectors.
const LANES: usize = 16;
/// Queries per tile: 4 × 16 accumulators stay in registers.
const QUERIES: usize = 4;

/// A keypoint as matching sees it: position and its descriptor at each scale
/// (scale 1 first).
pub(super) type Described = ((usize, usize), Vec<[f32; DIM]>, f32);

/// The candidates' descriptors at one scale, component-major in tiles of
/// [`LANES`]: `tiles[d * n_tiles + t]` holds component `d` of candidates
/// `t * LANES ..`, zero past the last candidate.
fn transpose(kept: &[&Described], scale: usize) -> Vec<[f32; LANES]> {
    let n_tiles = kept.len().div_ceil(LANES);
    let mut tiles = vec![[0f32; LANES]; DIM * n_tiles];
    for (j, k) in kept.iter().enumerate() {
        for (d, v) in k.1[scale].iter().enumerate() {
            tiles[d * n_tiles + j / LANES][j % LANES] = *v;
        }
    }
    tiles
}

/// Best similarity over the scales of up to [`QUERIES`] queries (their scale-1
/// descriptors, zero-padded) to every candidate, as a [`pulp::WithSimd`] so that
/// the tile loops are compiled for AVX2.
struct BestSimilarity<'a> {
    queries: [[f32; DIM]; QUERIES],
    scales: &'a [Vec<[f32; LANES]>],
    n_tiles: usize,
    /// `QUERIES × n_tiles * LANES`, one row per query.
    best: &'a mut [f32],
}

impl pulp::WithSimd for BestSimilarity<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let BestSimilarity { queries, scales, n_tiles, best } = self;
        let stride = n_tiles * LANES;
        best.fill(f32::MIN);
        // Vectors per tile (pulp's lane counts, 1 to 16, all divide LANES). The
        // sums are explicit vector multiplies and adds, not fused multiply-adds,
        // so each lane rounds as the scalar `a += q * c` does.
        let nv = LANES / S::F32_LANES;
        let zero = simd.splat_f32s(0.0);
        for tiles in scales {
            for t in 0..n_tiles {
                let mut acc = [[zero; LANES]; QUERIES];
                for d in 0..DIM {
                    let (c, _) = S::as_simd_f32s(&tiles[d * n_tiles + t]);
                    for (a, q) in acc.iter_mut().zip(&queries) {
                        let qd = simd.splat_f32s(q[d]);
                        for (a, &c) in a[..nv].iter_mut().zip(c) {
                            *a = simd.add_f32s(*a, simd.mul_f32s(qd, c));
                        }
                    }
                }
                for (qi, a) in acc.iter().enumerate() {
                    let (b, _) = S::as_mut_simd_f32s(&mut best[qi * stride + t * LANES..][..LANES]);
                    for (b, &a) in b.iter_mut().zip(&a[..nv]) {
                        *b = simd.max_f32s(*b, a);
                    }
                }
            }
        }
    }
}

/// For each kept keypoint, its match: the nearest descriptor (squared distance
/// `2 − 2·cos`; the query at scale 1 against each candidate at every scale, the
/// nearest scale counting) among keypoints at least `min_shift` px away, kept
/// when it is nearer than `ratio` times the second nearest (Lowe's test on
/// distances, i.e. `ratio²` on squared ones).
pub(super) fn nearest_matches(kept: &[&Described], n_scales: usize, min_shift: usize, ratio: f64) -> Vec<Option<usize>> {
    let n = kept.len();
    if n == 0 {
        return Vec::new();
    }
    let scales: Vec<Vec<[f32; LANES]>> = (0..n_scales).map(|s| transpose(kept, s)).collect();
    let n_tiles = n.div_ceil(LANES);
    let stride = n_tiles * LANES;
    let min2 = (min_shift * min_shift) as f32;
    let ratio2 = (ratio * ratio) as f32;
    let groups: Vec<Vec<Option<usize>>> = (0..n.div_ceil(QUERIES))
        .into_par_iter()
        .map_init(
            || vec![0f32; QUERIES * stride],
            |best, g| {
                let members = g * QUERIES..((g + 1) * QUERIES).min(n);
                let mut queries = [[0f32; DIM]; QUERIES];
                for (q, i) in queries.iter_mut().zip(members.clone()) {
                    *q = kept[i].1[0];
                }
                pulp::Arch::new().dispatch(BestSimilarity { queries, scales: &scales, n_tiles, best: &mut best[..] });
                members
                    .enumerate()
                    .map(|(qi, i)| {
                        let (x, y) = kept[i].0;
                        let (mut b, mut s, mut bi) = (f32::MAX, f32::MAX, usize::MAX);
                        for (j, &sim) in best[qi * stride..][..n].iter().enumerate() {
                            let (xj, yj) = kept[j].0;
                            let (dx, dy) = (xj as f32 - x as f32, yj as f32 - y as f32);
                            if dx * dx + dy * dy < min2 {
                                continue;
                            }
                            let dist = 2.0 - 2.0 * sim;
                            if dist < b {
                                (s, b, bi) = (b, dist, j);
                            } else if dist < s {
                                s = dist;
                            }
                        }
                        (bi != usize::MAX && b < ratio2 * s).then_some(bi)
                    })
                    .collect()
            },
        )
        .collect();
    groups.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One query at a time, as the operator matched before the tiles.
    fn one_at_a_time(kept: &[&Described], n_scales: usize, min_shift: usize, ratio: f64) -> Vec<Option<usize>> {
        let n = kept.len();
        (0..n)
            .map(|i| {
                let ((x, y), ref ds, _) = *kept[i];
                let mut best = vec![f32::MIN; n];
                for s in 0..n_scales {
                    for (j, b) in best.iter_mut().enumerate() {
                        let mut acc = 0f32;
                        for (q, c) in ds[0].iter().zip(&kept[j].1[s]) {
                            acc += q * c;
                        }
                        *b = b.max(acc);
                    }
                }
                let mut d: Vec<(f32, usize)> = best
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| {
                        let (dx, dy) = (kept[j].0 .0 as f32 - x as f32, kept[j].0 .1 as f32 - y as f32);
                        dx * dx + dy * dy >= (min_shift * min_shift) as f32
                    })
                    .map(|(j, &s)| (2.0 - 2.0 * s, j))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                match d.as_slice() {
                    [(b, j), (s, _), ..] if *b < (ratio * ratio) as f32 * s => Some(*j),
                    [(_, j)] => Some(*j),
                    _ => None,
                }
            })
            .collect()
    }

    #[test]
    fn tiled_matches_equal_one_query_at_a_time() {
        let mut s = 7u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) % 1000) as f32 / 500.0 - 1.0
        };
        // Sizes around the tile widths; every fourth keypoint repeats another's
        // descriptor with a little noise, so some pass the ratio test.
        for n in [1usize, 2, 5, 16, 17, 63, 130] {
            let mut pts: Vec<Described> = Vec::new();
            for i in 0..n {
                let ds: Vec<[f32; DIM]> = (0..3)
                    .map(|_| {
                        let mut d = [0f32; DIM];
                        d.iter_mut().for_each(|v| *v = next());
                        d
                    })
                    .collect();
                pts.push((((i * 37) % 500, (i * 91) % 400), ds, 1.0));
            }
            for i in (3..n).step_by(4) {
                let mut copy = pts[i - 3].1.clone();
                copy.iter_mut().for_each(|d| d.iter_mut().for_each(|v| *v += 0.01 * next()));
                pts[i].1 = copy;
            }
            let kept: Vec<&Described> = pts.iter().collect();
            for (scales, min_shift, ratio) in [(1, 30, 0.6), (3, 30, 0.6), (3, 4, 0.95)] {
                let want = one_at_a_time(&kept, scales, min_shift, ratio);
                assert_eq!(nearest_matches(&kept, scales, min_shift, ratio), want, "n={n} scales={scales}");
                if n >= 16 && ratio < 0.9 {
                    assert!(want.iter().any(Option::is_some), "n={n}: the planted repeats match");
                }
            }
        }
    }
}

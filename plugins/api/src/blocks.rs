//! Block statistics every block-map operator needs, written once: the median,
//! a robust z-score that stays sane on maps with many equal blocks, and the
//! grouping of outlying blocks into boxes for
//! [`Output::regions`](crate::Output::regions).
//!
//! The native block-map operators (`trutheye-plugin-std`), the ONNX residual
//! backend and the operator template all score their block maps with these, so
//! a z from a researcher's plugin means what a z from a built-in block-map
//! operator means (`copy_move`'s `anomaly_z`, a count of matches, is the one
//! built-in z on another footing). The Python twins of the native operators
//! (`plugins/std/benches/py_ops_*.py`) compute the same statistic with NumPy,
//! whose median averages the middle pair of an even count where [`median`]
//! takes the upper one.

use crate::Region;

/// Median of a slice (NaN-free input assumed); 0 for an empty slice.
pub fn median(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    *m
}

/// Robust z-scores `(v - median) / sigma` with `sigma = 1.4826 * MAD`. Returns
/// `(z, median, sigma)`.
///
/// When more than half the values are equal the MAD is 0 (blocks of a clipped
/// highlight or of a flat fill, all at exactly the same energy), and a z over
/// it is meaningless: with only a tiny floor, a map flat but for a few blocks
/// gave z in the hundreds of thousands. Then `sigma = 1.253314 * MeanAD`, the
/// mean absolute deviation from the median made normal-consistent, as the
/// modified z-score does (IBM's definition). A perfectly flat map keeps a tiny
/// floor, so it gives 0, not NaN.
pub fn robust_z(values: &[f32]) -> (Vec<f32>, f32, f32) {
    let med = median(values);
    let dev: Vec<f32> = values.iter().map(|v| (v - med).abs()).collect();
    let sigma = robust_sigma(&dev, 1e-6 * med.abs().max(1.0));
    (values.iter().map(|v| (v - med) / sigma).collect(), med, sigma)
}

/// The scale of [`robust_z`] from the absolute deviations from the median
/// `dev`: 1.4826 MAD, or 1.253314 MeanAD when 1.4826 MAD is not above
/// `floor`, never below `floor`.
pub fn robust_sigma(dev: &[f32], floor: f32) -> f32 {
    let mad = 1.4826 * median(dev);
    if mad > floor {
        return mad;
    }
    let mean_ad = dev.iter().map(|&d| d as f64).sum::<f64>() / dev.len().max(1) as f64;
    ((1.253314 * mean_ad) as f32).max(floor)
}

/// Bounding boxes of 4-connected groups of tiles whose z exceeds `threshold`,
/// in image pixels, most suspicious (highest max z) first, at most `k`. When no tile
/// passes, the single highest tile is returned so the model always gets a place to
/// look (its score tells how weak it is).
///
/// `z` is the `bw`×`bh` grid, row-major; cells past `bw * bh` are ignored,
/// and a NaN cell never passes nor is the fallback. A map where low values are
/// the suspicious ones (a smooth block among textured ones) is negated first,
/// as the operator template does.
pub fn top_regions(z: &[f32], bw: usize, bh: usize, block: usize, threshold: f32, k: usize) -> Vec<Region> {
    if z.is_empty() || bw == 0 || bh == 0 {
        return Vec::new();
    }
    let z = &z[..z.len().min(bw * bh)];
    let tile = |x1: usize, y1: usize, x2: usize, y2: usize| [(x1 * block) as u32, (y1 * block) as u32, (x2 * block) as u32, (y2 * block) as u32];
    let above: Vec<bool> = z.iter().map(|&v| v > threshold).collect();
    let mut regions: Vec<Region> = components(&above, bw, bh)
        .into_iter()
        .map(|cells| {
            let (mut x1, mut y1, mut x2, mut y2, mut best) = (usize::MAX, usize::MAX, 0, 0, f32::MIN);
            for i in cells {
                let (x, y) = (i % bw, i / bw);
                (x1, y1, x2, y2, best) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1), best.max(z[i]));
            }
            Region { bbox: tile(x1, y1, x2, y2), score: best }
        })
        .collect();
    if regions.is_empty() {
        let (i, s) = z.iter().copied().enumerate().filter(|(_, v)| !v.is_nan()).max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
        let (x, y) = (i % bw, i / bw);
        regions.push(Region { bbox: tile(x, y, x + 1, y + 1), score: s });
    }
    regions.sort_by(|a, b| b.score.total_cmp(&a.score));
    regions.truncate(k);
    regions
}

/// 4-connected components of the cells of a `w`×`h` grid (row-major) that are
/// `on`, each as its cell indices, in the order of their first cell; cells
/// past the end of `on` count as off. Shared by
/// [`top_regions`] and the host's fused mask (its largest component gives the
/// answer's box), so operators and the agent group cells the same way.
pub fn components(on: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; on.len()];
    let mut out = Vec::new();
    let n = on.len().min(w * h);
    for start in 0..n {
        if !on[start] || seen[start] {
            continue;
        }
        let mut comp = Vec::new();
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            comp.push(i);
            let (x, y) = (i % w, i / w);
            let neighbours = [(x > 0).then(|| i - 1), (x + 1 < w).then(|| i + 1), (y > 0).then(|| i - w), (y + 1 < h).then(|| i + w)];
            for j in neighbours.into_iter().flatten() {
                if j < n && on[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        out.push(comp);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_group_connected_tiles() {
        let mut z = vec![0f32; 16];
        z[5] = 5.0;
        z[6] = 4.0;
        z[15] = 3.5;
        let r = top_regions(&z, 4, 4, 8, 3.0, 5);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].bbox, [8, 8, 24, 16]);
        assert_eq!(r[1].bbox, [24, 24, 32, 32]);
        assert_eq!((r[0].score, r[1].score), (5.0, 3.5));
        // At most k groups, strongest first.
        let r = top_regions(&z, 4, 4, 8, 3.0, 1);
        assert_eq!((r.len(), r[0].score), (1, 5.0));
        assert!(top_regions(&z, 4, 4, 8, 3.0, 0).is_empty());
        // Nothing above the threshold: the single highest tile, with its own score.
        let r = top_regions(&z, 4, 4, 8, 9.0, 5);
        assert_eq!((r.len(), r[0].bbox, r[0].score), (1, [8, 8, 16, 16], 5.0));
        // An empty grid gives no region rather than a panic.
        assert!(top_regions(&[], 0, 0, 8, 3.0, 5).is_empty());
        // NaN cells neither pass nor win the fallback; cells past the grid are ignored.
        let r = top_regions(&[f32::NAN, 5.0, 1.0, 2.0], 2, 2, 8, 3.0, 5);
        assert_eq!((r.len(), r[0].bbox, r[0].score), (1, [8, 0, 16, 8], 5.0));
        let r = top_regions(&[f32::NAN, 1.0, 2.0, 0.0, 9.0], 2, 2, 8, 3.0, 5);
        assert_eq!((r.len(), r[0].bbox, r[0].score), (1, [0, 8, 8, 16], 2.0));
    }

    #[test]
    fn components_are_four_connected_in_first_cell_order() {
        // 4x3 grid:  1 1 0 1
        //            0 0 0 1
        //            1 0 1 0   (diagonal neighbours do not connect)
        let on = [1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0].map(|v| v == 1);
        let mut c = components(&on, 4, 3);
        c.iter_mut().for_each(|cells| cells.sort_unstable());
        assert_eq!(c, vec![vec![0, 1], vec![3, 7], vec![8], vec![10]]);
        assert!(components(&[false; 6], 3, 2).is_empty());
        // Shorter than the grid: the missing cells are off, not a panic.
        assert_eq!(components(&[true, false, true], 2, 2), vec![vec![0, 2]]);
    }

    #[test]
    fn robust_z_falls_back_to_the_mean_absolute_deviation_when_the_mad_is_zero() {
        // A clipped highlight: 90 blocks at exactly 0 energy, 10 at 0.7. MAD = 0,
        // MeanAD = 0.07, so sigma = 1.253314 * 0.07 and z(0.7) = 7.979 (the old
        // 1e-6 floor gave 700,000).
        let v: Vec<f32> = (0..100).map(|i| if i < 90 { 0.0 } else { 0.7 }).collect();
        let (z, med, sigma) = robust_z(&v);
        assert_eq!(med, 0.0);
        assert!((sigma - 0.087732).abs() < 1e-5, "{sigma}");
        assert!((z[95] - 7.9788).abs() < 1e-3, "{}", z[95]);
        // numpy on the same values: np.median(v) = 0, 1.253314 * np.mean(np.abs(v)) = 0.0877320 (same fallback in benches/py_ops_a.py).
        // With a MAD, the usual 1.4826 MAD: values 1..=9 have median 5 and MAD 2.
        let (z, _, sigma) = robust_z(&(1..=9).map(|i| i as f32).collect::<Vec<_>>());
        assert!((sigma - 2.9652).abs() < 1e-5 && (z[8] - 4.0 / 2.9652).abs() < 1e-5);
        // Perfectly flat: all 0, no NaN.
        let (z, _, _) = robust_z(&[3.0; 16]);
        assert!(z.iter().all(|&x| x == 0.0));
    }
}

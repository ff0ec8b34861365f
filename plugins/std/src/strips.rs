//! Row-strip machinery shared by the 5x5 noise filters (`srm`, `bayar`) and the
//! block-energy operators: per-strip luma windows, the strip filter driver and
//! vectorisable f32 sums.

use rayon::prelude::*;
use trutheye_plugin_api::ImageRef;

use crate::common::reflect;

/// Sum of `v` in `f64`, accumulated in eight `f32` lanes per short run so it
/// vectorises (the runs are short enough that the `f32` partials stay exact to
/// well below the tolerances of the statistics built on them).
#[inline]
pub(crate) fn lane_sum(v: &[f32]) -> f64 {
    lane_fold(v, |x| x)
}

/// Sum of squares of `v`, see [`lane_sum`].
#[inline]
pub(crate) fn lane_sum_sq(v: &[f32]) -> f64 {
    lane_fold(v, |x| x * x)
}

#[inline(always)]
fn lane_fold(v: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut total = 0f64;
    for run in v.chunks(256) {
        let mut acc = [0f32; 8];
        let mut it = run.chunks_exact(8);
        for c in &mut it {
            for i in 0..8 {
                acc[i] += f(c[i]);
            }
        }
        total += it.remainder().iter().map(|&x| f(x) as f64).sum::<f64>();
        total += acc.iter().map(|&x| x as f64).sum::<f64>();
    }
    total
}

/// Per-block sums of squares over the top-left `aw x ah` area of a map with row
/// stride `stride` (`aw / block x ah / block` grid, partial blocks dropped).
pub(crate) fn block_sq_sums(map: &[f32], stride: usize, aw: usize, ah: usize, block: usize) -> (Vec<f64>, usize, usize) {
    let (bw, bh) = (aw / block, ah / block);
    let mut out = vec![0f64; bw * bh];
    out.par_chunks_mut(bw.max(1)).enumerate().for_each(|(by, sums)| {
        for y in by * block..(by + 1) * block {
            let row = &map[y * stride..y * stride + bw * block];
            for (s, seg) in sums.iter_mut().zip(row.chunks_exact(block)) {
                *s += lane_sum_sq(seg);
            }
        }
    });
    (out, bw, bh)
}

/// Luma of image row `y` (same arithmetic as [`luma_par`]) written into
/// `dst[r..r + w]`, with `r` reflect-101 samples on each side.
#[inline]
pub(crate) fn luma_row_padded(rgb: &[u8], w: usize, y: usize, r: usize, dst: &mut [f32]) {
    crate::common::luma_row(&rgb[y * w * 3..(y + 1) * w * 3], &mut dst[r..r + w]);
    for i in 0..r {
        dst[i] = dst[r + reflect(i as isize - r as isize, w)];
        dst[r + w + i] = dst[r + reflect((w + i) as isize, w)];
    }
}

/// Luma rows `y0 - r .. y1 + r` (reflect-101 in y), each padded by `r` in x:
/// the window a `(2r+1) x (2r+1)` filter needs for output rows `y0..y1`.
pub(crate) fn luma_window(image: &ImageRef<'_>, y0: usize, y1: usize, r: usize, buf: &mut Vec<f32>) -> usize {
    let (w, h) = (image.width, image.height);
    let pw = w + 2 * r;
    let rows = y1 - y0 + 2 * r;
    buf.resize(rows * pw, 0.0);
    for (i, dst) in buf.chunks_exact_mut(pw).enumerate() {
        let y = reflect(y0 as isize + i as isize - r as isize, h);
        luma_row_padded(image.rgb, w, y, r, dst);
    }
    pw
}

/// Largest filter radius [`strip_filter`] takes (its row table lives on the stack).
const MAX_STRIP_RADIUS: usize = 3;

/// Runs `row_fn` over every image row with a luma window of radius `r`, rows
/// grouped in strips of `block` rows (one rayon task each). `row_fn(window rows,
/// scratch, out row, e row)` writes the per-pixel map value into `out row` and the
/// per-pixel energy into `e row`, and returns a raw per-row sum. Returns the map,
/// the per-block energy sums (full blocks only) and the total of the raw sums.
pub(crate) fn strip_filter<F>(image: &ImageRef<'_>, r: usize, block: usize, row_fn: F) -> (Vec<f32>, Vec<f64>, f64)
where
    F: Fn(&[&[f32]], &mut [Vec<f32>; 5], &mut [f32], &mut [f32]) -> f64 + Sync,
{
    assert!(r <= MAX_STRIP_RADIUS, "strip_filter radius {r} > {MAX_STRIP_RADIUS}");
    let (w, h) = (image.width, image.height);
    let (bw, bh) = (w / block, h / block);
    let mut map = vec![0f32; w * h];
    let mut sums = vec![0f64; bw * bh];
    let mut sum_chunks: Vec<&mut [f64]> = sums.chunks_mut(bw.max(1)).collect();
    sum_chunks.resize_with(h.div_ceil(block), || &mut []);
    let raw: f64 = map
        .par_chunks_mut(block * w)
        .zip(sum_chunks.into_par_iter())
        .enumerate()
        .map_init(
            || (Vec::new(), std::array::from_fn(|_| vec![0f32; w + 2 * r]), vec![0f32; w]),
            |(win, scratch, e), (si, (out, bsum))| {
                let y0 = si * block;
                let n = out.len() / w;
                let pw = luma_window(image, y0, y0 + n, r, win);
                let mut raw = 0f64;
                for (j, orow) in out.chunks_exact_mut(w).enumerate() {
                    let mut rows: [&[f32]; 2 * MAX_STRIP_RADIUS + 1] = [&[]; 2 * MAX_STRIP_RADIUS + 1];
                    for (k, row) in rows[..2 * r + 1].iter_mut().enumerate() {
                        *row = &win[(j + k) * pw..(j + k + 1) * pw];
                    }
                    raw += row_fn(&rows[..2 * r + 1], scratch, orow, e);
                    for (s, seg) in bsum.iter_mut().zip(e.chunks_exact(block)) {
                        *s += lane_sum(seg);
                    }
                }
                raw
            },
        )
        .sum();
    (map, sums, raw)
}


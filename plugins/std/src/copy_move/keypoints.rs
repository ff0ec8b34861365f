//! Keypoints for [`super::CopyMove`]: luma blurred with σ = 1
//! (`cv2.GaussianBlur(luma, (9, 9), 1.0)`), the Harris response
//! (`cv2.cornerHarris(blur, 3, 3, 0.04)` up to a constant factor), 5×5 non-maximum
//! suppression, the `k` strongest.
//!
//! Every step runs on bands of rows with band-sized buffers. On a 12 MP photo the
//! whole-image intermediates this replaced (the luma plane, the horizontal blur
//! pass, the Harris map: 48 MB each) cost more than the arithmetic, in writes and
//! in the kernel zeroing their pages; only the blurred image, which the
//! descriptors sample around each keypoint, is still whole. The per-pixel
//! arithmetic and its order are unchanged, so the results are bit-identical to
//! the whole-image passes (tests below).

use rayon::prelude::*;
use trutheye_plugin_api::ImageRef;

use crate::common::{luma_row, reflect};
use crate::sobel::map_for_visual;

/// Output rows per parallel band. The blur recomputes 8 rows of its horizontal
/// pass per band and the corner search 4 Harris rows, so bands are tall enough
/// for that to stay small, and short enough that both cores get work at 1 MP.
const BAND: usize = 64;
/// Radius of the 9-tap Gaussian.
const BLUR_R: usize = 4;

/// The 9-tap Gaussian of σ = 1, normalised (the weights `cv2.getGaussianKernel(9, 1)`
/// rounds to f32).
fn gaussian9() -> [f32; 2 * BLUR_R + 1] {
    let raw: Vec<f64> = (-(BLUR_R as i32)..=BLUR_R as i32).map(|i| (-(i * i) as f64 / 2.0).exp()).collect();
    let sum: f64 = raw.iter().sum();
    let mut k = [0f32; 2 * BLUR_R + 1];
    k.iter_mut().zip(&raw).for_each(|(k, v)| *k = (v / sum) as f32);
    k
}

/// Horizontal correlation of one row with the odd kernel `k`, reflect-101 at both
/// ends, added into `o` (zeroed by the caller). The interior runs on plain shifted
/// slices so it vectorises; only the `k.len() / 2` columns at each end look up
/// reflected indices.
#[inline(always)]
fn filter_line(line: &[f32], k: &[f32], o: &mut [f32]) {
    let (w, r) = (line.len(), k.len() / 2);
    let edge = |x: usize| k.iter().enumerate().map(|(i, kv)| kv * line[reflect(x as isize + i as isize - r as isize, w)]).sum::<f32>();
    if w > 2 * r {
        for (i, kv) in k.iter().enumerate() {
            for (d, s) in o[r..w - r].iter_mut().zip(&line[i..w - 2 * r + i]) {
                *d += kv * s;
            }
        }
        for x in (0..r).chain(w - r..w) {
            o[x] = edge(x);
        }
    } else {
        for (x, d) in o.iter_mut().enumerate() {
            *d = edge(x);
        }
    }
}

/// `cv2.GaussianBlur(luma, (9, 9), 1.0)` of `image`'s luma (reflect-101 borders),
/// and the visual's background, luma × 0.4 as u8, from the same luma rows (empty
/// when the caller reads no visual).
pub(super) fn blurred_luma(image: &ImageRef<'_>) -> (Vec<f32>, Vec<u8>) {
    let (w, h) = (image.width, image.height);
    let mut blur = vec![0f32; w * h];
    let mut dim = map_for_visual(image, w * h);
    if w == 0 || h == 0 || image.rgb.len() != w * h * 3 {
        return (blur, dim);
    }
    let k = gaussian9();
    let bands = blur.par_chunks_mut(BAND * w).enumerate();
    let scratch = || (Vec::new(), Vec::new());
    if dim.is_empty() {
        bands.for_each_init(scratch, |(rows, luma), (band, out)| pulp::Arch::new().dispatch(BlurBand { image, k: &k, y0: band * BAND, out, dim: &mut [], rows, luma }));
    } else {
        bands
            .zip(dim.par_chunks_mut(BAND * w))
            .for_each_init(scratch, |(rows, luma), ((band, out), dim)| pulp::Arch::new().dispatch(BlurBand { image, k: &k, y0: band * BAND, out, dim, rows, luma }));
    }
    (blur, dim)
}

/// One band of [`blurred_luma`] (output rows `y0 ..`, as many as `out` holds), as
/// a [`pulp::WithSimd`] so that its passes are compiled for AVX2; `rows` and
/// `luma` are the thread's reused buffers.
struct BlurBand<'a> {
    image: &'a ImageRef<'a>,
    k: &'a [f32; 2 * BLUR_R + 1],
    y0: usize,
    out: &'a mut [f32],
    dim: &'a mut [u8],
    rows: &'a mut Vec<f32>,
    luma: &'a mut Vec<f32>,
}

impl pulp::WithSimd for BlurBand<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let BlurBand { image, k, y0, out, dim, rows, luma } = self;
        let (w, h) = (image.width, image.height);
        let n = out.len() / w;
        // Horizontal pass of image rows y0-4 ..= y0+n+3 (reflect-101), into zeroed rows.
        rows.clear();
        rows.resize((n + 2 * BLUR_R) * w, 0.0);
        luma.resize(w, 0.0);
        for (j, row) in rows.chunks_exact_mut(w).enumerate() {
            let y = reflect((y0 + j) as isize - BLUR_R as isize, h);
            luma_row(&image.rgb[y * w * 3..(y + 1) * w * 3], luma);
            filter_line(luma, k, row);
            if !dim.is_empty() && (BLUR_R..BLUR_R + n).contains(&j) {
                let d = &mut dim[(j - BLUR_R) * w..][..w];
                d.iter_mut().zip(luma.iter()).for_each(|(d, &v)| *d = (v * 0.4).clamp(0.0, 255.0) as u8);
            }
        }
        // Vertical pass: output row i reads horizontal rows i ..= i+8.
        for (i, o) in out.chunks_exact_mut(w).enumerate() {
            for (kv, line) in k.iter().zip(rows[i * w..].chunks_exact(w)) {
                o.iter_mut().zip(line).for_each(|(d, s)| *d += kv * s);
            }
        }
    }
}

/// Harris response (`det(M) - 0.04 trace(M)²`, 3×3 Sobel derivatives, 3×3 box
/// window, reflect-101) of rows `ya .. ya + out.len() / w` of the `w × h` image
/// `src`, into `out`. The interior columns run over equal-length shifted slices (no
/// bounds checks, no reflection), so that they vectorise where this is inlined
/// into an AVX2 copy ([`CornerBand`]).
#[inline(always)]
fn harris_rows(src: &[f32], w: usize, h: usize, ya: usize, out: &mut [f32], scratch: &mut HarrisScratch) {
    let rows = out.len() / w;
    let row = |y: usize| &src[y * w..(y + 1) * w];
    let n = w.saturating_sub(2);
    // Products Ix², Iy², IxIy of rows ya-1 ..= ya+rows (reflect-101), one plane each.
    let HarrisScratch { xx, yy, xy, vs, vd, sx, sy, sxy } = scratch;
    for plane in [&mut *xx, &mut *yy, &mut *xy] {
        plane.resize((rows + 2) * w, 0.0);
    }
    for line in [&mut *vs, &mut *vd, &mut *sx, &mut *sy, &mut *sxy] {
        line.resize(w, 0.0);
    }
    for k in 0..rows + 2 {
        let y = reflect((ya + k) as isize - 1, h);
        let (r0, r1, r2) = (row(reflect(y as isize - 1, h)), row(y), row(reflect(y as isize + 1, h)));
        // Vertical [1,2,1] smoothing and [-1,0,1] difference of the three rows.
        for ((s, d), ((a, b), c)) in vs.iter_mut().zip(vd.iter_mut()).zip(r0.iter().zip(r1).zip(r2)) {
            (*s, *d) = (a + 2.0 * b + c, c - a);
        }
        let (px, py, pxy) = (&mut xx[k * w..][..w], &mut yy[k * w..][..w], &mut xy[k * w..][..w]);
        let deriv = |l: usize, x: usize, r: usize| {
            let (ix, iy) = (vs[r] - vs[l], vd[l] + 2.0 * vd[x] + vd[r]);
            (ix * ix, iy * iy, ix * iy)
        };
        {
            let (sl, sr, dl, dc, dr) = (&vs[..n], &vs[2..], &vd[..n], &vd[1..n + 1], &vd[2..]);
            let (ox, oy, oxy) = (&mut px[1..n + 1], &mut py[1..n + 1], &mut pxy[1..n + 1]);
            for i in 0..n.min(sr.len()).min(dr.len()) {
                let (ix, iy) = (sr[i] - sl[i], dl[i] + 2.0 * dc[i] + dr[i]);
                (ox[i], oy[i], oxy[i]) = (ix * ix, iy * iy, ix * iy);
            }
        }
        for x in [0, w - 1] {
            (px[x], py[x], pxy[x]) = deriv(reflect(x as isize - 1, w), x, reflect(x as isize + 1, w));
        }
    }
    // 3-row sums of each plane, then the 3-column sums and the response.
    for (k, o) in out.chunks_exact_mut(w).enumerate() {
        for (s, p) in [(&mut *sx, &*xx), (&mut *sy, &*yy), (&mut *sxy, &*xy)] {
            let (a, b, c) = (&p[k * w..][..w], &p[(k + 1) * w..][..w], &p[(k + 2) * w..][..w]);
            for (s, ((a, b), c)) in s.iter_mut().zip(a.iter().zip(b).zip(c)) {
                *s = a + b + c;
            }
        }
        let response = |a: f32, b: f32, c: f32| a * b - c * c - 0.04 * (a + b) * (a + b);
        {
            let (xl, xc, xr) = (&sx[..n], &sx[1..n + 1], &sx[2..]);
            let (yl, yc, yr) = (&sy[..n], &sy[1..n + 1], &sy[2..]);
            let (cl, cc, cr) = (&sxy[..n], &sxy[1..n + 1], &sxy[2..]);
            let o = &mut o[1..n + 1];
            for i in 0..n.min(xr.len()).min(yr.len()).min(cr.len()) {
                o[i] = response(xl[i] + xc[i] + xr[i], yl[i] + yc[i] + yr[i], cl[i] + cc[i] + cr[i]);
            }
        }
        for x in [0, w - 1] {
            let (l, r) = (reflect(x as isize - 1, w), reflect(x as isize + 1, w));
            o[x] = response(sx[l] + sx[x] + sx[r], sy[l] + sy[x] + sy[r], sxy[l] + sxy[x] + sxy[r]);
        }
    }
}

/// The larger of two responses. Responses are finite (sums of products of a
/// blurred 8-bit image), so this is `f32::max` without its NaN handling, which
/// keeps the maximum passes from vectorising.
#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// Buffers of [`harris_rows`], kept across the bands a thread runs: fresh
/// megabyte-sized buffers per band came back as page faults and zeroing.
#[derive(Default)]
struct HarrisScratch {
    xx: Vec<f32>,
    yy: Vec<f32>,
    xy: Vec<f32>,
    vs: Vec<f32>,
    vd: Vec<f32>,
    sx: Vec<f32>,
    sy: Vec<f32>,
    sxy: Vec<f32>,
}

/// Buffers of one thread's [`CornerBand`]s.
#[derive(Default)]
struct CornerScratch {
    harris: HarrisScratch,
    response: Vec<f32>,
    col: Vec<f32>,
    around: Vec<f32>,
    is_max: Vec<u8>,
}

/// One band of [`strongest_corners`] (rows `y0..y1`), as a [`pulp::WithSimd`] so
/// that the Harris and maximum passes are compiled for AVX2.
struct CornerBand<'a> {
    blur: &'a [f32],
    w: usize,
    h: usize,
    y0: usize,
    y1: usize,
    margin: usize,
    k: usize,
    scratch: &'a mut CornerScratch,
}

impl pulp::WithSimd for CornerBand<'_> {
    type Output = Vec<(f32, usize, usize)>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Self::Output {
        let CornerBand { blur, w, h, y0, y1, margin, k, scratch } = self;
        let CornerScratch { harris, response, col, around, is_max } = scratch;
        response.resize((y1 - y0 + 4) * w, 0.0);
        harris_rows(blur, w, h, y0 - 2, response, harris);
        let m = w - 2 * margin;
        col.resize(w, 0.0);
        around.resize(m, 0.0);
        is_max.resize(m, 0);
        let mut found = Vec::new();
        for y in y0..y1 {
            // Column-wise max over the 5 rows, then the 5-wide max along the row
            // (`around[x - margin]` for x), so that the test per pixel is one
            // comparison (a maximum is at least the max, which includes it).
            let rows = &response[(y - y0) * w..(y - y0 + 5) * w];
            col.copy_from_slice(&rows[..w]);
            for line in rows[w..].chunks_exact(w) {
                col.iter_mut().zip(line).for_each(|(c, &v)| *c = larger(*c, v));
            }
            let c = &col[margin - 2..w - margin + 2];
            let (c0, c1, c2, c3, c4) = (&c[..m], &c[1..m + 1], &c[2..m + 2], &c[3..m + 3], &c[4..m + 4]);
            for i in 0..m {
                around[i] = larger(larger(larger(larger(c0[i], c1[i]), c2[i]), c3[i]), c4[i]);
            }
            // Flags first (branch-free, vectorised), then the few set ones.
            let centre = &rows[2 * w + margin..3 * w - margin];
            is_max.iter_mut().zip(centre.iter().zip(around.iter())).for_each(|(f, (&v, &a))| *f = (v > 0.0 && v >= a) as u8);
            for (ci, chunk) in is_max.chunks(8).enumerate() {
                if chunk.iter().any(|&f| f != 0) {
                    for (j, _) in chunk.iter().enumerate().filter(|(_, &f)| f != 0) {
                        let i = ci * 8 + j;
                        found.push((centre[i], margin + i, y));
                    }
                }
            }
        }
        keep_strongest(&mut found, k);
        found
    }
}

/// Candidate order: strongest first, raster order among equals (a total order, so
/// the `k` strongest of the union of bands are the `k` strongest of the image).
fn stronger(a: &(f32, usize, usize), b: &(f32, usize, usize)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then((a.2, a.1).cmp(&(b.2, b.1)))
}

/// Keeps the `k` strongest of `cand` (unsorted).
fn keep_strongest(cand: &mut Vec<(f32, usize, usize)>, k: usize) {
    if cand.len() > k && k > 0 {
        cand.select_nth_unstable_by(k - 1, stronger);
    }
    cand.truncate(k);
}

/// The `k` strongest positive 5×5 local maxima of the Harris response of `blur`
/// (the response equal to the maximum of its 5×5 neighbourhood, as
/// `r == cv2.dilate(r, 5x5)`), at least `margin` (≥ 2) px from the border, as
/// `(x, y)`, strongest first (raster order among equals). Each band computes the
/// response of its rows and two more above and below, and keeps its own `k`
/// strongest: a 12 MP photo has a few hundred thousand maxima.
pub(super) fn strongest_corners(blur: &[f32], w: usize, h: usize, k: usize, margin: usize) -> Vec<(usize, usize)> {
    let margin = margin.max(2);
    if w <= 2 * margin || h <= 2 * margin || blur.len() != w * h {
        return Vec::new();
    }
    let (top, bottom) = (margin, h - margin);
    let mut cand: Vec<(f32, usize, usize)> = (top..bottom)
        .step_by(BAND)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map_init(CornerScratch::default, |scratch, y0| pulp::Arch::new().dispatch(CornerBand { blur, w, h, y0, y1: (y0 + BAND).min(bottom), margin, k, scratch }))
        .flatten_iter()
        .collect();
    keep_strongest(&mut cand, k);
    cand.sort_unstable_by(stronger);
    cand.into_iter().map(|(_, x, y)| (x, y)).collect()
}

/// `cv2.GaussianBlur(src, (9, 9), 1.0)` of a single-channel image, whole-image (the
/// tests' texture generator; the operator blurs in bands, [`blurred_luma`]).
#[cfg(test)]
pub(super) fn gaussian_blur_sigma1(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    let k = gaussian9();
    let mut rows = vec![0f32; w * h];
    rows.chunks_exact_mut(w).zip(src.chunks_exact(w)).for_each(|(o, line)| filter_line(line, &k, o));
    let mut out = vec![0f32; w * h];
    for (y, o) in out.chunks_exact_mut(w).enumerate() {
        for (i, kv) in k.iter().enumerate() {
            let line = &rows[reflect(y as isize + i as isize - BLUR_R as isize, h) * w..][..w];
            o.iter_mut().zip(line).for_each(|(d, s)| *d += kv * s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole-image passes this module replaced, verbatim in their arithmetic:
    /// the reference the banded ones must equal bit for bit.
    mod whole_image {
        use crate::common::reflect;

        pub fn blur(src: &[f32], w: usize, h: usize) -> Vec<f32> {
            let raw: Vec<f64> = (-4i32..=4).map(|i| (-(i * i) as f64 / 2.0).exp()).collect();
            let sum: f64 = raw.iter().sum();
            let k: Vec<f32> = raw.iter().map(|v| (v / sum) as f32).collect();
            let mut rows = vec![0f32; w * h];
            for (o, line) in rows.chunks_mut(w).zip(src.chunks(w)) {
                for (x, d) in o.iter_mut().enumerate() {
                    let edge = || k.iter().enumerate().map(|(i, kv)| kv * line[reflect(x as isize + i as isize - 4, w)]).sum::<f32>();
                    *d = if x < 4 || x + 4 >= w { edge() } else { k.iter().enumerate().fold(0.0, |a, (i, kv)| a + kv * line[x + i - 4]) };
                }
            }
            let mut out = vec![0f32; w * h];
            for (y, o) in out.chunks_mut(w).enumerate() {
                for (i, kv) in k.iter().enumerate() {
                    let sy = reflect(y as isize + i as isize - 4, h);
                    for (d, s) in o.iter_mut().zip(&rows[sy * w..(sy + 1) * w]) {
                        *d += kv * s;
                    }
                }
            }
            out
        }

        pub fn harris(src: &[f32], w: usize, h: usize) -> Vec<f32> {
            let at = |x: isize, y: isize| src[reflect(y, h) * w + reflect(x, w)];
            let deriv = |x: isize, y: isize| {
                let vs = |xx: isize| at(xx, y - 1) + 2.0 * at(xx, y) + at(xx, y + 1);
                let vd = |xx: isize| at(xx, y + 1) - at(xx, y - 1);
                let (xm, xp) = (reflect(x - 1, w) as isize, reflect(x + 1, w) as isize);
                let (ix, iy) = (vs(xp) - vs(xm), vd(xm) + 2.0 * vd(x) + vd(xp));
                [ix * ix, iy * iy, ix * iy]
            };
            let mut out = vec![0f32; w * h];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let vsum = |xx: isize| {
                        let (a, b, c) = (deriv(xx, reflect(y - 1, h) as isize), deriv(xx, y), deriv(xx, reflect(y + 1, h) as isize));
                        [a[0] + b[0] + c[0], a[1] + b[1] + c[1], a[2] + b[2] + c[2]]
                    };
                    let (a, b, c) = (vsum(reflect(x - 1, w) as isize), vsum(x), vsum(reflect(x + 1, w) as isize));
                    let (xx, yy, xy) = (a[0] + b[0] + c[0], a[1] + b[1] + c[1], a[2] + b[2] + c[2]);
                    out[y as usize * w + x as usize] = xx * yy - xy * xy - 0.04 * (xx + yy) * (xx + yy);
                }
            }
            out
        }

        pub fn corners(r: &[f32], w: usize, h: usize, k: usize, margin: usize) -> Vec<(usize, usize)> {
            let mut cand = Vec::new();
            for y in margin..h - margin {
                for x in margin..w - margin {
                    let v = r[y * w + x];
                    let mut m = f32::MIN;
                    for yy in y - 2..=y + 2 {
                        for xx in x - 2..=x + 2 {
                            m = m.max(r[yy * w + xx]);
                        }
                    }
                    if v > 0.0 && v >= m {
                        cand.push((v, x, y));
                    }
                }
            }
            cand.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.2, a.1).cmp(&(b.2, b.1))));
            cand.truncate(k);
            cand.into_iter().map(|(_, x, y)| (x, y)).collect()
        }
    }

    fn noise_rgb(w: usize, h: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..w * h * 3)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // Blocks of texture and flat patches, so there are ties and plateaus too.
                if (i / 3 / w / 9 + i / 3 % w / 11).is_multiple_of(3) {
                    90
                } else {
                    ((s >> 33) % 256) as u8
                }
            })
            .collect()
    }

    #[test]
    fn banded_blur_and_dimmed_luma_equal_the_whole_image_passes() {
        for (w, h) in [(1, 1), (5, 3), (9, 9), (10, 70), (37, 129), (130, 200)] {
            let rgb = noise_rgb(w, h, (w * 31 + h) as u64);
            let img = ImageRef::from_rgb(w, h, &rgb).expect("sized");
            let luma = img.luma();
            let (blur, dim) = blurred_luma(&img);
            assert_eq!(blur, whole_image::blur(&luma, w, h), "{w}x{h}");
            assert_eq!(blur, gaussian_blur_sigma1(&luma, w, h), "{w}x{h}");
            let want: Vec<u8> = luma.iter().map(|&v| (v * 0.4).clamp(0.0, 255.0) as u8).collect();
            assert_eq!(dim, want, "{w}x{h}");
        }
    }

    #[test]
    fn banded_harris_and_corners_equal_the_whole_image_passes() {
        for (w, h, k) in [(3, 3, 5), (24, 24, 3), (61, 150, 40), (200, 131, 10_000), (200, 131, 7)] {
            let rgb = noise_rgb(w, h, (w + h) as u64);
            let img = ImageRef::from_rgb(w, h, &rgb).expect("sized");
            let (blur, _) = blurred_luma(&img);
            let r = whole_image::harris(&blur, w, h);
            let mut mine = vec![0f32; w * h];
            harris_rows(&blur, w, h, 0, &mut mine, &mut HarrisScratch::default());
            assert_eq!(mine, r, "{w}x{h}");
            for margin in [2, 9] {
                let want = if w > 2 * margin && h > 2 * margin { whole_image::corners(&r, w, h, k, margin) } else { Vec::new() };
                assert_eq!(strongest_corners(&blur, w, h, k, margin), want, "{w}x{h} k={k} margin={margin}");
            }
        }
    }

    #[test]
    fn gaussian_blur_keeps_constants_and_spreads_an_impulse() {
        let (w, h) = (21usize, 21usize);
        let flat = vec![7.0f32; w * h];
        assert!(gaussian_blur_sigma1(&flat, w, h).iter().all(|v| (v - 7.0).abs() < 1e-4));
        let mut imp = vec![0f32; w * h];
        imp[10 * w + 10] = 1.0;
        let b = gaussian_blur_sigma1(&imp, w, h);
        // Separable Gaussian, sigma 1: centre weight g(0)^2 with g(0) = 1 / sum_{-4..4} e^{-i²/2}.
        let g0 = 1.0 / (-4i32..=4).map(|i| (-(i * i) as f64 / 2.0).exp()).sum::<f64>();
        assert!((b[10 * w + 10] as f64 - g0 * g0).abs() < 1e-6);
        assert!((b[10 * w + 11] as f64 - g0 * g0 * (-0.5f64).exp()).abs() < 1e-6);
        assert!((b.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn harris_is_positive_at_a_corner_and_negative_on_an_edge() {
        let (w, h) = (32usize, 32usize);
        // A bright square whose corner is at (16, 16).
        let img: Vec<f32> = (0..w * h).map(|i| if i % w >= 16 && i / w >= 16 { 200.0 } else { 0.0 }).collect();
        let mut r = vec![0f32; w * h];
        harris_rows(&img, w, h, 0, &mut r, &mut HarrisScratch::default());
        assert!(r[16 * w + 16] > 0.0);
        assert!(r[24 * w + 16] < 0.0, "edge");
        assert_eq!(r[4 * w + 4], 0.0, "flat");
    }
}

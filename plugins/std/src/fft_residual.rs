//! FFT high-pass residual and spectral-peak detector.
//!
//! * Residual: full-size 2-D FFT of luma (row FFTs, transpose, row FFTs, all with
//!   rayon), frequencies with normalised radius `ρ = sqrt((2fx)² + (2fy)²) < radius`
//!   (ρ = 1 is Nyquist on an axis) are zeroed, inverse FFT → high-frequency
//!   residual. Block log-energy robust z gives the heat-map.
//! * Spectral peaks: a Welch estimate (mean power spectrum of Hann-windowed,
//!   mean-removed square tiles, each normalised to unit total power, up to 64
//!   tiles of side 16..=256, chosen to give >= 16 tiles when possible) so that the image
//!   border does not create the usual FFT cross and noise averages out. The
//!   log-power is compared with the median of its radial ring (robust z); the
//!   strongest off-centre (ρ ≥ 0.1, at least 4 bins from DC) local-maximum peak gives `spectral_peak_z` / `peak_freq`
//!   (cycles per pixel, `[fx, fy]`, half-plane `fy > 0 or (fy = 0, fx ≥ 0)`).
//! * Upsampling peaks: learned ×2/×4 upsamplers (nearest or transposed-convolution
//!   stages in GAN and super-resolution generators such as Real-ESRGAN x4plus)
//!   leave a periodic pattern in the fine residual with period 2 or 4 pixels, i.e.
//!   sharp spectral peaks at 1/2 and 1/4 cycles/pixel on both axes (Odena et al.
//!   2016; Frank et al., ICML 2020). A Welch spectrum of the 4-neighbour Laplacian
//!   of luma (non-overlapping 128² Hann tiles, up to 64) gives each peak's
//!   log-power contrast against the median of its neighbourhood (bins 2..=4 away):
//!   `upsampling_peak_x4` (mean of the (1/4, 0) and (0, 1/4) contrasts) and
//!   `upsampling_peak_x2` (same at 1/2). JPEG's 8×8 grid also puts peaks at
//!   multiples of 1/8, which include 1/4 and 1/2, so the contrast of the odd
//!   JPEG-only harmonics (1/8, 3/8) is reported next to them as
//!   `jpeg_grid_peak`.
//! * Upsampling parity: the same ×2/×4 grid makes the Laplacian residual's
//!   energy differ between even and odd columns and rows, with a phase fixed by
//!   the output grid, so a whole-image mean sees it. JPEG's block edges, which
//!   put their own peaks at 1/4 and 1/2 and make strongly blocked camera photos
//!   look upsampled to the Welch peaks, fall between an odd column (7) and an
//!   even one (0) and cancel: `upsampling_parity` is the log of that even/odd
//!   contrast. On shared/bench/dev (`trutheye train scorer`'s table of each
//!   feature alone) it ranks the 20 Real-ESRGAN images above the 20 camera
//!   photos with AUC 0.895, `upsampling_peak_x4` with 0.835.

use std::sync::Arc;

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use realfft::RealFftPlanner;
use rustfft::{Fft, FftPlanner};
use serde_json::json;
use trutheye_plugin_api::{ImageRef, Map, Operator, Output, OperatorError};

use crate::common::{require_size, top_regions};
use crate::srm::{block_sq_sums, fast_visual, fast_visual_with, lane_sum_sq, BlockZ};

pub(crate) type C = Complex<f32>;

/// Signed frequency in cycles per sample of FFT bin `k` of an `n`-point transform.
#[inline]
pub(crate) fn freq(k: usize, n: usize) -> f32 {
    if k <= n / 2 { k as f32 / n as f32 } else { (k as f32 - n as f32) / n as f32 }
}

/// In-place FFT of every `len`-sample row of `buf`, rows in parallel.
pub(crate) fn fft_rows(buf: &mut [C], fft: &Arc<dyn Fft<f32>>) {
    let len = fft.len();
    let sl = fft.get_inplace_scratch_len();
    buf.par_chunks_mut(len).for_each_init(
        || vec![C::default(); sl],
        |s, row| fft.process_with_scratch(row, s),
    );
}

/// `|FFT2(src)|` of a `w x h` real image, row-major (`[ky * w + kx]`), computed the
/// same way as the operator (row FFTs, transpose, row FFTs).
pub fn fft2_magnitude(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut planner = FftPlanner::<f32>::new();
    let mut buf: Vec<C> = src.iter().map(|&v| C::new(v, 0.0)).collect();
    fft_rows(&mut buf, &planner.plan_fft_forward(w));
    let mut t = transpose(&buf, w, h);
    fft_rows(&mut t, &planner.plan_fft_forward(h));
    (0..w * h).map(|i| t[(i % w) * h + i / w].norm()).collect()
}

/// Blocked parallel transpose of a `w x h` (row-major) buffer into `h x w`.
pub(crate) fn transpose(src: &[C], w: usize, h: usize) -> Vec<C> {
    const T: usize = 32;
    let mut dst = vec![C::default(); w * h];
    dst.par_chunks_mut(h * T).enumerate().for_each(|(bi, chunk)| {
        let x0 = bi * T;
        let xn = chunk.len() / h;
        for y0 in (0..h).step_by(T) {
            let y1 = (y0 + T).min(h);
            for dx in 0..xn {
                let out = &mut chunk[dx * h..dx * h + h];
                for y in y0..y1 {
                    out[y] = src[y * w + x0 + dx];
                }
            }
        }
    });
    dst
}

/// Reusable buffers for square-tile power spectra.
pub(crate) struct TileFft {
    pub n: usize,
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    buf: Vec<C>,
    col: Vec<C>,
    scratch: Vec<C>,
}

impl TileFft {
    pub fn new(fft: Arc<dyn Fft<f32>>) -> Self {
        let n = fft.len();
        let window = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * (i as f32 + 0.5) / n as f32).cos())
            .collect();
        let sl = fft.get_inplace_scratch_len();
        Self { n, fft, window, buf: vec![C::default(); n * n], col: vec![C::default(); n], scratch: vec![C::default(); sl] }
    }

    /// Power spectrum (`|F|²`, bin `[ky * n + kx]`) of the Hann-windowed, mean-removed
    /// `n x n` tile of `src` (row width `w`) at `(x0, y0)`, written into `out`.
    pub fn power(&mut self, src: &[f32], w: usize, x0: usize, y0: usize, out: &mut [f32]) {
        let n = self.n;
        let mut mean = 0f64;
        for y in 0..n {
            mean += src[(y0 + y) * w + x0..(y0 + y) * w + x0 + n].iter().map(|&v| v as f64).sum::<f64>();
        }
        let mean = (mean / (n * n) as f64) as f32;
        for y in 0..n {
            let line = &src[(y0 + y) * w + x0..(y0 + y) * w + x0 + n];
            let wy = self.window[y];
            for (x, v) in line.iter().enumerate() {
                self.buf[y * n + x] = C::new((v - mean) * wy * self.window[x], 0.0);
            }
        }
        for row in self.buf.chunks_mut(n) {
            self.fft.process_with_scratch(row, &mut self.scratch);
        }
        for x in 0..n {
            for y in 0..n {
                self.col[y] = self.buf[y * n + x];
            }
            self.fft.process_with_scratch(&mut self.col, &mut self.scratch);
            for y in 0..n {
                out[y * n + x] = self.col[y].norm_sqr();
            }
        }
    }
}

/// Result of a radial-median peak search in an `n x n` (log-)spectrum.
pub(crate) struct Peak {
    pub z: f32,
    pub fx: f32,
    pub fy: f32,
}

/// Robust z of each log-spectrum bin against the median/MAD of its radial ring
/// (32 rings over `ρ ∈ [0, √2]`); returns the top `k` local maxima with
/// `ρ ≥ rho_min` in the half-plane, strongest first.
pub(crate) fn radial_peaks(logp: &[f32], n: usize, rho_min: f32, k: usize) -> Vec<Peak> {
    const NB: usize = 32;
    let rho = |i: usize| {
        let (fx, fy) = (freq(i % n, n), freq(i / n, n));
        (4.0 * (fx * fx + fy * fy)).sqrt()
    };
    let ring = |r: f32| ((r / std::f32::consts::SQRT_2 * NB as f32) as usize).min(NB - 1);
    let mut rings: Vec<Vec<f32>> = vec![Vec::new(); NB];
    for (i, &v) in logp.iter().enumerate() {
        rings[ring(rho(i))].push(v);
    }
    // Sparse outer rings (ρ > 1, corners) borrow the statistics of a wider ring
    // band; every ring's spread is floored at the median spread of all rings so a
    // ring that happens to be tight cannot inflate z.
    let mut stats: Vec<(f32, f32)> = (0..NB)
        .map(|b| {
            let mut vals = rings[b].clone();
            let mut span = 1;
            while vals.len() < 64 && span < NB {
                for bb in [b.wrapping_sub(span), b + span] {
                    if bb < NB {
                        vals.extend_from_slice(&rings[bb]);
                    }
                }
                span += 1;
            }
            let m = crate::common::median(&vals);
            let dev: Vec<f32> = vals.iter().map(|v| (v - m).abs()).collect();
            (m, (1.4826 * crate::common::median(&dev)).max(1e-3))
        })
        .collect();
    let floor = crate::common::median(&stats.iter().map(|s| s.1).collect::<Vec<_>>());
    stats.iter_mut().for_each(|s| s.1 = s.1.max(floor));
    let z: Vec<f32> = logp
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (m, s) = stats[ring(rho(i))];
            (v - m) / s
        })
        .collect();
    let mut peaks: Vec<(usize, f32)> = Vec::new();
    for i in 0..n * n {
        let (kx, ky) = (i % n, i / n);
        let (fx, fy) = (freq(kx, n), freq(ky, n));
        if rho(i) < rho_min || !(fy > 0.0 || (fy == 0.0 && fx >= 0.0)) {
            continue;
        }
        let v = z[i];
        let mut is_max = true;
        'nb: for dy in [n - 1, 0, 1] {
            for dx in [n - 1, 0, 1] {
                if (dx, dy) != (0, 0) && z[((ky + dy) % n) * n + (kx + dx) % n] > v {
                    is_max = false;
                    break 'nb;
                }
            }
        }
        if is_max {
            peaks.push((i, v));
        }
    }
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    peaks.truncate(k);
    peaks.into_iter().map(|(i, v)| Peak { z: v, fx: freq(i % n, n), fy: freq(i / n, n) }).collect()
}

/// High-pass residual of `luma` (frequencies with `ρ < radius` removed, DC always)
/// and the share of non-DC spectral energy above the cutoff. The image is first
/// split into periodic + smooth components (Moisan 2011) and only the periodic
/// component is filtered, so the wrap-around jump at the image border does not
/// ring into the residual. With `radius = 0` the residual is the periodic
/// component minus its mean.
pub fn highpass_residual(luma: &[f32], w: usize, h: usize, radius: f32) -> (Vec<f32>, f32) {
    // The image is real, so its spectrum is Hermitian: only columns kx = 0..=w/2
    // are transformed (real-to-complex row FFTs, complex column FFTs), filtered
    // and transformed back (complex column FFTs, complex-to-real row FFTs), half
    // the work of a complex 2-D FFT. The filter is symmetric under
    // (kx, ky) -> (-kx, -ky), so the result is the same residual.
    let wc = w / 2 + 1;
    let mut real = RealFftPlanner::<f32>::new();
    let mut planner = FftPlanner::<f32>::new();
    let mut rows = vec![C::default(); h * wc];
    let r2c = real.plan_fft_forward(w);
    rows.par_chunks_mut(wc).zip(luma.par_chunks(w)).for_each_init(
        || (r2c.make_input_vec(), r2c.make_scratch_vec()),
        |(input, scratch), (out, src)| {
            input.copy_from_slice(src);
            // Lengths come from the plan, so this cannot fail.
            let _ = r2c.process_with_scratch(input, out, scratch);
        },
    );
    let (mut back, ratio) = filter_rows_spectrum(rows, wc, luma, w, h, radius, &mut planner);
    let c2r = real.plan_fft_inverse(w);
    let norm = 1.0 / (w * h) as f32;
    let mut out = vec![0f32; w * h];
    out.par_chunks_mut(w).zip(back.par_chunks_mut(wc)).for_each_init(
        || c2r.make_scratch_vec(),
        |scratch, (dst, spec)| {
            // The DC (and, for even w, Nyquist) bins of a real row are real; what is
            // left there is rounding, which `irfft` ignores too.
            spec[0].im = 0.0;
            if w.is_multiple_of(2) {
                spec[wc - 1].im = 0.0;
            }
            let _ = c2r.process_with_scratch(spec, dst, scratch);
            dst.iter_mut().for_each(|v| *v *= norm);
        },
    );
    (out, ratio)
}

/// The column half of the 2-D filtering: `rows` holds the row FFTs of the image
/// (`h` rows of `cols` bins, all `w` of them or the `w/2 + 1` of a real-to-complex
/// transform). Transforms the columns, applies [`filter_columns`], transforms them
/// back and returns the rows (same layout, ready for the inverse row FFTs) with the
/// high-pass share of the non-DC energy.
fn filter_rows_spectrum(rows: Vec<C>, cols: usize, luma: &[f32], w: usize, h: usize, radius: f32, planner: &mut FftPlanner<f32>) -> (Vec<C>, f32) {
    let mut t = transpose(&rows, cols, h); // cols rows of h: t[kx * h + y]
    drop(rows);
    fft_rows(&mut t, &planner.plan_fft_forward(h)); // t[kx * h + ky]
    let (hf, total) = filter_columns(&mut t, luma, w, h, radius, planner);
    fft_rows(&mut t, &planner.plan_fft_inverse(h));
    let ratio = if total > 0.0 { (hf / total) as f32 } else { 0.0 };
    (transpose(&t, h, cols), ratio)
}

/// Turns the spectrum columns `t` (`t[kx * h + ky]`, columns `kx = 0..t.len() / h`)
/// of the image `luma` into those of its periodic component (Moisan 2011) with
/// every bin below `radius` (and DC) zeroed. Returns the high-pass and total
/// non-DC energy of the whole `w`-column spectrum: with fewer than `w` columns
/// (the half spectrum of a real image) a column that has an uncomputed mirror
/// counts twice.
fn filter_columns(t: &mut [C], luma: &[f32], w: usize, h: usize, radius: f32, planner: &mut FftPlanner<f32>) -> (f64, f64) {
    let half = t.len() / h < w;
    // Boundary image of the periodic/smooth decomposition, in Fourier form:
    // v[0, :] = u[h-1, :] - u[0, :] = dr, v[h-1, :] = -dr; same for columns.
    let mut dr: Vec<C> = (0..w).map(|x| C::new(luma[(h - 1) * w + x] - luma[x], 0.0)).collect();
    let mut dc: Vec<C> = (0..h).map(|y| C::new(luma[y * w + w - 1] - luma[y * w], 0.0)).collect();
    planner.plan_fft_forward(w).process(&mut dr);
    planner.plan_fft_forward(h).process(&mut dc);
    let tau = 2.0 * std::f64::consts::PI;
    let r2 = radius * radius;
    // Per-row-frequency tables: (1 - e^{i a}, 2 cos a, f) for a = 2π ky / h.
    let ytab: Vec<(C, f32, f32)> = (0..h)
        .map(|ky| {
            let ay = tau * ky as f64 / h as f64;
            (C::new((1.0 - ay.cos()) as f32, (-ay.sin()) as f32), (2.0 * ay.cos()) as f32, freq(ky, h))
        })
        .collect();
    t.par_chunks_mut(h)
        .enumerate()
        .map(|(kx, col)| {
            let fx = freq(kx, w);
            let ax = tau * kx as f64 / w as f64;
            let ex = C::new((1.0 - ax.cos()) as f32, (-ax.sin()) as f32); // 1 - e^{i ax}
            let (mut hf, mut tot) = (0f64, 0f64);
            let cx2 = (2.0 * ax.cos() - 4.0) as f32;
            let (drx, fx2) = (dr[kx], 4.0 * fx * fx);
            for (ky, (c, &(ey, cy2, fy))) in col.iter_mut().zip(&ytab).enumerate() {
                if kx == 0 && ky == 0 {
                    *c = C::default();
                    continue;
                }
                let v = drx * ey + dc[ky] * ex;
                *c -= v * (1.0 / (cx2 + cy2));
                let p = c.norm_sqr() as f64;
                tot += p;
                if fx2 + 4.0 * fy * fy < r2 {
                    *c = C::default();
                } else {
                    hf += p;
                }
            }
            // Column kx stands for itself and, unless it is its own mirror (0, and
            // w/2 for even w), for the column w - kx that was not computed.
            let k = if !half || kx == 0 || 2 * kx == w { 1.0 } else { 2.0 };
            (k * hf, k * tot)
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Log-power contrasts of the periodic upsampling and JPEG-grid peaks of the fine
/// residual (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpsamplingPeaks {
    /// Mean contrast (natural-log power) of the (1/4, 0) and (0, 1/4) peaks.
    pub x4: f32,
    /// Mean contrast of the (1/2, 0) and (0, 1/2) peaks.
    pub x2: f32,
    /// Mean contrast of the (1/8, 0), (3/8, 0), (0, 1/8), (0, 3/8) peaks.
    pub jpeg_grid: f32,
    /// Welch tile side used.
    pub tile: usize,
}

/// The 4-neighbour Laplacian of luma over the `n x n` tile at `(x0, y0)` (the
/// residual that carries an upsampler's pixel-periodic pattern, with image content
/// largely removed), reflect-101 at the image border; only the tiles the Welch
/// estimate uses are filtered, not the whole image.
fn laplacian_tile(luma: &[f32], w: usize, h: usize, x0: usize, y0: usize, n: usize, out: &mut [f32]) {
    for (ty, row) in out.chunks_mut(n).enumerate() {
        let y = y0 + ty;
        let (up, mid, down) = (crate::common::reflect(y as isize - 1, h), y, crate::common::reflect(y as isize + 1, h));
        let (ru, rm, rd) = (&luma[up * w..(up + 1) * w], &luma[mid * w..(mid + 1) * w], &luma[down * w..(down + 1) * w]);
        for (tx, o) in row.iter_mut().enumerate() {
            let x = x0 + tx;
            let (l, r) = (crate::common::reflect(x as isize - 1, w), crate::common::reflect(x as isize + 1, w));
            *o = ru[x] + rd[x] + rm[l] + rm[r] - 4.0 * rm[x];
        }
    }
}

/// Parity contrast of the fine residual's energy: `ln((|E_even − E_odd|_columns +
/// |E_even − E_odd|_rows) / (E_even + E_odd))`, where `E` is the mean |4-neighbour
/// Laplacian| over interior pixels in even or odd columns (rows). An upsampler's
/// 2- or 4-pixel-periodic pattern makes the residual's energy alternate with pixel
/// parity, with a phase fixed by the output grid, so it survives averaging over the
/// whole image. JPEG's 8×8 block boundaries, which dominate every other phase
/// profile of a JPEG, fall between a column 7 (odd) and a column 0 (even) and
/// cancel here. `None` for images under 3 pixels on a side or without texture.
pub fn upsampling_parity(luma: &[f32], w: usize, h: usize) -> Option<f32> {
    if w < 3 || h < 3 || luma.len() < w * h {
        return None;
    }
    // Per row: [even columns, odd columns] sums, folded into the row's parity bucket.
    let sums = (1..h - 1)
        .into_par_iter()
        .fold(
            || [0f64; 4],
            |mut acc, y| {
                let (ru, rm, rd) = (&luma[(y - 1) * w..y * w], &luma[y * w..(y + 1) * w], &luma[(y + 1) * w..(y + 2) * w]);
                let mut cols = [0f32; 2];
                for x in 1..w - 1 {
                    cols[x & 1] += (ru[x] + rd[x] + rm[x - 1] + rm[x + 1] - 4.0 * rm[x]).abs();
                }
                acc[0] += cols[0] as f64;
                acc[1] += cols[1] as f64;
                acc[2 + (y & 1)] += (cols[0] + cols[1]) as f64;
                acc
            },
        )
        .reduce(|| [0f64; 4], |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]);
    // Means, not sums: the even and odd sets differ by one column or row when the
    // interior has an odd size.
    let count = |n: usize, parity: usize| (1..n - 1).filter(|i| i & 1 == parity).count().max(1) as f64;
    let (cw, ch) = ((w - 2) as f64, (h - 2) as f64);
    let col = [sums[0] / (count(w, 0) * ch), sums[1] / (count(w, 1) * ch)];
    let row = [sums[2] / (count(h, 0) * cw), sums[3] / (count(h, 1) * cw)];
    let total = col[0] + col[1];
    if total.is_nan() || total <= 1e-9 {
        return None;
    }
    let c = ((col[0] - col[1]).abs() + (row[0] - row[1]).abs()) / total;
    Some(c.max(1e-6).ln() as f32)
}

/// The upsampling-peak contrasts of `luma` (`w x h`), or `None` when the image is
/// smaller than 32 pixels on a side.
pub fn upsampling_peaks(luma: &[f32], w: usize, h: usize) -> Option<UpsamplingPeaks> {
    let mut n = 128usize;
    while n > 32 && n > w.min(h) {
        n /= 2;
    }
    if n > w.min(h) {
        return None;
    }
    let (tx, ty) = (w / n, h / n);
    let step = ((tx * ty) as f64 / 64.0).sqrt().ceil().max(1.0) as usize;
    let tiles: Vec<(usize, usize)> =
        (0..ty).step_by(step).flat_map(|y| (0..tx).step_by(step).map(move |x| (x * n, y * n))).collect();
    let fft = FftPlanner::<f32>::new().plan_fft_forward(n);
    let psum = tiles
        .par_iter()
        .fold(
            || (TileFft::new(fft.clone()), vec![0f32; n * n], vec![0f32; n * n], vec![0f64; n * n]),
            |(mut tf, mut lap, mut p, mut acc), &(x0, y0)| {
                laplacian_tile(luma, w, h, x0, y0, n, &mut lap);
                tf.power(&lap, n, 0, 0, &mut p);
                let tot: f64 = p.iter().map(|&v| v as f64).sum::<f64>();
                if tot > 0.0 {
                    acc.iter_mut().zip(&p).for_each(|(a, &v)| *a += v as f64 / tot);
                }
                (tf, lap, p, acc)
            },
        )
        .map(|(_, _, _, acc)| acc)
        .reduce(|| vec![0f64; n * n], |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        });
    let logp: Vec<f32> = psum.iter().map(|&v| (v / tiles.len() as f64 + 1e-12).ln() as f32).collect();
    // Contrast of bin (kx, ky) against the median of the bins 2..=4 away
    // (Chebyshev distance): the immediate neighbours share the Hann window's
    // main lobe and are left out.
    let contrast = |kx: usize, ky: usize| {
        let mut ring = Vec::with_capacity(80);
        for dy in -4isize..=4 {
            for dx in -4isize..=4 {
                if dx.abs().max(dy.abs()) >= 2 {
                    let (x, y) = ((kx as isize + dx).rem_euclid(n as isize), (ky as isize + dy).rem_euclid(n as isize));
                    ring.push(logp[y as usize * n + x as usize]);
                }
            }
        }
        logp[ky * n + kx] - crate::common::median(&ring)
    };
    let axes = |k: usize| 0.5 * (contrast(k, 0) + contrast(0, k));
    Some(UpsamplingPeaks {
        x4: axes(n / 4),
        x2: axes(n / 2),
        jpeg_grid: 0.5 * (axes(n / 8) + axes(3 * n / 8)),
        tile: n,
    })
}

trutheye_plugin_api::params! {
    /// Parameters of [`FftResidual`].
    pub struct FftResidualParams {
        /// radius of the removed low-frequency disc as a fraction of Nyquist
        pub radius: f64 = 0.1, range(0.0, 1.0);
        /// side in pixels of the square blocks whose statistics are compared (partial blocks at the right/bottom edges are ignored)
        pub block: usize = 32, range(8, 256);
    }
}

/// FFT high-pass residual operator.
#[derive(Default)]
pub struct FftResidual;

impl Operator for FftResidual {
    const NAME: &'static str = "fft_residual";
    const DESCRIPTION: &'static str = "FFT high-pass residual of luma: frequencies below `radius` x Nyquist are removed and \
        the rest transformed back. The visual shows |residual| (bright = fine detail/noise); the heat-map is the robust z \
        of block residual energy (high = unusually much fine detail/noise vs the rest of the image). A second visual is \
        the Welch log-power spectrum (centre = DC); isolated bright off-centre dots are periodic patterns (GAN/upscaler \
        artifacts, resampling, halftoning), reported as spectral_peak_z at peak_freq (cycles/pixel); dots at multiples \
        of 1/8 usually come from JPEG blocking. upsampling_peak_x4 / upsampling_peak_x2 measure the peaks at 1/4 and 1/2 \
        cycles/pixel of the fine (Laplacian) residual that learned x4 / x2 upsamplers leave (log-power above the \
        surroundings; on shared/bench/dev Real-ESRGAN x4 images score 0.6 to 2.2, 12 of 20 camera photos below 0.3), \
        with jpeg_grid_peak, the \
        JPEG grid's own 1/8 and 3/8 peaks, for comparison. upsampling_parity is the natural log of how much the \
        residual's energy differs between even and odd columns and rows, relative to its mean: an upsampler's grid \
        makes it alternate, JPEG's block boundaries cancel out (on shared/bench/dev camera photos score -7.2 to -5.6, \
        Real-ESRGAN x4 images -6.6 to -3.6).";
    const CATEGORY: &'static str = "frequency";
    type Params = FftResidualParams;

    fn analyze(&self, image: &ImageRef<'_>, p: FftResidualParams) -> Result<Output, OperatorError> {
        let (radius, block) = (p.radius as f32, p.block);
        let (w, h) = (image.width, image.height);
        require_size(Self::NAME, w, h, block.max(16))?;
        let luma = crate::srm::luma_par(image);
        let mut planner = FftPlanner::<f32>::new();

        // --- full-size high-pass residual -------------------------------------------
        let (residual, hf_energy_ratio) = highpass_residual(&luma, w, h, radius);
        // Block energies and the global std straight from the residual (no energy map).
        let sq: f64 = residual.par_chunks(1 << 16).map(lane_sum_sq).sum();
        let residual_std = (sq / (w * h) as f64).sqrt() as f32;
        let (sums, bw, bh) = block_sq_sums(&residual, w, w, h, block);
        let bz = BlockZ::from_sums(&sums, bw, bh, block);
        let (ia, anomaly_z) = bz.extreme(1.0);
        let regions = top_regions(&bz.z, bz.bw, bz.bh, block, 3.0, 5);

        // --- Welch spectrum and peak search --------------------------------------------
        // Largest power-of-two tile (16..=256) that still gives >= 16 tiles when possible.
        let mut n = 256usize;
        while n > 16 && (n > w.min(h) || (w / n) * (h / n) < 16) {
            n /= 2;
        }
        let (tx, ty) = (w / n, h / n);
        let step = ((tx * ty) as f64 / 64.0).sqrt().ceil().max(1.0) as usize;
        let tiles: Vec<(usize, usize)> =
            (0..ty).step_by(step).flat_map(|y| (0..tx).step_by(step).map(move |x| (x * n, y * n))).collect();
        let tfft = planner.plan_fft_forward(n);
        let psum = tiles
            .par_iter()
            .fold(
                || (TileFft::new(tfft.clone()), vec![0f32; n * n], vec![0f64; n * n]),
                |(mut tf, mut p, mut acc), &(x0, y0)| {
                    tf.power(&luma, w, x0, y0, &mut p);
                    // Each tile contributes its spectrum shape, not its power, so a
                    // single very noisy or very textured tile cannot dominate.
                    let tot: f64 = p.iter().map(|&v| v as f64).sum::<f64>().max(1e-12);
                    acc.iter_mut().zip(&p).for_each(|(a, &v)| *a += v as f64 / tot);
                    (tf, p, acc)
                },
            )
            .map(|(_, _, acc)| acc)
            .reduce(|| vec![0f64; n * n], |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            });
        let logp: Vec<f32> = psum.iter().map(|&v| ((v / tiles.len().max(1) as f64) + 1e-12).ln() as f32).collect();
        // Low frequencies are dominated by image content (ramps, large shapes): search
        // from ρ = 0.1 (0.05 cycles/pixel) or 4 bins out, whichever is larger.
        let peaks = radial_peaks(&logp, n, 0.1f32.max(8.0 / n as f32), 3);
        let (spectral_peak_z, peak_freq) = peaks.first().map(|p| (p.z, [p.fx, p.fy])).unwrap_or((0.0, [0.0, 0.0]));
        let up = upsampling_peaks(&luma, w, h);
        let parity = upsampling_parity(&luma, w, h);
        // fft-shifted spectrum visual
        let shifted: Vec<f32> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n + n / 2) % n, (i / n + n / 2) % n);
                logp[y * n + x]
            })
            .collect();

        let summary = format!(
            "FFT high-pass residual (radius {radius} x Nyquist): strongest block at {:?} is {anomaly_z:.1}σ above the image \
             median; {:.1}% of non-DC spectral energy lies above the cutoff. Strongest off-centre spectral peak is \
             {spectral_peak_z:.1}σ above its radial median at (fx, fy) = ({:.4}, {:.4}) cycles/pixel.",
            bz.bbox(ia),
            100.0 * hf_energy_ratio,
            peak_freq[0],
            peak_freq[1]
        ) + &up.map_or(String::new(), |u| {
            format!(
                " Periodic-upsampling peaks of the fine residual: {:.2} at 1/4 and {:.2} at 1/2 cycles/pixel \
                 (log-power above their surroundings; the JPEG grid's own 1/8, 3/8 peaks: {:.2}).",
                u.x4, u.x2, u.jpeg_grid
            )
        }) + &parity.map_or(String::new(), |p| {
            format!(" Even/odd parity contrast of the residual's energy: {p:.2} (natural log; higher = more upsampler-like).")
        });
        Ok(Output {
            summary,
            stats: json!({
                "anomaly_z": anomaly_z,
                "hf_energy_ratio": hf_energy_ratio,
                "spectral_peak_z": spectral_peak_z,
                "peak_freq": peak_freq,
                "peaks": peaks.iter().map(|p| json!({"z": p.z, "freq": [p.fx, p.fy]})).collect::<Vec<_>>(),
                "residual_std": residual_std,
                "upsampling_peak_x4": up.map(|u| u.x4),
                "upsampling_peak_x2": up.map(|u| u.x2),
                "jpeg_grid_peak": up.map(|u| u.jpeg_grid),
                "upsampling_parity": parity,
                "radius": radius, "block": block, "blocks": [bz.bw, bz.bh], "welch_tile": n, "welch_tiles": tiles.len()
            }),
            maps: [
                Map::visual_for(image, "visual", w, h, 1, || fast_visual_with(&residual, f32::abs)),
                Map::visual_for(image, "spectrum", n, n, 1, || fast_visual(&shifted)),
                Some(Map::heatmap("energy_z", bz.bw, bz.bh, bz.z)),
            ]
            .into_iter()
            .flatten()
            .collect(),
            regions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_plugin_api::RawOperator;

    #[test]
    fn fft2_via_transposes_matches_naive_dft() {
        let (w, h) = (5usize, 3usize);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 13) % 7) as f32 - 2.0).collect();
        let mut planner = FftPlanner::<f32>::new();
        let mut buf: Vec<C> = src.iter().map(|&v| C::new(v, 0.0)).collect();
        fft_rows(&mut buf, &planner.plan_fft_forward(w));
        let mut t = transpose(&buf, w, h);
        fft_rows(&mut t, &planner.plan_fft_forward(h));
        for ky in 0..h {
            for kx in 0..w {
                let mut acc = Complex::<f64>::new(0.0, 0.0);
                for y in 0..h {
                    for x in 0..w {
                        let ph = -2.0 * std::f64::consts::PI * ((kx * x) as f64 / w as f64 + (ky * y) as f64 / h as f64);
                        acc += Complex::new(ph.cos(), ph.sin()) * src[y * w + x] as f64;
                    }
                }
                let got = t[kx * h + ky];
                assert!((got.re as f64 - acc.re).abs() < 1e-3 && (got.im as f64 - acc.im).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn zero_radius_residual_is_the_mean_removed_image() {
        let (w, h) = (40usize, 24usize);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| { let v = ((i * 31) % 200) as u8; [v, v, v] }).collect();
        let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
        let out = FftResidual.run(&img, &json!({"radius": 0.0, "block": 8})).unwrap();
        assert!((out.stats["hf_energy_ratio"].as_f64().unwrap() - 1.0).abs() < 1e-5);
        assert!(FftResidual.run(&img, &json!({"radius": 2.0})).is_err());
        assert!(out.maps.iter().all(|m| m.is_consistent()));
    }

    /// The residual as it was computed before the real-input transforms: complex
    /// 2-D FFT of the whole spectrum, the same filter on every column, complex
    /// inverse, real part.
    fn complex_residual(luma: &[f32], w: usize, h: usize, radius: f32) -> (Vec<f32>, f32) {
        let mut planner = FftPlanner::<f32>::new();
        let mut buf: Vec<C> = luma.par_iter().map(|&v| C::new(v, 0.0)).collect();
        fft_rows(&mut buf, &planner.plan_fft_forward(w));
        let (mut back, ratio) = filter_rows_spectrum(buf, w, luma, w, h, radius, &mut planner);
        fft_rows(&mut back, &planner.plan_fft_inverse(w));
        let norm = 1.0 / (w * h) as f32;
        (back.par_iter().map(|c| c.re * norm).collect(), ratio)
    }

    #[test]
    fn half_spectrum_residual_equals_the_full_complex_one() {
        for (w, h) in [(64usize, 48usize), (63, 50), (65, 47), (40, 41)] {
            let luma: Vec<f32> = lcg_noise(w as u64 * 31 + h as u64, w * h).iter().enumerate().map(|(i, v)| v * 0.3 + (i % w) as f32).collect();
            for radius in [0.0f32, 0.1, 0.35, 0.9] {
                let (got, got_ratio) = highpass_residual(&luma, w, h, radius);
                let (want, want_ratio) = complex_residual(&luma, w, h, radius);
                assert!((got_ratio - want_ratio).abs() < 1e-5, "{w}x{h} r={radius}: ratio {got_ratio} vs {want_ratio}");
                let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
                let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(worst <= 1e-4 * scale, "{w}x{h} r={radius}: max |diff| {worst} against max |residual| {scale}");
            }
        }
    }

    /// `n` uniform integers in 0..256 from a seeded LCG (no RNG crate in tests).
    fn lcg_noise(seed: u64, n: usize) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 33) % 256) as f32
            })
            .collect()
    }

    /// An upsampler's grid stamps the same 4×4 cell everywhere, so the residual's
    /// energy differs between even and odd pixels; JPEG-like 8×8 block edges
    /// (a step between columns 7 and 0) and noise leave the parity near zero.
    #[test]
    fn upsampling_parity_sees_an_upsampler_grid_and_not_jpeg_block_edges() {
        let (w, h) = (512usize, 384usize);
        let noise: Vec<f32> = lcg_noise(99, w * h).into_iter().map(|v| v / 8.0).collect();
        // JPEG-like block edges: a step at every 8th column and row (between 7 and 0).
        let blocky: Vec<f32> = (0..w * h).map(|i| noise[i] + 6.0 * (((i % w) / 8 + (i / w) / 8) % 2) as f32).collect();
        // An x4 upsampler-like pattern: a fixed 4x4 kernel stamped on every cell,
        // stronger on even pixels than on odd ones.
        let cell = [[3.0f32, -1.0, 2.0, 0.0], [-1.0, 0.0, -2.0, 1.0], [2.0, -1.0, 3.0, 0.0], [0.0, 1.0, 0.0, -1.0]];
        let upsampled: Vec<f32> = (0..w * h).map(|i| noise[i] + 2.0 * cell[(i / w) % 4][(i % w) % 4]).collect();
        let (n, b, u) = (upsampling_parity(&noise, w, h).unwrap(), upsampling_parity(&blocky, w, h).unwrap(), upsampling_parity(&upsampled, w, h).unwrap());
        assert!(n < -4.0 && b < -4.0, "noise {n}, JPEG-like block edges {b}");
        assert!(u > n + 2.0 && u > b + 2.0, "upsampler grid {u} vs noise {n} and block edges {b}");
        assert!(upsampling_parity(&noise[..2 * w], w, 2).is_none());
        assert!(upsampling_parity(&vec![7.0; w * h], w, h).is_none(), "a flat image has no residual");
    }

    /// A learned upsampler's checkerboard is a fixed pattern repeating every 4
    /// pixels added to the content; it puts peaks at 1/4 and 1/2 cycles/pixel that
    /// stand far above their surroundings, while plain noise (flat spectrum) has
    /// none; neither has an 8×8 grid.
    #[test]
    fn upsampling_peaks_see_a_4_periodic_pattern_and_not_noise() {
        let (w, h) = (1024usize, 768usize);
        let noise = lcg_noise(12345, w * h);
        // An impulse grid: every 4th row and column brighter, all harmonics of 1/4 equal.
        let grid = |x: usize, y: usize| 24.0 * (x.is_multiple_of(4) as u8 + y.is_multiple_of(4) as u8) as f32;
        let up: Vec<f32> = (0..w * h).map(|i| noise[i] + grid(i % w, i / w)).collect();
        let n = upsampling_peaks(&noise, w, h).unwrap();
        let u = upsampling_peaks(&up, w, h).unwrap();
        assert_eq!((n.tile, u.tile), (128, 128));
        assert!(n.x4.abs() < 0.3 && n.x2.abs() < 0.3 && n.jpeg_grid.abs() < 0.3, "{n:?}");
        assert!(u.x4 > 2.0 && u.x2 > 2.0, "{u:?}");
        assert!(upsampling_peaks(&noise[..31 * 31], 31, 31).is_none());
    }
}

//! Resampling that reproduces Pillow's `Image.resize` on interleaved 8-bit
//! pixels, bit for bit, for every filter it offers: NEAREST, BOX, BILINEAR,
//! HAMMING, BICUBIC and LANCZOS.
//!
//! The convolution filters follow Pillow's `Resample.c`: a separable kernel
//! whose support is widened by the reduction factor (so downscaling is
//! antialiased), weights computed in `f64`, normalised, then turned into
//! 22-bit fixed point with rounding away from zero; one pass per axis with an
//! 8-bit intermediate (horizontal first unless Pillow 13 picks vertical, see
//! `resize`), and each pass is skipped when its dimension does not change. NEAREST is not a convolution in Pillow: it is an
//! affine scale whose source coordinate is accumulated step by step in `f64`,
//! and we accumulate the same way so the truncations land on the same pixels.
//!
//! Models trained on Pillow-preprocessed inputs (Qwen2.5-VL's processor,
//! torchvision-era detectors) only see the same pixels if the resampler is
//! the same; the ONNX plugin, the Qwen2.5-VL backend and the PVR sandbox use
//! this one.

use std::f64::consts::PI;

/// Pillow's resampling filters, with Pillow's numbering (`Image.Resampling`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `NEAREST` (0).
    Nearest,
    /// `LANCZOS` (1): windowed sinc, support 3.
    Lanczos,
    /// `BILINEAR` (2): triangle, support 1.
    Bilinear,
    /// `BICUBIC` (3): cubic convolution with a = -0.5, support 2.
    Bicubic,
    /// `BOX` (4): support 0.5.
    Box,
    /// `HAMMING` (5): Hamming-windowed sinc, support 1.
    Hamming,
}

impl Filter {
    /// The filter Pillow numbers `n` (`Image.Resampling(n)`), if it is one of these.
    pub fn from_pillow(n: i64) -> Option<Filter> {
        Some(match n {
            0 => Filter::Nearest,
            1 => Filter::Lanczos,
            2 => Filter::Bilinear,
            3 => Filter::Bicubic,
            4 => Filter::Box,
            5 => Filter::Hamming,
            _ => return None,
        })
    }

    /// Kernel half-width before widening for downscaling (NEAREST has none).
    fn support(self) -> f64 {
        match self {
            Filter::Nearest | Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    /// The kernel, written as Pillow evaluates it so rounding agrees.
    fn kernel(self, x: f64) -> f64 {
        match self {
            Filter::Nearest | Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * PI;
                    // Pillow writes the window constants as C floats (0.54f,
                    // 0.46f); their f32 values are part of the result.
                    x.sin() / x * (0.54f32 as f64 + 0.46f32 as f64 * x.cos())
                }
            }
            Filter::Bicubic => bicubic(x),
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Pillow's bicubic kernel (a = -0.5).
fn bicubic(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * PI;
    x.sin() / x
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output sample: first input index and fixed-point weights (Pillow's
/// `precompute_coeffs` + `normalize_coeffs_8bpc`).
fn coeffs(filter: Filter, in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // `as` truncates toward zero, like C's (int) cast Pillow rounds with.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let k: Vec<f64> = (xmin..xmax).map(|x| filter.kernel((x as f64 - center + 0.5) * ss)).collect();
            let ww: f64 = k.iter().sum();
            let fixed = k
                .iter()
                .map(|v| {
                    let v = if ww != 0.0 { v / ww } else { *v };
                    let f = v * (1u32 << PRECISION_BITS) as f64;
                    (if f < 0.0 { f - 0.5 } else { f + 0.5 }) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes interleaved RGB8 like Pillow's BICUBIC (see `resize`).
pub fn resize_bicubic(rgb: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<u8> {
    resize(rgb, w, h, 3, ow, oh, Filter::Bicubic)
}

/// Resizes `w x h` interleaved 8-bit pixels with `channels` samples each to
/// `ow x oh` exactly as Pillow's `Image.resize((ow, oh), filter)` does for the
/// `L`/`RGB` modes (channels are independent, so any count works).
///
/// Always returns `ow * oh * channels` bytes. An empty source (or `pixels`
/// shorter than `w * h * channels`) gives black, as Pillow's zero-tap
/// kernels do for an empty image.
pub fn resize(pixels: &[u8], w: usize, h: usize, channels: usize, ow: usize, oh: usize, filter: Filter) -> Vec<u8> {
    if w == 0 || h == 0 || pixels.len() < w * h * channels {
        return vec![0; ow * oh * channels];
    }
    if ow == 0 || oh == 0 || channels == 0 {
        return Vec::new();
    }
    if (ow, oh) == (w, h) {
        return pixels[..w * h * channels].to_vec();
    }
    if filter == Filter::Nearest {
        return resize_nearest(pixels, w, h, channels, ow, oh);
    }
    let pixels = &pixels[..w * h * channels];
    // Pillow 13 runs the vertical pass first when the height shrinks by more
    // than twice as many pixels as the width does (a cheaper intermediate);
    // the 8-bit rounding between passes makes the order visible.
    let vertical_first = oh < h && (h - oh) as i64 > 2 * (w as i64 - ow as i64);
    match (ow != w, oh != h) {
        (true, false) => horizontal_pass(pixels, w, h, channels, ow, filter),
        (false, true) => vertical_pass(pixels, w, h, channels, oh, filter),
        _ if vertical_first => {
            let tmp = vertical_pass(pixels, w, h, channels, oh, filter);
            horizontal_pass(&tmp, w, oh, channels, ow, filter)
        }
        _ => {
            let tmp = horizontal_pass(pixels, w, h, channels, ow, filter);
            vertical_pass(&tmp, ow, h, channels, oh, filter)
        }
    }
}

/// Resamples each row of `w x h` pixels to `ow` samples.
fn horizontal_pass(src: &[u8], w: usize, h: usize, c: usize, ow: usize, filter: Filter) -> Vec<u8> {
    let cs = coeffs(filter, w, ow);
    let mut out = vec![0u8; ow * h * c];
    for y in 0..h {
        let row = &src[y * w * c..(y + 1) * w * c];
        for (x, (x0, k)) in cs.iter().enumerate() {
            for ch in 0..c {
                let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                for (i, kk) in k.iter().enumerate() {
                    acc += row[(x0 + i) * c + ch] as i64 * *kk as i64;
                }
                out[(y * ow + x) * c + ch] = clip8(acc);
            }
        }
    }
    out
}

/// Resamples each column of `w x h` pixels to `oh` samples.
fn vertical_pass(src: &[u8], w: usize, h: usize, c: usize, oh: usize, filter: Filter) -> Vec<u8> {
    let cs = coeffs(filter, h, oh);
    let mut out = vec![0u8; w * oh * c];
    for (y, (y0, k)) in cs.iter().enumerate() {
        for x in 0..w * c {
            let mut acc: i64 = 1 << (PRECISION_BITS - 1);
            for (i, kk) in k.iter().enumerate() {
                acc += src[(y0 + i) * w * c + x] as i64 * *kk as i64;
            }
            out[y * w * c + x] = clip8(acc);
        }
    }
    out
}

/// Pillow's NEAREST resize (`ImagingScaleAffine`): the source coordinate of
/// output column `x` is `0.5 * step + x * step`, built by repeated addition.
fn resize_nearest(pixels: &[u8], w: usize, h: usize, c: usize, ow: usize, oh: usize) -> Vec<u8> {
    let taps = |in_size: usize, out_size: usize| -> Vec<Option<usize>> {
        let step = in_size as f64 / out_size as f64;
        let mut pos = step * 0.5;
        (0..out_size)
            .map(|_| {
                // Pillow's COORD: negative coordinates are outside, others truncate.
                let i = if pos < 0.0 { None } else { Some(pos as usize).filter(|&i| i < in_size) };
                pos += step;
                i
            })
            .collect()
    };
    let (xs, ys) = (taps(w, ow), taps(h, oh));
    let mut out = vec![0u8; ow * oh * c];
    for (y, sy) in ys.iter().enumerate() {
        let Some(sy) = sy else { continue };
        for (x, sx) in xs.iter().enumerate() {
            if let Some(sx) = sx {
                let s = (sy * w + sx) * c;
                out[(y * ow + x) * c..(y * ow + x + 1) * c].copy_from_slice(&pixels[s..s + c]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Filter; 5] = [Filter::Box, Filter::Bilinear, Filter::Hamming, Filter::Bicubic, Filter::Lanczos];

    #[test]
    fn fixed_point_weights_sum_to_one() {
        for f in ALL {
            for (i, o) in [(150, 84), (64, 56), (70, 112), (7, 28), (1000, 224), (224, 224), (50, 224)] {
                for (_, k) in coeffs(f, i, o) {
                    let s: i64 = k.iter().map(|&w| w as i64).sum();
                    assert!((s - (1 << PRECISION_BITS)).abs() <= k.len() as i64, "{f:?} {i}->{o}: {s}");
                }
            }
        }
    }

    #[test]
    fn identity_and_constant_images() {
        let rgb: Vec<u8> = (0..6 * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(resize_bicubic(&rgb, 6, 4, 6, 4), rgb);
        let flat = vec![90u8; 40 * 30 * 3];
        assert!(resize_bicubic(&flat, 40, 30, 17, 11).iter().all(|v| *v == 90));
        for f in ALL.into_iter().chain([Filter::Nearest]) {
            assert!(resize(&flat, 40, 30, 3, 53, 9, f).iter().all(|v| *v == 90), "{f:?}");
            assert_eq!(resize(&[], 0, 5, 3, 4, 4, f), vec![0; 48], "{f:?}");
        }
    }

    #[test]
    fn nearest_picks_pillows_pixels() {
        // 5 -> 2 samples at 1.25 and 3.75: pixels 1 and 3.
        let grey = [10u8, 20, 30, 40, 50];
        assert_eq!(resize(&grey, 5, 1, 1, 2, 1, Filter::Nearest), vec![20, 40]);
        assert_eq!(resize(&grey, 5, 1, 1, 3, 1, Filter::Box), vec![15, 30, 45]);
    }
}

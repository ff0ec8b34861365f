//! Bicubic resampling that reproduces Pillow's `Image.resize(.., BICUBIC)` on
//! 8-bit RGB bit for bit.
//!
//! Qwen2.5-VL was trained on images resized by Pillow (its processor and
//! `qwen_vl_utils` both call it), so pixel values only match the reference if
//! the resampler does: the same separable filter (a = -0.5, support scaled by
//! the reduction factor), the same fixed-point weights (22 fractional bits),
//! the same rounding, horizontal pass first with an 8-bit intermediate.

use image::RgbImage;

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output index: first input index, taps, fixed-point weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn coeffs(in_size: usize, out_size: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) cast truncates toward zero; clamping to 0 after gives the same.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = (((center + support + 0.5) as i64).min(in_size as i64) as usize).saturating_sub(xmin);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = bicubic((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for x in 0..ksize {
            let w = if x < xmax && ww != 0.0 { k[x] / ww } else if x < xmax { k[x] } else { 0.0 };
            let f = w * (1u64 << PRECISION_BITS) as f64;
            weights[xx * ksize + x] = if w < 0.0 { (f - 0.5) as i32 } else { (f + 0.5) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    Coeffs { ksize, bounds, weights }
}

fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resizes like Pillow's `Image.resize((w, h), Image.BICUBIC)`.
pub fn resize_bicubic_pil(src: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (w, h) = (w as usize, h as usize);
    if (w, h) == (sw, sh) {
        return src.clone();
    }
    let input = src.as_raw();
    // Horizontal pass (skipped, like Pillow, when the width does not change).
    let (tmp, tw) = if w != sw {
        let c = coeffs(sw, w);
        let mut out = vec![0u8; w * sh * 3];
        for y in 0..sh {
            let row = &input[y * sw * 3..(y + 1) * sw * 3];
            for (xx, &(xmin, n)) in c.bounds.iter().enumerate() {
                let k = &c.weights[xx * c.ksize..xx * c.ksize + n];
                for ch in 0..3 {
                    let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                    for (x, &kw) in k.iter().enumerate() {
                        ss += row[(xmin + x) * 3 + ch] as i64 * kw as i64;
                    }
                    out[(y * w + xx) * 3 + ch] = clip8(ss);
                }
            }
        }
        (out, w)
    } else {
        (input.to_vec(), sw)
    };
    let out = if h != sh {
        let c = coeffs(sh, h);
        let mut out = vec![0u8; tw * h * 3];
        for (yy, &(ymin, n)) in c.bounds.iter().enumerate() {
            let k = &c.weights[yy * c.ksize..yy * c.ksize + n];
            for x in 0..tw * 3 {
                let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                for (y, &kw) in k.iter().enumerate() {
                    ss += tmp[(ymin + y) * tw * 3 + x] as i64 * kw as i64;
                }
                out[yy * tw * 3 + x] = clip8(ss);
            }
        }
        out
    } else {
        tmp
    };
    RgbImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| RgbImage::new(w as u32, h as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(150, 84), (64, 56), (70, 112), (7, 28)] {
            let c = coeffs(i, o);
            for (xx, &(_, n)) in c.bounds.iter().enumerate() {
                let s: i64 = c.weights[xx * c.ksize..xx * c.ksize + n].iter().map(|&w| w as i64).sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= n as i64, "{i}->{o} at {xx}: {s}");
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = RgbImage::from_pixel(37, 23, image::Rgb([200, 17, 90]));
        let r = resize_bicubic_pil(&img, 56, 28);
        assert!(r.pixels().all(|p| p.0 == [200, 17, 90]));
    }
}

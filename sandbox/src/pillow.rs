//! Pixel operations that equal Pillow 13 to the uint8: `ImageEnhance` (blend
//! with a degenerate image), the `SMOOTH` filter it sharpens against, and
//! `Image.rotate` (Pillow's inverse affine matrix, sampled as `ImagingTransform`
//! does). Resizing lives in `trutheye_plugin_api::pillow`, shared with the
//! model preprocessors.
//!
//! Images are RGB8; an `L` image is grey replicated into three channels. Every
//! operation here treats channels independently, so an `L` image gives what
//! Pillow gives for it in each channel. The float types and the order of
//! arithmetic follow Pillow's C (`Blend.c`, `Filter.c`, `Geometry.c`): a
//! different rounding path would move values by one on many pixels, which is
//! the discrepancy this module exists to remove.

use image::{Rgb, RgbImage};

/// PIL's `convert("L")` luma: ITU-R 601-2 in 16-bit fixed point (`L24`).
pub fn luma(p: &Rgb<u8>) -> u8 {
    ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8
}

/// `Image.blend(a, b, alpha)`: `a + alpha * (b - a)` in `f32` (Pillow narrows
/// alpha to a C float), truncated when interpolating, clipped when extrapolating.
pub fn blend(a: &RgbImage, b: &RgbImage, alpha: f32) -> RgbImage {
    let mut out = a.clone();
    let inside = (0.0..=1.0).contains(&alpha);
    for (o, (&x, &y)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
        let v = x as f32 + alpha * (y as i32 - x as i32) as f32;
        *o = if inside { v as u8 } else if v <= 0.0 { 0 } else if v >= 255.0 { 255 } else { v as u8 };
    }
    out
}

/// `ImageFilter.SMOOTH` (3x3: 1 around, 5 centre, / 13): Pillow divides the
/// kernel by 13 in `f32`, sums rows in `f32` from offset 0.5 and truncates;
/// the outermost rows and columns are copied, as is an image under 3x3.
pub fn smooth(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut out = img.clone();
    if w < 3 || h < 3 {
        return out;
    }
    let (k1, k5) = (1.0f32 / 13.0, 5.0f32 / 13.0);
    let src = img.as_raw();
    let dst: &mut [u8] = &mut out;
    let at = |x: usize, y: usize, c: usize| src[(y * w + x) * 3 + c] as f32;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            for c in 0..3 {
                // Row below, centre row, row above: the order Pillow adds them.
                let mut ss = 0.5f32;
                for (yy, mid) in [(y + 1, k1), (y, k5), (y - 1, k1)] {
                    ss += at(x - 1, yy, c) * k1 + at(x, yy, c) * mid + at(x + 1, yy, c) * k1;
                }
                dst[(y * w + x) * 3 + c] = ss.clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// `ImageEnhance.<kind>(img).enhance(factor)` with `kind` one of
/// Brightness, Contrast, Color, Sharpness.
pub fn enhance(img: &RgbImage, kind: &str, factor: f64) -> RgbImage {
    let (w, h) = img.dimensions();
    let degenerate = match kind {
        "Brightness" => RgbImage::new(w, h),
        "Contrast" => {
            // ImageStat's mean of the L histogram, then int(mean + 0.5).
            let n = (w as u64 * h as u64).max(1);
            let sum: u64 = img.pixels().map(|p| luma(p) as u64).sum();
            let mean = (sum as f64 / n as f64 + 0.5) as u8;
            RgbImage::from_pixel(w, h, Rgb([mean; 3]))
        }
        "Color" => RgbImage::from_fn(w, h, |x, y| Rgb([luma(img.get_pixel(x, y)); 3])),
        _ => smooth(img),
    };
    blend(&degenerate, img, factor as f32)
}

/// Resampling filters `Image.transform` (and so `rotate`) accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    /// `NEAREST` (0).
    Nearest,
    /// `BILINEAR` (2).
    Bilinear,
    /// `BICUBIC` (3).
    Bicubic,
}

/// Python's `round(x, 15)`: the double nearest the value rounded to 15 decimals.
fn round15(x: f64) -> f64 {
    format!("{x:.15}").parse().unwrap_or(x)
}

/// The output size and inverse affine matrix (output -> source) of
/// `Image.rotate(angle, expand=.., center=.., translate=..)` on a `w x h`
/// image, computed as `Image.rotate` does in Python. `angle` is already
/// reduced `% 360`. The size is `i64` because `expand` can ask for any size.
pub fn rotate_matrix(w: u32, h: u32, angle: f64, center: Option<(f64, f64)>, translate: (f64, f64), expand: bool) -> ((i64, i64), [f64; 6]) {
    let (w, h) = (w as f64, h as f64);
    let (cx, cy) = center.unwrap_or((w / 2.0, h / 2.0));
    let a = -angle.to_radians();
    let mut m = [round15(a.cos()), round15(a.sin()), 0.0, round15(-a.sin()), round15(a.cos()), 0.0];
    let apply = |m: &[f64; 6], x: f64, y: f64| (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]);
    (m[2], m[5]) = apply(&m, -cx - translate.0, -cy - translate.1);
    m[2] += cx;
    m[5] += cy;
    if !expand {
        return ((w as i64, h as i64), m);
    }
    // Pillow maps the corners through the inverse matrix; we follow it.
    let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)].map(|(x, y)| apply(&m, x, y));
    let span = |v: [f64; 4]| v.iter().fold(f64::MIN, |a, &b| a.max(b)).ceil() - v.iter().fold(f64::MAX, |a, &b| a.min(b)).floor();
    let nw = span(corners.map(|c| c.0));
    let nh = span(corners.map(|c| c.1));
    (m[2], m[5]) = apply(&m, -(nw - w) / 2.0, -(nh - h) / 2.0);
    ((nw as i64, nh as i64), m)
}

/// `Image.transform((ow, oh), AFFINE, a, sampler, fillcolor=fill)` on RGB8:
/// pixels whose source falls outside the image keep `fill`.
pub fn affine(img: &RgbImage, ow: u32, oh: u32, a: [f64; 6], sampler: Sampler, fill: Rgb<u8>) -> RgbImage {
    let mut out = RgbImage::from_pixel(ow, oh, fill);
    if img.width() == 0 || img.height() == 0 {
        return out;
    }
    match sampler {
        Sampler::Nearest if a[1] == 0.0 && a[3] == 0.0 => scale_nearest(img, &mut out, a),
        Sampler::Nearest => affine_nearest(img, &mut out, a),
        _ => {
            for y in 0..oh {
                for x in 0..ow {
                    let (xin, yin) = (x as f64 + 0.5, y as f64 + 0.5);
                    let sx = a[0] * xin + a[1] * yin + a[2];
                    let sy = a[3] * xin + a[4] * yin + a[5];
                    if let Some(p) = sample(img, sx, sy, sampler) {
                        out.put_pixel(x, y, p);
                    }
                }
            }
        }
    }
    out
}

/// Pillow's `COORD`: negative is outside (-1), otherwise truncation.
fn coord(v: f64) -> i64 {
    if v < 0.0 {
        -1
    } else {
        v as i64
    }
}

/// `ImagingScaleAffine`: axis-aligned, source coordinates accumulated by addition.
fn scale_nearest(img: &RgbImage, out: &mut RgbImage, a: [f64; 6]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let mut xo = a[2] + a[0] * 0.5;
    let xs: Vec<i64> = (0..out.width())
        .map(|_| {
            let x = coord(xo);
            xo += a[0];
            x
        })
        .collect();
    let mut yo = a[5] + a[4] * 0.5;
    for y in 0..out.height() {
        let yi = coord(yo);
        yo += a[4];
        if !(0..h).contains(&yi) {
            continue;
        }
        for (x, &xi) in xs.iter().enumerate() {
            if (0..w).contains(&xi) {
                out.put_pixel(x as u32, y, *img.get_pixel(xi as u32, yi as u32));
            }
        }
    }
}

/// `ImagingTransformAffine` with NEAREST: 16.16 fixed point when every corner
/// fits (`affine_fixed`), else the same walk in `f64`.
fn affine_nearest(img: &RgbImage, out: &mut RgbImage, a: [f64; 6]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (ow, oh) = (out.width(), out.height());
    let fits = |x: f64, y: f64| (x * a[0] + y * a[1] + a[2]).abs() < 32768.0 && (x * a[3] + y * a[4] + a[5]).abs() < 32768.0;
    let (fw, fh) = (ow as f64, oh as f64);
    let mut put = |x: u32, y: u32, xi: i64, yi: i64| {
        if (0..w).contains(&xi) && (0..h).contains(&yi) {
            out.put_pixel(x, y, *img.get_pixel(xi as u32, yi as u32));
        }
    };
    if fits(0.0, 0.0) && fits(fw, fh) && fits(0.0, fh) && fits(fw, 0.0) {
        let fix = |v: f64| {
            let t = v * 65536.0 + 0.5;
            (if t < 0.0 { t.floor() } else { t }) as i32
        };
        let (a0, a1, a3, a4) = (fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4]));
        let (mut a2, mut a5) = (fix(a[2] + a[0] * 0.5 + a[1] * 0.5), fix(a[5] + a[3] * 0.5 + a[4] * 0.5));
        for y in 0..oh {
            let (mut xx, mut yy) = (a2, a5);
            for x in 0..ow {
                put(x, y, (xx >> 16) as i64, (yy >> 16) as i64);
                xx = xx.wrapping_add(a0);
                yy = yy.wrapping_add(a3);
            }
            a2 = a2.wrapping_add(a1);
            a5 = a5.wrapping_add(a4);
        }
    } else {
        let mut xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
        let mut yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
        for y in 0..oh {
            let (mut xx, mut yy) = (xo, yo);
            for x in 0..ow {
                put(x, y, coord(xx), coord(yy));
                xx += a[0];
                yy += a[3];
            }
            xo += a[1];
            yo += a[4];
        }
    }
}

/// Pillow's bilinear/bicubic sample at source point `(sx, sy)`; `None` outside
/// the image. Taps beyond an edge repeat the edge, as Pillow's clipping does.
fn sample(img: &RgbImage, sx: f64, sy: f64, sampler: Sampler) -> Option<Rgb<u8>> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if !(sx >= 0.0 && sx < w as f64 && sy >= 0.0 && sy < h as f64) {
        return None;
    }
    let (xin, yin) = (sx - 0.5, sy - 0.5);
    let (x, y) = (xin.floor() as i64, yin.floor() as i64);
    let (dx, dy) = (xin - x as f64, yin - y as f64);
    let px = |xx: i64, yy: i64, c: usize| img.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32)[c] as f64;
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        *o = if sampler == Sampler::Bilinear {
            let lerp = |a: f64, b: f64, d: f64| a + (b - a) * d;
            let row = |yy: i64| lerp(px(x, yy, c), px(x + 1, yy, c), dx);
            lerp(row(y), row(y + 1), dy) as u8
        } else {
            // Pillow's cubic (a = -1 form) in Horner order.
            let cubic = |v1: f64, v2: f64, v3: f64, v4: f64, d: f64| {
                let (p1, p2, p3, p4) = (v2, -v1 + v3, 2.0 * (v1 - v2) + v3 - v4, -v1 + v2 - v3 + v4);
                p1 + d * (p2 + d * (p3 + d * p4))
            };
            let row = |yy: i64| cubic(px(x - 1, yy, c), px(x, yy, c), px(x + 1, yy, c), px(x + 2, yy, c), dx);
            let v = cubic(row(y - 1), row(y), row(y + 1), row(y + 2), dy);
            if v <= 0.0 {
                0
            } else if v >= 255.0 {
                255
            } else {
                v as u8
            }
        };
    }
    Some(Rgb(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_truncates_inside_and_clips_outside() {
        let a = RgbImage::from_pixel(1, 1, Rgb([10, 200, 0]));
        let b = RgbImage::from_pixel(1, 1, Rgb([20, 100, 255]));
        assert_eq!(blend(&a, &b, 0.25).get_pixel(0, 0).0, [12, 175, 63]);
        assert_eq!(blend(&a, &b, 3.0).get_pixel(0, 0).0, [40, 0, 255]);
    }

    #[test]
    fn rotate_matrix_matches_pillow_expand_size() {
        // Pillow: Image.new("RGB", (37, 23)).rotate(-17.5, expand=True).size == (43, 35)
        assert_eq!(rotate_matrix(37, 23, (-17.5f64).rem_euclid(360.0), None, (0.0, 0.0), true).0, (43, 35));
    }
}

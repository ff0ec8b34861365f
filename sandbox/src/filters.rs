//! `ImageFilter`: Pillow's fixed kernels, `GaussianBlur(radius)` and
//! `MedianFilter(size)`.
//!
//! Kernels are Pillow's (`ImageFilter.py`): `BLUR` 5x5 ring / 16, `CONTOUR`
//! 3x3 (8 centre, -1 around, offset 255), `DETAIL` (0 -1 0 / -1 10 -1 / 0 -1 0) / 6,
//! `EDGE_ENHANCE` (-1 around, 10 centre) / 2, `EDGE_ENHANCE_MORE` (-1 around,
//! 9 centre), `EMBOSS` (-1 0 0 / 0 1 0 / 0 0 0, offset 128), `FIND_EDGES`
//! (-1 around, 8 centre), `SHARPEN` (-2 around, 32 centre) / 16, `SMOOTH`
//! (1 around, 5 centre) / 13, `SMOOTH_MORE` 5x5 / 100. As in Pillow, the
//! border (1 pixel for 3x3, 2 for 5x5) is copied unchanged and each sum is
//! rounded half away from zero and clipped to 0..255.
//!
//! `GaussianBlur(radius)` follows Pillow's algorithm: three passes of an
//! extended box blur per axis with the box radius from Pillow's
//! `_gaussian_blur_radius`, edges extended; it is computed in `f32`, so a
//! pixel may differ from Pillow's fixed-point result by 1. `MedianFilter(size)`
//! is the per-channel median of the `size x size` window with edges extended
//! (Pillow expands the image by `size // 2` before its rank filter).

use image::RgbImage;

use crate::error::{err, PyResult};
use crate::values::Meter;

const SMOOTH_MORE: [i32; 25] = [1, 1, 1, 1, 1, 1, 5, 5, 5, 1, 1, 5, 44, 5, 1, 1, 5, 5, 5, 1, 1, 1, 1, 1, 1];
const BLUR: [i32; 25] = [1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1];

/// Names of the fixed filters (`ImageFilter.X`).
pub const FIXED: [&str; 10] = [
    "ImageFilter.SMOOTH", "ImageFilter.SMOOTH_MORE", "ImageFilter.SHARPEN", "ImageFilter.BLUR", "ImageFilter.DETAIL",
    "ImageFilter.EDGE_ENHANCE", "ImageFilter.EDGE_ENHANCE_MORE", "ImageFilter.FIND_EDGES", "ImageFilter.CONTOUR", "ImageFilter.EMBOSS",
];

fn ring3(centre: i32, around: i32) -> Vec<i32> {
    (0..9).map(|i| if i == 4 { centre } else { around }).collect()
}

/// Applies the fixed filter `name`, charging `m` per row.
pub fn fixed(img: &RgbImage, name: &str, m: &mut Meter) -> PyResult<RgbImage> {
    let (k, scale, offset): (Vec<i32>, f32, f32) = match name.strip_prefix("ImageFilter.").unwrap_or(name) {
        "SMOOTH" => (ring3(5, 1), 13.0, 0.0),
        "SMOOTH_MORE" => (SMOOTH_MORE.to_vec(), 100.0, 0.0),
        "SHARPEN" => (ring3(32, -2), 16.0, 0.0),
        "BLUR" => (BLUR.to_vec(), 16.0, 0.0),
        "DETAIL" => (vec![0, -1, 0, -1, 10, -1, 0, -1, 0], 6.0, 0.0),
        "EDGE_ENHANCE" => (ring3(10, -1), 2.0, 0.0),
        "EDGE_ENHANCE_MORE" => (ring3(9, -1), 1.0, 0.0),
        "FIND_EDGES" => (ring3(8, -1), 1.0, 0.0),
        "CONTOUR" => (ring3(8, -1), 1.0, 255.0),
        "EMBOSS" => (vec![-1, 0, 0, 0, 1, 0, 0, 0, 0], 1.0, 128.0),
        other => return err("NotImplementedError", format!("ImageFilter.{other} is not supported in this sandbox")),
    };
    convolve(img, &k, scale, offset, m)
}

fn round_clip(v: f32) -> u8 {
    let r = if v >= 0.0 { v + 0.5 } else { v - 0.5 };
    (r as i32).clamp(0, 255) as u8
}

fn convolve(img: &RgbImage, k: &[i32], scale: f32, offset: f32, meter: &mut Meter) -> PyResult<RgbImage> {
    let n = if k.len() == 25 { 5 } else { 3 };
    let m = (n / 2) as u32;
    let (w, h) = (img.width(), img.height());
    let mut out = img.clone();
    if w < n as u32 || h < n as u32 {
        return Ok(out);
    }
    let row_cost = w as u64 * k.len() as u64 * 3;
    for y in m..h - m {
        meter.charge_native(row_cost)?;
        for x in m..w - m {
            let mut acc = [0i32; 3];
            for dy in 0..n {
                for dx in 0..n {
                    let kv = k[dy * n + dx];
                    if kv == 0 {
                        continue;
                    }
                    let p = img.get_pixel(x + dx as u32 - m, y + dy as u32 - m);
                    for c in 0..3 {
                        acc[c] += kv * p[c] as i32;
                    }
                }
            }
            let q = out.get_pixel_mut(x, y);
            for c in 0..3 {
                q[c] = round_clip(acc[c] as f32 / scale + offset);
            }
        }
    }
    Ok(out)
}

/// Pillow's `_gaussian_blur_radius(radius, passes)`.
fn box_radius(radius: f32, passes: f32) -> f32 {
    let sigma2 = radius * radius / passes;
    let big_l = (12.0 * sigma2 + 1.0).sqrt();
    let l = ((big_l - 1.0) / 2.0).floor();
    let a = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2) / (6.0 * (sigma2 - (l + 1.0) * (l + 1.0)));
    l + a
}

fn box_line(line: &mut [f32], prefix: &mut Vec<f64>, r: f32) {
    let len = line.len() as i64;
    let ri = r.floor() as i64;
    let frac = r - ri as f32;
    let norm = 2.0 * r + 1.0;
    let at = |i: i64| line[i.clamp(0, len - 1) as usize];
    // prefix[k] = sum of the edge-extended line over [-ri - 1, k - ri - 1).
    prefix.clear();
    prefix.push(0.0);
    let mut acc = 0.0f64;
    for j in -ri - 1..=len + ri {
        acc += at(j) as f64;
        prefix.push(acc);
    }
    let sum = |a: i64, b: i64| (prefix[(b + ri + 2) as usize] - prefix[(a + ri + 1) as usize]) as f32;
    let out: Vec<f32> = (0..len).map(|i| (sum(i - ri, i + ri) + frac * (at(i - ri - 1) + at(i + ri + 1))) / norm).collect();
    line.copy_from_slice(&out);
}

/// `ImageFilter.GaussianBlur(radius)`, charging `m` per line.
pub fn gaussian(img: &RgbImage, radius: f64, m: &mut Meter) -> PyResult<RgbImage> {
    if !radius.is_finite() || radius < 0.0 {
        return err("ValueError", "GaussianBlur radius must be a finite number >= 0");
    }
    // Beyond the image size more blur changes nothing but the cost.
    let cap = (img.width().max(img.height()) * 2) as f32;
    blur(img, box_radius((radius as f32).min(cap), 3.0), 3, m)
}

/// `ImageFilter.BoxBlur(radius)`: one extended box blur per axis.
pub fn box_blur(img: &RgbImage, radius: f64, m: &mut Meter) -> PyResult<RgbImage> {
    if !radius.is_finite() || radius < 0.0 {
        return err("ValueError", "BoxBlur radius must be a finite number >= 0");
    }
    blur(img, radius as f32, 1, m)
}

/// Box blurs per axis, one channel at a time (one `f32` plane in memory, not
/// three), charging `m` per line.
fn blur(img: &RgbImage, r: f32, passes: usize, m: &mut Meter) -> PyResult<RgbImage> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if r <= 0.0 || w == 0 || h == 0 {
        return Ok(img.clone());
    }
    let r = r.min(w.max(h) as f32);
    let mut out = img.clone();
    let (mut line, mut tmp) = (Vec::new(), Vec::new());
    // A line of `n` samples costs about 3n per pass (prefix sums, then the window).
    let cost = |n: usize| (n * passes * 3) as u64;
    for c in 0..3 {
        let mut plane: Vec<f32> = img.pixels().map(|p| p[c] as f32).collect();
        for row in plane.chunks_mut(w) {
            m.charge_native(cost(w))?;
            for _ in 0..passes {
                box_line(row, &mut tmp, r);
            }
        }
        for x in 0..w {
            m.charge_native(cost(h))?;
            line.clear();
            line.extend((0..h).map(|y| plane[y * w + x]));
            for _ in 0..passes {
                box_line(&mut line, &mut tmp, r);
            }
            for (y, v) in line.iter().enumerate() {
                plane[y * w + x] = *v;
            }
        }
        for (p, v) in out.pixels_mut().zip(&plane) {
            p[c] = round_clip(*v);
        }
    }
    Ok(out)
}

/// `ImageFilter.MedianFilter(size)` (odd `size`, at most 9: the cost grows
/// with `size`²), charging `meter` per row: `size`² samples per pixel and channel.
pub fn median(img: &RgbImage, size: i64, meter: &mut Meter) -> PyResult<RgbImage> {
    if size < 1 || size % 2 == 0 || size > 9 {
        return err("ValueError", "MedianFilter size must be an odd number from 1 to 9");
    }
    let m = size / 2;
    let (w, h) = (img.width() as i64, img.height() as i64);
    let mut out = img.clone();
    let mut win = Vec::with_capacity((size * size) as usize);
    let row_cost = (w * size * size * 3) as u64;
    for y in 0..h {
        meter.charge_native(row_cost)?;
        for x in 0..w {
            let q = out.get_pixel_mut(x as u32, y as u32);
            for c in 0..3 {
                win.clear();
                for dy in -m..=m {
                    for dx in -m..=m {
                        win.push(img.get_pixel((x + dx).clamp(0, w - 1) as u32, (y + dy).clamp(0, h - 1) as u32)[c]);
                    }
                }
                // The middle of an odd count: a selection, not a full sort.
                let mid = win.len() / 2;
                q[c] = *win.select_nth_unstable(mid).1;
            }
        }
    }
    Ok(out)
}

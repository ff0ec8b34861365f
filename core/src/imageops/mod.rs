//! Basic image operations (ForenAgent's T_basic: crop, zoom, rotate, flip,
//! enhance) with PIL semantics, shared by the registry's basic tools and the PVR
//! sandbox so both give the same pixels.

use image::{imageops, Rgb, RgbImage};

/// A bad argument to a basic operation, worded like the PIL error a model knows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct OpError(pub String);

/// Crops `[x1, y1, x2, y2)`. Like PIL, coordinates are rounded and must satisfy
/// `x1 < x2`, `y1 < y2`; unlike PIL (which pads with black), a box that lies
/// entirely outside the image is an error and a partly outside box is clipped,
/// because a black pad would be read as evidence.
pub fn crop(img: &RgbImage, bbox: [f64; 4]) -> Result<(RgbImage, [u32; 4]), OpError> {
    let [x1, y1, x2, y2] = bbox;
    if bbox.iter().any(|v| !v.is_finite()) {
        return Err(OpError(format!("ValueError: crop box {bbox:?} contains a non-finite number")));
    }
    if x2 <= x1 || y2 <= y1 {
        return Err(OpError(format!(
            "ValueError: Coordinate 'right' is less than 'left' or 'lower' is less than 'upper' in crop box ({x1}, {y1}, {x2}, {y2})"
        )));
    }
    let (w, h) = (img.width() as f64, img.height() as f64);
    let cx1 = x1.round().clamp(0.0, w) as u32;
    let cy1 = y1.round().clamp(0.0, h) as u32;
    let cx2 = x2.round().clamp(0.0, w) as u32;
    let cy2 = y2.round().clamp(0.0, h) as u32;
    if cx2 <= cx1 || cy2 <= cy1 {
        return Err(OpError(format!(
            "ValueError: crop box ({x1}, {y1}, {x2}, {y2}) lies outside the {}x{} image",
            img.width(),
            img.height()
        )));
    }
    let out = imageops::crop_imm(img, cx1, cy1, cx2 - cx1, cy2 - cy1).to_image();
    Ok((out, [cx1, cy1, cx2, cy2]))
}

/// Resampling filters, as PIL names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `Image.NEAREST`.
    Nearest,
    /// `Image.BILINEAR`.
    Bilinear,
    /// `Image.BICUBIC` (PIL's default for resize).
    Bicubic,
    /// `Image.LANCZOS`.
    Lanczos,
}

/// Resizes to `w x h` (each at most `max_side`).
pub fn resize(img: &RgbImage, w: u32, h: u32, filter: Filter, max_side: u32) -> Result<RgbImage, OpError> {
    if w == 0 || h == 0 {
        return Err(OpError(format!("ValueError: height and width must be > 0, got ({w}, {h})")));
    }
    if w > max_side || h > max_side {
        return Err(OpError(format!("MemoryError: resize to ({w}, {h}) exceeds the {max_side}px side limit")));
    }
    let f = match filter {
        Filter::Nearest => imageops::FilterType::Nearest,
        Filter::Bilinear => imageops::FilterType::Triangle,
        Filter::Bicubic => imageops::FilterType::CatmullRom,
        Filter::Lanczos => imageops::FilterType::Lanczos3,
    };
    Ok(imageops::resize(img, w, h, f))
}

/// Rotates counter-clockwise by `degrees` (PIL convention). Multiples of 90 are
/// exact; other angles use nearest-neighbour sampling like PIL's default, with
/// black fill, and `expand` grows the canvas to hold the whole image.
pub fn rotate(img: &RgbImage, degrees: f64, expand: bool) -> Result<RgbImage, OpError> {
    if !degrees.is_finite() {
        return Err(OpError("ValueError: rotation angle must be finite".into()));
    }
    let d = degrees.rem_euclid(360.0);
    let exact = |d: f64, target: f64| (d - target).abs() < 1e-9;
    if exact(d, 0.0) {
        return Ok(img.clone());
    }
    if exact(d, 180.0) {
        return Ok(imageops::rotate180(img));
    }
    if expand && exact(d, 90.0) {
        return Ok(imageops::rotate270(img)); // PIL's +90 is counter-clockwise
    }
    if expand && exact(d, 270.0) {
        return Ok(imageops::rotate90(img));
    }
    let (w, h) = (img.width() as f64, img.height() as f64);
    let (s, c) = d.to_radians().sin_cos();
    let (ow, oh) = if expand {
        ((w * c.abs() + h * s.abs()).ceil(), (w * s.abs() + h * c.abs()).ceil())
    } else {
        (w, h)
    };
    let (ow, oh) = (ow as u32, oh as u32);
    let (icx, icy, ocx, ocy) = (w / 2.0, h / 2.0, ow as f64 / 2.0, oh as f64 / 2.0);
    let mut out = RgbImage::new(ow, oh);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (dx, dy) = (x as f64 + 0.5 - ocx, y as f64 + 0.5 - ocy);
        // Inverse mapping of a counter-clockwise rotation in image coordinates (y down).
        let sx = c * dx - s * dy + icx;
        let sy = s * dx + c * dy + icy;
        if sx >= 0.0 && sy >= 0.0 && sx < w && sy < h {
            *px = *img.get_pixel(sx as u32, sy as u32);
        }
    }
    Ok(out)
}

/// `Image.FLIP_LEFT_RIGHT`.
pub fn flip_horizontal(img: &RgbImage) -> RgbImage {
    imageops::flip_horizontal(img)
}

/// `Image.FLIP_TOP_BOTTOM`.
pub fn flip_vertical(img: &RgbImage) -> RgbImage {
    imageops::flip_vertical(img)
}

/// PIL `ImageEnhance` kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enhance {
    /// `ImageEnhance.Brightness`: blend with black.
    Brightness,
    /// `ImageEnhance.Contrast`: blend with the mean grey level.
    Contrast,
    /// `ImageEnhance.Color`: blend with the greyscale image.
    Color,
    /// `ImageEnhance.Sharpness`: blend with PIL's SMOOTH-filtered image.
    Sharpness,
}

fn luma_u8(p: &Rgb<u8>) -> u8 {
    // PIL's "L" conversion: ITU-R 601-2 with integer rounding.
    ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Applies `ImageEnhance.<kind>(img).enhance(factor)`: `out = degenerate + factor *
/// (img - degenerate)`, clipped to 0..=255, as PIL's `Image.blend` does.
pub fn enhance(img: &RgbImage, kind: Enhance, factor: f64) -> Result<RgbImage, OpError> {
    if !factor.is_finite() || factor.abs() > 1e4 {
        return Err(OpError(format!("ValueError: enhance factor {factor} is out of range")));
    }
    let degenerate: RgbImage = match kind {
        Enhance::Brightness => RgbImage::new(img.width(), img.height()),
        Enhance::Contrast => {
            let n = (img.width() as u64 * img.height() as u64).max(1);
            let sum: u64 = img.pixels().map(|p| luma_u8(p) as u64).sum();
            let mean = ((sum as f64 / n as f64) + 0.5) as u8;
            RgbImage::from_pixel(img.width(), img.height(), Rgb([mean; 3]))
        }
        Enhance::Color => RgbImage::from_fn(img.width(), img.height(), |x, y| {
            let l = luma_u8(img.get_pixel(x, y));
            Rgb([l; 3])
        }),
        Enhance::Sharpness => smooth(img),
    };
    let f = factor as f32;
    let mut out = img.clone();
    for (o, d) in out.iter_mut().zip(degenerate.iter()) {
        let v = *d as f32 + f * (*o as f32 - *d as f32);
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
    Ok(out)
}

/// PIL's `ImageFilter.SMOOTH` (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, scale 13); border
/// pixels are copied unchanged, as PIL does.
pub fn smooth(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let mut out = img.clone();
    if w < 3 || h < 3 {
        return out;
    }
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let mut acc = [0u32; 3];
            for dy in 0..3 {
                for dx in 0..3 {
                    let k = if dx == 1 && dy == 1 { 5 } else { 1 };
                    let p = img.get_pixel(x + dx - 1, y + dy - 1);
                    for c in 0..3 {
                        acc[c] += k * p[c] as u32;
                    }
                }
            }
            out.put_pixel(x, y, Rgb([0, 1, 2].map(|c| ((acc[c] + 6) / 13) as u8)));
        }
    }
    out
}

/// Draws the outline of box `b` (`[x1, y1, x2, y2]`, x2/y2 exclusive, clipped
/// to the image) `thickness` pixels wide, inside the box, in `color`.
pub fn outline_box(img: &mut RgbImage, b: [u32; 4], color: Rgb<u8>, thickness: u32) {
    let (x2, y2) = (b[2].min(img.width()), b[3].min(img.height()));
    let t = thickness.max(1);
    for y in b[1].min(y2)..y2 {
        for x in b[0].min(x2)..x2 {
            if x < b[0] + t || x + t >= b[2] || y < b[1] + t || y + t >= b[3] {
                img.put_pixel(x, y, color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(x * 10) as u8, (y * 10) as u8, 7]))
    }

    #[test]
    fn crop_clips_and_rejects() {
        let img = ramp(10, 8);
        let (c, b) = crop(&img, [2.0, 1.0, 5.0, 4.0]).expect("valid");
        assert_eq!((c.width(), c.height(), b), (3, 3, [2, 1, 5, 4]));
        assert_eq!(c.get_pixel(0, 0), &Rgb([20, 10, 7]));
        let (_, b) = crop(&img, [8.0, 6.0, 50.0, 50.0]).expect("clipped");
        assert_eq!(b, [8, 6, 10, 8]);
        assert!(crop(&img, [5.0, 1.0, 2.0, 4.0]).unwrap_err().0.contains("less than"));
        assert!(crop(&img, [20.0, 20.0, 30.0, 30.0]).unwrap_err().0.contains("outside"));
        assert!(crop(&img, [f64::NAN, 0.0, 1.0, 1.0]).is_err());
    }

    #[test]
    fn rotate_90_expand_is_counter_clockwise() {
        let img = ramp(4, 2);
        let r = rotate(&img, 90.0, true).expect("ok");
        assert_eq!((r.width(), r.height()), (2, 4));
        // PIL: the top-right pixel moves to the top-left.
        assert_eq!(r.get_pixel(0, 0), img.get_pixel(3, 0));
        let r45 = rotate(&img, 45.0, true).expect("ok");
        assert!(r45.width() >= 4 && r45.height() >= 4);
    }

    #[test]
    fn enhance_matches_pil_formulas() {
        let img = RgbImage::from_pixel(2, 2, Rgb([100, 150, 200]));
        let b = enhance(&img, Enhance::Brightness, 0.5).expect("ok");
        assert_eq!(b.get_pixel(0, 0), &Rgb([50, 75, 100]));
        // Contrast degenerate is the mean luma (141 for this colour): factor 0 gives it.
        let c = enhance(&img, Enhance::Contrast, 0.0).expect("ok");
        assert_eq!(c.get_pixel(1, 1), &Rgb([141, 141, 141]));
        let same = enhance(&img, Enhance::Color, 1.0).expect("ok");
        assert_eq!(same, img);
        assert!(enhance(&img, Enhance::Color, f64::INFINITY).is_err());
    }

    #[test]
    fn outline_box_draws_only_the_border() {
        let mut img = RgbImage::new(6, 6);
        outline_box(&mut img, [1, 1, 5, 9], Rgb([255, 0, 0]), 1);
        let red: Vec<(u32, u32)> = img.enumerate_pixels().filter(|p| p.2 .0[0] == 255).map(|p| (p.0, p.1)).collect();
        // 4 wide, clipped to rows 1..6: top row 4, sides 2 x 4 rows; the bottom edge lies outside.
        assert_eq!(red.len(), 4 + 2 * 4);
        assert!(!red.contains(&(2, 2)) && red.contains(&(1, 5)) && red.contains(&(4, 1)));
    }
}

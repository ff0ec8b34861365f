//! `ImageEnhance` as Pillow 13 computes it: a blend of the image with a
//! "degenerate" image (black, the mean grey, the greyscale image, or the
//! `SMOOTH`-filtered image), plus the `convert("L")` luma and the `SMOOTH`
//! filter the enhancers need.
//!
//! The float types and the order of arithmetic follow Pillow's C (`Blend.c`,
//! `Filter.c`, `Convert.c`): a different rounding path moves values by one on
//! many pixels, and a model reading the result would then see pixels Pillow
//! never produces.

use image::{Rgb, RgbImage};

/// PIL's `convert("L")` luma: ITU-R 601-2 in 16-bit fixed point (`L24`).
pub fn luma(p: &Rgb<u8>) -> u8 {
    ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8
}

/// `ImageOps.grayscale` / `convert("L")`: PIL's luma, replicated into RGB so an
/// `L` image travels as RGB8 like every other image.
pub fn grey(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        *p = Rgb([luma(p); 3]);
    }
    out
}

/// `Image.blend(a, b, alpha)`: `a + alpha * (b - a)` in `f32` (Pillow narrows
/// alpha to a C float), truncated when interpolating, clipped when extrapolating.
pub fn blend(a: &RgbImage, b: &RgbImage, alpha: f32) -> RgbImage {
    let mut out = a.clone();
    let inside = (0.0..=1.0).contains(&alpha);
    for (o, (&x, &y)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
        let v = x as f32 + alpha * (y as i32 - x as i32) as f32;
        *o = if inside {
            v as u8
        } else if v <= 0.0 {
            0
        } else if v >= 255.0 {
            255
        } else {
            v as u8
        };
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

impl Enhance {
    /// The enhancer's class name in `PIL.ImageEnhance`.
    pub fn pil_name(self) -> &'static str {
        match self {
            Enhance::Brightness => "Brightness",
            Enhance::Contrast => "Contrast",
            Enhance::Color => "Color",
            Enhance::Sharpness => "Sharpness",
        }
    }
}

/// `ImageEnhance.<kind>(img).enhance(factor)`, equal to Pillow 13 to the uint8.
/// The factor is narrowed to `f32` as Pillow narrows it; callers reject
/// non-finite factors, which Pillow's C would turn into garbage.
pub fn enhance(img: &RgbImage, kind: Enhance, factor: f64) -> RgbImage {
    let (w, h) = img.dimensions();
    let degenerate = match kind {
        Enhance::Brightness => RgbImage::new(w, h),
        Enhance::Contrast => {
            // ImageStat's mean of the L histogram, then int(mean + 0.5).
            let n = (w as u64 * h as u64).max(1);
            let sum: u64 = img.pixels().map(|p| luma(p) as u64).sum();
            let mean = (sum as f64 / n as f64 + 0.5) as u8;
            RgbImage::from_pixel(w, h, Rgb([mean; 3]))
        }
        Enhance::Color => grey(img),
        Enhance::Sharpness => smooth(img),
    };
    blend(&degenerate, img, factor as f32)
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
    fn enhance_matches_pil_formulas() {
        let img = RgbImage::from_pixel(2, 2, Rgb([100, 150, 200]));
        // Pillow: ImageEnhance.Brightness(Image.new("RGB", (2, 2), (100, 150, 200))).enhance(0.5) -> (50, 75, 100)
        assert_eq!(enhance(&img, Enhance::Brightness, 0.5).get_pixel(0, 0), &Rgb([50, 75, 100]));
        // 0.77 * 150 is 115.5 in f32: Pillow truncates to 115 where rounding would give 116.
        assert_eq!(enhance(&img, Enhance::Brightness, 0.77).get_pixel(0, 0), &Rgb([77, 115, 154]));
        // Contrast degenerate is the mean luma (141 for this colour): factor 0 gives it.
        assert_eq!(enhance(&img, Enhance::Contrast, 0.0).get_pixel(1, 1), &Rgb([141, 141, 141]));
        // Extrapolating clips: 141 + 3 * (200 - 141) = 318 -> 255, 141 + 3 * (100 - 141) = 18.
        assert_eq!(enhance(&img, Enhance::Contrast, 3.0).get_pixel(0, 1), &Rgb([18, 168, 255]));
        assert_eq!(enhance(&img, Enhance::Color, 1.0), img);
        // A flat image is its own SMOOTH, so Sharpness changes nothing.
        assert_eq!(enhance(&img, Enhance::Sharpness, 2.0), img);
    }

    #[test]
    fn smooth_keeps_the_border_and_truncates() {
        let mut img = RgbImage::from_pixel(3, 3, Rgb([0, 0, 0]));
        img.put_pixel(1, 1, Rgb([13, 26, 255]));
        let s = smooth(&img);
        // Centre: 0.5 + 5/13 * v, truncated: 13 -> 5, 26 -> 10, 255 -> 98.
        assert_eq!(s.get_pixel(1, 1).0, [5, 10, 98]);
        assert_eq!(s.get_pixel(0, 0).0, [0, 0, 0]);
    }
}

//! `Image.rotate` as Pillow 13 computes it: exact transposes for 0/90/180/270
//! degrees where Pillow takes them, otherwise Pillow's inverse affine matrix
//! (rounded as its Python rounds it) sampled as `ImagingTransform` samples.
//!
//! NEAREST is not plain truncation in Pillow: axis-aligned matrices
//! accumulate source coordinates by addition, others walk in 16.16 fixed
//! point when they fit. Reproducing those paths is what puts every pixel
//! where Pillow puts it.

use image::{imageops, Rgb, RgbImage};

use super::OpError;

/// Resampling filters `Image.transform` (and so `rotate`) accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    /// `NEAREST` (0), Pillow's default for `rotate`.
    Nearest,
    /// `BILINEAR` (2).
    Bilinear,
    /// `BICUBIC` (3).
    Bicubic,
}

impl Sampler {
    /// The sampler Pillow numbers `n`, or the `ValueError` Pillow raises for it.
    pub fn from_pillow(n: i64) -> Result<Sampler, OpError> {
        match n {
            0 => Ok(Sampler::Nearest),
            2 => Ok(Sampler::Bilinear),
            3 => Ok(Sampler::Bicubic),
            1 | 4 | 5 => Err(OpError(format!(
                "ValueError: resampling filter ({n}) cannot be used by rotate; use Image.NEAREST (0), Image.BILINEAR (2) or Image.BICUBIC (3)"
            ))),
            _ => Err(OpError(format!("ValueError: Unknown resampling filter ({n})."))),
        }
    }
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

/// How Pillow will compute one `Image.rotate` call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Plan {
    /// `angle % 360 == 0`: a copy.
    Copy,
    /// `Transpose.ROTATE_180`.
    Half,
    /// `Transpose.ROTATE_90` (counter-clockwise).
    Ccw90,
    /// `Transpose.ROTATE_270`.
    Cw90,
    /// An affine transform with this inverse matrix.
    Affine([f64; 6]),
}

/// One `Image.rotate(angle, expand=.., center=.., translate=..)` planned on an
/// image size: its output size is known before any pixel is made, so callers
/// can refuse an oversized result first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rotation {
    plan: Plan,
    size: (i64, i64),
}

impl Rotation {
    /// Plans the rotation of a `w x h` image by `angle` degrees
    /// counter-clockwise (reduced `% 360` here, as Pillow does). `angle` must
    /// be finite: Pillow's matrix would be NaN.
    pub fn new(w: u32, h: u32, angle: f64, expand: bool, center: Option<(f64, f64)>, translate: Option<(f64, f64)>) -> Rotation {
        let angle = angle.rem_euclid(360.0);
        // Pillow's shortcuts compare the angle exactly, and only without center/translate.
        if center.is_none() && translate.is_none() {
            let (wi, hi) = (w as i64, h as i64);
            let quarter = expand || w == h;
            let plan = match angle {
                0.0 => Some((Plan::Copy, (wi, hi))),
                180.0 => Some((Plan::Half, (wi, hi))),
                90.0 if quarter => Some((Plan::Ccw90, (hi, wi))),
                270.0 if quarter => Some((Plan::Cw90, (hi, wi))),
                _ => None,
            };
            if let Some((plan, size)) = plan {
                return Rotation { plan, size };
            }
        }
        let (size, m) = rotate_matrix(w, h, angle, center, translate.unwrap_or((0.0, 0.0)), expand);
        Rotation { plan: Plan::Affine(m), size }
    }

    /// The output `(width, height)`; may be negative or huge for odd centers.
    pub fn size(&self) -> (i64, i64) {
        self.size
    }

    /// True when Pillow answers with a copy or a transpose, which ignore the
    /// resampling filter and the fill.
    pub fn is_transpose(&self) -> bool {
        !matches!(self.plan, Plan::Affine(_))
    }

    /// The rotated image; pixels whose source lies outside `img` are `fill`.
    /// `img` must have the size the rotation was planned on.
    pub fn apply(&self, img: &RgbImage, sampler: Sampler, fill: Rgb<u8>) -> Result<RgbImage, OpError> {
        let fits = |v: i64| u32::try_from(v).ok();
        let (Some(w), Some(h)) = (fits(self.size.0), fits(self.size.1)) else {
            return Err(OpError(format!("MemoryError: a {}x{} rotated image is not a valid image size", self.size.0, self.size.1)));
        };
        Ok(match self.plan {
            Plan::Copy => img.clone(),
            Plan::Half => imageops::rotate180(img),
            // The image crate's rotate90 is clockwise; Pillow's ROTATE_90 is counter-clockwise.
            Plan::Ccw90 => imageops::rotate270(img),
            Plan::Cw90 => imageops::rotate90(img),
            Plan::Affine(m) => affine(img, w, h, m, sampler, fill),
        })
    }
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
/// fits, else the same walk in `f64`.
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
    fn rotate_matrix_matches_pillow_expand_size() {
        // Pillow: Image.new("RGB", (37, 23)).rotate(-17.5, expand=True).size == (43, 35)
        assert_eq!(rotate_matrix(37, 23, (-17.5f64).rem_euclid(360.0), None, (0.0, 0.0), true).0, (43, 35));
        assert_eq!(Rotation::new(37, 23, -17.5, true, None, None).size(), (43, 35));
    }

    #[test]
    fn quarter_turns_are_transposes_only_where_pillow_takes_them() {
        // Pillow transposes 90 when expanding or square; a 4x2 image without
        // expand goes through the affine path and keeps its size.
        assert_eq!(Rotation::new(4, 2, 90.0, true, None, None).size(), (2, 4));
        assert_eq!(Rotation::new(4, 2, 90.0, false, None, None).size(), (4, 2));
        assert!(matches!(Rotation::new(4, 2, 90.0, false, None, None).plan, Plan::Affine(_)));
        assert_eq!(Rotation::new(4, 4, -90.0, false, None, None).plan, Plan::Cw90);
        // A center, even the default one, leaves the shortcut (Pillow tests `center or translate`).
        assert!(matches!(Rotation::new(4, 4, 180.0, false, Some((2.0, 2.0)), None).plan, Plan::Affine(_)));
    }

    #[test]
    fn sampler_numbers_are_pillows() {
        assert_eq!(Sampler::from_pillow(3), Ok(Sampler::Bicubic));
        assert!(Sampler::from_pillow(1).is_err_and(|e| e.0.contains("cannot be used by rotate")));
        assert!(Sampler::from_pillow(9).is_err_and(|e| e.0.contains("Unknown resampling filter (9)")));
    }
}

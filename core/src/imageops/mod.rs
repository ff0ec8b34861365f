//! Basic image operations (ForenAgent's T_basic: crop, zoom, rotate, flip,
//! enhance) that equal Pillow 13 to the uint8, shared by the registry's basic
//! tools and the PVR sandbox so a tool call and the same operation written as
//! Python give the pixels Pillow gives.
//!
//! Images are RGB8; an `L` image is grey replicated into three channels. Every
//! operation treats channels independently, so an `L` image gives what Pillow
//! gives for it in each channel. Resampling is `trutheye_plugin_api::pillow`,
//! shared with the model preprocessors; `ImageEnhance` is in [`enhance`] and
//! `Image.rotate` in [`rotate`][mod@rotate].

mod enhance;
mod rotate;

use image::{imageops, Rgb, RgbImage};
use trutheye_plugin_api::pillow;

pub use enhance::{blend, enhance, grey, luma, smooth, Enhance};
pub use rotate::{affine, rotate_matrix, Rotation, Sampler};
/// Pillow's resampling filters for [`resize`], with Pillow's numbering.
pub use trutheye_plugin_api::pillow::Filter;

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

/// Resizes to `w x h` (each at most `max_side`) as Pillow's
/// `img.resize((w, h), filter)` does, to the uint8.
pub fn resize(img: &RgbImage, w: u32, h: u32, filter: Filter, max_side: u32) -> Result<RgbImage, OpError> {
    if w == 0 || h == 0 {
        return Err(OpError(format!("ValueError: height and width must be > 0, got ({w}, {h})")));
    }
    if w > max_side || h > max_side {
        return Err(OpError(format!("MemoryError: resize to ({w}, {h}) exceeds the {max_side}px side limit")));
    }
    let px = pillow::resize(img.as_raw(), img.width() as usize, img.height() as usize, 3, w as usize, h as usize, filter);
    RgbImage::from_raw(w, h, px).ok_or_else(|| OpError(format!("SystemError: resize to ({w}, {h}) produced a wrong-sized buffer")))
}

/// `img.rotate(degrees, expand=expand)`: counter-clockwise, Pillow's default
/// NEAREST sampling and black fill, equal to Pillow to the uint8 (see
/// [`Rotation`] for center, translate, other samplers and fills).
pub fn rotate(img: &RgbImage, degrees: f64, expand: bool) -> Result<RgbImage, OpError> {
    if !degrees.is_finite() {
        return Err(OpError("ValueError: rotation angle must be finite".into()));
    }
    Rotation::new(img.width(), img.height(), degrees, expand, None, None).apply(img, Sampler::Nearest, Rgb([0; 3]))
}

/// `Image.FLIP_LEFT_RIGHT`.
pub fn flip_horizontal(img: &RgbImage) -> RgbImage {
    imageops::flip_horizontal(img)
}

/// `Image.FLIP_TOP_BOTTOM`.
pub fn flip_vertical(img: &RgbImage) -> RgbImage {
    imageops::flip_vertical(img)
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
        // Pillow's expand maps the corners through the inverse matrix and takes
        // ceil(max) - floor(min): x spans -0.12..4.12 and y -1.12..3.12, so 6x6
        // (not the 5x5 that ceil(4 cos 45 + 2 sin 45) would give).
        let r45 = rotate(&img, 45.0, true).expect("ok");
        assert_eq!(r45.dimensions(), (6, 6));
        assert!(rotate(&img, f64::NAN, false).is_err());
    }

    #[test]
    fn rotate_samples_nearest_like_pillow() {
        // A 2x2 image turned 90 degrees without expand is square, so Pillow
        // transposes: top-left comes from top-right.
        let img = ramp(2, 2);
        assert_eq!(rotate(&img, 90.0, false).expect("ok").get_pixel(0, 0), img.get_pixel(1, 0));
        // 4x2 by 90 without expand takes the affine path with black fill:
        // the output keeps 4x2, and its outer columns map outside the source.
        let r = rotate(&ramp(4, 2), 90.0, false).expect("ok");
        assert_eq!(r.dimensions(), (4, 2));
        assert_eq!(r.get_pixel(0, 0), &Rgb([0, 0, 0]));
    }

    #[test]
    fn resize_is_pillows() {
        // Pillow: Image.new("RGB", (2, 1)) with pixels 0 and 200 resized to
        // (4, 1) with BILINEAR is [0, 50, 150, 200] in each channel.
        let img = RgbImage::from_fn(2, 1, |x, _| Rgb([(x * 200) as u8; 3]));
        let r = resize(&img, 4, 1, Filter::Bilinear, 100).expect("ok");
        assert_eq!(r.pixels().map(|p| p[0]).collect::<Vec<_>>(), [0, 50, 150, 200]);
        assert!(resize(&img, 0, 1, Filter::Bicubic, 100).is_err());
        assert!(resize(&img, 101, 1, Filter::Bicubic, 100).unwrap_err().0.starts_with("MemoryError"));
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

//! The EXIF orientation tag, and the transpose Pillow's `ImageOps.exif_transpose` applies for it.

/// IFD0's orientation (tag 0x0112) from the TIFF structure inside an `Exif\0\0` APP1
/// segment; `None` when absent or unreadable (Pillow then leaves the image as is).
pub fn orientation(tiff: &[u8]) -> Option<u16> {
    let exif = exif::Reader::new().read_raw(tiff.to_vec()).ok()?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let v = field.value.get_uint(0)?;
    u16::try_from(v).ok().filter(|o| (1..=8).contains(o))
}

/// Applies what `ImageOps.exif_transpose` does for `orientation` to interleaved
/// pixels with `channels` per pixel; returns the new pixels, width and height.
/// Orientation 1 (or unknown) returns the input unchanged.
pub fn transpose(pixels: Vec<u8>, width: usize, height: usize, channels: usize, orientation: u16) -> (Vec<u8>, usize, usize) {
    // Where output pixel (x, y) comes from, for an output of size (ow, oh).
    let (ow, oh) = match orientation {
        5..=8 => (height, width),
        2..=4 => (width, height),
        _ => return (pixels, width, height),
    };
    let src_of = |x: usize, y: usize| -> (usize, usize) {
        match orientation {
            2 => (width - 1 - x, y),              // FLIP_LEFT_RIGHT
            3 => (width - 1 - x, height - 1 - y), // ROTATE_180
            4 => (x, height - 1 - y),             // FLIP_TOP_BOTTOM
            5 => (y, x),                          // TRANSPOSE
            6 => (y, height - 1 - x),             // ROTATE_270 (clockwise 90)
            7 => (width - 1 - y, height - 1 - x), // TRANSVERSE
            _ => (width - 1 - y, x),              // 8: ROTATE_90 (counter-clockwise)
        }
    };
    let mut out = vec![0u8; ow * oh * channels];
    for y in 0..oh {
        for x in 0..ow {
            let (sx, sy) = src_of(x, y);
            let s = (sy * width + sx) * channels;
            let d = (y * ow + x) * channels;
            out[d..d + channels].copy_from_slice(&pixels[s..s + channels]);
        }
    }
    (out, ow, oh)
}

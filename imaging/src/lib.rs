//! The pixels Pillow gives, in one crate every host, plugin and model shares:
//!
//! * decoding ([`jpeg`], [`exif`], [`jpeg_to_rgb`]; feature `decode`, on by
//!   default): JPEG through libjpeg-turbo's decoder with Pillow's settings;
//! * resampling ([`pillow`]): Pillow's `Image.resize` filters, bit for bit;
//! * JPEG header facts ([`quant`]): quantization tables, chroma sampling and
//!   the IJG quality they correspond to, read from marker segments only.
//!
//! Without `decode` the crate is plain Rust (no C library), which is what the
//! plugin API re-exports to operator authors.
//!
//! Checkpoints were trained on pixels from Pillow (transformers, vLLM,
//! ms-swift and `qwen_vl_utils` all call `Image.open(...).convert("RGB")`), and
//! forensic reference implementations read images the same way. A JPEG decoder
//! that rounds differently shifts ~20% of pixels by up to 4 levels, which is
//! enough to move logits and forensic residuals. So JPEG goes through
//! libjpeg-turbo's decoder ([`jpeg`]) with Pillow's settings, and the mode
//! conversions to RGB are Pillow's integer formulas ([`to_rgb`]).

#![warn(missing_docs)]

#[cfg(feature = "decode")]
pub mod exif;
#[cfg(feature = "decode")]
pub mod jpeg;
#[cfg(feature = "decode")]
pub mod jpeg_encode;
pub mod pillow;
pub mod quant;

#[cfg(feature = "decode")]
pub use jpeg::{decode as decode_jpeg, read_header as read_jpeg_header, DecodedJpeg, JpegHeader, JpegMode};

/// Why decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// libjpeg refused the data; the text is libjpeg's own message.
    #[error("{0}")]
    Jpeg(String),
    /// A JPEG's marker segments are malformed, or it is not a JPEG
    /// ([`quant::parse`]).
    #[error("{0}")]
    Header(String),
    /// Larger than the caller's pixel cap.
    #[error("{width}x{height} exceeds the limit of {limit} pixels")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The cap.
        limit: u64,
    },
}

#[cfg(feature = "decode")]
/// Pillow's `convert("RGB")` from the decoded mode: `L` is replicated, `CMYK`
/// uses Pillow's `cmyk2rgb` (`255 - k` scaled by `255 - c`, in integer
/// arithmetic with Pillow's rounding division by 255).
pub fn to_rgb(mode: JpegMode, pixels: &[u8]) -> Vec<u8> {
    match mode {
        JpegMode::Rgb => pixels.to_vec(),
        JpegMode::Gray => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        JpegMode::Cmyk => {
            let mut out = Vec::with_capacity(pixels.len() / 4 * 3);
            for px in pixels.chunks_exact(4) {
                let nk = 255 - px[3] as i32;
                for &c in &px[..3] {
                    out.push((nk - muldiv255(c as i32, nk)).clamp(0, 255) as u8);
                }
            }
            out
        }
    }
}

#[cfg(feature = "decode")]
/// Pillow's `MULDIV255`: `a * b / 255` rounded, without a division.
fn muldiv255(a: i32, b: i32) -> i32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

#[cfg(feature = "decode")]
/// A decoded JPEG as Pillow's `Image.open(p).convert("RGB")` gives it, optionally
/// after `ImageOps.exif_transpose`. Returns (RGB bytes, width, height, header).
pub fn jpeg_to_rgb(bytes: &[u8], max_pixels: u64, exif_transpose: bool) -> Result<(Vec<u8>, u32, u32, JpegHeader), CodecError> {
    let d = decode_jpeg(bytes, max_pixels)?;
    let rgb = to_rgb(d.header.mode, &d.pixels);
    let (w, h) = (d.header.width as usize, d.header.height as usize);
    let (rgb, w, h) = match (exif_transpose, d.header.orientation) {
        (true, Some(o)) => exif::transpose(rgb, w, h, 3, o),
        _ => (rgb, w, h),
    };
    Ok((rgb, w as u32, h as u32, d.header))
}

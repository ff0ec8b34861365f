//! Images on the wire: observation images go out as base64 PNG; input images
//! come in as a path, a base64 PNG/JPEG, or a `data:` URL.

use std::io::Cursor;
use std::path::Path;

use base64::Engine;
use image::{ImageFormat, RgbImage};
use trutheye_core::image::ImageError;
use trutheye_core::ImageBuf;

use super::limits::human_bytes;
use super::protocol::RpcError;

/// Encodes an image as PNG (empty if encoding fails, which it cannot for an
/// in-memory RGB8 buffer).
pub fn png_bytes(rgb: &RgbImage) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    match rgb.write_to(&mut buf, ImageFormat::Png) {
        Ok(()) => buf.into_inner(),
        Err(e) => {
            tracing::error!("PNG encoding failed: {e}");
            Vec::new()
        }
    }
}

/// Encodes an image as base64 PNG.
pub fn png_base64(rgb: &RgbImage) -> String {
    base64::engine::general_purpose::STANDARD.encode(png_bytes(rgb))
}

/// Loads an input image given as a file path, base64 PNG/JPEG bytes, or a
/// `data:image/...;base64,` URL. `max_pixels` guards against decompression bombs.
pub fn load_image(spec: &str, max_pixels: u64) -> Result<ImageBuf, RpcError> {
    load(spec, max_pixels).map_err(|e| e.into_rpc())
}

/// [`load_image`] that also refuses, from the header and before decoding, an
/// image whose pixels would take more than `quota_bytes` (a session's
/// remaining image quota): `quota_exceeded` instead of `bad_image`.
pub fn load_image_within(spec: &str, max_pixels: u64, quota_bytes: u64) -> Result<ImageBuf, RpcError> {
    let quota_pixels = quota_bytes / 3;
    match load(spec, max_pixels.min(quota_pixels)) {
        Err(Load::Image(ImageError::TooLarge { width, height, .. })) if quota_pixels < max_pixels && width as u64 * height as u64 <= max_pixels => Err(RpcError::new(
            "quota_exceeded",
            format!("a {width}x{height} input image takes {} decoded, over what is left of the session quota ({}; serve --session-image-quota)", human_bytes(width as u64 * height as u64 * 3), human_bytes(quota_bytes)),
        )),
        other => other.map_err(|e| e.into_rpc()),
    }
}

/// What decoding an input image will cost, from its header and file size,
/// before any pixel is decoded: `(source bytes, decoded RGB bytes)`. A path
/// is opened (a regular file only) and only its header read; inline bytes are
/// already in memory.
pub fn input_cost(spec: &str) -> Result<(u64, u64), RpcError> {
    let bad = |m: String| RpcError::new("bad_image", m);
    let dims = |r: Result<(u32, u32), image::ImageError>, origin: &str| r.map(|(w, h)| w as u64 * h as u64 * 3).map_err(|e| bad(format!("{origin}: cannot read the image header: {e}")));
    if let Some(rest) = spec.strip_prefix("data:") {
        let b64 = rest.split_once(',').map(|(_, b)| b).unwrap_or("");
        let bytes = decode_b64(b64).ok_or_else(|| bad("the data: URL payload is not valid base64".into()))?;
        return Ok((bytes.len() as u64, dims(header_dims(&bytes), "data-url")?));
    }
    let path = Path::new(spec);
    if spec.len() < 4096 && path.exists() {
        let (file, size) = trutheye_core::input::open_regular(path).map_err(|e| bad(e.to_string()))?;
        let reader = image::ImageReader::new(std::io::BufReader::new(file)).with_guessed_format().map_err(|e| bad(format!("{spec}: {e}")))?;
        return Ok((size, dims(reader.into_dimensions(), spec)?));
    }
    match decode_b64(spec) {
        Some(bytes) => Ok((bytes.len() as u64, dims(header_dims(&bytes), "base64")?)),
        None => Err(bad(format!("`{}` is not a readable file, nor base64 PNG/JPEG bytes", shorten(spec)))),
    }
}

fn header_dims(bytes: &[u8]) -> Result<(u32, u32), image::ImageError> {
    image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(image::ImageError::IoError)?.into_dimensions()
}

/// Why [`load`] failed: a decode error (kept for the quota check) or a bad spec.
enum Load {
    Image(ImageError),
    Spec(String),
}

impl Load {
    fn into_rpc(self) -> RpcError {
        match self {
            Load::Image(e) => RpcError::new("bad_image", e.to_string()),
            Load::Spec(m) => RpcError::new("bad_image", m),
        }
    }
}

fn load(spec: &str, max_pixels: u64) -> Result<ImageBuf, Load> {
    if let Some(rest) = spec.strip_prefix("data:") {
        let (_, b64) = rest.split_once(',').ok_or_else(|| Load::Spec("a data: URL must contain `,` before its base64 payload".into()))?;
        let bytes = decode_b64(b64).ok_or_else(|| Load::Spec("the data: URL payload is not valid base64".into()))?;
        return ImageBuf::decode(bytes, "data-url", max_pixels).map_err(Load::Image);
    }
    let path = Path::new(spec);
    if spec.len() < 4096 && path.exists() {
        return ImageBuf::open(path, max_pixels).map_err(Load::Image);
    }
    match decode_b64(spec) {
        Some(bytes) if is_png_or_jpeg(&bytes) => ImageBuf::decode(bytes, "base64", max_pixels).map_err(Load::Image),
        Some(_) => Err(Load::Spec("the base64 image is neither PNG nor JPEG".into())),
        None => Err(Load::Spec(format!("`{}` is not a readable file, nor base64 PNG/JPEG bytes", shorten(spec)))),
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()).ok()
}

fn is_png_or_jpeg(b: &[u8]) -> bool {
    b.starts_with(&[0x89, b'P', b'N', b'G']) || b.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn shorten(s: &str) -> String {
    if s.len() <= 80 {
        return s.to_string();
    }
    let mut cut = 80;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_through_base64() {
        let img = RgbImage::from_pixel(5, 3, image::Rgb([10, 20, 30]));
        let b64 = png_base64(&img);
        let back = load_image(&b64, 1_000_000).expect("decodes");
        assert_eq!((back.width(), back.height()), (5, 3));
        let url = format!("data:image/png;base64,{b64}");
        assert_eq!(load_image(&url, 1_000_000).expect("data url").width(), 5);
        assert_eq!(load_image("/no/such/file.png", 1_000_000).expect_err("missing").code, "bad_image");
        assert_eq!(load_image(&b64, 4).expect_err("too big").code, "bad_image");
    }
}

//! A borrowed RGB8 image with the helpers nearly every operator needs.

use crate::abi::AbiImage;

/// A borrowed interleaved RGB8 image, as an operator receives it.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes, row-major RGB.
    pub rgb: &'a [u8],
    /// The untouched source file when the image is one, else `None`.
    pub encoded: Option<&'a [u8]>,
    /// Format of `encoded` (`"jpeg"`, `"png"`, ...).
    pub format: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Wraps a raw RGB buffer with no source file.
    ///
    /// Returns `None` when the buffer length does not match the size.
    pub fn from_rgb(width: usize, height: usize, rgb: &'a [u8]) -> Option<Self> {
        (width.checked_mul(height)?.checked_mul(3)? == rgb.len()).then_some(Self {
            width,
            height,
            rgb,
            encoded: None,
            format: None,
        })
    }

    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// ITU-R BT.601 luma (the JPEG/PIL `convert("L")` weights) as `f32` in 0..=255.
    pub fn luma(&self) -> Vec<f32> {
        self.rgb
            .chunks_exact(3)
            .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
            .collect()
    }

    /// One colour channel (0 = R, 1 = G, 2 = B) as `f32`.
    pub fn channel(&self, c: usize) -> Vec<f32> {
        self.rgb.chunks_exact(3).map(|p| p[c] as f32).collect()
    }

    /// True when the source file is a JPEG.
    pub fn is_jpeg(&self) -> bool {
        self.format == Some("jpeg") && self.encoded.is_some()
    }

    pub(crate) fn from_abi(img: &AbiImage<'a>) -> Result<Self, String> {
        let (w, h) = (img.width as usize, img.height as usize);
        let rgb = img.rgb.as_slice();
        if w.checked_mul(h).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
            return Err(format!(
                "image buffer has {} bytes, expected {w}x{h}x3",
                rgb.len()
            ));
        }
        let encoded = img.encoded.as_slice();
        let format = img.format.as_str();
        Ok(Self {
            width: w,
            height: h,
            rgb,
            encoded: (!encoded.is_empty()).then_some(encoded),
            format: (!format.is_empty()).then_some(format),
        })
    }

    /// Builds the ABI view of this image (host side).
    pub fn to_abi(&self) -> AbiImage<'a> {
        AbiImage {
            width: self.width as u32,
            height: self.height as u32,
            rgb: self.rgb.into(),
            encoded: self.encoded.unwrap_or(&[]).into(),
            format: self.format.unwrap_or("").into(),
        }
    }
}

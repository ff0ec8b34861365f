//! Bicubic resampling as Pillow does it, on `RgbImage`s: Qwen2.5-VL was
//! trained on images resized by Pillow (its processor and `qwen_vl_utils` both
//! call it), so pixel values only match the reference with the same
//! resampler. The arithmetic lives in `trutheye_plugin_api::pillow`, shared
//! with the ONNX plugin.

use image::RgbImage;
use trutheye_plugin_api::pillow::resize_bicubic;

/// Resizes like Pillow's `Image.resize((w, h), Image.BICUBIC)`.
pub fn resize_bicubic_pil(src: &RgbImage, w: u32, h: u32) -> RgbImage {
    if (w, h) == src.dimensions() {
        return src.clone();
    }
    let px = resize_bicubic(src.as_raw(), src.width() as usize, src.height() as usize, w as usize, h as usize);
    RgbImage::from_raw(w, h, px).unwrap_or_else(|| RgbImage::new(w, h))
}

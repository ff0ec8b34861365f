//! Manifest-driven preprocessing: resize, crop, channel selection, normalisation and
//! layout. The bicubic resize is Pillow's, bit for bit
//! (`trutheye_plugin_api::pillow`), so learned detectors trained on
//! Pillow-preprocessed inputs see the same pixels.

use crate::OnnxError;
use ndarray::Array4;
use trutheye_plugin_api::ImageRef;

use trutheye_plugin_api::pillow::resize_bicubic;

use crate::manifest::InputSpec;

/// An RGB8 buffer with its size.
struct Rgb {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Rgb {
    fn crop(&self, x0: usize, y0: usize, cw: usize, ch: usize) -> Rgb {
        let mut px = Vec::with_capacity(cw * ch * 3);
        for y in y0..y0 + ch {
            px.extend_from_slice(&self.px[(y * self.w + x0) * 3..(y * self.w + x0 + cw) * 3]);
        }
        Rgb { w: cw, h: ch, px }
    }
}

/// Builds the input batch for one image: `[crops, C, H, W]` (or `[crops, H, W, C]`).
pub fn prepare(image: &ImageRef<'_>, spec: &InputSpec) -> Result<Array4<f32>, OnnxError> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 {
        return Err(OnnxError::Input("image is empty".to_string()));
    }
    let src = Rgb { w, h, px: image.rgb.to_vec() };
    let resized = match (spec.resize.as_str(), spec.size) {
        ("shorter_side", Some([tw, th])) => {
            // Pillow-side rounding as in the CLIP reference code: round(side * scale).
            let scale = tw.min(th) as f64 / w.min(h) as f64;
            let (nw, nh) = (((w as f64 * scale).round() as usize).max(tw), ((h as f64 * scale).round() as usize).max(th));
            Rgb { w: nw, h: nh, px: resize_bicubic(&src.px, w, h, nw, nh) }
        }
        ("stretch", Some([tw, th])) => Rgb { w: tw, h: th, px: resize_bicubic(&src.px, w, h, tw, th) },
        _ => src,
    };
    let crops: Vec<Rgb> = match (spec.crop.as_str(), spec.size) {
        ("center" | "five", Some([tw, th])) if resized.w < tw || resized.h < th => {
            return Err(OnnxError::Input(format!("image {}x{} is smaller than the model input {tw}x{th}", resized.w, resized.h)))
        }
        ("center", Some([tw, th])) => vec![resized.crop((resized.w - tw) / 2, (resized.h - th) / 2, tw, th)],
        ("five", Some([tw, th])) => {
            let (rw, rh) = (resized.w, resized.h);
            [((rw - tw) / 2, (rh - th) / 2), (0, 0), (rw - tw, 0), (0, rh - th), (rw - tw, rh - th)]
                .iter()
                .map(|&(x, y)| resized.crop(x, y, tw, th))
                .collect()
        }
        _ => vec![resized],
    };
    let c = if spec.channels == "luma" { 1 } else { 3 };
    let (cw, ch) = (crops[0].w, crops[0].h);
    let nhwc = spec.layout == "nhwc";
    // Written straight into the final layout (no per-element index arithmetic in
    // ndarray): at 12 MP this loop is a visible share of an ONNX operator's time.
    let plane = cw * ch;
    let mut data = vec![0f32; crops.len() * c * plane];
    for (b, crop) in crops.iter().enumerate() {
        let out = &mut data[b * c * plane..(b + 1) * c * plane];
        for (i, p) in crop.px.chunks_exact(3).enumerate() {
            for k in 0..c {
                let raw = if c == 1 { 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32 } else { p[k] as f32 };
                // Same operations in the same order as the reference numpy code
                // (x / scale, then (x - mean) / std, in f32): the int8 CLIP encoder
                // turns even 1-ulp input differences into ~0.01 probability.
                let mut v = raw / spec.scale;
                if !spec.mean.is_empty() {
                    v = (v - spec.mean[k]) / spec.std[k];
                }
                out[if nhwc { i * c + k } else { k * plane + i }] = v;
            }
        }
    }
    let shape = if nhwc { (crops.len(), ch, cw, c) } else { (crops.len(), c, ch, cw) };
    Array4::from_shape_vec(shape, data).map_err(|e| OnnxError::Input(format!("input tensor shape: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> InputSpec {
        toml::from_str(toml_text).expect("input spec")
    }

    #[test]
    fn layouts_crops_and_normalisation() {
        let (w, h) = (300usize, 200usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 256) as u8).collect();
        let img = ImageRef::from_rgb(w, h, &rgb).expect("size");
        let five = spec("name = \"x\"\nsize = [64, 64]\nresize = \"shorter_side\"\ncrop = \"five\"\nscale = 255.0\nmean = [0.5, 0.5, 0.5]\nstd = [0.5, 0.5, 0.5]");
        let t = prepare(&img, &five).expect("five crops");
        assert_eq!(t.shape(), &[5, 3, 64, 64]);
        assert!(t.iter().all(|v| (-1.0..=1.0).contains(v)));
        let luma = spec("name = \"x\"\nchannels = \"luma\"\nlayout = \"nhwc\"");
        let t = prepare(&img, &luma).expect("full-size luma");
        assert_eq!(t.shape(), &[1, h, w, 1]);
        let p = &rgb[(5 * w + 7) * 3..(5 * w + 7) * 3 + 3];
        let want = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
        assert_eq!(t[[0, 5, 7, 0]], want);
        let small = ImageRef::from_rgb(30, 20, &rgb[..30 * 20 * 3]).expect("size");
        let center = spec("name = \"x\"\nsize = [64, 64]\ncrop = \"center\"");
        assert!(prepare(&small, &center).unwrap_err().to_string().contains("smaller than the model input"));
    }
}

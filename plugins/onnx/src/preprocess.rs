//! Manifest-driven preprocessing: resize, crop, channel selection, normalisation and
//! layout. The bicubic resize reproduces Pillow's `Image.resize(..., BICUBIC)`
//! (separable, antialiased, 22-bit fixed-point coefficients, 8-bit intermediate), so
//! learned detectors trained on Pillow-preprocessed inputs see the same pixels.

use ndarray::Array4;
use trutheye_plugin_api::ImageRef;

use crate::manifest::InputSpec;

/// Pillow's bicubic kernel (a = -0.5).
fn bicubic(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output sample: first input index and fixed-point weights (Pillow's
/// `precompute_coeffs` + `normalize_coeffs_8bpc`).
fn coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let k: Vec<f64> = (xmin..xmax).map(|x| bicubic((x as f64 - center + 0.5) * ss)).collect();
            let ww: f64 = k.iter().sum();
            let fixed = k
                .iter()
                .map(|v| {
                    let v = if ww != 0.0 { v / ww } else { *v };
                    let f = v * (1u32 << PRECISION_BITS) as f64;
                    (if f < 0.0 { f - 0.5 } else { f + 0.5 }) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes interleaved RGB8 like Pillow's BICUBIC: horizontal pass, then vertical,
/// each skipped when that dimension does not change.
pub fn resize_bicubic(rgb: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<u8> {
    let horiz = if ow != w {
        let cs = coeffs(w, ow);
        let mut out = vec![0u8; ow * h * 3];
        for y in 0..h {
            let row = &rgb[y * w * 3..(y + 1) * w * 3];
            for (x, (x0, k)) in cs.iter().enumerate() {
                for c in 0..3 {
                    let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                    for (i, kk) in k.iter().enumerate() {
                        acc += row[(x0 + i) * 3 + c] as i64 * *kk as i64;
                    }
                    out[(y * ow + x) * 3 + c] = clip8(acc);
                }
            }
        }
        out
    } else {
        rgb.to_vec()
    };
    if oh == h {
        return horiz;
    }
    let cs = coeffs(h, oh);
    let mut out = vec![0u8; ow * oh * 3];
    for (y, (y0, k)) in cs.iter().enumerate() {
        for x in 0..ow * 3 {
            let mut acc: i64 = 1 << (PRECISION_BITS - 1);
            for (i, kk) in k.iter().enumerate() {
                acc += horiz[(y0 + i) * ow * 3 + x] as i64 * *kk as i64;
            }
            out[y * ow * 3 + x] = clip8(acc);
        }
    }
    out
}

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
pub fn prepare(image: &ImageRef<'_>, spec: &InputSpec) -> Result<Array4<f32>, String> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 {
        return Err("image is empty".into());
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
            return Err(format!("image {}x{} is smaller than the model input {tw}x{th}", resized.w, resized.h))
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
    Array4::from_shape_vec(shape, data).map_err(|e| format!("input tensor shape: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_flat_resizes() {
        let rgb: Vec<u8> = (0..6 * 4 * 3).map(|i| (i * 11 % 256) as u8).collect();
        assert_eq!(resize_bicubic(&rgb, 6, 4, 6, 4), rgb);
        let flat = vec![90u8; 40 * 30 * 3];
        assert!(resize_bicubic(&flat, 40, 30, 17, 11).iter().all(|v| *v == 90));
    }

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
        assert!(prepare(&small, &center).unwrap_err().contains("smaller than the model input"));
    }

    #[test]
    fn coefficients_sum_to_one_in_fixed_point() {
        for (i, o) in [(1000, 224), (224, 224), (50, 224)] {
            for (_, k) in coeffs(i, o) {
                let s: i64 = k.iter().map(|v| *v as i64).sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= k.len() as i64, "{i}->{o}: {s}");
            }
        }
    }
}

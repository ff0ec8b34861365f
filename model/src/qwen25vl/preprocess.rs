//! Images to the vision tower's input, as the reference processor does it:
//! smart resize to multiples of 28 within the pixel budget, Pillow bicubic,
//! rescale to [0, 1], CLIP mean/std, then flatten into patches in the order
//! the merger expects (2x2 neighbourhoods contiguous).

use image::RgbImage;

use super::config::PreprocessorConfig;
use super::resize::resize_bicubic_pil;
use super::ModelError;

/// One image ready for the tower.
#[derive(Clone, Debug)]
pub struct PixelPatches {
    /// Row-major `[grid_t * grid_h * grid_w, 3 * temporal * patch * patch]`.
    pub values: Vec<f32>,
    /// `image_grid_thw`: temporal, height, width in patches.
    pub grid_thw: [usize; 3],
    /// Features per patch.
    pub patch_dim: usize,
}

impl PixelPatches {
    /// Tokens this image becomes in the prompt (after the 2x2 merge).
    pub fn tokens(&self, merge: usize) -> usize {
        self.grid_thw.iter().product::<usize>() / (merge * merge)
    }
}

/// `smart_resize`: the (height, width) the image is resized to.
/// Python rounds half to even; so does this.
pub fn smart_resize(height: usize, width: usize, factor: usize, min_pixels: usize, max_pixels: usize) -> Result<(usize, usize), ModelError> {
    if height == 0 || width == 0 {
        return Err(ModelError::Input(format!("image is {width}x{height}: empty")));
    }
    let (h, w, f) = (height as f64, width as f64, factor as f64);
    if h.max(w) / h.min(w) > 200.0 {
        return Err(ModelError::Input(format!("image is {width}x{height}: aspect ratio over 200 (the processor refuses it)")));
    }
    let mut hb = (h / f).round_ties_even() * f;
    let mut wb = (w / f).round_ties_even() * f;
    if hb * wb > max_pixels as f64 {
        let beta = (h * w / max_pixels as f64).sqrt();
        hb = f.max((h / beta / f).floor() * f);
        wb = f.max((w / beta / f).floor() * f);
    } else if hb * wb < min_pixels as f64 {
        let beta = (min_pixels as f64 / (h * w)).sqrt();
        hb = (h * beta / f).ceil() * f;
        wb = (w * beta / f).ceil() * f;
    }
    Ok((hb as usize, wb as usize))
}

/// Resizes, normalises and patchifies one image.
pub fn preprocess(img: &RgbImage, cfg: &PreprocessorConfig) -> Result<PixelPatches, ModelError> {
    let (p, m, tp) = (cfg.patch_size, cfg.merge_size, cfg.temporal_patch_size);
    let factor = p * m;
    let (h, w) = smart_resize(img.height() as usize, img.width() as usize, factor, cfg.min_pixels, cfg.max_pixels)?;
    let resized = resize_bicubic_pil(img, w as u32, h as u32);
    // Normalise into planar CHW, in f32 as the reference does after rescaling in f64.
    let mut chw = vec![0f32; 3 * h * w];
    for (i, px) in resized.pixels().enumerate() {
        for c in 0..3 {
            let v = (px.0[c] as f64 * (1.0 / 255.0)) as f32;
            chw[c * h * w + i] = (v - cfg.image_mean[c]) / cfg.image_std[c];
        }
    }
    let (gh, gw) = (h / p, w / p);
    let patch_dim = 3 * tp * p * p;
    let mut values = Vec::with_capacity(gh * gw * patch_dim);
    // Order: merged block (row, col), then 2x2 within it; features: channel, frame, y, x.
    for bh in 0..gh / m {
        for bw in 0..gw / m {
            for mh in 0..m {
                for mw in 0..m {
                    let (row, col) = (bh * m + mh, bw * m + mw);
                    for c in 0..3 {
                        let plane = &chw[c * h * w..(c + 1) * h * w];
                        // A still image is its own temporal neighbour.
                        for _t in 0..tp {
                            for py in 0..p {
                                let start = (row * p + py) * w + col * p;
                                values.extend_from_slice(&plane[start..start + p]);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(PixelPatches { values, grid_thw: [1, gh, gw], patch_dim })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_resize_matches_reference_arithmetic() {
        // Values worked out with the reference formula by hand.
        assert_eq!(smart_resize(64, 64, 28, 3136, 62720).unwrap(), (56, 56));
        assert_eq!(smart_resize(80, 150, 28, 3136, 62720).unwrap(), (84, 140));
        // round(70/28)=round(2.5)=2 (half to even), round(126/28)=round(4.5)=4
        assert_eq!(smart_resize(70, 126, 28, 0, 1 << 30).unwrap(), (56, 112));
        // Over budget: 1000x1000 into 28*28*80 = 62720 -> beta = sqrt(1e6/62720)
        assert_eq!(smart_resize(1000, 1000, 28, 3136, 62720).unwrap(), (224, 224));
        // Under budget: scaled up.
        assert_eq!(smart_resize(10, 30, 28, 3136, 62720).unwrap(), (56, 112));
        assert!(smart_resize(1, 500, 28, 3136, 62720).is_err());
    }

    #[test]
    fn patch_order_groups_merge_blocks() {
        let mut img = RgbImage::new(56, 56);
        for (x, y, p) in img.enumerate_pixels_mut() {
            // Encode the patch index in red so the order is visible.
            p.0 = [((y / 14) * 4 + x / 14) as u8 * 10, 0, 0];
        }
        let cfg: PreprocessorConfig = serde_json::from_str(r#"{"image_mean":[0,0,0],"image_std":[1,1,1]}"#).unwrap();
        let pp = preprocess(&img, &cfg).unwrap();
        assert_eq!(pp.grid_thw, [1, 4, 4]);
        assert_eq!(pp.patch_dim, 1176);
        let first_red: Vec<u8> = (0..16).map(|i| (pp.values[i * 1176] * 255.0).round() as u8 / 10).collect();
        assert_eq!(first_red, vec![0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
    }
}

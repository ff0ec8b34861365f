//! Resampling that reproduces Pillow's `Image.resize((w, h), Image.BICUBIC)` on
//! interleaved RGB8, bit for bit: the separable filter (a = -0.5, support
//! widened by the reduction factor, so downscaling is antialiased), Pillow's
//! 22-bit fixed-point coefficients and rounding, horizontal pass first with an
//! 8-bit intermediate, each pass skipped when its dimension does not change.
//!
//! Models trained on Pillow-preprocessed inputs (Qwen2.5-VL's processor,
//! torchvision-era detectors) only see the same pixels if the resampler is
//! the same; the ONNX plugin and the Qwen2.5-VL backend both use this one.

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


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_weights_sum_to_one() {
        for (i, o) in [(150, 84), (64, 56), (70, 112), (7, 28), (1000, 224), (224, 224), (50, 224)] {
            for (_, k) in coeffs(i, o) {
                let s: i64 = k.iter().map(|&w| w as i64).sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= k.len() as i64, "{i}->{o}: {s}");
            }
        }
    }

    #[test]
    fn identity_and_constant_images() {
        let rgb: Vec<u8> = (0..6 * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(resize_bicubic(&rgb, 6, 4, 6, 4), rgb);
        let flat = vec![90u8; 40 * 30 * 3];
        assert!(resize_bicubic(&flat, 40, 30, 17, 11).iter().all(|v| *v == 90));
    }
}

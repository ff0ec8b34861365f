//! Planted-artifact tests for the frequency / noise operators (fft_residual, dwt,
//! resampling, dct_highpass, srm, bayar, prnu). All inputs are synthetic and
//! generated here with a deterministic PRNG.

use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, RawOperator, Output};
use trutheye_plugin_std::{
    bayar::Bayar, dct_highpass::DctHighpass, dwt::DwtSubbands, fft_residual::FftResidual, prnu::Prnu,
    resampling::Resampling, srm::Srm,
};

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f32 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32) / (1u64 << 24) as f32
    }
    /// Approximately standard normal (Irwin–Hall with 4 terms).
    fn gauss(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| self.uniform()).sum();
        (s - 2.0) * 3f32.sqrt()
    }
}

fn gradient(x: usize, y: usize, w: usize, h: usize) -> f32 {
    60.0 + 100.0 * x as f32 / w as f32 + 40.0 * y as f32 / h as f32
}

/// Smooth gradient + N(0, sigma²) noise, as luma.
fn noisy(w: usize, h: usize, sigma: f32, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..w * h).map(|i| gradient(i % w, i / w, w, h) + sigma * r.gauss()).collect()
}

fn to_rgb(luma: &[f32]) -> Vec<u8> {
    luma.iter().flat_map(|&v| {
        let b = v.round().clamp(0.0, 255.0) as u8;
        [b, b, b]
    })
    .collect()
}

/// Noisy image (σ = 4) with a `pw x ph` patch at `(px, py)` of noise σ = `patch_sigma`.
fn planted_noise(w: usize, h: usize, (px, py, pw, ph): (usize, usize, usize, usize), patch_sigma: f32) -> Vec<u8> {
    let mut base = noisy(w, h, 4.0, 7);
    let mut r = Rng(99);
    for y in py..py + ph {
        for x in px..px + pw {
            base[y * w + x] = gradient(x, y, w, h) + patch_sigma * r.gauss();
        }
    }
    to_rgb(&base)
}

fn iou(a: [u32; 4], b: [u32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) as i64 - a[0].max(b[0]) as i64).max(0);
    let iy = (a[3].min(b[3]) as i64 - a[1].max(b[1]) as i64).max(0);
    let inter = (ix * iy) as f32;
    let area = |r: [u32; 4]| ((r[2] - r[0]) * (r[3] - r[1])) as f32;
    inter / (area(a) + area(b) - inter)
}

fn run<O: RawOperator>(op: O, w: usize, h: usize, rgb: &[u8], params: Value) -> Output {
    let img = ImageRef::from_rgb(w, h, rgb).expect("buffer size");
    let out = op.run(&img, &params).unwrap_or_else(|e| panic!("{} failed: {e}", O::NAME));
    assert!(out.maps.iter().all(|m| m.is_consistent()), "{}: inconsistent map", O::NAME);
    assert!(out.maps.iter().any(|m| m.name == "visual"), "{}: no visual", O::NAME);
    assert!(out.stats["anomaly_z"].as_f64().is_some(), "{}: no anomaly_z", O::NAME);
    assert!(!out.summary.is_empty());
    out
}

fn stat(out: &Output, k: &str) -> f64 {
    out.stats[k].as_f64().unwrap_or_else(|| panic!("missing stat {k}: {}", out.stats))
}

const W: usize = 256;
const H: usize = 192;
const PATCH: (usize, usize, usize, usize) = (96, 64, 64, 64);
const PATCH_BOX: [u32; 4] = [96, 64, 160, 128];

fn check_found(name: &str, out: &Output, z_key: &str) {
    eprintln!("{name}: {}", out.summary);
    let top = out.regions.first().unwrap_or_else(|| panic!("{name}: no region"));
    let overlap = iou(top.bbox, PATCH_BOX);
    assert!(overlap > 0.3, "{name}: top region {:?} IoU {overlap} with the patch; {}", top.bbox, out.summary);
    assert!(stat(out, z_key) > 3.0, "{name}: {z_key} = {}; {}", stat(out, z_key), out.summary);
}

#[test]
fn noise_operators_find_a_noisier_patch() {
    let rgb = planted_noise(W, H, PATCH, 12.0);
    check_found("srm", &run(Srm, W, H, &rgb, json!({})), "anomaly_z");
    check_found("bayar", &run(Bayar, W, H, &rgb, json!({})), "anomaly_z");
    check_found("prnu", &run(Prnu, W, H, &rgb, json!({"block": 32})), "anomaly_z");
    check_found("dwt_subbands", &run(DwtSubbands, W, H, &rgb, json!({})), "anomaly_z");
    check_found("dct_highpass", &run(DctHighpass, W, H, &rgb, json!({})), "anomaly_z");
    check_found("fft_residual", &run(FftResidual, W, H, &rgb, json!({})), "anomaly_z");
}

#[test]
fn noise_operators_find_a_smoother_patch() {
    let rgb = planted_noise(W, H, PATCH, 0.5);
    check_found("srm", &run(Srm, W, H, &rgb, json!({})), "smooth_z");
    check_found("bayar", &run(Bayar, W, H, &rgb, json!({})), "smooth_z");
    check_found("prnu", &run(Prnu, W, H, &rgb, json!({"block": 32})), "smooth_z");
    // dwt / dct report the smooth side as smooth_z; their heat-map is signed, so check the stat.
    for (name, out) in [
        ("dwt_subbands", run(DwtSubbands, W, H, &rgb, json!({}))),
        ("dct_highpass", run(DctHighpass, W, H, &rgb, json!({}))),
    ] {
        assert!(stat(&out, "smooth_z") > 3.0, "{name}: {}", out.summary);
    }
}

#[test]
fn clean_noise_has_no_strong_anomaly() {
    let rgb = to_rgb(&noisy(W, H, 4.0, 3));
    for (name, out) in [
        ("srm", run(Srm, W, H, &rgb, json!({}))),
        ("bayar", run(Bayar, W, H, &rgb, json!({}))),
        ("prnu", run(Prnu, W, H, &rgb, json!({"block": 32}))),
    ] {
        assert!(stat(&out, "anomaly_z") < 6.0, "{name}: {}", out.summary);
        assert!(stat(&out, "smooth_z") < 6.0, "{name}: {}", out.summary);
    }
}

/// Bilinear upscale of a `sw x sh` luma patch by `factor` into `dw x dh`.
fn bilinear_up(src: &[f32], sw: usize, sh: usize, factor: f32, dw: usize, dh: usize) -> Vec<f32> {
    let mut out = vec![0f32; dw * dh];
    for y in 0..dh {
        let fy = (y as f32 / factor).min((sh - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..dw {
            let fx = (x as f32 / factor).min((sw - 1) as f32);
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(sw - 1);
            let top = src[y0 * sw + x0] * (1.0 - tx) + src[y0 * sw + x1] * tx;
            let bot = src[y1 * sw + x0] * (1.0 - tx) + src[y1 * sw + x1] * tx;
            out[y * dw + x] = top * (1.0 - ty) + bot * ty;
        }
    }
    out
}

#[test]
fn resampling_localizes_an_upscaled_patch() {
    let (w, h) = (256usize, 256usize);
    let clean = noisy(w, h, 4.0, 11);
    let clean_out = run(Resampling, w, h, &to_rgb(&clean), json!({}));
    let clean_score = stat(&clean_out, "periodicity_score");
    for factor in [2.0f32, 1.5] {
        let (pw, ph) = (96usize, 96usize);
        let (sw, sh) = ((pw as f32 / factor).ceil() as usize + 1, (ph as f32 / factor).ceil() as usize + 1);
        let src = noisy(sw, sh, 4.0, 5);
        let up = bilinear_up(&src, sw, sh, factor, pw, ph);
        let mut img = clean.clone();
        for y in 0..ph {
            for x in 0..pw {
                img[(96 + y) * w + 96 + x] = up[y * pw + x];
            }
        }
        let out = run(Resampling, w, h, &to_rgb(&img), json!({}));
        eprintln!("resampling x{factor}: {} (clean {clean_score})", out.summary);
        let top = out.regions[0].bbox;
        let overlap = iou(top, [96, 96, 192, 192]);
        assert!(overlap > 0.3, "factor {factor}: top region {top:?} IoU {overlap}; {}", out.summary);
        assert!(stat(&out, "anomaly_z") > 3.0, "factor {factor}: {}", out.summary);
        let score = stat(&out, "periodicity_score");
        assert!(score > clean_score, "factor {factor}: periodicity {score} vs clean {clean_score}");
        // The strongest block peak sits at the interpolation period (1/factor cycles, folded).
        let f = &out.stats["top_block_peak_freq"];
        let (fx, fy) = (f[0].as_f64().unwrap().abs(), f[1].as_f64().unwrap().abs());
        let expect = if factor == 2.0 { 0.5 } else { 1.0 / 3.0 };
        assert!(
            (fx - expect).abs() < 0.04 || (fy - expect).abs() < 0.04,
            "factor {factor}: block peak ({fx}, {fy}), expected {expect}"
        );
    }
}

#[test]
fn fft_finds_a_periodic_pattern() {
    let (w, h) = (256usize, 256usize);
    let clean = noisy(w, h, 4.0, 21);
    let clean_out = run(FftResidual, w, h, &to_rgb(&clean), json!({}));
    let pattern: Vec<f32> = clean
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            v + 3.0 * (2.0 * std::f32::consts::PI * (0.125 * x + 0.25 * y)).cos()
        })
        .collect();
    let out = run(FftResidual, w, h, &to_rgb(&pattern), json!({}));
    eprintln!("fft: {}\nclean: {}", out.summary, clean_out.summary);
    let z = stat(&out, "spectral_peak_z");
    let clean_z = stat(&clean_out, "spectral_peak_z");
    assert!(z > 10.0 && z > 2.0 * clean_z, "peak z {z} vs clean {clean_z}; {}", out.summary);
    let f = &out.stats["peak_freq"];
    let (fx, fy) = (f[0].as_f64().unwrap(), f[1].as_f64().unwrap());
    assert!((fx - 0.125).abs() < 1e-3 && (fy - 0.25).abs() < 1e-3, "peak at ({fx}, {fy})");
    let hf = stat(&out, "hf_energy_ratio");
    assert!(hf > 0.5 && hf <= 1.0, "hf_energy_ratio {hf}");
}

#[test]
fn tiny_odd_and_bad_inputs_never_panic() {
    fn check<O: RawOperator>(op: fn() -> O) {
        for (w, h) in [(1usize, 1usize), (7, 7), (8, 8), (37, 29), (129, 67), (300, 17)] {
            let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 2654435761usize) >> 7) as u8).collect();
            let img = ImageRef::from_rgb(w, h, &rgb).unwrap();
            match op().run(&img, &json!({})) {
                Ok(out) => assert!(out.maps.iter().all(|m| m.is_consistent()), "{} {w}x{h}", O::NAME),
                Err(e) => assert!(!e.to_string().is_empty(), "{} {w}x{h}: empty error", O::NAME),
            }
            if w == 1 {
                assert!(op().run(&img, &json!({})).is_err(), "{} accepted 1x1", O::NAME);
            }
        }
        let rgb = vec![128u8; 64 * 64 * 3];
        let img = ImageRef::from_rgb(64, 64, &rgb).unwrap();
        assert!(op().run(&img, &json!({"no_such_param": 1})).is_err(), "{}", O::NAME);
        assert!(op().run(&img, &json!({"block": 1000})).is_err(), "{}", O::NAME);
        assert!(op().run(&img, &json!("x")).is_err(), "{}", O::NAME);
        // A constant image is a valid (if boring) input.
        let out = op().run(&img, &json!({})).unwrap_or_else(|e| panic!("{}: {e}", O::NAME));
        assert!(out.stats["anomaly_z"].as_f64().unwrap().is_finite(), "{}", O::NAME);
    }
    check(|| FftResidual);
    check(|| DwtSubbands);
    check(|| Resampling);
    check(|| DctHighpass);
    check(|| Srm);
    check(|| Bayar);
    check(|| Prnu);
}

/// Wall time per operator on a 12-megapixel (4000x3000) noisy image. Ignored by
/// default (slow in debug builds); run with
/// `RAYON_NUM_THREADS=1 cargo test -p trutheye-plugin-std --test ops_a -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_12mp() {
    let (w, h) = (4000usize, 3000usize);
    let rgb = to_rgb(&noisy(w, h, 4.0, 1));
    fn time<O: RawOperator>(op: O, w: usize, h: usize, rgb: &[u8]) {
        let img = ImageRef::from_rgb(w, h, rgb).unwrap();
        let t = std::time::Instant::now();
        let out = op.run(&img, &json!({})).unwrap();
        eprintln!("{:>14}: {:>7.3} s  anomaly_z {:.2}", O::NAME, t.elapsed().as_secs_f64(), stat(&out, "anomaly_z"));
    }
    time(FftResidual, w, h, &rgb);
    time(DwtSubbands, w, h, &rgb);
    time(Resampling, w, h, &rgb);
    time(DctHighpass, w, h, &rgb);
    time(Srm, w, h, &rgb);
    time(Bayar, w, h, &rgb);
    time(Prnu, w, h, &rgb);
}

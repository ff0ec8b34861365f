//! Known-answer tests for sobel, laplacian, jpeg_ghost, median_traces,
//! local_correlation, ela and jpeg_quality on synthetic images.

use serde_json::json;
use trutheye_plugin_api::{jpeg, ImageRef, MapRole, MapRoles, RawOperator, Output, OperatorError};
use trutheye_plugin_std::{
    ela::Ela, jpeg_ghost::JpegGhost, jpeg_quality::JpegQuality, laplacian::Laplacian,
    local_correlation::LocalCorrelation, median_traces::{median3x3, MedianTraces}, sobel::Sobel,
};

struct Lcg(u32);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1664525).wrapping_add(1013904223);
        self.0 >> 8
    }
    /// Uniform in [-a, a].
    fn noise(&mut self, a: f32) -> f32 {
        (self.next() as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * a
    }
}

fn textured(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let mut r = Lcg(seed);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let base = 128.0 + 40.0 * (x as f32 / 5.0).sin() + 30.0 * (y as f32 / 7.0).cos();
            for c in 0..3 {
                let v = base + 10.0 * c as f32 + r.noise(25.0);
                rgb.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    rgb
}

fn encode(rgb: &[u8], w: usize, h: usize, q: u8, s: jpeg_encoder::SamplingFactor) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut buf, q);
    enc.set_sampling_factor(s);
    enc.encode(rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).expect("encode");
    buf
}

fn decode(bytes: &[u8]) -> Vec<u8> {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).expect("decode").to_rgb8().into_raw()
}

fn iou(a: [u32; 4], b: [u32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) as f32 - a[0].max(b[0]) as f32).max(0.0);
    let iy = (a[3].min(b[3]) as f32 - a[1].max(b[1]) as f32).max(0.0);
    let inter = ix * iy;
    let area = |r: [u32; 4]| ((r[2] - r[0]) * (r[3] - r[1])) as f32;
    inter / (area(a) + area(b) - inter)
}

const W: usize = 256;
const H: usize = 192;
const PATCH: [u32; 4] = [96, 64, 160, 128];

fn paste(dst: &mut [u8], src: &[u8], w: usize, r: [u32; 4]) {
    for y in r[1] as usize..r[3] as usize {
        let (a, b) = ((y * w + r[0] as usize) * 3, (y * w + r[2] as usize) * 3);
        dst[a..b].copy_from_slice(&src[a..b]);
    }
}

/// Textured image saved at q95, with PATCH replaced by the same content saved at q60,
/// the composite saved at q90 (4:2:0). Returns (file bytes, decoded pixels).
fn double_compressed_composite() -> (Vec<u8>, Vec<u8>) {
    use jpeg_encoder::SamplingFactor::F_2_2;
    let orig = textured(W, H, 42);
    let mut comp = decode(&encode(&orig, W, H, 95, F_2_2));
    let low = decode(&encode(&orig, W, H, 60, F_2_2));
    paste(&mut comp, &low, W, PATCH);
    let file = encode(&comp, W, H, 90, F_2_2);
    let pixels = decode(&file);
    (file, pixels)
}

fn check_found(out: &Output, what: &str) {
    let z = out.stats["anomaly_z"].as_f64().expect("anomaly_z");
    let top = out.regions.first().expect("a region").bbox;
    println!("{what}: top {top:?} iou {:.2} anomaly_z {z:.2} | {}", iou(top, PATCH), out.summary);
    assert!(iou(top, PATCH) > 0.3, "{what}: top region {top:?} misses {PATCH:?}; {}", out.summary);
    assert!(z > 3.0, "{what}: anomaly_z {z}");
    assert!(out.maps.iter().all(|m| m.is_consistent()));
    assert!(out.maps.iter().any(|m| m.name == "visual"));
}

#[test]
fn jpeg_ghost_finds_the_q60_patch() {
    let (file, px) = double_compressed_composite();
    let img = ImageRef { width: W, height: H, rgb: &px, encoded: Some(&file), format: Some("jpeg"), wanted: MapRoles::ALL };
    let out = JpegGhost.run(&img, &json!({})).expect("runs");
    check_found(&out, "jpeg_ghost");
    assert_eq!(out.stats["primary_quality"], json!(90));
    assert_eq!(out.stats["subsampling"], json!("4:2:0"));
    let q = out.stats["top_region_ghost_quality"].as_u64().expect("ghost quality");
    assert!((55..=65).contains(&q), "ghost quality {q}");
    assert_eq!(out.stats["ghost_min_quality"], json!(90));
}

#[test]
fn jpeg_ghost_on_png_like_input_and_bad_params() {
    let rgb = textured(64, 48, 3);
    let img = ImageRef::from_rgb(64, 48, &rgb).unwrap();
    let out = JpegGhost.run(&img, &json!({"qualities": [60, 80, 95]})).expect("runs");
    assert!(out.stats["primary_quality"].is_null());
    assert!(out.summary.contains("not an untouched JPEG"), "{}", out.summary);
    for bad in [
        json!({"qualities": [0, 50]}),
        json!({"qualities": [101, 50]}),
        json!({"qualities": [50]}),
        json!({"qualities": (1..=21).collect::<Vec<_>>()}),
        json!({"qualities": "high"}),
        json!({"block": 3}),
        json!({"nope": 1}),
        json!([1, 2]),
    ] {
        assert!(JpegGhost.run(&img, &bad).is_err(), "{bad}");
    }
}

#[test]
fn ela_finds_the_q60_patch() {
    let (file, px) = double_compressed_composite();
    let img = ImageRef { width: W, height: H, rgb: &px, encoded: Some(&file), format: Some("jpeg"), wanted: MapRoles::ALL };
    // At quality 75 (Forensically's default) the patch, already quantized at q60, barely
    // changes while the q95-then-q90 background loses detail: a low-error outlier.
    let out = Ela.run(&img, &json!({"quality": 75})).expect("runs");
    check_found(&out, "ela");
    assert!(out.stats["low_z"].as_f64().unwrap() < -3.0);
    assert!(out.summary.contains("lower error level"), "{}", out.summary);
    // At the default quality 90, equal to the file's last save, ELA is nearly
    // idempotent everywhere; it still runs and reports that.
    let out90 = Ela.run(&img, &json!({})).expect("runs");
    assert_eq!(out90.stats["quality"], json!(90));
    assert!(out90.summary.contains("equals the re-save quality"), "{}", out90.summary);
    assert_eq!(out.stats["source_quality"], json!(90));
    assert!(Ela.run(&img, &json!({"quality": 0})).is_err());
    assert!(Ela.run(&img, &json!({"scale": 0.5})).is_err());
    assert!(Ela.run(&img, &json!({"scale": "big"})).is_err());
}

#[test]
fn median_traces_finds_the_filtered_patch() {
    let rgb = textured(W, H, 7);
    let luma: Vec<f32> = rgb.chunks_exact(3).map(|p| p[1] as f32).collect();
    let med = median3x3(&luma, W, H);
    let mut gray: Vec<u8> = luma.iter().map(|&v| v as u8).collect();
    for y in PATCH[1] as usize..PATCH[3] as usize {
        for x in PATCH[0] as usize..PATCH[2] as usize {
            gray[y * W + x] = med[y * W + x] as u8;
        }
    }
    let rgb: Vec<u8> = gray.iter().flat_map(|&v| [v, v, v]).collect();
    let img = ImageRef::from_rgb(W, H, &rgb).unwrap();
    let out = MedianTraces.run(&img, &json!({})).expect("runs");
    check_found(&out, "median_traces");
    let zr = out.stats["zero_diff_ratio"].as_f64().unwrap();
    assert!(zr > 0.0 && zr < 0.5, "{zr}");
    assert!(out.stats["top_block_zero_diff_ratio"].as_f64().unwrap() > zr);
}

#[test]
fn local_correlation_finds_the_upscaled_patch() {
    let rgb = textured(W, H, 11);
    let mut r = Lcg(5);
    let small: Vec<f32> = (0..33 * 33).map(|_| 128.0 + r.noise(60.0)).collect();
    let mut out_rgb = rgb.clone();
    for y in PATCH[1] as usize..PATCH[3] as usize {
        for x in PATCH[0] as usize..PATCH[2] as usize {
            // Bilinear 2x upscale of the 33x33 noise patch.
            let (fx, fy) = ((x - PATCH[0] as usize) as f32 / 2.0, (y - PATCH[1] as usize) as f32 / 2.0);
            let (x0, y0) = (fx as usize, fy as usize);
            let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
            let s = |xx: usize, yy: usize| small[yy * 33 + xx];
            let v = (1.0 - ay) * ((1.0 - ax) * s(x0, y0) + ax * s(x0 + 1, y0))
                + ay * ((1.0 - ax) * s(x0, y0 + 1) + ax * s(x0 + 1, y0 + 1));
            let v = v.round().clamp(0.0, 255.0) as u8;
            out_rgb[(y * W + x) * 3..(y * W + x) * 3 + 3].copy_from_slice(&[v, v, v]);
        }
    }
    let img = ImageRef::from_rgb(W, H, &out_rgb).unwrap();
    let out = LocalCorrelation.run(&img, &json!({})).expect("runs");
    check_found(&out, "local_correlation");
    assert!(out.stats["mean_corr"].as_f64().unwrap() < 0.0);
}

#[test]
fn jpeg_quality_estimates_jpeg_encoder_files() {
    use jpeg_encoder::SamplingFactor::{F_1_1, F_2_2};
    let rgb = textured(48, 40, 1);
    for q in [50u8, 75, 90] {
        for (s, name) in [(F_2_2, "4:2:0"), (F_1_1, "4:4:4")] {
            let file = encode(&rgb, 48, 40, q, s);
            // jpeg-encoder's default tables are the IJG (Annex K) tables scaled as libjpeg does.
            let info = jpeg::parse(&file).unwrap();
            assert_eq!(info.luma_table(), Some(&jpeg::ijg_table(&jpeg::IJG_LUMA, q)));
            assert_eq!(info.chroma_table(), Some(&jpeg::ijg_table(&jpeg::IJG_CHROMA, q)));
            let px = decode(&file);
            let img = ImageRef { width: 48, height: 40, rgb: &px, encoded: Some(&file), format: Some("jpeg"), wanted: MapRoles::ALL };
            let out = JpegQuality.run(&img, &json!({})).expect("runs");
            assert_eq!(out.stats["quality"], json!(q));
            assert_eq!(out.stats["chroma_quality"], json!(q));
            assert_eq!(out.stats["exact_ijg"], json!(true));
            assert_eq!(out.stats["subsampling"], json!(name));
            assert_eq!(out.stats["progressive"], json!(false));
            assert_eq!(out.stats["anomaly_z"], json!(0.0));
            assert!(out.maps.iter().all(|m| m.is_consistent()));
            // One picture of the table; no 8x8 "heat-map" that could pass for a spatial map.
            assert_eq!(out.maps.iter().map(|m| (m.width, m.role)).collect::<Vec<_>>(), [(128, MapRole::Visual)]);
            // Each 16x16 square is its table entry, scaled so the coarsest step is 255.
            let luma = jpeg::ijg_table(&jpeg::IJG_LUMA, q);
            let max = *luma.iter().max().unwrap() as f32;
            let trutheye_plugin_api::MapData::U8(vis) = &out.maps[0].data else { panic!("the visual is 8-bit") };
            for (i, &px) in vis.iter().enumerate() {
                let (y, x) = (i / 128 / 16, i % 128 / 16);
                assert_eq!(px, (luma[y * 8 + x] as f32 / max * 255.0).round() as u8, "pixel {i}");
            }
        }
    }
}

#[test]
fn jpeg_quality_custom_tables() {
    // Custom tables are given in natural order (jpeg-encoder zigzags them when writing
    // DQT): the IJG q=80 table round-trips as exact; a perturbed one is not exact.
    let rgb = textured(32, 32, 2);
    let t80 = jpeg::ijg_table(&jpeg::IJG_LUMA, 80);
    let c80 = jpeg::ijg_table(&jpeg::IJG_CHROMA, 80);
    let mut odd = t80;
    odd[63] += 7;
    for (luma, exact) in [(t80, true), (odd, false)] {
        let mut buf = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut buf, 80);
        enc.set_quantization_tables(
            jpeg_encoder::QuantizationTableType::Custom(Box::new(luma)),
            jpeg_encoder::QuantizationTableType::Custom(Box::new(c80)),
        );
        enc.set_progressive(true);
        enc.encode(&rgb, 32, 32, jpeg_encoder::ColorType::Rgb).unwrap();
        let px = decode(&buf);
        let img = ImageRef { width: 32, height: 32, rgb: &px, encoded: Some(&buf), format: Some("jpeg"), wanted: MapRoles::ALL };
        let out = JpegQuality.run(&img, &json!({})).unwrap();
        assert_eq!(out.stats["quality"], json!(80));
        assert_eq!(out.stats["exact_ijg"], json!(exact));
        assert_eq!(out.stats["progressive"], json!(true));
        assert_eq!(out.stats["luma_table"], json!(luma.to_vec()));
    }
}

#[test]
fn jpeg_quality_rejects_non_jpeg() {
    let rgb = vec![0u8; 4 * 4 * 3];
    let derived = ImageRef::from_rgb(4, 4, &rgb).unwrap();
    let e = JpegQuality.run(&derived, &json!({})).unwrap_err();
    assert_eq!(e, OperatorError::Image("jpeg_quality needs a JPEG file; this image is a derived image (crop/edit)".into()));
    let png = ImageRef { encoded: Some(b"\x89PNG"), format: Some("png"), ..derived };
    assert_eq!(JpegQuality.run(&png, &json!({})).unwrap_err().to_string(), "jpeg_quality needs a JPEG file; this image is png");
    let junk = ImageRef { encoded: Some(b"garbage"), format: Some("jpeg"), ..derived };
    assert!(JpegQuality.run(&junk, &json!({})).is_err());
    let file = encode(&rgb, 4, 4, 75, jpeg_encoder::SamplingFactor::F_2_2);
    let img = ImageRef { encoded: Some(&file), format: Some("jpeg"), ..derived };
    assert!(JpegQuality.run(&img, &json!({"x": 1})).is_err());
}

fn run_all(img: &ImageRef<'_>, params: &serde_json::Value) -> Vec<(&'static str, Result<Output, OperatorError>)> {
    vec![
        ("sobel", Sobel.run(img, params)),
        ("laplacian", Laplacian.run(img, params)),
        ("jpeg_ghost", JpegGhost.run(img, params)),
        ("median_traces", MedianTraces.run(img, params)),
        ("local_correlation", LocalCorrelation.run(img, params)),
        ("ela", Ela.run(img, params)),
        ("jpeg_quality", JpegQuality.run(img, params)),
    ]
}

#[test]
fn tiny_and_odd_sizes_never_panic() {
    for (w, h) in [(1, 1), (7, 7), (1, 9), (9, 1), (17, 5), (33, 31), (37, 29)] {
        let mut r = Lcg((w * 100 + h) as u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|_| (r.next() & 255) as u8).collect();
        let file = encode(&rgb, w, h, 85, jpeg_encoder::SamplingFactor::F_2_2);
        let px = decode(&file);
        let img = ImageRef { width: w, height: h, rgb: &px, encoded: Some(&file), format: Some("jpeg"), wanted: MapRoles::ALL };
        for params in [json!({}), json!({"block": 4})] {
            for (name, res) in run_all(&img, &params) {
                match res {
                    Ok(out) => {
                        assert!(out.maps.iter().all(|m| m.is_consistent()), "{name} {w}x{h}");
                        assert!(out.stats["anomaly_z"].is_number(), "{name} {w}x{h}");
                        assert!(!out.summary.is_empty());
                    }
                    Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
                }
            }
        }
        // Small images: a 16px block does not fit under 16x16.
        if w < 16 || h < 16 {
            let e = Sobel.run(&img, &json!({})).unwrap_err().to_string();
            assert!(e.contains("at least"), "{e}");
        }
    }
}

#[test]
fn bad_params_are_errors() {
    let rgb = textured(64, 64, 9);
    let img = ImageRef::from_rgb(64, 64, &rgb).unwrap();
    for params in [json!({"block": 0}), json!({"block": 1000}), json!({"block": -4}), json!({"block": 2.5}),
                   json!({"unknown": true}), json!("text")] {
        for (name, res) in run_all(&img, &params) {
            assert!(res.is_err(), "{name} accepted {params}");
        }
    }
}

#[test]
fn schemas_document_defaults_and_forbid_extra_keys() {
    let schemas = [
        Sobel::params_schema(), Laplacian::params_schema(), JpegGhost::params_schema(),
        MedianTraces::params_schema(), LocalCorrelation::params_schema(), Ela::params_schema(),
        JpegQuality::params_schema(),
    ];
    for s in schemas {
        assert_eq!(s["additionalProperties"], json!(false));
        for (_, p) in s["properties"].as_object().unwrap() {
            assert!(p.get("default").is_some(), "{p}");
        }
    }
}


#[test]
fn clean_controls_score_far_below_the_planted_cases() {
    use jpeg_encoder::SamplingFactor::F_2_2;
    // The same pipelines without the planted patch: the strongest anomaly must stay well
    // below what the planted patch produced (all of those were > 10).
    let orig = textured(W, H, 42);
    let file = encode(&decode(&encode(&orig, W, H, 95, F_2_2)), W, H, 90, F_2_2);
    let px = decode(&file);
    let jimg = ImageRef { width: W, height: H, rgb: &px, encoded: Some(&file), format: Some("jpeg"), wanted: MapRoles::ALL };
    let clean = textured(W, H, 7);
    let img = ImageRef::from_rgb(W, H, &clean).unwrap();
    let cases = [
        ("jpeg_ghost", JpegGhost.run(&jimg, &json!({})).unwrap()),
        ("ela", Ela.run(&jimg, &json!({"quality": 75})).unwrap()),
        ("median_traces", MedianTraces.run(&img, &json!({})).unwrap()),
        ("local_correlation", LocalCorrelation.run(&img, &json!({})).unwrap()),
    ];
    for (name, out) in cases {
        let z = out.stats["anomaly_z"].as_f64().unwrap();
        println!("clean {name}: anomaly_z {z:.2}");
        assert!(z < 4.0, "{name}: clean image anomaly_z {z}; {}", out.summary);
    }
}

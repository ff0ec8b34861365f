//! `trutheye pvr`: one code action from stdin, human and JSON output, exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_trutheye")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/authentic-dev-000.jpg")
}

fn pvr(code: &str, extra: &[&str]) -> Output {
    let mut child = Command::new(bin())
        .arg("pvr")
        .arg(sample())
        .args(["--code", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run trutheye");
    child.stdin.take().expect("stdin").write_all(code.as_bytes()).expect("write code");
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const CROP: &str = "print(image.size)\nc = image.crop((10, 20, 74, 52))\nresult = c\n";

#[test]
fn human_output_shows_text_images_and_candidate() {
    let dir = tempfile::tempdir().expect("tempdir");
    for mode in ["worker", "in-process"] {
        let out_dir = dir.path().join(mode);
        // In-process runs model code without OS limits: only with --trusted-code.
        let o = pvr(CROP, &["--mode", mode, "--trusted-code", "--out", out_dir.to_str().expect("utf-8 path")]);
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&o.stderr));
        assert!(text.starts_with("(640, 852)\n[shown as image_clue_1: 64x32]\n---\n"), "{text}");
        assert!(text.contains("image image_clue_1 64x32: "), "{text}");
        assert!(text.contains("localization candidate: [10, 20, 74, 52]"), "{text}");
        assert!(text.contains("error: none"), "{text}");
        assert!(text.contains(&format!("backend: interp ({mode}), ")), "{text}");
        let png = image::open(out_dir.join("image_clue_1.png")).expect("saved png");
        assert_eq!((png.width(), png.height()), (64, 32));
    }
}

#[test]
fn json_output_is_one_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = pvr(CROP, &["--json", "--out", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["mode"], "worker");
    assert_eq!(v["text"], "(640, 852)\n[shown as image_clue_1: 64x32]");
    assert_eq!(v["error"], serde_json::Value::Null);
    assert_eq!(v["bbox_candidate"], serde_json::json!([10, 20, 74, 52]));
    assert_eq!(v["images"][0]["name"], "image_clue_1");
    assert_eq!(v["images"][0]["width"], 64);
    assert!(v["images"][0]["path"].as_str().is_some_and(|p| Path::new(p).is_file()));
    assert!(v["ms"].as_f64().is_some());
}

#[test]
fn hostile_code_is_a_failed_action_not_a_failed_tool() {
    for (code, kind) in [
        ("import os\nos.system('id')\n", "ImportError"),
        ("open('/etc/passwd').read()\n", "NameError"),
        ("x = image.__class__\n", "AttributeError"),
        ("for i in range(10**12):\n    pass\n", "TimeoutError"),
    ] {
        let o = pvr(code, &["--json"]);
        assert_eq!(o.status.code(), Some(0), "{code}: {}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
        let err = v["error"].as_str().unwrap_or_default();
        assert!(err.starts_with(kind), "{code}: {err}");
    }
    let o = pvr("import subprocess\n", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("error: ImportError: import of 'subprocess' is not available in the embedded interpreter"), "{}", stdout(&o));
}

#[test]
fn unreadable_inputs_exit_2() {
    let o = Command::new(bin()).args(["pvr", "/nonexistent.jpg", "--code", "-"]).stdin(Stdio::null()).output().expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.jpg"));
    let o = Command::new(bin()).arg("pvr").arg(sample()).args(["--code", "/nonexistent.py"]).output().expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read the code file"));
}

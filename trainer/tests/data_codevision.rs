//! `data codevision` on the committed sample file (tests/fixtures/codevision):
//! two good samples, one whose code raises, a missing image, a malformed tool call,
//! a cut-off line and an image index out of range.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use trutheye_core::Registry;
use trutheye_trainer::data::codevision::{convert, CodeVisionOptions};
use trutheye_trainer::data::swift::code_tool_schema;
use trutheye_trainer::data::{ConversionReport, SwiftMessage, SwiftSample};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codevision")
}

fn run(exec: bool) -> (Vec<SwiftSample>, ConversionReport) {
    let text = std::fs::read_to_string(fixture().join("samples.jsonl")).expect("fixture");
    let engine = trutheye_sandbox::PvrEngine::in_process(std::time::Duration::from_secs(10));
    let opts = CodeVisionOptions { images_root: fixture(), exec, max_pixels: 1_000_000, engine };
    let mut report = ConversionReport::new("codevision", "-");
    let out = convert(&text, &opts, Arc::new(Registry::new()), &mut report);
    (out, report)
}

fn image(name: &str) -> String {
    fixture().join("images").join(name).canonicalize().expect("fixture image").to_string_lossy().into_owned()
}

fn msg(role: &str, content: &str) -> SwiftMessage {
    SwiftMessage::new(role, content)
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn expected_good() -> Vec<SwiftSample> {
    vec![
        SwiftSample {
            messages: vec![
                msg("system", "You are a visual agent. Call code_image_tool to inspect images."),
                msg("user", "<image>\nIs the top-left corner uniform?"),
                msg("assistant", "<think>Crop the corner and check its size.</think>"),
                msg("tool_call", r#"{"name":"code_image_tool","arguments":{"code":"crop = image_clue_0.crop((0, 0, 8, 6))\nprint(crop.size)","image_index":0}}"#),
                msg("tool_response", "(8, 6)"),
                msg("assistant", "<think>The crop is 8x6 and flat.</think>\n<answer>yes</answer>"),
            ],
            images: vec![image("street.png")],
            tools: serde_json::to_string(&json!([code_tool_schema("code_image_tool")])).expect("json"),
        },
        SwiftSample {
            messages: vec![
                // No <image> tag in the data: one is prepended to the first human turn.
                msg("user", "<image>How many pixels does the picture have?"),
                msg("assistant", "<think>Read the size first.</think>"),
                msg("tool_call", r#"{"name":"code_image_python_executor","arguments":{"code":"w, h = image_clue_0.size\nprint(w, h)","image_index":0}}"#),
                msg("tool_response", "10 20"),
                // No text before the tag: no assistant message, the call stands alone.
                msg("tool_call", r#"{"name":"code_image_python_executor","arguments":{"code":"print(w * h)"}}"#),
                msg("tool_response", "200"),
                msg("assistant", "The picture has 200 pixels."),
            ],
            images: vec![image("portrait.png")],
            tools: serde_json::to_string(&json!([code_tool_schema("code_image_python_executor")])).expect("json"),
        },
    ]
}

#[test]
fn executes_and_drops_failures() {
    let (out, report) = run(true);
    assert_eq!(out, expected_good());
    assert_eq!((report.read, report.kept), (7, 2));
    assert_eq!(
        report.dropped,
        counts(&[
            ("code fails in the sandbox", 1),
            ("image index out of range", 1),
            ("malformed tool call", 1),
            ("missing image", 1),
            ("unparseable line", 1),
        ])
    );
    let missing = fixture().join("images/missing.png");
    assert_eq!(
        report.details,
        vec![
            "line 3: code fails in the sandbox: code action 0: NameError: name 'brightness_of' is not defined (line 1)".to_string(),
            format!("line 4: missing image: {}", missing.display()),
            "line 5: malformed tool call: turn 1: tool `code_image_tool` needs argument `code` (got script)".to_string(),
            "line 6: unparseable line: not JSON: expected ident at line 1 column 22".to_string(),
            "line 7: image index out of range: code action 0: image_index 3 but 1 image(s)".to_string(),
        ]
    );
}

#[test]
fn no_exec_keeps_code_that_would_fail() {
    let (out, report) = run(false);
    assert_eq!((report.read, report.kept), (7, 3));
    assert_eq!(out.get(..2), Some(&expected_good()[..]));
    assert_eq!(out[2].messages[2], msg("tool_call", r#"{"name":"code_image_tool","arguments":{"code":"print(brightness_of(image_clue_0))","image_index":0}}"#));
    assert_eq!(report.dropped.get("code fails in the sandbox"), None);
    assert_eq!(report.dropped_total(), 4);
    assert_eq!(report.dropped.get("image index out of range"), Some(&1));
}

#[test]
fn cli_run_writes_the_kept_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sub/out.jsonl");
    let args = fixture_args(&out);
    let report = trutheye_trainer::data::codevision::run(&args, Arc::new(Registry::new())).expect("run");
    assert_eq!(report.kept, 2);
    let text = std::fs::read_to_string(&out).expect("out");
    let rows: Vec<SwiftSample> = text.lines().map(|l| serde_json::from_str(l).expect("row")).collect();
    assert_eq!(rows, expected_good());
    // The JSON report carries the same counts the table shows.
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(v["dropped"]["missing image"], 1);
    assert!(report.to_table().contains("| dropped: code fails in the sandbox | 1 |"));
}

/// The same conversion re-executing the code in real CPython (the default when
/// an environment is set up): the same samples kept and dropped.
#[test]
fn cli_run_with_the_python_backend_keeps_the_same_samples() {
    let python = std::env::var_os("TRUTHEYE_PYTHON").map(std::path::PathBuf::from).or_else(|| {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pvr-venv/bin/python3");
        p.is_file().then_some(p)
    });
    let Some(python) = python else {
        assert!(std::env::var_os("TRUTHEYE_PYTHON_REQUIRED").is_none(), "TRUTHEYE_PYTHON_REQUIRED is set but no Python environment was found");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.jsonl");
    let args = trutheye_trainer::data::codevision::CodeVisionArgs {
        backend: trutheye_sandbox::PvrBackend::Python,
        python: Some(python),
        dialect: trutheye_sandbox::Dialect::Union,
        ..fixture_args(&out)
    };
    let report = trutheye_trainer::data::codevision::run(&args, Arc::new(Registry::new())).expect("run");
    assert_eq!(report.kept, 2);
    let rows: Vec<SwiftSample> = std::fs::read_to_string(&out).expect("out").lines().map(|l| serde_json::from_str(l).expect("row")).collect();
    assert_eq!(rows, expected_good());
    assert!(report.to_table().contains("| dropped: code fails in the sandbox | 1 |"), "{}", report.to_table());
}

/// The fixture conversion, writing to `out`, on the embedded interpreter.
fn fixture_args(out: &std::path::Path) -> trutheye_trainer::data::codevision::CodeVisionArgs {
    trutheye_trainer::data::codevision::CodeVisionArgs {
        input: fixture().join("samples.jsonl"),
        images_root: fixture(),
        out: out.to_path_buf(),
        no_exec: false,
        max_pixels: 1_000_000,
        backend: trutheye_sandbox::PvrBackend::InterpInProcess,
        python: None,
        dialect: trutheye_sandbox::Dialect::Union,
    }
}

//! Issue 15's smaller items, end to end through the binary: in-process code
//! only with `--trusted-code` (trajectories say how code was isolated),
//! `--timeout` in every mode, no temporary files left by `pvr`, control
//! characters escaped in text output, `\r` line endings, and malformed
//! answers fed back to the model as format errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn trutheye() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trutheye"));
    c.env_remove("TRUTHEYE_PLUGIN_PATH").env_remove("RUST_LOG");
    c
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/authentic-dev-000.jpg")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `trutheye pvr SAMPLE --code - EXTRA...` with `code` on stdin and `env` set.
fn pvr_env(code: &str, extra: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = trutheye();
    cmd.arg("pvr").arg(sample()).args(["--code", "-"]).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run trutheye");
    child.stdin.take().expect("stdin").write_all(code.as_bytes()).expect("write code");
    child.wait_with_output().expect("wait")
}

fn pvr(code: &str, extra: &[&str]) -> Output {
    pvr_env(code, extra, &[])
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(text(&o.stdout).trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{}\n{}", text(&o.stdout), text(&o.stderr)))
}

/// The two interpreter modes, with the flag in-process needs.
const MODES: [&[&str]; 2] = [&["--mode", "worker"], &["--mode", "in-process", "--trusted-code"]];

const TRUST_ERROR: &str = "error: --pvr-mode in-process runs model code inside this process without OS limits; pass --trusted-code if the code is trusted\n";

#[test]
fn in_process_mode_needs_trusted_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = sample();
    let image = image.to_str().expect("utf-8 path");
    let out = dir.path().join("out");
    let out = out.to_str().expect("utf-8 path");
    let refused: [Vec<&str>; 4] = [
        vec!["pvr", image, "--code", "-", "--mode", "in-process"],
        vec!["pvr", image, "--code", "-", "--pvr-mode", "in-process"],
        vec!["analyze", image, "--pvr-mode", "in-process"],
        vec!["eval", "--data", image, "--out", out, "--pvr-mode", "in-process"],
    ];
    for args in &refused {
        let o = trutheye().args(args).stdin(Stdio::null()).output().expect("run");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), TRUST_ERROR, "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o.stdout));
    }
    let o = pvr("print(image.size)", &["--mode", "in-process", "--trusted-code"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("backend: interp (in-process)"), "{}", text(&o.stdout));
    // The default (worker) needs no flag.
    let o = pvr("print(image.size)", &[]);
    assert!(text(&o.stdout).contains("backend: interp (worker)"), "{}", text(&o.stdout));
}

#[test]
fn trajectories_record_how_code_was_isolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("script.jsonl");
    std::fs::write(&script, "\"<code>print(image.size)</code>\"\n\"<answer>authentic</answer>\"\n").expect("write");
    let cases: [(&[&str], Option<&str>); 3] = [
        (&["--strategy", "pvr"], Some("worker")),
        (&["--strategy", "pvr", "--pvr-mode", "in-process", "--trusted-code"], Some("in-process (trusted)")),
        (&["--strategy", "none"], None),
    ];
    for (k, (extra, want)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("run{k}"));
        let o = trutheye()
            .arg("analyze")
            .arg(sample())
            .args(["--policy", "replay", "--backend", "interp", "--script"])
            .arg(&script)
            .arg("--out")
            .arg(&out)
            .args(*extra)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", text(&o.stderr));
        let line = std::fs::read_to_string(out.join("trajectories.jsonl")).expect("trajectory");
        let t: serde_json::Value = serde_json::from_str(line.trim()).expect("json");
        assert_eq!(t["code_isolation"].as_str(), *want, "{extra:?}");
    }
}

#[test]
fn timeout_applies_in_every_mode() {
    // A pure-Python loop (ends by the step budget or the wall time, whichever
    // comes first) and one whose steps are slow (ends by the wall time).
    let spin = "while True:\n    pass\n";
    let slow = "a = np.array(image)\nwhile True:\n    m = a.mean()\n";
    for mode in MODES {
        for code in [spin, slow] {
            let started = Instant::now();
            let o = pvr(code, &[mode, &["--json", "--timeout", "1"]].concat());
            let took = started.elapsed();
            let v = json(&o);
            let err = v["error"].as_str().unwrap_or_default();
            assert!(err.starts_with("TimeoutError"), "{mode:?} {code:?}: {err}");
            assert!(!err.contains("5.0 s") && !err.contains("10 s"), "{mode:?} {code:?}: another limit than --timeout applied: {err}");
            assert!(took < Duration::from_secs(3), "{mode:?} {code:?}: took {took:?}");
        }
    }
}

#[test]
fn pvr_without_out_leaves_no_temporary_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let crop = "print(image.size)\nresult = image.crop((10, 20, 74, 52))\n";
    for mode in MODES {
        let o = pvr_env(crop, mode, &[("TMPDIR", tmp.path())]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("image image_clue_1 64x32: not saved (pass --out DIR to keep it)\n"), "{}", text(&o.stdout));
        let o = pvr_env(crop, &[mode, &["--json"]].concat(), &[("TMPDIR", tmp.path())]);
        let v = json(&o);
        assert_eq!(v["images"][0]["name"], "image_clue_1");
        assert!(v["images"][0]["path"].is_null(), "{v}");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("read tmp").flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "{mode:?} left {left:?}");
    }
}

#[test]
fn control_characters_from_model_code_are_escaped_in_text_output() {
    let code = "print(\"\\x1b[31mRED\\x1b[0m title\\x1b]0;pwned\\x07 cr\\rX \\u009b2J tab\\tok\")\nraise ValueError(\"\\x1b[2J\")\n";
    for mode in MODES {
        let o = pvr(code, mode);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let raw = &o.stdout;
        for bad in [0x1bu8, 0x07, b'\r'] {
            assert!(!raw.contains(&bad), "{mode:?}: byte {bad:#x} reached the terminal: {}", text(raw));
        }
        let s = text(raw);
        assert!(s.starts_with("\\x1b[31mRED\\x1b[0m title\\x1b]0;pwned\\x07 cr\\x0dX \\u{9b}2J tab\tok\n"), "{s}");
        assert!(s.contains("error: ValueError: \\x1b[2J"), "{s}");
        // JSON carries the text as it is (serde escapes it).
        let o = pvr(code, &[mode, &["--json"]].concat());
        assert!(!o.stdout.contains(&0x1b), "{}", text(&o.stdout));
        assert!(json(&o)["text"].as_str().unwrap_or_default().starts_with("\u{1b}[31mRED"));
    }
    // analyze's report: reasoning and the code's output.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("script.jsonl");
    std::fs::write(&script, "\"<think>look \\u001b[31mhere</think><code>print(\\\"\\\\x1b[31mRED\\\")</code>\"\n\"<answer>authentic</answer>\"\n").expect("write");
    let o = trutheye().arg("analyze").arg(sample()).args(["--policy", "replay", "--backend", "interp", "--script"]).arg(&script).output().expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!o.stdout.contains(&0x1b), "{}", text(&o.stdout));
    let s = text(&o.stdout);
    assert!(s.contains("think: look \\x1b[31mhere") && s.contains("→ \\x1b[31mRED"), "{s}");
}

#[test]
fn carriage_return_line_endings_run() {
    for nl in ["\r", "\r\n"] {
        let code = ["x = 1", "if x:", "    y = x + 1", "print(image.size, y)", ""].join(nl);
        for mode in MODES {
            let v = json(&pvr(&code, &[mode, &["--json"]].concat()));
            assert_eq!(v["error"], serde_json::Value::Null, "{nl:?} {mode:?}: {v}");
            assert_eq!(v["text"], "(640, 852) 2", "{nl:?} {mode:?}");
        }
    }
}

#[test]
fn malformed_answers_are_format_errors_the_model_is_told_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("script.jsonl");
    let msgs = [
        r#"<answer>{"label": "tampered", "scores": {"authentic": 0.1, "synthetic": 0.1, "tampered": NaN}}</answer>"#,
        r#"<answer>{"label": "tampered", "bbox_2d": [10, 20, 30]}</answer>"#,
        r#"<answer>{"label": "tampered", "scores": {"authentic": 0.05, "synthetic": 0.05, "tampered": 0.9}, "bbox_2d": [10, 20, 300, 400]}</answer>"#,
    ];
    std::fs::write(&script, msgs.iter().map(|m| serde_json::Value::from(*m).to_string() + "\n").collect::<String>()).expect("write");
    let out = dir.path().join("out");
    let o = trutheye()
        .arg("analyze")
        .arg(sample())
        .args(["--policy", "replay", "--backend", "interp", "--json", "--script"])
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!((v["label"].as_str(), v["forced"].as_bool(), v["format_errors"].as_u64()), (Some("tampered"), Some(false), Some(2)), "{v}");
    assert_eq!(v["scores"]["tampered"], 0.9);
    assert_eq!(v["bbox"], serde_json::json!([10, 20, 300, 400]));
    let t: serde_json::Value = serde_json::from_str(std::fs::read_to_string(out.join("trajectories.jsonl")).expect("trajectory").trim()).expect("json");
    let turns = t["turns"].as_array().expect("turns");
    for (turn, says) in turns.iter().zip([
        "Format error: the answer is malformed: the score for `tampered` is NaN, Infinity or null; scores must be finite numbers between 0 and 1.",
        "Format error: the answer is malformed: `bbox_2d` must be [x1, y1, x2, y2]: four finite numbers, x1 <= x2 and y1 <= y2, in image_clue_0 pixels; it holds 3 numbers.",
    ]) {
        assert_eq!(turn["format_error"]["kind"], "malformed_answer", "{turn}");
        let fed_back = turn["observation"]["text"].as_str().unwrap_or_default();
        assert!(fed_back.starts_with(says), "{fed_back}");
    }
}

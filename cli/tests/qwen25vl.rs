//! `--policy qwen25vl` and `trutheye model check|bench` end to end, on the tiny
//! random-weight checkpoint of model/fixtures/qwen25vl (it writes garbage, so
//! every episode ends in format errors and a forced verdict), and the bad
//! checkpoint directories: one clear line each, exit code 2, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trutheye() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trutheye"));
    c.env_remove("TRUTHEYE_PLUGIN_PATH").env_remove("RUST_LOG").env("RAYON_NUM_THREADS", "1").env("CANDLE_NUM_THREADS", "1");
    c
}

fn run(args: &[&str]) -> Output {
    trutheye().args(args).output().expect("run trutheye")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn tiny() -> String {
    repo().join("model/fixtures/qwen25vl/tiny").display().to_string()
}

fn sample() -> String {
    repo().join("samples/tampered-dev-033.jpg").display().to_string()
}

fn assert_no_panic(o: &Output) {
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!all.contains("panicked at") && !all.contains("RUST_BACKTRACE") && !all.contains("internal error"), "panic leaked:\n{all}");
}

/// A bad `--model DIR`: exit code 2 and one `error:` line that contains `needle`.
fn assert_clear_failure(o: &Output, needle: &str) {
    assert_no_panic(o);
    assert_eq!(o.status.code(), Some(2), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    let e = text(&o.stderr);
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("warning:")).collect();
    assert_eq!(lines.len(), 1, "expected one line:\n{e}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains(needle), "{needle:?} not in:\n{e}");
}

/// A copy of the tiny checkpoint to break.
fn copy_tiny(dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(tiny()).expect("tiny") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dst.join(p.file_name().expect("name"))).expect("copy");
    }
}

#[test]
fn garbage_from_the_tiny_model_is_fed_back_and_the_verdict_is_forced() {
    // `--strategy none` keeps the prompt short: the tiny tokenizer (few merges)
    // spends ~5800 tokens on the pvr system prompt and ~12000 on registry's.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let (tiny, sample) = (tiny(), sample());
    let o = run(&["analyze", &sample, "--policy", "qwen25vl", "--model", &tiny, "--max-new-tokens", "48", "--strategy", "none", "--json", "--out", out.to_str().expect("utf-8")]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("one JSON object");
    assert_eq!(v["forced"], true, "{v}");
    assert!(v["format_errors"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(v["policy"].as_str().unwrap_or("").starts_with("qwen25vl"), "{v}");
    assert!(v["forced_reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");

    let line = std::fs::read_to_string(out.join("trajectories.jsonl")).expect("trajectories.jsonl");
    let t: serde_json::Value = serde_json::from_str(line.lines().next().expect("one episode")).expect("trajectory json");
    assert_eq!(t["verdict"]["forced"], true);
    let turns = t["turns"].as_array().expect("turns");
    let errors = turns.iter().filter(|t| !t["format_error"].is_null()).count();
    assert!(errors >= 1, "no format error in {turns:?}");
    // The error was fed back: the turn after the first error saw it as an observation.
    assert!(turns.len() >= 2, "the error must be fed back for another turn: {turns:?}");

    // The human report, same episode.
    let o = run(&["analyze", &sample, "--policy", "qwen25vl", "--model", &tiny, "--max-new-tokens", "48", "--strategy", "none"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let h = text(&o.stdout);
    assert!(h.contains("verdict:") && h.contains("format error") && h.contains("qwen25vl"), "{h}");
}

#[test]
fn bad_checkpoint_directories_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = sample();
    let analyze = |model: &Path| run(&["analyze", &sample, "--policy", "qwen25vl", "--model", model.to_str().expect("utf-8"), "--max-new-tokens", "8"]);

    let missing = dir.path().join("no-such-model");
    assert_clear_failure(&analyze(&missing), "no-such-model: no such directory");

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    assert_clear_failure(&analyze(&empty), "config.json");

    let llama = dir.path().join("llama");
    copy_tiny(&llama);
    std::fs::write(llama.join("config.json"), r#"{"model_type": "llama", "hidden_size": 64}"#).expect("write");
    assert_clear_failure(&analyze(&llama), "not \"qwen2_5_vl\"");

    let corrupt = dir.path().join("corrupt");
    copy_tiny(&corrupt);
    std::fs::write(corrupt.join("model.safetensors"), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}").expect("write");
    assert_clear_failure(&analyze(&corrupt), "model.safetensors");

    let truncated = dir.path().join("truncated");
    copy_tiny(&truncated);
    let bytes = std::fs::read(truncated.join("model.safetensors")).expect("read");
    std::fs::write(truncated.join("model.safetensors"), &bytes[..bytes.len() / 2]).expect("write");
    assert_clear_failure(&analyze(&truncated), "model.safetensors");

    // `eval` and `model check` report the same way.
    let o = run(&["model", "check", "--model", missing.to_str().expect("utf-8"), "--prompt", "hi"]);
    assert_clear_failure(&o, "no such directory");
    let o = run(&["analyze", &sample, "--policy", "qwen25vl"]);
    assert_clear_failure(&o, "--model DIR");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let o = run(&["analyze", &sample(), "--policy", "qwen25vl", "--model", &tiny(), "--device", "cuda"]);
    assert_clear_failure(&o, "--features cuda");
}

#[test]
fn model_check_prints_inputs_and_dumps_logits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("x.json");
    let img = repo().join("model/fixtures/qwen25vl/images/wide.png");
    let o = run(&["model", "check", "--model", &tiny(), "--image", img.to_str().expect("utf-8"), "--prompt", "Is this tampered?", "--dump-logits", dump.to_str().expect("utf-8"), "--generate", "4"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let h = text(&o.stdout);
    // wide.png 150x80 → 140x84 → 10x6 patches → 15 tokens.
    assert!(h.contains("[1, 6, 10]") && h.contains("15 tokens") && h.contains("pixel_values: [60, 1176]") && h.contains("top-5"), "{h}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dump).expect("dump")).expect("json");
    assert_eq!(v["image_grid_thw"], serde_json::json!([[1, 6, 10]]));
    assert_eq!(v["pixel_values_shape"], serde_json::json!([60, 1176]));
    assert_eq!(v["last_logits"].as_array().expect("logits").len(), 768);
    assert_eq!(v["dtype"], "f32");
    assert_eq!(v["greedy_ids"].as_array().expect("greedy").len(), 4);
    let ids = v["input_ids"].as_array().expect("ids");
    assert_eq!(ids.iter().filter(|x| x.as_u64() == Some(732)).count(), 15, "15 <|image_pad|> tokens");

    let o = run(&["model", "check", "--model", &tiny(), "--prompt", "hello", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("json");
    assert_eq!(v["top5"].as_array().expect("top5").len(), 5);
}

#[test]
fn model_bench_reports_tokens_per_second() {
    let img = repo().join("model/fixtures/qwen25vl/images/square.png");
    let o = run(&["model", "bench", "--model", &tiny(), "--prompt-tokens", "32", "--decode", "4", "--runs", "1", "--threads", "1", "--image", img.to_str().expect("utf-8"), "--json"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("json");
    for k in ["prefill_tok_s", "image_prefill_tok_s", "decode_tok_s"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
    assert_eq!(v["prompt_tokens"], 32);
    assert_eq!(v["image_tokens"], 4);
    assert_eq!(v["threads"], 1);
}

#[test]
fn eval_shares_one_model_across_episodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    for (class, file) in [("tampered", "tampered-dev-033.jpg"), ("authentic", "authentic-dev-000.jpg")] {
        std::fs::create_dir_all(data.join(class)).expect("mkdir");
        std::fs::copy(repo().join("samples").join(file), data.join(class).join(file)).expect("copy");
    }
    let out = dir.path().join("run");
    let o = run(&["eval", "--data", data.to_str().expect("utf-8"), "--policy", "qwen25vl", "--strategy", "none", "--model", &tiny(), "--max-new-tokens", "16", "--out", out.to_str().expect("utf-8"), "--json"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("2 episodes run"), "{}", text(&o.stderr));
    let preds = std::fs::read_to_string(out.join("predictions.jsonl")).expect("predictions");
    assert_eq!(preds.lines().count(), 2, "{preds}");
    assert!(preds.lines().all(|l| l.contains("qwen25vl")), "{preds}");
}

#[test]
fn trained_adapters_load_for_inference_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let run_dir = dir.path().join("grpo");
    let o = run(&["train", "grpo", "--model", &tiny(), "--out", &run_dir.display().to_string(), "--steps", "1", "--group", "2", "--prompts", "1", "--max-new-tokens", "4", "--json"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json summary");
    assert_eq!(summary["steps"], 1);
    let adapter = run_dir.join("adapter.safetensors").display().to_string();
    let o = run(&["analyze", &sample(), "--policy", "qwen25vl", "--model", &tiny(), "--adapter", &adapter, "--strategy", "none", "--max-new-tokens", "8", "--json"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"\x08\0\0\0\0\0\0\0{}      ").expect("write");
    let o = run(&["analyze", &sample(), "--policy", "qwen25vl", "--model", &tiny(), "--adapter", &bad.display().to_string(), "--strategy", "none"]);
    assert_clear_failure(&o, "--adapter");
}

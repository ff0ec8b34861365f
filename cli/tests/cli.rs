//! The `trutheye` binary end to end: every strategy on a real JPEG, the JSON
//! output, and every bad input from the spine issue, each a clear line, never a
//! panic message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

fn trutheye() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trutheye"));
    c.env_remove("TRUTHEYE_PLUGIN_PATH").env_remove("RUST_LOG");
    c
}

fn run(args: &[&str]) -> Output {
    trutheye().args(args).output().expect("run trutheye")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A photo-like JPEG: smooth gradients, sensor-like noise, and a pasted patch of
/// much smoother content.
fn write_photo(dir: &Path) -> PathBuf {
    let mut seed = 7u32;
    let img = RgbImage::from_fn(320, 240, |x, y| {
        seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
        let n = (seed >> 28) as i32 - 8;
        let smooth = (200..280).contains(&x) && (60..140).contains(&y);
        let base = (x / 3 + y / 2) as i32 + if smooth { 0 } else { n };
        let v = base.clamp(0, 255) as u8;
        Rgb([v, v.saturating_add(10), v / 2])
    });
    let p = dir.join("photo.jpg");
    img.save(&p).expect("write jpeg");
    p
}

fn assert_no_panic(o: &Output) {
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!all.contains("panicked at") && !all.contains("RUST_BACKTRACE"), "panic leaked:\n{all}");
}

#[test]
fn help_is_useful_on_its_own() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let h = text(&o.stdout);
    for word in ["analyze", "plugins", "op", "--plugin-dir", "Examples"] {
        assert!(h.contains(word), "help lacks {word}:\n{h}");
    }
}

#[test]
fn analyze_runs_every_strategy_and_prints_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = write_photo(dir.path());
    let photo = photo.to_str().expect("utf-8 path");
    for strategy in ["pvr", "registry", "hybrid", "none"] {
        let out = dir.path().join(format!("out-{strategy}"));
        let o = run(&["analyze", photo, "--strategy", strategy, "--json", "--out", out.to_str().expect("path")]);
        assert_no_panic(&o);
        assert!(o.status.success(), "{strategy}: {}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("one JSON object");
        assert!(["authentic", "synthetic", "tampered"].contains(&v["label"].as_str().unwrap_or("")), "{v}");
        assert_eq!(v["strategy"], strategy);
        assert_eq!(v["forced"], false, "scripted policy answers within budget: {v}");
        let scores = &v["scores"];
        let sum: f64 = ["authentic", "synthetic", "tampered"].iter().map(|k| scores[k].as_f64().unwrap_or(0.0)).sum();
        assert!((sum - 1.0).abs() < 0.01, "scores sum to 1: {v}");
        // pvr runs its nine global operators in one code cell and probes in a second.
        let min_actions = match strategy {
            "none" => 0,
            "pvr" => 2,
            _ => 4,
        };
        assert!(v["tool_calls"].as_u64().unwrap_or(0) >= min_actions, "the scripted agent uses tools: {v}");
        if let Some(mask) = v["mask"].as_str() {
            assert!(std::path::Path::new(mask).is_file(), "{strategy}: the verdict's mask {mask} is written");
        }
        let traj = std::fs::read_to_string(out.join("trajectories.jsonl")).expect("trajectory written");
        let t: serde_json::Value = serde_json::from_str(traj.lines().next().unwrap_or("")).expect("trajectory JSON");
        assert_eq!(t["schema"], 1);
        if strategy != "none" {
            let errors: Vec<&serde_json::Value> = t["turns"].as_array().expect("turns").iter().filter(|t| !t["observation"]["error"].is_null()).collect();
            assert!(errors.is_empty(), "{strategy}: tool errors in the scripted run: {errors:?}");
        }
    }
}

#[test]
fn human_report_shows_verdict_and_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = write_photo(dir.path());
    let o = run(&["analyze", photo.to_str().expect("path"), "--strategy", "registry"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    for needle in ["verdict:", "scores:", "trace:", "think:", "tool: fft_residual", "[fft_residual on image_clue_0]", "answer:"] {
        assert!(s.contains(needle), "report lacks {needle}:\n{s}");
    }
}

#[test]
fn bad_inputs_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = write_photo(d);
    let notimg = d.join("notes.jpg");
    std::fs::write(&notimg, "just text").expect("write");
    let truncated = d.join("cut.jpg");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 4]).expect("write");
    let empty_dir = d.join("empty");
    std::fs::create_dir(&empty_dir).expect("mkdir");
    let bad_cfg = d.join("bad.toml");
    std::fs::write(&bad_cfg, "[budget]\nmax_turns = \"many\"\n").expect("write");
    let missing = d.join("missing.jpg");

    // A batch goes on past bad files, records each, and exits 1.
    let o = run(&["analyze", missing.to_str().expect("p"), notimg.to_str().expect("p"), truncated.to_str().expect("p"), good.to_str().expect("p"), "--json"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let lines: Vec<serde_json::Value> = text(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 4, "one object per input");
    let missing_msg = lines[0]["error"].as_str().unwrap_or("");
    assert!(missing_msg.contains("missing.jpg") && missing_msg.matches("os error").count() == 1, "{missing_msg}");
    assert!(lines[1]["error"].as_str().unwrap_or("").contains("not a supported image"));
    assert!(lines[2]["error"].as_str().unwrap_or("").contains("truncated JPEG"), "{}", lines[2]);
    assert!(lines[3]["error"].is_null() && lines[3]["label"].is_string());
    for l in text(&o.stderr).lines() {
        assert!(l.starts_with("error: ") || l.starts_with("warning: "), "stderr line: {l}");
    }

    let o = run(&["analyze", empty_dir.to_str().expect("p")]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("contains no images"), "{}", text(&o.stderr));

    let o = run(&["analyze", good.to_str().expect("p"), "--config", bad_cfg.to_str().expect("p")]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(e.contains("bad.toml") && e.lines().count() == 1, "{e}");
}

#[test]
fn decompression_bomb_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 10000x10000 8-bit gray PNG: 100 MP of zeros compresses to a small file.
    let bomb = dir.path().join("bomb.png");
    let img = image::GrayImage::new(10_000, 10_000);
    img.save(&bomb).expect("write bomb");
    assert!(std::fs::metadata(&bomb).expect("meta").len() < 1_000_000);
    let o = run(&["analyze", bomb.to_str().expect("p")]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(e.contains("bomb.png") && e.contains("100.0 megapixels") && e.contains("exceeds"), "{e}");
}

#[test]
fn replayed_garbage_is_fed_back_and_the_verdict_is_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = write_photo(dir.path());
    let script = dir.path().join("script.jsonl");
    std::fs::write(&script, "\"<tool_call>{not json</tool_call>\"\n{\"text_hex\": \"3c616e737765723eff3c2f616e737765723e\"}\n\"<code>\\nprint(1)\"\n\"<answer>real</answer>\"\n").expect("write");
    let o = run(&["analyze", photo.to_str().expect("p"), "--policy", "replay", "--script", script.to_str().expect("p"), "--json"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("json");
    assert_eq!(v["forced"], true, "{v}");
    assert_eq!(v["format_errors"], 3);
    assert!(v["forced_reason"].as_str().unwrap_or("").contains("consecutive format errors"));
}

#[test]
fn plugins_list_and_op_work() {
    let o = run(&["plugins", "list", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let ops: Vec<&str> = v["operators"].as_array().expect("operators").iter().filter_map(|o| o["name"].as_str()).collect();
    for name in ["srm", "fft_residual", "jpeg_ghost", "ela", "block_variance"] {
        assert!(ops.contains(&name), "{name} missing from {ops:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = write_photo(dir.path());
    let out = dir.path().join("srm.png");
    let o = run(&["op", "srm", photo.to_str().expect("p"), "-o", out.to_str().expect("p"), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.exists());
    let every: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let roles = |v: &serde_json::Value| v["maps"].as_array().expect("maps").iter().map(|m| m["role"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!(roles(&every), ["visual", "heatmap"]);
    // `--maps heatmap` writes the heat-map alone, to OUT.png; a name that matches
    // no map is an error listing the maps there are.
    let heat = dir.path().join("heat.png");
    let o = run(&["op", "srm", photo.to_str().expect("p"), "-o", heat.to_str().expect("p"), "--maps", "heatmap", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["saved"].as_array().map(|a| a.len()), Some(1), "{v}");
    // ... and the operator is told so: it renders no visual, and nothing else changes.
    assert_eq!(roles(&v), ["heatmap"]);
    assert_eq!((&v["stats"], &v["regions"], &v["summary"]), (&every["stats"], &every["regions"], &every["summary"]));
    let heat_map = v["maps"].as_array().expect("maps").iter().find(|m| m["role"] == "heatmap").expect("srm has a heat-map").clone();
    let png = image::open(&heat).expect("heat.png reads").to_luma8();
    assert_eq!((png.width() as u64, png.height() as u64), (heat_map["width"].as_u64().unwrap(), heat_map["height"].as_u64().unwrap()));
    let o = run(&["op", "srm", photo.to_str().expect("p"), "-o", heat.to_str().expect("p"), "--maps", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("matches none of `srm`'s maps"), "{}", text(&o.stderr));
    // jpeg_quality makes only a visual: asked for heat-maps only it returns no map,
    // and the error still names the visual it would have made.
    let o = run(&["op", "jpeg_quality", photo.to_str().expect("p"), "-o", heat.to_str().expect("p"), "--maps", "heatmap", "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("matches none of `jpeg_quality`'s maps: visual (visual)"), "{}", text(&o.stderr));
    let o = run(&["op", "nope", photo.to_str().expect("p")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("unknown operator `nope`"));
    let o = run(&["op", "srm", photo.to_str().expect("p"), "--param", "bogus=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("bogus"), "{}", text(&o.stderr));
}

#[test]
fn deepeyes_preset_replays_its_recorded_outputs_end_to_end() {
    // Real DeepEyes outputs (tests/fixtures/presets/deepeyes, sources in SOURCES.md):
    // a zoom call cut at its stop string, then an answer.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/presets/deepeyes/recorded.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&fixture).expect("fixture").lines().take(1).map(str::to_string).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("script.jsonl");
    // The zoom call, then a forensic answer in DeepEyes' multiple-choice format.
    std::fs::write(&script, format!("{}\n\"<think>A pasted patch.</think> <answer>\\nC\\n</answer>\"\n", lines[0])).expect("write");
    // Its boxes are in the pixels of V* photos (about 2000 px), so a photo that size.
    let sample = dir.path().join("large.jpg");
    RgbImage::from_fn(1600, 1200, |x, y| Rgb([(x / 8) as u8, (y / 6) as u8, 90])).save(&sample).expect("write jpeg");
    let out = dir.path().join("out");
    let o = run(&["analyze", sample.to_str().expect("p"), "--policy", "replay", "--script", script.to_str().expect("p"), "--preset", "deepeyes", "--json", "--out", out.to_str().expect("p")]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("json");
    assert_eq!((v["label"].as_str(), v["forced"].as_bool(), v["format_errors"].as_u64()), (Some("tampered"), Some(false), Some(0)), "{v}");
    let traj: serde_json::Value = serde_json::from_str(std::fs::read_to_string(out.join("trajectories.jsonl")).expect("trajectory").trim()).expect("json");
    assert_eq!(traj["strategy"], "registry");
    assert!(traj["system_prompt"].as_str().unwrap_or("").contains("image_zoom_in_tool"));
    let turn = &traj["turns"][0];
    assert_eq!(turn["action"]["name"], "image_zoom_in_tool", "{turn}");
    assert_eq!(turn["action"]["arguments"]["bbox_2d"], serde_json::json!([18, 901, 43, 984]));
    let obs = turn["observation"]["text"].as_str().unwrap_or("");
    assert!(obs.starts_with("<tool_response>") && obs.contains("cropped"), "the zoom ran as a crop: {obs}");
    assert_eq!(turn["observation"]["tools"][0]["name"], "crop");
}

/// `--version` says whether libjpeg-turbo runs its SIMD paths, with the
/// reason when it does not, so a benchmark's header shows which JPEG it timed.
/// `.ci/run` installs nasm and sets TRUTHEYE_JPEG_SIMD_REQUIRED=1: there the
/// paths must be on. (mozjpeg-sys builds with NO_GETENV, so JSIMD_FORCENONE
/// cannot force the other case.)
#[test]
fn version_says_whether_jpeg_runs_simd() {
    let out = run(&["--version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("libjpeg-turbo SIMD: ")).unwrap_or_else(|| panic!("no SIMD line in {stdout}"));
    assert_eq!(line, trutheye_imaging::jpeg::simd_status());
    assert_eq!(line == "on", trutheye_imaging::jpeg::simd());
    if std::env::var("TRUTHEYE_JPEG_SIMD_REQUIRED").as_deref() == Ok("1") {
        assert_eq!(line, "on", "nasm was installed for this build, so the SIMD paths should be on (`cargo clean -p mozjpeg-sys` if it came after the build)");
    }
    // `-V` stays the one-line form scripts parse.
    let short = run(&["-V"]);
    assert_eq!(text(&short.stdout).trim(), format!("trutheye {}", env!("CARGO_PKG_VERSION")));
}

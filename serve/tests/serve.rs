//! `trutheye serve` in-process: the protocol over a real Unix socket, sessions
//! with PVR code and registry tool calls, bad requests that leave the
//! connection open, a hostile infinite loop that times out while another client
//! is served, and rewards with hand-computed values.

#![cfg(unix)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use trutheye_core::AgentConfig;
use trutheye_sandbox::PvrLimits;
use trutheye_serve::session::{Session, SessionQuota};
use trutheye_sandbox::PvrEngine;
use trutheye_serve::{executor_factory, ServeConfig, ServeLimits};

mod serve_client;
use serve_client::{sample, Running};

fn backend() -> PvrEngine {
    // No step cap: the wall-time limit is what stops a hostile loop.
    PvrEngine::InProcess(PvrLimits { max_steps: u64::MAX, max_wall: Duration::from_secs(2), ..PvrLimits::default() })
}

fn start() -> Running {
    let (registry, report) = trutheye_core::load_plugins(&[]);
    // Loaded as `trutheye analyze` loads them: next to the (test) executable.
    assert!(registry.get("srm").is_some(), "the std operator plugin is not built (searched {:?}); run `cargo build -p trutheye-plugin-std` (or `cargo build --workspace`) first", report.searched);
    let config = ServeConfig { max_line_bytes: 1 << 20, limits: ServeLimits { max_sessions: 8, ..ServeLimits::default() }, ..ServeConfig::default() };
    serve_client::start(config, registry, backend())
}

#[test]
fn hello_lists_methods_operators_and_strategies() {
    let srv = start();
    let h = srv.client().ok("hello", json!({}));
    assert_eq!(h["protocol"], 1);
    assert!(h["server"].as_str().is_some_and(|s| s.starts_with("trutheye ")), "{h}");
    for m in ["hello", "open", "execute", "close", "reward", "stats", "shutdown"] {
        assert!(h["methods"].as_array().expect("methods").contains(&json!(m)), "{m}: {h}");
    }
    assert!(h["operators"].as_array().expect("ops").contains(&json!("srm")), "std plugin loaded: {h}");
    assert_eq!(h["strategies"], json!(["pvr", "registry", "hybrid", "none"]));
    srv.stop();
}

#[test]
fn pvr_crop_then_answer_then_close() {
    let srv = start();
    let mut c = srv.client();
    let o = c.ok("open", json!({"image": sample(), "strategy": "pvr"}));
    let sid = o["session"].as_str().expect("session").to_string();
    assert!(o["system_prompt"].as_str().is_some_and(|p| !p.is_empty()));
    assert_eq!(o["images"][0]["width"], 640);
    let t = c.ok("execute", json!({"session": sid, "text": "<think>zoom</think><code>c = image.crop((10, 20, 74, 52))\nresult = c</code>"}));
    assert_eq!((t["kind"].as_str(), t["final"].as_bool(), t["format_error"].as_bool(), t["done"].as_bool()), (Some("code"), Some(false), Some(false), Some(false)), "{t}");
    let obs = &t["observation"];
    assert_eq!(obs["role"], "user");
    assert_eq!(obs["error"], Value::Null, "{obs}");
    assert_eq!(obs["bbox_candidate"], json!([10, 20, 74, 52]));
    assert_eq!(obs["images"][0]["name"], "image_clue_1");
    assert_eq!(obs["content"], format!("{}\n<image>", obs["text"].as_str().expect("text")));
    let png = base64::engine::general_purpose::STANDARD.decode(obs["images"][0]["png_base64"].as_str().expect("b64")).expect("base64");
    let img = image::load_from_memory(&png).expect("png");
    assert_eq!((img.width(), img.height()), (64, 32));
    let bad = c.ok("execute", json!({"session": sid, "text": "I think it is real"}));
    assert_eq!((bad["kind"].as_str(), bad["format_error"].as_bool()), (Some("format_error"), Some(true)), "{bad}");
    assert!(bad["observation"]["text"].as_str().is_some_and(|s| s.starts_with("Format error:")), "{bad}");
    let a = c.ok("execute", json!({"session": sid, "text": "<answer>authentic</answer>"}));
    assert_eq!((a["final"].as_bool(), a["done"].as_bool(), a["observation"].is_null()), (Some(true), Some(true), true), "{a}");
    assert_eq!(a["verdict"]["label"], "authentic");
    let again = c.call("execute", json!({"session": sid, "text": "<answer>fake</answer>"}));
    assert_eq!(again["error"]["code"], "session_done", "{again}");
    let s = c.ok("stats", json!({}));
    assert_eq!((s["actions"].as_u64(), s["format_errors"].as_u64(), s["answers"].as_u64(), s["sessions_open"].as_u64()), (Some(1), Some(1), Some(1), Some(1)), "{s}");
    assert_eq!(c.ok("close", json!({"session": sid}))["turns"], 3);
    assert_eq!(c.call("execute", json!({"session": sid, "text": "<answer>real</answer>"}))["error"]["code"], "unknown_session");
    srv.stop();
}

#[test]
fn registry_tool_call_runs_a_std_operator() {
    let srv = start();
    let mut c = srv.client();
    let sid = c.ok("open", json!({"image": sample(), "strategy": "registry"}))["session"].as_str().expect("sid").to_string();
    let t = c.ok("execute", json!({"session": sid, "text": "<tool_call>{\"name\": \"srm\", \"arguments\": {}}</tool_call>"}));
    assert_eq!(t["kind"], "tool_call", "{t}");
    let obs = &t["observation"];
    assert_eq!(obs["role"], "tool");
    assert!(obs["text"].as_str().is_some_and(|s| s.starts_with("[srm on image_clue_0]")), "{obs}");
    assert_eq!(obs["tools"][0]["name"], "srm");
    assert_eq!(obs["tools"][0]["kind"], "forensic");
    assert!(obs["images"].as_array().is_some_and(|a| a.len() == 1), "srm's visual map is shown: {obs}");
    let code = c.ok("execute", json!({"session": sid, "text": "<code>print(1)</code>"}));
    assert!(code["observation"]["error"].as_str().is_some_and(|e| e.contains("Code execution is not available")), "{code}");
    srv.stop();
}

#[test]
fn bad_requests_get_errors_and_the_connection_stays_open() {
    let srv = start();
    let mut c = srv.client();
    let v = c.raw(b"{\"v\": 1, \"id\": 1, \"method\": ");
    assert_eq!(v["error"]["code"], "bad_json", "{v}");
    let v = c.raw(br#"{"v": 2, "id": "x", "method": "hello"}"#);
    assert_eq!((v["error"]["code"].as_str(), v["id"].as_str()), (Some("unsupported_version"), Some("x")), "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("major version 1")), "{v}");
    let v = c.call("frobnicate", json!({}));
    assert_eq!(v["error"]["code"], "unknown_method");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("frobnicate")), "{v}");
    let v = c.call("open", json!({"image": "/no/such/image.png"}));
    assert_eq!(v["error"]["code"], "bad_image", "{v}");
    let v = c.call("open", json!({"image": sample(), "strategy": "telepathy"}));
    assert_eq!(v["error"]["code"], "bad_request", "{v}");
    let v = c.call("execute", json!({"session": "nope"}));
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("text")), "{v}");
    let long = format!("{{\"v\":1,\"id\":9,\"method\":\"hello\",\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    let v = c.raw(long.as_bytes());
    assert_eq!(v["error"]["code"], "line_too_long", "{v}");
    assert_eq!(c.ok("hello", json!({}))["protocol"], 1, "still served after all of that");
    let s = c.ok("stats", json!({}));
    assert_eq!(s["errors"], 7, "{s}");
    srv.stop();
}

#[test]
fn an_infinite_loop_times_out_while_another_client_is_served() {
    let srv = start();
    let mut stuck = srv.client();
    let sid = stuck.ok("open", json!({"image": sample()}))["session"].as_str().expect("sid").to_string();
    let t0 = Instant::now();
    let hostile = std::thread::spawn(move || {
        let r = stuck.ok("execute", json!({"session": sid, "text": "<code>x = 0\nwhile True:\n    x += 1</code>"}));
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut other = srv.client();
    let mut answered = Vec::new();
    other.ok("hello", json!({}));
    let sid2 = other.ok("open", json!({"image": sample()}))["session"].as_str().expect("sid").to_string();
    let r = other.ok("execute", json!({"session": sid2, "text": "<code>result = image.crop((0, 0, 32, 32))</code>"}));
    assert_eq!(r["observation"]["images"][0]["width"], 32, "{r}");
    answered.push(Instant::now());
    let (r, stuck_done) = hostile.join().expect("hostile client");
    assert!(answered.iter().all(|t| *t < stuck_done), "the second client was answered while the first was stuck");
    assert!(r["observation"]["error"].as_str().is_some_and(|e| e.contains("TimeoutError")), "{r}");
    let took = stuck_done - t0;
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(20), "{took:?}");
    srv.stop();
}

/// crop (basic, ok) then a tampered answer with a box. By hand, default weights:
/// acc 1, format 1, global 0 (no operator), logic 1, crop b_tamper = 1, coh 0 →
/// tool = .25·1 + .25·1 = 0.5, ForenAgent = 1 + .2 + .4·.5 = 1.4; truth box
/// [0,0,32,64] vs answer [0,0,64,64]: IoU 0.5 → TruthEYE2 = 1 + .2 + .5·.5 = 1.45.
const TURNS: [&str; 2] = ["<code>c = image.crop((0, 0, 64, 64))\nresult = c</code>", "<answer>{\"label\": \"tampered\", \"bbox\": [0, 0, 64, 64]}</answer>"];

#[test]
fn rewards_match_hand_computed_values() {
    let srv = start();
    let mut c = srv.client();
    let truth = json!({"label": "tampered", "bbox": [0, 0, 32, 64]});
    let sid = c.ok("open", json!({"image": sample()}))["session"].as_str().expect("sid").to_string();
    for t in TURNS {
        c.ok("execute", json!({"session": sid, "text": t}));
    }
    let close = |a: &Value, b: f64| (a.as_f64().expect("number") - b).abs() < 1e-9;
    let r = c.ok("reward", json!({"session": sid, "truth": truth}));
    assert!(close(&r["total"], 1.4) && close(&r["forenagent"], 1.4) && close(&r["trutheye2"], 1.45), "{r}");
    let comp = &r["components"];
    for (k, v) in [("acc", 1.0), ("format", 1.0), ("global", 0.0), ("logic", 1.0), ("crop", 1.0), ("coh", 0.0), ("tool", 0.5), ("loc", 0.5)] {
        assert!(close(&comp[k], v), "{k}: {comp}");
    }
    let r = c.ok("reward", json!({"session": sid, "truth": truth, "kind": "trutheye2", "weights": {"acc": 2.0}}));
    assert!(close(&r["total"], 2.45), "{r}");
    let bad = c.call("reward", json!({"session": sid, "truth": truth, "weights": {"accuracy": 2.0}}));
    assert_eq!(bad["error"]["code"], "bad_request", "unknown weight refused: {bad}");
    // The same turns replayed in a throw-away session, with the truth box from a mask.
    let dir = tempfile::tempdir().expect("tempdir");
    let mask = dir.path().join("mask.png");
    image::GrayImage::from_fn(640, 852, |x, y| image::Luma([if x < 32 && y < 64 { 255 } else { 0 }])).save(&mask).expect("mask");
    let r = c.ok("reward", json!({"replay": {"image": sample(), "strategy": "pvr", "turns": TURNS}, "truth": {"label": "tampered", "mask": mask}, "kind": "trutheye2"}));
    assert!(close(&r["total"], 1.45), "{r}");
    // A recorded trajectory (the docs/trajectory.md format) scores the same.
    let (registry, _) = trutheye_core::load_plugins(&[]);
    let img = Arc::new(trutheye_core::ImageBuf::open(&sample(), 64_000_000).expect("image"));
    let exec = executor_factory(backend())(trutheye_core::Strategy::Pvr).expect("executor");
    let mut s = Session::new("rec".into(), exec, vec![img], &AgentConfig::default_config(), Arc::new(registry), SessionQuota::default());
    for t in TURNS {
        s.execute(t).expect("turn");
    }
    let traj = serde_json::to_value(s.trajectory("replay")).expect("json");
    // The in-process interpreter says so in the trajectory (it needed --trusted-code).
    assert_eq!(traj["code_isolation"], "in-process (trusted)", "{traj}");
    let r = c.ok("reward", json!({"trajectory": traj, "truth": truth}));
    assert!(close(&r["total"], 1.4), "{r}");
    srv.stop();
}

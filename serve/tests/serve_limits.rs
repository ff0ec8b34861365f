//! `trutheye serve` under its limits: every quota answers with its own error
//! code and a message naming the flag, a refused request leaves the server and
//! the other sessions working, large images travel by path and their files go
//! with the session, idle sessions are reaped, and an existing file at the
//! socket path is never deleted.

#![cfg(unix)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use trutheye_sandbox::{PvrEngine, PvrLimits};
use trutheye_serve::{executor_factory, Listen, ServeConfig, ServeLimits, Server};

mod serve_client;
use serve_client::{sample, Running};

/// A server with `limits`, in-process interpreter, no operators, images by
/// path under `<dir>/images` ([`images`]).
fn start(limits: ServeLimits) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("images")).expect("image dir");
    let engine = PvrEngine::InProcess(PvrLimits { max_wall: Duration::from_secs(5), ..PvrLimits::default() });
    let config = ServeConfig { limits, image_root: Some(dir.path().join("images")), ..ServeConfig::default() };
    serve_client::start_in(dir, config, trutheye_core::Registry::new(), engine)
}

/// Where a server from [`start`] writes images sent by path.
fn images(srv: &Running) -> PathBuf {
    srv.dir.path().join("images")
}

/// A base64 PNG of a w×h image of noise (so PNG cannot shrink it much).
fn noise_png_b64(w: u32, h: u32) -> String {
    use base64::Engine;
    let mut state = 12345u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let b = (state >> 16) as u8;
        image::Rgb([b, b.wrapping_mul(3), b.wrapping_add(71)])
    });
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).expect("png");
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

#[test]
fn an_existing_file_at_the_socket_path_is_refused_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("precious.txt");
    std::fs::write(&path, b"do not delete").expect("write");
    let listen = Listen { socket: Some(path.clone()), ..Listen::default() };
    let err = match Server::bind(&listen, ServeConfig::default(), Arc::new(trutheye_core::Registry::new()), executor_factory(PvrEngine::in_process(Duration::from_secs(1)))) {
        Ok(_) => panic!("bound over a regular file"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("not a socket") && err.contains("a regular file"), "{err}");
    assert_eq!(std::fs::read(&path).expect("still there"), b"do not delete");
    // A directory is refused the same way.
    let sub = dir.path().join("d");
    std::fs::create_dir(&sub).expect("dir");
    let listen = Listen { socket: Some(sub.clone()), ..Listen::default() };
    assert!(Server::bind(&listen, ServeConfig::default(), Arc::new(trutheye_core::Registry::new()), executor_factory(PvrEngine::in_process(Duration::from_secs(1)))).is_err());
    assert!(sub.is_dir());
}

#[test]
fn session_counts_in_all_and_per_client() {
    let srv = start(ServeLimits { max_sessions: 3, max_sessions_per_client: 2, ..ServeLimits::default() });
    let mut a = srv.client();
    let a1 = a.open();
    a.open();
    let (code, msg) = a.error("open", json!({"image": sample()}));
    assert_eq!(code, "too_many_sessions");
    assert!(msg.contains("this client") && msg.contains("--max-sessions-per-client"), "{msg}");
    // Every connection of this test comes from the same process: the same client.
    let mut b = srv.client();
    assert_eq!(b.error("open", json!({"image": sample()})).0, "too_many_sessions");
    a.ok("close", json!({"session": a1}));
    b.open();
    let s = a.ok("stats", json!({}));
    assert_eq!(s["sessions_open"], 2, "{s}");
    assert!(s["refused"].as_u64().is_some_and(|n| n >= 2), "{s}");
    srv.stop();
}

#[test]
fn open_quota_on_image_count_and_decoded_bytes() {
    let srv = start(ServeLimits { max_open_images: 2, max_session_image_bytes: 1 << 20, ..ServeLimits::default() });
    let mut c = srv.client();
    let s = sample();
    let (code, msg) = c.error("open", json!({"images": [s, s, s]}));
    assert_eq!(code, "quota_exceeded");
    assert!(msg.contains("3 images") && msg.contains("--max-open-images"), "{msg}");
    // 640x852 RGB is 1.6 MB decoded: over a 1 MiB quota.
    let (code, msg) = c.error("open", json!({"image": s}));
    assert_eq!(code, "quota_exceeded");
    assert!(msg.contains("--session-image-quota"), "{msg}");
    assert_eq!(c.ok("stats", json!({}))["sessions_open"], 0);
    srv.stop();
}

#[test]
fn over_the_memory_budget_new_work_is_refused() {
    // A budget below what any process uses: nothing can be admitted.
    let srv = start(ServeLimits { memory_budget: 1 << 20, ..ServeLimits::default() });
    let mut c = srv.client();
    let (code, msg) = c.error("open", json!({"image": sample()}));
    assert_eq!(code, "over_budget");
    assert!(msg.contains("memory budget") && msg.contains("--memory-budget"), "{msg}");
    // The connection and the cheap methods still work.
    let h = c.ok("hello", json!({}));
    assert_eq!(h["limits"]["memory_budget_bytes"], 1 << 20);
    assert!(c.ok("stats", json!({}))["memory_bytes"].as_u64().is_some_and(|m| m > 1 << 20));
    srv.stop();
}

#[test]
fn session_image_quota_stops_actions_but_not_the_answer() {
    // The input takes 1.6 MB; each 600x600 resize adds 1.08 MB.
    let srv = start(ServeLimits { max_session_image_bytes: 3 << 20, ..ServeLimits::default() });
    let mut c = srv.client();
    let sid = c.open();
    let grow = "<code>result = image.resize((600, 600))</code>";
    let t1 = c.ok("execute", json!({"session": sid, "text": grow}));
    assert_eq!(t1["kind"], "code", "{t1}");
    let t2 = c.ok("execute", json!({"session": sid, "text": grow}));
    assert_eq!(t2["kind"], "code", "{t2}");
    // Now 3.8 MB held: the next action is refused with a MemoryError the model reads.
    let t3 = c.ok("execute", json!({"session": sid, "text": grow}));
    assert_eq!(t3["kind"], "quota", "{t3}");
    let text = t3["observation"]["text"].as_str().unwrap_or("");
    assert!(text.starts_with("MemoryError:") && text.contains("quota"), "{text}");
    let a = c.ok("execute", json!({"session": sid, "text": "<answer>authentic</answer>"}));
    assert_eq!(a["done"], true);
    // Another session is unaffected.
    let other = c.open();
    assert_eq!(c.ok("execute", json!({"session": other, "text": grow}))["kind"], "code");
    srv.stop();
}

#[test]
fn large_images_go_by_path_and_their_files_go_with_the_session() {
    let srv = start(ServeLimits { inline_image_bytes: 64 << 10, ..ServeLimits::default() });
    let mut c = srv.client();
    let sid = c.ok("open", json!({"image": noise_png_b64(300, 300)}))["session"].as_str().expect("sid").to_string();
    // A small crop stays inline; the full 300x300 noise image (~270 KB PNG) goes by path.
    let t = c.ok("execute", json!({"session": sid, "text": "<code>result = image.crop((0, 0, 16, 16))</code>"}));
    assert!(t["observation"]["images"][0]["png_base64"].is_string(), "{t}");
    let t = c.ok("execute", json!({"session": sid, "text": "<code>result = image.rotate(180)</code>"}));
    let entry = &t["observation"]["images"][0];
    let path = PathBuf::from(entry["path"].as_str().unwrap_or_else(|| panic!("by path: {entry}")));
    assert!(path.starts_with(images(&srv)), "{}", path.display());
    let img = image::open(&path).expect("a readable PNG");
    assert_eq!((img.width(), img.height()), (300, 300));
    assert_eq!(entry["bytes"].as_u64(), std::fs::metadata(&path).ok().map(|m| m.len()));
    c.ok("close", json!({"session": sid}));
    assert!(!path.exists(), "the image file outlived its session");
    assert_eq!(std::fs::read_dir(images(&srv)).expect("root").count(), 0, "session directory removed");
    // `images_by: path` sends even small images by path.
    let sid = c.ok("open", json!({"image": sample(), "images_by": "path"}))["session"].as_str().expect("sid").to_string();
    let t = c.ok("execute", json!({"session": sid, "text": "<code>result = image.crop((0, 0, 8, 8))</code>"}));
    assert!(t["observation"]["images"][0]["path"].is_string(), "{t}");
    assert_eq!(c.error("open", json!({"image": sample(), "images_by": "carrier pigeon"})).0, "bad_request");
    srv.stop();
}

#[test]
fn shown_pixels_per_turn_and_response_size_are_capped() {
    let srv = start(ServeLimits { max_shown_pixels_per_turn: 100_000, max_response_bytes: 200_000, ..ServeLimits::default() });
    let mut c = srv.client();
    let sid = c.open();
    // Two 200x200 crops fit (80 000 px); the third is withheld with a note.
    let code = "<code>a = image.crop((0, 0, 200, 200))\nplt.imshow(a)\nplt.show()\nb = image.crop((200, 0, 400, 200))\nplt.imshow(b)\nplt.show()\nresult = image.crop((0, 200, 200, 400))</code>";
    let t = c.ok("execute", json!({"session": sid, "text": code}));
    let obs = &t["observation"];
    assert_eq!(obs["images"].as_array().map(Vec::len), Some(2), "{obs}");
    assert!(obs["text"].as_str().is_some_and(|s| s.contains("[not shown: image_clue_3 (200x200)") && s.contains("may total 100000 pixels")), "{obs}");
    // Inline images past the response limit: a clear error, the session lives on.
    let sid2 = c.ok("open", json!({"image": noise_png_b64(300, 300), "images_by": "inline"}))["session"].as_str().expect("sid").to_string();
    let (code, msg) = c.error("execute", json!({"session": sid2, "text": "<code>result = image.crop((0, 0, 300, 300))</code>"}));
    assert_eq!(code, "response_too_large");
    assert!(msg.contains("images_by"), "{msg}");
    assert_eq!(c.ok("execute", json!({"session": sid2, "text": "<answer>authentic</answer>"}))["done"], true);
    srv.stop();
}

#[test]
fn idle_sessions_are_reaped_and_their_files_removed() {
    let srv = start(ServeLimits { session_ttl: Duration::from_secs(1), inline_image_bytes: 0, ..ServeLimits::default() });
    let mut c = srv.client();
    let sid = c.open();
    let t = c.ok("execute", json!({"session": sid, "text": "<code>result = image.crop((0, 0, 8, 8))</code>"}));
    let path = PathBuf::from(t["observation"]["images"][0]["path"].as_str().expect("by path"));
    assert!(path.exists());
    // The reaper runs every 2 s in the accept loop, without any new `open`.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) && c.ok("stats", json!({}))["sessions_expired"] != 1 {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(c.ok("stats", json!({}))["sessions_open"], 0);
    assert!(!path.exists());
    assert_eq!(c.error("execute", json!({"session": sid, "text": "<answer>real</answer>"})).0, "unknown_session");
    srv.stop();
}

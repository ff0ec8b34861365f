//! Memory comes back when sessions close: a server that decoded ~216 MB of
//! images for four sessions returns to within 48 MB of where it started once
//! they are closed (glibc keeps freed chunks in per-thread arenas unless the
//! server trims them). Its own test binary, so no other test allocates
//! meanwhile.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use trutheye_sandbox::PvrEngine;
use trutheye_serve::limits::private_rss;
use trutheye_serve::{executor_factory, Listen, ServeConfig, Server};

fn call(r: &mut BufReader<UnixStream>, w: &mut UnixStream, method: &str, params: Value) -> Value {
    let line = json!({"v": 1, "id": 1, "method": method, "params": params}).to_string();
    w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).expect("write");
    let mut reply = String::new();
    r.read_line(&mut reply).expect("read");
    let v: Value = serde_json::from_str(&reply).expect("json");
    assert!(v.get("error").is_none(), "{method}: {v}");
    v["result"].clone()
}

#[test]
fn closing_sessions_returns_their_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("te.sock");
    let listen = Listen { socket: Some(socket.clone()), ..Listen::default() };
    let config = ServeConfig { allow_shutdown: true, image_root: Some(dir.path().to_path_buf()), ..ServeConfig::default() };
    let engine = PvrEngine::in_process(Duration::from_secs(5));
    let server = Server::bind(&listen, config, Arc::new(trutheye_core::Registry::new()), executor_factory(engine)).expect("bind");
    let thread = std::thread::spawn(move || server.run());
    let s = UnixStream::connect(&socket).expect("connect");
    let (mut r, mut w) = (BufReader::new(s.try_clone().expect("clone")), s);

    // A flat 3000x3000 PNG: tiny on the wire, 27 MB decoded.
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(3000, 3000, image::Rgb([90, 90, 90])).write_to(&mut png, image::ImageFormat::Png).expect("png");
    let b64 = base64::engine::general_purpose::STANDARD.encode(png.into_inner());

    let pid = std::process::id();
    let before = private_rss(pid).expect("rss");
    let sessions: Vec<String> = (0..4).map(|_| call(&mut r, &mut w, "open", json!({"images": [b64, b64], "strategy": "none"}))["session"].as_str().expect("sid").to_string()).collect();
    let held = private_rss(pid).expect("rss");
    assert!(held > before + (180 << 20), "8 images of 27 MB should be resident: {before} -> {held}");
    for sid in &sessions {
        call(&mut r, &mut w, "close", json!({"session": sid}));
    }
    let after = private_rss(pid).expect("rss");
    eprintln!("private RSS: before {} MiB, with 4 sessions {} MiB, after close {} MiB", before >> 20, held >> 20, after >> 20);
    assert!(after < before + (48 << 20), "memory not returned after close: {before} -> {held} -> {after}");
    call(&mut r, &mut w, "shutdown", json!({}));
    thread.join().expect("join").expect("ran");
}

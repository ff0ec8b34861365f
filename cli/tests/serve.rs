//! `trutheye serve` as a process: the start line, TCP on loopback with code in
//! worker processes, refusing a non-loopback address, and SIGTERM removing the
//! socket file.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_trutheye")
}

fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin()).arg("serve").args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("start line");
    (child, line)
}

#[test]
fn tcp_worker_mode_and_sigterm_cleanup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("s.sock");
    let (mut child, line) = spawn(&["--socket", sock.to_str().expect("utf-8"), "--tcp", "127.0.0.1:0", "--json"]);
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!((info["event"].as_str(), info["protocol"].as_u64(), info["pvr_mode"].as_str()), (Some("listening"), Some(1), Some("worker")), "{info}");
    assert!(sock.exists());
    let addr = info["tcp"].as_str().expect("tcp address");
    let s = TcpStream::connect(addr).expect("connect");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let mut call = |req: Value| -> Value {
        writeln!(w, "{req}").expect("write");
        let mut reply = String::new();
        r.read_line(&mut reply).expect("read");
        serde_json::from_str(&reply).expect("json reply")
    };
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/authentic-dev-000.jpg");
    let o = call(json!({"v": 1, "id": 1, "method": "open", "params": {"image": sample}}));
    let sid = o["result"]["session"].clone();
    let t = call(json!({"v": 1, "id": 2, "method": "execute", "params": {"session": sid, "text": "<code>result = image.crop((0, 0, 48, 40))\nprint('ok')</code>"}}));
    assert_eq!(t["result"]["observation"]["images"][0]["width"], 48, "{t}");
    let t = call(json!({"v": 1, "id": 3, "method": "execute", "params": {"session": sid, "text": "<code>while True:\n    pass</code>"}}));
    assert!(t["result"]["observation"]["error"].as_str().is_some_and(|e| e.contains("Error")), "{t}");
    let h = call(json!({"v": 1, "id": 4, "method": "hello"}));
    assert!(!h["result"]["methods"].as_array().expect("methods").contains(&json!("shutdown")), "shutdown is not offered without --allow-shutdown: {h}");
    let v = call(json!({"v": 1, "id": 5, "method": "shutdown"}));
    assert_eq!(v["error"]["code"], "not_allowed", "{v}");
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc_kill(child.id() as i32, 15) }, 0);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(!sock.exists(), "socket file removed on SIGTERM");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn start_line_and_refusals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("h.sock");
    let (mut child, line) = spawn(&["--socket", sock.to_str().expect("utf-8"), "--allow-shutdown"]);
    assert!(line.starts_with(&format!("trutheye serve: listening on unix:{} (protocol 1, ", sock.display())), "{line}");
    let out = Command::new(bin()).args(["serve", "--socket"]).arg(&sock).output().expect("second server");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already listening"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(bin()).args(["serve", "--tcp", "0.0.0.0:0"]).output().expect("remote");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"), "{}", String::from_utf8_lossy(&out.stderr));
    let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    writeln!(s, "{}", json!({"v": 1, "id": 1, "method": "shutdown"})).expect("write");
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).expect("read");
    assert!(reply.contains("stopping"), "{reply}");
    assert!(child.wait().expect("wait").success());
    assert!(!sock.exists());
}

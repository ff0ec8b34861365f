//! A server run in a test thread and a line-protocol client for it, shared by
//! the `trutheye serve` test files.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use trutheye_core::Registry;
use trutheye_sandbox::PvrEngine;
use trutheye_serve::{executor_factory, Listen, ServeConfig, Server};

/// A server listening on a socket in its own temporary directory.
pub struct Running {
    /// The temporary directory (socket and anything else the test puts there).
    pub dir: tempfile::TempDir,
    /// The socket path.
    pub socket: PathBuf,
    thread: Option<JoinHandle<Result<(), trutheye_serve::ServeError>>>,
}

/// The repository's sample photo (640x852 JPEG).
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/authentic-dev-000.jpg")
}

/// Binds `config` (with `allow_shutdown` set) on a fresh socket and serves it
/// from a thread.
pub fn start(config: ServeConfig, registry: Registry, engine: PvrEngine) -> Running {
    start_in(tempfile::tempdir().expect("tempdir"), config, registry, engine)
}

/// [`start`] with the socket in `dir` (which the test may have filled first).
pub fn start_in(dir: tempfile::TempDir, config: ServeConfig, registry: Registry, engine: PvrEngine) -> Running {
    let socket = dir.path().join("te.sock");
    let config = ServeConfig { allow_shutdown: true, ..config };
    let listen = Listen { socket: Some(socket.clone()), ..Listen::default() };
    let server = Server::bind(&listen, config, Arc::new(registry), executor_factory(engine)).expect("bind");
    let thread = std::thread::spawn(move || server.run());
    Running { dir, socket, thread: Some(thread) }
}

impl Running {
    /// A new connection.
    pub fn client(&self) -> Client {
        let s = UnixStream::connect(&self.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        Client { r: BufReader::new(s.try_clone().expect("clone")), w: s, next: 0 }
    }

    /// Sends `shutdown`, joins the server and checks the socket file is gone.
    pub fn stop(mut self) {
        let r = self.client().call("shutdown", json!({}));
        assert_eq!(r["result"]["stopping"], true, "{r}");
        let t = self.thread.take().expect("thread");
        t.join().expect("join").expect("server ran");
        assert!(!self.socket.exists(), "socket file removed on exit");
    }
}

/// One connection speaking the line protocol.
pub struct Client {
    r: BufReader<UnixStream>,
    w: UnixStream,
    next: u64,
}

impl Client {
    /// Sends a raw line; returns the reply.
    pub fn raw(&mut self, line: &[u8]) -> Value {
        self.w.write_all(line).and_then(|_| self.w.write_all(b"\n")).expect("write");
        let mut reply = String::new();
        self.r.read_line(&mut reply).expect("read");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("bad reply {reply:?}: {e}"))
    }

    /// Calls a method; returns the whole response (checks the id).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let v = self.raw(json!({"v": 1, "id": id, "method": method, "params": params}).to_string().as_bytes());
        assert_eq!(v["id"], id, "{v}");
        v
    }

    /// Calls a method that must succeed; returns its result.
    pub fn ok(&mut self, method: &str, params: Value) -> Value {
        let v = self.call(method, params);
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// Calls a method that must fail; returns its error code and message.
    pub fn error(&mut self, method: &str, params: Value) -> (String, String) {
        let v = self.call(method, params);
        let e = &v["error"];
        assert!(e.is_object(), "{method} should fail: {v}");
        (e["code"].as_str().unwrap_or("").to_string(), e["message"].as_str().unwrap_or("").to_string())
    }

    /// Opens a `pvr` session on the sample photo; returns its id.
    pub fn open(&mut self) -> String {
        self.ok("open", json!({"image": sample(), "strategy": "pvr"}))["session"].as_str().expect("sid").to_string()
    }
}

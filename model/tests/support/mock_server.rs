//! A mock OpenAI-compatible server for balancing tests and the endpoint bench:
//! answers every `POST .../chat/completions` with a minimal valid completion
//! after a fixed latency, serving at most `capacity` requests at once (more
//! wait, as in a server with a fixed number of batch slots), keeping
//! connections alive, and counting requests and the most in flight at once.
//! Its mode can be switched to answer 500 or to drop connections.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// How the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 with a completion.
    Ok = 0,
    /// 500 with an error message.
    Error = 1,
    /// Closes the connection without a reply.
    Drop = 2,
}

#[derive(Default)]
struct Shared {
    mode: AtomicU8,
    requests: AtomicUsize,
    active: AtomicUsize,
    max_active: AtomicUsize,
    /// Requests being served (at most `capacity`).
    serving: Mutex<usize>,
    slot_free: Condvar,
}

/// A running mock server (its threads live as long as the process).
pub struct MockServer {
    /// Base URL, ending in `/v1`.
    pub url: String,
    shared: Arc<Shared>,
}

/// The completion every request gets.
const BODY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"<answer>{\"label\": \"authentic\"}"},"finish_reason":"stop","stop_reason":"</answer>"}],"usage":{"prompt_tokens":10,"total_tokens":17,"completion_tokens":7}}"#;

impl MockServer {
    /// Starts a server on 127.0.0.1 that answers after `latency`, `capacity`
    /// requests at a time (0: unlimited).
    pub fn start(latency: Duration, capacity: usize) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}/v1", listener.local_addr().expect("local addr"));
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let s = s.clone();
                thread::spawn(move || connection(stream, &s, latency, capacity));
            }
        });
        MockServer { url, shared }
    }

    /// Switches how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Requests received so far (whatever the answer).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The most requests it held at once (waiting for a slot included).
    pub fn max_active(&self) -> usize {
        self.shared.max_active.load(Ordering::SeqCst)
    }
}

/// A base URL where nothing listens (a port bound then released).
pub fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    format!("http://{}/v1", listener.local_addr().expect("local addr"))
}

/// Serves requests on one kept-alive connection until the client closes it.
fn connection(stream: TcpStream, s: &Shared, latency: Duration, capacity: usize) {
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else { return };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    while read_request(&mut reader) {
        s.requests.fetch_add(1, Ordering::SeqCst);
        let now = s.active.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_active.fetch_max(now, Ordering::SeqCst);
        let mode = s.mode.load(Ordering::SeqCst);
        let reply = if mode == Mode::Drop as u8 {
            None
        } else if mode == Mode::Error as u8 {
            Some((500, r#"{"error":{"message":"mock failure"}}"#))
        } else {
            take_slot(s, capacity);
            thread::sleep(latency);
            free_slot(s, capacity);
            Some((200, BODY))
        };
        s.active.fetch_sub(1, Ordering::SeqCst);
        let Some((status, body)) = reply else { return };
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        if writer.write_all(reply.as_bytes()).and_then(|_| writer.flush()).is_err() {
            return;
        }
    }
}

/// Reads one request's headers and body; false at the end of the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> bool {
    let mut len = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        if line == "\r\n" {
            if first {
                continue;
            }
            break;
        }
        first = false;
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).is_ok()
}

fn take_slot(s: &Shared, capacity: usize) {
    if capacity == 0 {
        return;
    }
    let mut n = s.serving.lock().expect("slots");
    while *n >= capacity {
        n = s.slot_free.wait(n).expect("slots");
    }
    *n += 1;
}

fn free_slot(s: &Shared, capacity: usize) {
    if capacity == 0 {
        return;
    }
    *s.serving.lock().expect("slots") -= 1;
    s.slot_free.notify_one();
}

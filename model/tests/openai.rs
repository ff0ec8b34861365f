//! The OpenAI-compatible backend against a local HTTP server that replays
//! responses in the shape vLLM returns: success, stop strings removed, 429 with
//! Retry-After, 5xx, 4xx, malformed JSON, slow replies, and a whole episode.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use serde_json::{json, Value};
use trutheye_core::executors::NoneExecutor;
use trutheye_core::{run_episode, AgentConfig, Conversation, EpisodeInput, ImageBuf, NoArtifacts, Policy, Registry, ReplyLimits, Role, VerdictLabel};
use trutheye_model::{OpenAiClient, OpenAiConfig, OpenAiPolicy};

/// One scripted reply: status, extra headers, body, delay before answering.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

fn ok(content: &str, stop_reason: Option<&str>) -> Reply {
    let body = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "tool_calls": [], "reasoning_content": null},
                     "logprobs": null, "finish_reason": "stop", "stop_reason": stop_reason}],
        "usage": {"prompt_tokens": 10, "total_tokens": 17, "completion_tokens": 7}
    });
    Reply { status: 200, headers: vec![], body: body.to_string(), delay: Duration::ZERO }
}

fn status(code: u16, body: &str) -> Reply {
    Reply { status: code, headers: vec![], body: body.into(), delay: Duration::ZERO }
}

/// A server that answers the scripted replies in order (the last one repeats)
/// and records every request: (headers lower-cased, body).
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    thread::spawn(move || {
        let mut n = 0usize;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let reply = replies[n.min(replies.len() - 1)].clone();
            n += 1;
            let log = log.clone();
            thread::spawn(move || handle(stream, reply, log));
        }
    });
    Server { url, requests }
}

fn handle(stream: TcpStream, reply: Reply, log: Arc<Mutex<Vec<(String, Value)>>>) {
    let mut reader = BufReader::new(stream);
    let mut headers = String::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        headers.push_str(&lower);
    }
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    log.lock().expect("log").push((headers, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    thread::sleep(reply.delay);
    let mut out = format!("HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", reply.status, reply.body.len());
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(out.as_bytes());
}

fn config(url: &str) -> OpenAiConfig {
    OpenAiConfig { endpoint: url.into(), model: "forensic-7b".into(), api_key_env: Some("TRUTHEYE_TEST_KEY".into()), backoff_ms: 10, timeout_s: 5.0, ..OpenAiConfig::default() }
}

fn conversation() -> Conversation {
    let img = ImageBuf::derived(RgbImage::from_pixel(40, 30, Rgb([200, 10, 10])), "x.png");
    let mut c = Conversation::default();
    c.push(Role::System, "You are a forensic analyst.", vec![]);
    c.push(Role::User, "Is this image authentic?", vec![Arc::new(img)]);
    c
}

fn limits() -> ReplyLimits {
    ReplyLimits { max_tokens: 64 }
}

#[test]
fn a_reply_puts_back_the_stop_string_and_sends_images_and_key() {
    std::env::set_var("TRUTHEYE_TEST_KEY", "sk-test");
    let s = serve(vec![ok("<think>look</think><code>print(image.size)", Some("</code>"))]);
    let mut p = OpenAiPolicy::new(Arc::new(OpenAiClient::new(config(&s.url)).expect("client")));
    let r = p.next(&conversation(), limits()).expect("reply");
    assert_eq!(String::from_utf8(r.raw).expect("utf-8"), "<think>look</think><code>print(image.size)</code>");
    assert_eq!(r.tokens, Some(7));
    let reqs = s.requests.lock().expect("log");
    let (headers, body) = &reqs[0];
    assert!(headers.contains("authorization: bearer sk-test"), "{headers}");
    assert_eq!(body["model"], "forensic-7b");
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["stop"], json!(["</code>", "</tool_call>", "</answer>"]));
    assert_eq!(body["messages"][0], json!({"role": "system", "content": "You are a forensic analyst."}));
    let parts = body["messages"][1]["content"].as_array().expect("parts");
    assert!(parts[0]["image_url"]["url"].as_str().is_some_and(|u| u.starts_with("data:image/png;base64,iVBORw0KGgo")));
    assert_eq!(parts[1], json!({"type": "text", "text": "Is this image authentic?"}));
}

#[test]
fn retries_on_429_and_5xx_then_succeeds() {
    let mut slow_down = status(429, r#"{"error":{"message":"rate limited"}}"#);
    slow_down.headers.push(("retry-after".into(), "0".into()));
    let s = serve(vec![slow_down, status(500, "oops"), status(503, "busy"), ok("<answer>real</answer>", None)]);
    let client = OpenAiClient::new(config(&s.url)).expect("client");
    let c = client.complete(&json!({"model": "m", "messages": []})).expect("succeeds on the 4th try");
    assert_eq!(c.text, "<answer>real</answer>");
    assert_eq!(s.requests.lock().expect("log").len(), 4);
}

#[test]
fn errors_are_clear_and_only_retried_when_worth_it() {
    // 400: not retried, the server's message kept.
    let s = serve(vec![status(400, r#"{"error":{"message":"max_tokens is too large"}}"#)]);
    let e = OpenAiClient::new(config(&s.url)).expect("client").complete(&json!({})).unwrap_err().to_string();
    assert!(e.contains("HTTP 400") && e.contains("max_tokens is too large"), "{e}");
    assert_eq!(s.requests.lock().expect("log").len(), 1);

    // Malformed JSON in a 200: a clear error, not a panic, not retried.
    let s = serve(vec![status(200, "{\"choices\": [ {\"message\": ")]);
    let e = OpenAiClient::new(config(&s.url)).expect("client").complete(&json!({})).unwrap_err().to_string();
    assert!(e.contains("malformed JSON"), "{e}");

    // A 200 without choices, and one whose content is not a string.
    for body in [r#"{"object":"chat.completion"}"#, r#"{"choices":[{"message":{"content":42}}]}"#] {
        let s = serve(vec![status(200, body)]);
        let e = OpenAiClient::new(config(&s.url)).expect("client").complete(&json!({})).unwrap_err().to_string();
        assert!(e.contains("choices") || e.contains("not a string"), "{e}");
    }

    // 5xx forever: gives up after max_retries + 1 attempts and says so.
    let s = serve(vec![status(502, "bad gateway")]);
    let cfg = OpenAiConfig { max_retries: 2, ..config(&s.url) };
    let e = OpenAiClient::new(cfg).expect("client").complete(&json!({})).unwrap_err().to_string();
    assert!(e.contains("HTTP 502") && e.contains("after 3 attempts"), "{e}");
    assert_eq!(s.requests.lock().expect("log").len(), 3);

    // Nothing listening: a connection error, retried, then reported.
    let cfg = OpenAiConfig { max_retries: 1, ..config("http://127.0.0.1:9/v1") };
    let e = OpenAiClient::new(cfg).expect("client").complete(&json!({})).unwrap_err().to_string();
    assert!(e.contains("127.0.0.1:9") && e.contains("after 2 attempts"), "{e}");

    // Bad settings are refused before any request.
    assert!(OpenAiClient::new(OpenAiConfig { model: String::new(), ..config("http://x/v1") }).is_err());
    assert!(OpenAiClient::new(config("ftp://x")).is_err());
}

#[test]
fn a_slow_server_times_out() {
    let mut slow = ok("<answer>real</answer>", None);
    slow.delay = Duration::from_millis(1500);
    let s = serve(vec![slow]);
    let cfg = OpenAiConfig { timeout_s: 0.3, max_retries: 1, ..config(&s.url) };
    let started = Instant::now();
    let e = OpenAiClient::new(cfg).expect("client").complete(&json!({})).unwrap_err().to_string();
    assert!(e.contains("timed out") && e.contains("after 2 attempts"), "{e}");
    assert!(started.elapsed() < Duration::from_millis(1400), "the timeout did not cut the wait: {:?}", started.elapsed());
}

#[test]
fn an_episode_feeds_format_errors_back_and_ends_with_the_models_answer() {
    let s = serve(vec![ok("I think it is fine.", None), ok("<answer>{\"label\": \"tampered\", \"bbox\": [1, 2, 20, 20]", Some("</answer>"))]);
    let mut policy = OpenAiPolicy::new(Arc::new(OpenAiClient::new(config(&s.url)).expect("client")));
    let img = ImageBuf::derived(RgbImage::from_pixel(40, 30, Rgb([9, 9, 9])), "x.png");
    let input = EpisodeInput { id: "x".into(), images: vec![Arc::new(img)] };
    let t = run_episode(&mut policy, &mut NoneExecutor, input, &AgentConfig::default_config(), Arc::new(Registry::new()), &mut NoArtifacts);
    assert_eq!(t.stats.format_errors, 1);
    assert!(!t.verdict.forced);
    assert_eq!(t.verdict.label, VerdictLabel::Tampered);
    assert_eq!(t.verdict.bbox, Some([1, 2, 20, 20]));
    let reqs = s.requests.lock().expect("log");
    assert_eq!(reqs.len(), 2);
    // The second request carries the model's first message and the feedback on it.
    let msgs = reqs[1].1["messages"].as_array().expect("messages");
    assert_eq!(msgs[msgs.len() - 2]["content"], "I think it is fine.");
    let feedback = msgs[msgs.len() - 1].to_string();
    assert!(feedback.contains("no action found"), "{feedback}");
}

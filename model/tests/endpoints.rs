//! Several endpoints behind one client: balancing by requests in flight, the
//! per-endpoint cap, failing endpoints taken out and back after a cool-down,
//! waiting when all are down, and episodes that do not block each other.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use serde_json::json;
use support::mock_server::{dead_url, MockServer, Mode};
use trutheye_core::{Conversation, ImageBuf, Policy, ReplyLimits, Role};
use trutheye_model::{OpenAiClient, OpenAiConfig, OpenAiPolicy};

fn config(urls: Vec<String>) -> OpenAiConfig {
    OpenAiConfig { endpoints: urls, model: "m".into(), api_key_env: None, backoff_ms: 10, timeout_s: 5.0, cooldown_s: 0.4, max_cooldown_s: 2.0, ..OpenAiConfig::default() }
}

fn servers(n: usize, latency_ms: u64) -> Vec<MockServer> {
    (0..n).map(|_| MockServer::start(Duration::from_millis(latency_ms), 0)).collect()
}

fn urls(s: &[MockServer]) -> Vec<String> {
    s.iter().map(|s| s.url.clone()).collect()
}

/// `threads` threads each sending `each` requests; panics on any failure.
fn hammer(client: &Arc<OpenAiClient>, threads: usize, each: usize) {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let c = client.clone();
            thread::spawn(move || (0..each).for_each(|_| drop(c.complete(&json!({"messages": []})).expect("request succeeds"))))
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().expect("thread"));
}

#[test]
fn sequential_requests_go_round_robin() {
    let s = servers(4, 0);
    let client = Arc::new(OpenAiClient::new(config(urls(&s))).expect("client"));
    hammer(&client, 1, 8);
    assert_eq!(s.iter().map(MockServer::requests).collect::<Vec<_>>(), vec![2, 2, 2, 2]);
    let stats = client.endpoint_stats();
    assert!(stats.iter().all(|e| e.requests == 2 && e.failures == 0 && e.healthy), "{stats:?}");
    assert!(stats[0].url.ends_with("/v1/chat/completions"), "{stats:?}");
}

#[test]
fn concurrent_load_is_spread_by_requests_in_flight() {
    let s = servers(4, 40);
    let client = Arc::new(OpenAiClient::new(config(urls(&s))).expect("client"));
    hammer(&client, 16, 6);
    let counts: Vec<usize> = s.iter().map(MockServer::requests).collect();
    assert_eq!(counts.iter().sum::<usize>(), 96);
    // Fewest-in-flight keeps every endpoint near a quarter of the load.
    assert!(counts.iter().all(|&c| (16..=32).contains(&c)), "{counts:?}");
}

#[test]
fn the_per_endpoint_cap_is_never_exceeded() {
    let s = servers(2, 100);
    let cfg = OpenAiConfig { endpoint_concurrency: 2, ..config(urls(&s)) };
    let client = Arc::new(OpenAiClient::new(cfg).expect("client"));
    let started = Instant::now();
    hammer(&client, 10, 2);
    // 20 requests, 4 at a time, 100 ms each: at least 5 rounds.
    assert!(started.elapsed() >= Duration::from_millis(490), "{:?}", started.elapsed());
    assert_eq!(s.iter().map(MockServer::max_active).collect::<Vec<_>>(), vec![2, 2]);
    assert_eq!(s.iter().map(MockServer::requests).sum::<usize>(), 20);
}

#[test]
fn failing_endpoints_are_taken_out_and_come_back_after_their_cooldown() {
    let s = servers(3, 0);
    s[1].set_mode(Mode::Error);
    s[2].set_mode(Mode::Drop);
    let mut all = urls(&s);
    all.push(dead_url());
    let cfg = OpenAiConfig { cooldown_s: 1.0, max_cooldown_s: 4.0, ..config(all) };
    let client = Arc::new(OpenAiClient::new(cfg).expect("client"));
    // Every request succeeds; each bad endpoint costs one attempt, then is out.
    hammer(&client, 1, 12);
    let (error, dropped) = (s[1].requests(), s[2].requests());
    assert_eq!((error, dropped), (1, 1));
    let stats = client.endpoint_stats();
    assert_eq!(stats.iter().map(|e| e.failures).collect::<Vec<_>>(), vec![0, 1, 1, 1], "{stats:?}");
    assert_eq!(stats.iter().map(|e| e.healthy).collect::<Vec<_>>(), vec![true, false, false, false]);
    assert_eq!(stats.iter().map(|e| e.requests).sum::<u64>(), 15);

    // The 500 one recovers; after the cool-down a probe finds it and it is used again.
    s[1].set_mode(Mode::Ok);
    thread::sleep(Duration::from_millis(1100));
    hammer(&client, 1, 8);
    let stats = client.endpoint_stats();
    assert!(s[1].requests() >= 3, "{stats:?}");
    assert!(stats[1].healthy && stats[1].failures == 1, "{stats:?}");
    // The others were probed once more, failed, and are out for twice as long.
    assert_eq!((stats[2].failures, stats[3].failures), (2, 2), "{stats:?}");
    assert!(!stats[2].healthy && !stats[3].healthy);
}

#[test]
fn when_all_are_down_a_request_waits_for_the_earliest_cooldown() {
    let s = servers(2, 0);
    s.iter().for_each(|s| s.set_mode(Mode::Error));
    let cfg = OpenAiConfig { max_retries: 6, cooldown_s: 0.4, ..config(urls(&s)) };
    let client = OpenAiClient::new(cfg).expect("client");
    let first = Arc::new(s);
    let fix = first.clone();
    let started = Instant::now();
    let healer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        fix[0].set_mode(Mode::Ok);
    });
    let c = client.complete(&json!({})).expect("succeeds once the first endpoint is back");
    assert!(c.text.starts_with("<answer>"), "{}", c.text);
    healer.join().expect("healer");
    // First try on 0, the retry at once on 1, then a wait for 0's cool-down.
    assert!(started.elapsed() >= Duration::from_millis(380), "{:?}", started.elapsed());
    assert_eq!((first[0].requests(), first[1].requests()), (2, 1));

    // Down for good: the retry budget still ends it, with the last error.
    let s = servers(2, 0);
    s.iter().for_each(|s| s.set_mode(Mode::Error));
    let cfg = OpenAiConfig { max_retries: 2, cooldown_s: 0.05, ..config(urls(&s)) };
    let e = OpenAiClient::new(cfg).expect("client").complete(&json!({})).unwrap_err().to_string();
    assert!(e.contains("HTTP 500") && e.contains("after 3 attempts"), "{e}");
}

#[test]
fn episodes_model_calls_do_not_block_each_other() {
    let s = servers(1, 200);
    let client = Arc::new(OpenAiClient::new(config(urls(&s))).expect("client"));
    let img = Arc::new(ImageBuf::derived(RgbImage::from_pixel(40, 30, Rgb([9, 9, 9])), "x.png"));
    let started = Instant::now();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (client, img) = (client.clone(), img.clone());
            thread::spawn(move || {
                let mut c = Conversation::default();
                c.push(Role::User, "Is this image authentic?", vec![img]);
                OpenAiPolicy::new(client).next(&c, ReplyLimits { max_tokens: 16 }).expect("reply")
            })
        })
        .collect();
    handles.into_iter().for_each(|h| assert!(h.join().expect("thread").raw.ends_with(b"</answer>")));
    // Sixteen 200 ms calls at once take about 200 ms, not 3.2 s.
    assert!(started.elapsed() < Duration::from_millis(1200), "{:?}", started.elapsed());
    assert!(s[0].max_active() >= 12, "{}", s[0].max_active());
}

#[test]
fn bad_endpoint_lists_are_refused_naming_the_url() {
    let e = OpenAiClient::new(config(vec!["http://a:1/v1".into(), "localhost:8000/v1".into()])).err().expect("refused").to_string();
    assert!(e.contains("`localhost:8000/v1`") && e.contains("http://"), "{e}");
    let e = OpenAiClient::new(config(vec!["http://a:1/v1".into(), "http://a:1/v1/".into()])).err().expect("refused").to_string();
    assert!(e.contains("listed twice"), "{e}");
    let e = OpenAiClient::new(config(vec!["http:// spaced/v1".into()])).err().expect("refused").to_string();
    assert!(e.contains("`http:// spaced/v1`"), "{e}");
    let e = OpenAiClient::new(OpenAiConfig { endpoint_concurrency: 0, ..config(vec!["http://a:1/v1".into()]) }).err().expect("refused").to_string();
    assert!(e.contains("endpoint_concurrency"), "{e}");
    // Old configs (one `endpoint`, no new keys) still parse and use it.
    let old: OpenAiConfig = toml::from_str("endpoint = \"http://h:9/v1\"\nmodel = \"m\"").expect("old config");
    assert_eq!(old.urls(), vec!["http://h:9/v1/chat/completions".to_string()]);
}

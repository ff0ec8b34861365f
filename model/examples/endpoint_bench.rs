//! Throughput of `--policy openai` over several endpoints, against local mock
//! servers that answer after a fixed latency with a fixed capacity each.
//!
//! For every E endpoints and K concurrent episodes, K threads each run
//! `--rounds` episodes of `--calls` sequential model calls through the real
//! `OpenAiClient` / `OpenAiPolicy`; printed: episodes/s, requests/s, and the
//! ideal min(K, E·C, E·cap)/L requests/s (C: mock capacity, cap: the client's
//! per-endpoint concurrency, L: latency).
//!
//! ```text
//! cargo run --release -p trutheye-model --example endpoint_bench -- \
//!     [--latency-ms 200] [--capacity 8] [--calls 4] [--rounds 2] \
//!     [--endpoints 1,2,4] [--episodes 1,2,4,8,16,32,64] [--endpoint-concurrency 32] [--json]
//! ```

#[path = "../tests/support/mock_server.rs"]
mod mock_server;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use mock_server::MockServer;
use serde_json::json;
use trutheye_core::{Conversation, ImageBuf, Policy, ReplyLimits, Role};
use trutheye_model::{OpenAiClient, OpenAiConfig, OpenAiPolicy};

struct Opts {
    latency_ms: u64,
    capacity: usize,
    calls: usize,
    rounds: usize,
    endpoints: Vec<usize>,
    episodes: Vec<usize>,
    cap: usize,
    json: bool,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts { latency_ms: 200, capacity: 8, calls: 4, rounds: 2, endpoints: vec![1, 2, 4], episodes: vec![1, 2, 4, 8, 16, 32, 64], cap: 32, json: false };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--json" {
            o.json = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("{flag} `{v}`: {e}"));
        let list = |v: &str| v.split(',').map(num).collect::<Result<Vec<_>, _>>();
        match flag.as_str() {
            "--latency-ms" => o.latency_ms = num(&value)? as u64,
            "--capacity" => o.capacity = num(&value)?,
            "--calls" => o.calls = num(&value)?.max(1),
            "--rounds" => o.rounds = num(&value)?.max(1),
            "--endpoints" => o.endpoints = list(&value)?,
            "--episodes" => o.episodes = list(&value)?,
            "--endpoint-concurrency" => o.cap = num(&value)?.max(1),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

/// One episode: `calls` model turns, each answered and fed back an observation.
fn episode(client: &Arc<OpenAiClient>, image: &Arc<ImageBuf>, calls: usize) -> Result<(), String> {
    let mut policy = OpenAiPolicy::new(client.clone());
    let mut c = Conversation::default();
    c.push(Role::System, "You are a forensic analyst.", vec![]);
    c.push(Role::User, "Is this image authentic?", vec![image.clone()]);
    for turn in 0..calls {
        let reply = policy.next(&c, ReplyLimits { max_tokens: 64 }).map_err(|e| e.0)?;
        c.push(Role::Assistant, String::from_utf8_lossy(&reply.raw).into_owned(), vec![]);
        c.push(Role::User, format!("observation {turn}"), vec![]);
    }
    Ok(())
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("endpoint_bench: {e}");
            std::process::exit(2);
        }
    };
    let latency = Duration::from_millis(o.latency_ms);
    let image = Arc::new(ImageBuf::derived(RgbImage::from_pixel(64, 48, Rgb([120, 80, 40])), "x.png"));
    let mut rows = Vec::new();
    if !o.json {
        println!("mock: latency {} ms, capacity {} per endpoint; {} calls per episode, {} episodes per thread; client cap {} per endpoint", o.latency_ms, o.capacity, o.calls, o.rounds, o.cap);
        println!("{:>9} {:>8} {:>10} {:>10} {:>12} {:>10} {:>6}", "endpoints", "episodes", "episodes/s", "requests/s", "ideal req/s", "ideal ep/s", "eff.");
    }
    for &e in &o.endpoints {
        let servers: Vec<MockServer> = (0..e).map(|_| MockServer::start(latency, o.capacity)).collect();
        let cfg = OpenAiConfig { endpoints: servers.iter().map(|s| s.url.clone()).collect(), model: "m".into(), api_key_env: None, endpoint_concurrency: o.cap, ..OpenAiConfig::default() };
        let client = match OpenAiClient::new(cfg) {
            Ok(c) => Arc::new(c),
            Err(err) => {
                eprintln!("endpoint_bench: {err}");
                std::process::exit(1);
            }
        };
        for &k in &o.episodes {
            let started = Instant::now();
            let handles: Vec<_> = (0..k)
                .map(|_| {
                    let (client, image) = (client.clone(), image.clone());
                    let (calls, rounds) = (o.calls, o.rounds);
                    thread::spawn(move || (0..rounds).try_for_each(|_| episode(&client, &image, calls)))
                })
                .collect();
            let mut failed = 0;
            for h in handles {
                match h.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        failed += 1;
                        eprintln!("endpoint_bench: an episode failed: {err}");
                    }
                    Err(_) => failed += 1,
                }
            }
            let secs = started.elapsed().as_secs_f64();
            let episodes = (k * o.rounds) as f64;
            let requests = episodes * o.calls as f64;
            let ideal = k.min(e * o.capacity.max(1)).min(e * o.cap) as f64 / latency.as_secs_f64().max(1e-9);
            let (eps, rps) = (episodes / secs, requests / secs);
            if o.json {
                rows.push(json!({"endpoints": e, "episodes": k, "episodes_per_s": eps, "requests_per_s": rps, "ideal_requests_per_s": ideal, "ideal_episodes_per_s": ideal / o.calls as f64, "efficiency": rps / ideal, "failed": failed, "seconds": secs}));
            } else {
                println!("{e:>9} {k:>8} {eps:>10.2} {rps:>10.1} {ideal:>12.1} {:>10.2} {:>5.0}%{}", ideal / o.calls as f64, 100.0 * rps / ideal, if failed > 0 { format!("  ({failed} failed)") } else { String::new() });
            }
        }
    }
    if o.json {
        let out = json!({"latency_ms": o.latency_ms, "capacity": o.capacity, "calls_per_episode": o.calls, "episodes_per_thread": o.rounds, "endpoint_concurrency": o.cap, "rows": rows});
        println!("{out}");
    }
}

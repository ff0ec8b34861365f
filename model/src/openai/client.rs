//! The HTTP side: one shared connection pool, timeouts, retries with
//! exponential backoff on timeouts, connection errors, 429 and 5xx, and
//! balancing over several endpoints (`pool`).

use crate::ModelError;
use std::time::Duration;

use serde_json::Value;

use super::config::OpenAiConfig;
use super::messages::{excerpt, parse_completion, Completion};
use super::pool::{EndpointStats, Pool};

/// A client for one or more endpoints; cheap to share between episodes (`Arc`),
/// so N parallel episodes make N concurrent requests over one connection pool,
/// spread over the endpoints (at most `endpoint_concurrency` on each).
pub struct OpenAiClient {
    cfg: OpenAiConfig,
    agent: ureq::Agent,
    api_key: Option<String>,
    pool: Pool,
}

/// Why one attempt failed, and whether another may succeed.
struct Attempt {
    message: String,
    retry: bool,
    retry_after: Option<Duration>,
}

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl OpenAiClient {
    /// A client for `cfg` (validated here); the API key is read once.
    pub fn new(cfg: OpenAiConfig) -> Result<Self, ModelError> {
        cfg.validate()?;
        let urls = cfg.urls();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(cfg.timeout_s)))
            .timeout_connect(Some(Duration::from_secs_f64(cfg.connect_timeout_s)))
            .http_status_as_error(false)
            .max_idle_connections_per_host(cfg.endpoint_concurrency)
            .max_idle_connections(cfg.endpoint_concurrency.saturating_mul(urls.len()))
            .build()
            .into();
        let api_key = cfg.api_key();
        let pool = Pool::new(urls, cfg.endpoint_concurrency, Duration::from_secs_f64(cfg.cooldown_s), Duration::from_secs_f64(cfg.max_cooldown_s));
        Ok(Self { cfg, agent, api_key, pool })
    }

    /// Requests, failures and health of each endpoint so far.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.pool.stats()
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.cfg
    }

    /// Posts `body` to `/chat/completions`, retrying as configured.
    pub fn complete(&self, body: &Value) -> Result<Completion, ModelError> {
        let payload = serde_json::to_vec(body).map_err(|e| ModelError::Server(format!("cannot serialize the request: {e}")))?;
        let mut backoff = Duration::from_millis(self.cfg.backoff_ms);
        let cap = backoff * 16;
        let mut attempt = 0u32;
        let mut avoid = None;
        loop {
            attempt += 1;
            let lease = self.pool.acquire(avoid);
            let (url, index) = (lease.url().to_string(), lease.index());
            let failed = match self.attempt(&url, &payload) {
                Ok(c) => {
                    lease.answered();
                    return Ok(c);
                }
                Err(f) => f,
            };
            if failed.retry {
                lease.failed(failed.retry_after);
            } else {
                lease.answered();
            }
            if !failed.retry || attempt > self.cfg.max_retries {
                let tries = if attempt > 1 { format!(" (after {attempt} attempts)") } else { String::new() };
                return Err(ModelError::Server(format!("{url}: {}{tries}", failed.message)));
            }
            // Another healthy endpoint takes the retry at once; otherwise back off
            // (and the pool waits for the earliest cool-down).
            let wait = if self.pool.other_healthy(index) { Duration::ZERO } else { failed.retry_after.unwrap_or(backoff).min(MAX_RETRY_AFTER) };
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, "{url}: {}; retrying", failed.message);
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(cap);
            avoid = Some(index);
        }
    }

    fn attempt(&self, url: &str, payload: &[u8]) -> Result<Completion, Attempt> {
        let mut req = self.agent.post(url).header("Content-Type", "application/json");
        if let Some(k) = &self.api_key {
            req = req.header("Authorization", &format!("Bearer {k}"));
        }
        let mut resp = req.send(payload).map_err(|e| Attempt { message: transport_message(&e), retry: true, retry_after: None })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let text = resp.body_mut().read_to_string().map_err(|e| Attempt { message: format!("reading the reply: {}", transport_message(&e)), retry: true, retry_after: None })?;
        if !(200..300).contains(&status) {
            let retry = status == 429 || status >= 500;
            return Err(Attempt { message: format!("HTTP {status}: {}", excerpt(&text)), retry, retry_after });
        }
        parse_completion(&text, &self.cfg.stop).map_err(|e| Attempt { message: e.to_string(), retry: false, retry_after: None })
    }
}

fn transport_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        other => other.to_string(),
    }
}

impl Drop for OpenAiClient {
    /// Reports what each endpoint saw (`-v`), e.g. at the end of an eval run.
    fn drop(&mut self) {
        for s in self.pool.stats().iter().filter(|s| s.requests > 0) {
            tracing::info!(endpoint = %s.url, requests = s.requests, failures = s.failures, healthy = s.healthy, "endpoint stats");
        }
    }
}

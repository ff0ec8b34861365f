//! Settings of the OpenAI-compatible backend (`--policy openai`).

use crate::ModelError;
use serde::{Deserialize, Serialize};

/// How to reach and drive an OpenAI-compatible `/v1/chat/completions` server
/// (vLLM, SGLang, llama.cpp server, OpenAI itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1` (`http://localhost:8000/v1`); a URL
    /// already ending in `/chat/completions` is used as is. Used when
    /// `endpoints` is empty.
    pub endpoint: String,
    /// Several base URLs serving the same model (replaces `endpoint` when not
    /// empty): each request goes to the healthy one with the fewest requests in
    /// flight; one that fails is taken out for a cool-down (see `pool`).
    pub endpoints: Vec<String>,
    /// Most requests in flight to one endpoint; more wait for a free slot.
    pub endpoint_concurrency: usize,
    /// Seconds an endpoint that failed (connection error, timeout, 429, 5xx) is
    /// left out, with two or more endpoints; doubled per failure in a row.
    pub cooldown_s: f64,
    /// Longest cool-down, in seconds.
    pub max_cooldown_s: f64,
    /// The served model name.
    pub model: String,
    /// Name of the environment variable holding the API key (the key itself never
    /// goes in a config file); unset or empty variable: no `Authorization` header.
    pub api_key_env: Option<String>,
    /// Seconds one request may take, end to end.
    pub timeout_s: f64,
    /// Seconds to connect.
    pub connect_timeout_s: f64,
    /// Retries after the first attempt, on timeouts, connection errors, 429 and 5xx.
    pub max_retries: u32,
    /// First backoff in milliseconds; doubled per retry, capped at 16×, and
    /// replaced by the server's `Retry-After` when it sends one (capped at 60 s).
    pub backoff_ms: u64,
    /// Sampling temperature (0 = greedy).
    pub temperature: f64,
    /// Nucleus sampling, when set.
    pub top_p: Option<f64>,
    /// Seed for servers that support seeded sampling (vLLM does).
    pub seed: Option<u64>,
    /// Stop strings: generation ends after an action, as in the seeds' loops.
    /// Servers drop the stop string from the reply; it is put back (see `client`).
    pub stop: Vec<String>,
    /// Images are downscaled to at most this many pixels before sending (the
    /// `max_pixels` Qwen2.5-VL servers are usually run with: 1280·28·28), so
    /// requests stay small; 0 sends them as they are.
    pub max_image_pixels: u64,
    /// Role of observation messages: `user` (works with every chat template,
    /// images included) or `tool`.
    pub observation_role: String,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://localhost:8000/v1".into(),
            endpoints: Vec::new(),
            endpoint_concurrency: 32,
            cooldown_s: 1.0,
            max_cooldown_s: 30.0,
            model: String::new(),
            api_key_env: Some("OPENAI_API_KEY".into()),
            timeout_s: 300.0,
            connect_timeout_s: 10.0,
            max_retries: 4,
            backoff_ms: 500,
            temperature: 0.0,
            top_p: None,
            seed: None,
            stop: vec!["</code>".into(), "</tool_call>".into(), "</answer>".into()],
            max_image_pixels: 1280 * 28 * 28,
            observation_role: "user".into(),
        }
    }
}

impl OpenAiConfig {
    /// The full `/chat/completions` URL of `endpoint`.
    pub fn url(&self) -> String {
        chat_url(&self.endpoint)
    }

    /// The base URLs requests are spread over: `endpoints`, or `endpoint` alone.
    pub fn base_urls(&self) -> Vec<&str> {
        if self.endpoints.is_empty() {
            vec![self.endpoint.as_str()]
        } else {
            self.endpoints.iter().map(String::as_str).collect()
        }
    }

    /// The full `/chat/completions` URL of every endpoint, in order.
    pub fn urls(&self) -> Vec<String> {
        self.base_urls().into_iter().map(chat_url).collect()
    }

    /// Checks what can be checked before the first request.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bases = self.base_urls();
        for (i, base) in bases.iter().enumerate() {
            Self::check_endpoint(base)?;
            if bases[..i].iter().any(|b| chat_url(b) == chat_url(base)) {
                return Err(ModelError::Server(format!("endpoint `{base}` is listed twice")));
            }
        }
        if self.endpoint_concurrency == 0 {
            return Err(ModelError::Server("endpoint_concurrency must be at least 1".to_string()));
        }
        if !(self.cooldown_s.is_finite() && self.cooldown_s > 0.0 && self.max_cooldown_s.is_finite() && self.max_cooldown_s >= self.cooldown_s) {
            return Err(ModelError::Server("cool-downs must be positive, with max_cooldown_s >= cooldown_s".to_string()));
        }
        if self.model.trim().is_empty() {
            return Err(ModelError::Server("no model name: pass --model NAME (the name the server serves)".to_string()));
        }
        if !(self.timeout_s > 0.0 && self.connect_timeout_s > 0.0) {
            return Err(ModelError::Server("timeouts must be positive".to_string()));
        }
        if !matches!(self.observation_role.as_str(), "user" | "tool") {
            return Err(ModelError::Server(format!("observation_role `{}` must be `user` or `tool`", self.observation_role)));
        }
        Ok(())
    }

    /// Checks one endpoint URL: `http(s)://host[:port]/path`, or an error naming it.
    pub fn check_endpoint(url: &str) -> Result<(), ModelError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ModelError::Server(format!("endpoint `{url}` must start with http:// or https://")));
        }
        match url.parse::<ureq::http::Uri>() {
            Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => Ok(()),
            Ok(_) => Err(ModelError::Server(format!("endpoint `{url}` has no host"))),
            Err(e) => Err(ModelError::Server(format!("endpoint `{url}` is not a valid URL: {e}"))),
        }
    }

    /// The API key, read from the named environment variable.
    pub fn api_key(&self) -> Option<String> {
        let var = self.api_key_env.as_deref()?;
        std::env::var(var).ok().filter(|k| !k.trim().is_empty())
    }
}

/// `base` + `/chat/completions`, unless it already ends so.
fn chat_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_string()
    } else {
        format!("{base}/chat/completions")
    }
}

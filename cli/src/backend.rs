//! Flags of model backends (OpenAI-compatible servers; `--model`, sampling and
//! seed are shared with the in-process `--policy qwen25vl`), used by `analyze` and `eval`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use trutheye_model::{OpenAiClient, OpenAiConfig};

/// `--policy openai`: an OpenAI-compatible `/v1/chat/completions` server.
#[derive(Args, Debug, Clone, Default)]
pub struct OpenAiArgs {
    /// Server base URL, e.g. http://localhost:8000/v1 (vLLM, SGLang, llama.cpp server).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Model name as the server serves it (openai), or a Qwen2.5-VL checkpoint directory (qwen25vl).
    #[arg(long, value_name = "NAME|DIR")]
    pub model: Option<String>,
    /// Environment variable holding the API key (default OPENAI_API_KEY; unset: no key).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// TOML with any OpenAI backend setting (timeouts, retries, sampling, stop strings); flags override it.
    #[arg(long, value_name = "FILE")]
    pub openai_config: Option<PathBuf>,
    /// Sampling temperature (default 0: greedy).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass, with --temperature > 0 (default: off).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,
    /// Sampling seed (qwen25vl; servers that honour it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds one request may take (default 300).
    #[arg(long, value_name = "SECS")]
    pub request_timeout: Option<f64>,
}

impl OpenAiArgs {
    /// The client the flags describe (one per run: episodes share its connections);
    /// `stop`, a preset's stop strings, replaces the backend's.
    pub fn client(&self, stop: Option<&[String]>) -> Result<Arc<OpenAiClient>> {
        let mut cfg = match &self.openai_config {
            Some(p) => {
                let text = trutheye_core::input::read_text_bounded(p, trutheye_core::input::MAX_TEXT_BYTES).map_err(|e| anyhow::anyhow!("{e}"))?;
                toml::from_str::<OpenAiConfig>(&text).map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message().trim()))?
            }
            None => OpenAiConfig::default(),
        };
        if let Some(stop) = stop {
            cfg.stop = stop.to_vec();
        }
        if let Some(e) = &self.endpoint {
            cfg.endpoint = e.clone();
        }
        if let Some(m) = &self.model {
            cfg.model = m.clone();
        }
        if let Some(v) = &self.api_key_env {
            cfg.api_key_env = Some(v.clone());
        }
        if let Some(t) = self.temperature {
            cfg.temperature = t;
        }
        if self.top_p.is_some() {
            cfg.top_p = self.top_p;
        }
        if self.seed.is_some() {
            cfg.seed = self.seed;
        }
        if let Some(t) = self.request_timeout {
            cfg.timeout_s = t;
        }
        OpenAiClient::new(cfg).map(Arc::new).map_err(|e| anyhow::anyhow!("--policy openai: {e}"))
    }
}

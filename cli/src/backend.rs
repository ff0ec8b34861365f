//! Flags of model backends (OpenAI-compatible servers; `--model`, sampling and
//! seed are shared with the in-process `--policy qwen25vl`), used by `analyze` and `eval`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{ArgAction, Args};
use trutheye_model::{OpenAiClient, OpenAiConfig};

/// `--policy openai`: an OpenAI-compatible `/v1/chat/completions` server.
#[derive(Args, Debug, Clone, Default)]
pub struct OpenAiArgs {
    /// Server base URL, e.g. http://localhost:8000/v1 (vLLM, SGLang, llama.cpp server).
    /// Repeat it for several servers of the same model: each request goes to the
    /// healthy one with the fewest requests in flight; one that fails (connection
    /// error, timeout, 429, 5xx) is left out for a cool-down (1 s, doubling to 30 s)
    /// and its requests retried on the others.
    #[arg(long, value_name = "URL", action = ArgAction::Append)]
    pub endpoint: Vec<String>,
    /// File of endpoint base URLs, one per line (`#` starts a comment), added to --endpoint.
    #[arg(long, value_name = "FILE")]
    pub endpoints_file: Option<PathBuf>,
    /// Most requests in flight to one endpoint (default 32); more episodes wait for a free slot.
    #[arg(long, value_name = "N")]
    pub endpoint_concurrency: Option<usize>,
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
        let endpoints = self.endpoints()?;
        if let Some(first) = endpoints.first() {
            cfg.endpoint = first.clone();
            cfg.endpoints = if endpoints.len() > 1 { endpoints } else { Vec::new() };
        }
        if let Some(n) = self.endpoint_concurrency {
            cfg.endpoint_concurrency = n;
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

impl OpenAiArgs {
    /// The `--endpoint` URLs, then those of `--endpoints-file`, each checked
    /// (an error names the bad one and where it came from).
    fn endpoints(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for url in &self.endpoint {
            OpenAiConfig::check_endpoint(url.trim()).map_err(|e| anyhow::anyhow!("--endpoint: {e}"))?;
            out.push(url.trim().to_string());
        }
        if let Some(p) = &self.endpoints_file {
            let text = trutheye_core::input::read_text_bounded(p, trutheye_core::input::MAX_TEXT_BYTES).map_err(|e| anyhow::anyhow!("{e}"))?;
            let before = out.len();
            for (n, line) in text.lines().enumerate() {
                let url = line.split('#').next().unwrap_or("").trim();
                if url.is_empty() {
                    continue;
                }
                OpenAiConfig::check_endpoint(url).map_err(|e| anyhow::anyhow!("{} line {}: {e}", p.display(), n + 1))?;
                out.push(url.to_string());
            }
            if out.len() == before {
                bail!("{}: no endpoint URLs in it (one per line, `#` comments)", p.display());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        openai: OpenAiArgs,
    }

    fn parse(args: &[&str]) -> OpenAiArgs {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).expect("flags parse").openai
    }

    #[test]
    fn endpoints_come_from_repeated_flags_and_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("endpoints.txt");
        std::fs::write(&file, "# the cluster\nhttp://gpu2:8000/v1   # second\n\n  https://gpu3/v1\n").expect("write");
        let a = parse(&["--endpoint", "http://gpu1:8000/v1", "--endpoints-file", file.to_str().expect("utf-8"), "--model", "m", "--endpoint-concurrency", "4"]);
        let client = a.client(None).expect("client");
        assert_eq!(client.config().endpoints, ["http://gpu1:8000/v1", "http://gpu2:8000/v1", "https://gpu3/v1"]);
        assert_eq!(client.config().endpoint_concurrency, 4);
        // One --endpoint: the single-endpoint setting, as before.
        let one = parse(&["--endpoint", "http://h:1/v1", "--model", "m"]).client(None).expect("client");
        assert_eq!((one.config().endpoint.as_str(), one.config().endpoints.len()), ("http://h:1/v1", 0));
    }

    #[test]
    fn a_bad_url_is_named_with_where_it_came_from() {
        let e = parse(&["--endpoint", "http://ok/v1", "--endpoint", "gpu2:8000/v1", "--model", "m"]).client(None).err().expect("refused");
        assert!(format!("{e}").contains("--endpoint: endpoint `gpu2:8000/v1` must start with http://"), "{e}");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("e.txt");
        std::fs::write(&file, "http://ok/v1\nhttp://bad host/v1\n").expect("write");
        let e = parse(&["--endpoints-file", file.to_str().expect("utf-8"), "--model", "m"]).client(None).err().expect("refused");
        assert!(format!("{e}").contains("e.txt line 2: endpoint `http://bad host/v1`"), "{e}");
        std::fs::write(&file, "# nothing\n").expect("write");
        let e = parse(&["--endpoints-file", file.to_str().expect("utf-8"), "--model", "m"]).client(None).err().expect("refused");
        assert!(format!("{e}").contains("no endpoint URLs"), "{e}");
    }
}

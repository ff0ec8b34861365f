//! `--policy qwen25vl`: Qwen2.5-VL run in this process (candle), shared by
//! `analyze`, `eval` and `model check|bench`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use trutheye_model::qwen25vl::{GenerationConfig, LoadOptions};
use trutheye_model::{Qwen25Vl, Qwen25VlPolicy};

use trutheye_core::Strategy;
use crate::backend::OpenAiArgs;

/// Weight dtype of a local model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    /// 32-bit floats (what the agreement tests check).
    #[default]
    F32,
    /// bfloat16 (half the memory; logits drift by about a percent).
    Bf16,
}

impl DtypeArg {
    /// Candle's dtype.
    pub fn dtype(self) -> candle_core::DType {
        match self {
            DtypeArg::F32 => candle_core::DType::F32,
            DtypeArg::Bf16 => candle_core::DType::BF16,
        }
    }

    /// `f32` or `bf16`.
    pub fn as_str(self) -> &'static str {
        match self {
            DtypeArg::F32 => "f32",
            DtypeArg::Bf16 => "bf16",
        }
    }
}

/// Where a local model runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// The CPU (threads: RAYON_NUM_THREADS, default all cores).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

impl DeviceArg {
    /// `cpu` or `cuda`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
        }
    }

    /// The candle device, or a clear error when this build has no CUDA.
    pub fn device(self) -> Result<candle_core::Device> {
        match self {
            DeviceArg::Cpu => Ok(candle_core::Device::Cpu),
            DeviceArg::Cuda => cuda_device(),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<candle_core::Device> {
    candle_core::Device::new_cuda(0).map_err(|e| anyhow::anyhow!("--device cuda: cannot open CUDA device 0: {e}"))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<candle_core::Device> {
    bail!("--device cuda: this trutheye was built without CUDA; rebuild with `cargo build --release -p trutheye --features cuda` (needs the CUDA toolkit)")
}

/// Flags of a model run in this process (`--policy qwen25vl`); `--model DIR`,
/// `--temperature`, `--top-p` and `--seed` are shared with `--policy openai`.
#[derive(Args, Debug, Clone, Default)]
pub struct LocalModelArgs {
    /// Weight dtype (qwen25vl).
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
    /// Where the model runs (qwen25vl): cpu, or cuda in a build with the `cuda` feature.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// LoRA adapters to apply (qwen25vl): the `adapter.safetensors` of a `trutheye train sft|grpo` run.
    #[arg(long, value_name = "FILE")]
    pub adapter: Option<std::path::PathBuf>,
    /// Most new tokens per message (qwen25vl; also capped by the config's max_output_tokens).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_new_tokens: usize,
    /// Top-k sampling (qwen25vl, with --temperature > 0; 0: off).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Repetition penalty (qwen25vl; 1.0: off).
    #[arg(long, value_name = "X")]
    pub repetition_penalty: Option<f32>,
    /// Print the model's tokens to stderr as they are generated (qwen25vl).
    #[arg(long)]
    pub stream: bool,
}

/// Loads a Qwen2.5-VL checkpoint directory; every failure is one line naming the file.
pub fn load_model(dir: &Path, dtype: DtypeArg, device: DeviceArg, adapter: Option<&Path>) -> Result<Arc<Qwen25Vl>> {
    let device = device.device()?;
    if !dir.exists() {
        bail!("--model {}: no such directory (expected a Qwen2.5-VL checkpoint directory)", dir.display());
    }
    if !dir.is_dir() {
        bail!("--model {}: not a directory (expected a Qwen2.5-VL checkpoint directory)", dir.display());
    }
    let config = dir.join("config.json");
    if !config.is_file() {
        bail!("--model {}: no config.json in it ({} is missing): not a Hugging Face checkpoint directory", dir.display(), config.display());
    }
    let t0 = std::time::Instant::now();
    let mut model = Qwen25Vl::load(dir, &LoadOptions { device, dtype: dtype.dtype() })
        .map_err(|e| anyhow::anyhow!("--model {}: cannot load the checkpoint: {}", dir.display(), e.to_string().trim().replace('\n', "; ")))?;
    if let Some(a) = adapter {
        let n = trutheye_model::qwen25vl::load_adapters(&mut model, a).map_err(|e| anyhow::anyhow!("--adapter {}: {e}", a.display()))?;
        tracing::info!(adapter = %a.display(), projections = n, "LoRA adapters applied");
    }
    tracing::info!(dir = %dir.display(), dtype = dtype.as_str(), secs = t0.elapsed().as_secs_f64(), "model loaded");
    Ok(Arc::new(model))
}

/// A loaded model plus the sampling settings of this run: policies for any
/// strategy are made from it (each episode gets its own, sharing the weights).
#[derive(Clone)]
pub struct LocalModel {
    /// The weights.
    pub model: Arc<Qwen25Vl>,
    /// Sampling settings (stop strings are set per strategy).
    pub generation: GenerationConfig,
    /// Stream tokens to stderr.
    pub stream: bool,
    /// Stop strings that replace the strategy's (a preset's `[generation] stop`).
    pub stop: Option<Vec<String>>,
}

impl LocalModel {
    /// Loads `--model DIR` with the flags' settings.
    pub fn from_args(openai: &OpenAiArgs, local: &LocalModelArgs) -> Result<Self> {
        let Some(dir) = openai.model.as_deref() else { bail!("--policy qwen25vl needs --model DIR (a Qwen2.5-VL checkpoint directory)") };
        if local.max_new_tokens == 0 {
            bail!("--max-new-tokens must be at least 1");
        }
        if let Some(p) = openai.top_p {
            if !(p > 0.0 && p <= 1.0) {
                bail!("--top-p must be in (0, 1], got {p}");
            }
        }
        let temperature = openai.temperature.unwrap_or(0.0);
        if temperature < 0.0 || !temperature.is_finite() {
            bail!("--temperature must be 0 (greedy) or positive, got {temperature}");
        }
        let model = load_model(Path::new(dir), local.dtype, local.device, local.adapter.as_deref())?;
        let generation = GenerationConfig {
            max_new_tokens: local.max_new_tokens,
            temperature,
            top_p: openai.top_p.unwrap_or(1.0),
            top_k: local.top_k.unwrap_or(0),
            repetition_penalty: local.repetition_penalty.unwrap_or(1.0),
            seed: openai.seed.unwrap_or(0),
            ..GenerationConfig::default()
        };
        Ok(Self { model, generation, stream: local.stream, stop: None })
    }

    /// The same model with a preset's stop strings (`None`: the strategy's).
    pub fn with_stop(mut self, stop: Option<Vec<String>>) -> Self {
        self.stop = stop;
        self
    }

    /// A policy for one episode of `strategy`.
    pub fn policy(&self, strategy: Strategy) -> Qwen25VlPolicy {
        let mut generation = self.generation.clone();
        generation.stop = self.stop.clone().unwrap_or_else(|| strategy.stop_strings());
        let mut p = Qwen25VlPolicy::new(self.model.clone(), generation);
        p.stream = self.stream;
        p
    }
}

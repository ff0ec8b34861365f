//! Qwen2.5-VL in candle: vision tower, M-RoPE language model, the reference
//! preprocessing and chat template, generation, and a [`Policy`] over it.
//!
//! Loaded from a Hugging Face checkpoint directory (`config.json`,
//! `*.safetensors` sharded or not, `tokenizer.json`, `preprocessor_config.json`,
//! the chat template); either tensor-name layout (`visual.*` + `model.*`, or
//! transformers 5's `model.visual.*` + `model.language_model.*`).
//!
//! [`Policy`]: trutheye_core::Policy

mod chat;
mod config;
mod generate;
pub mod kernels;
mod layers;
mod lora;
mod policy;
mod positions;
mod preprocess;
mod resize;
mod sequence;
mod text;
mod vision;
mod weights;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

pub use chat::{ChatMessage, ChatPart, ChatTemplate, Prompt};
pub use config::{PreprocessorConfig, Qwen25VlConfig, TextConfig, VisionConfig};
pub use generate::{GenerationConfig, Generated, StopReason};
pub use layers::{Lora, Proj};
pub use lora::{load_adapters, LoraConfig, LoraSet};
pub use sequence::TrainSequence;
pub use policy::{neutralise_vision_tokens, Qwen25VlPolicy};
pub use positions::mrope_positions;
pub use preprocess::{preprocess, smart_resize, PixelPatches};
pub use resize::resize_bicubic_pil;
pub use text::{KvCache, TextModel};
pub use vision::VisionTower;

pub use crate::error::ModelError;

impl ModelError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }
}

/// Where and how to run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Device.
    pub device: Device,
    /// Weight dtype (f32 or bf16 on CPU).
    pub dtype: DType,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { device: Device::Cpu, dtype: DType::F32 }
    }
}

/// A loaded checkpoint: weights, tokenizer, template, preprocessing.
pub struct Qwen25Vl {
    /// Hyper-parameters.
    pub config: Qwen25VlConfig,
    /// Image preprocessing settings.
    pub preprocessor: PreprocessorConfig,
    /// The vision tower.
    pub vision: VisionTower,
    /// The language model.
    pub text: TextModel,
    /// Tokenizer and chat template.
    pub chat: ChatTemplate,
    /// Device.
    pub device: Device,
    /// Weight dtype.
    pub dtype: DType,
    /// The checkpoint directory.
    pub dir: PathBuf,
}

/// A prompt after the vision tower: embeddings and positions, ready to prefill.
pub struct Prefill {
    /// `[1, len, hidden]`.
    pub embeds: Tensor,
    /// M-RoPE positions.
    pub positions: [Vec<i64>; 3],
    /// Added to the cache length to get decoding positions.
    pub rope_delta: i64,
}

impl Qwen25Vl {
    /// Loads a checkpoint directory.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, ModelError> {
        // Before the weights: their load is the first big churn of buffers.
        kernels::alloc::keep_freed_buffers();
        let config = Qwen25VlConfig::load(dir)?;
        let preprocessor = PreprocessorConfig::load(dir)?;
        let chat = ChatTemplate::load(dir)?;
        let vb = weights::var_builder(dir, opts.dtype, &opts.device)?;
        let layout = weights::Layout::detect(&vb)?;
        let vision = VisionTower::load(&config.vision, vb.pp(layout.vision)).map_err(|e| ModelError::Weights(format!("vision tower: {e}")))?;
        let text = TextModel::load(&config.text, vb.pp(layout.text), vb.pp("lm_head")).map_err(|e| ModelError::Weights(format!("language model: {e}")))?;
        tracing::info!(dir = %dir.display(), layout = layout.text, "loaded Qwen2.5-VL");
        Ok(Self { config, preprocessor, vision, text, chat, device: opts.device.clone(), dtype: opts.dtype, dir: dir.to_path_buf() })
    }

    /// Embeds a tokenized prompt, running the tower on its images and placing
    /// their embeddings on the `<|image_pad|>` tokens.
    pub fn prepare(&self, prompt: &Prompt) -> Result<Prefill, ModelError> {
        let merge = self.config.vision.spatial_merge_size;
        let grids: Vec<[usize; 3]> = prompt.images.iter().map(|p| p.grid_thw).collect();
        let (positions, rope_delta) = mrope_positions(&prompt.ids, self.config.tokens.image, &grids, merge)?;
        let ids = Tensor::new(prompt.ids.as_slice(), &self.device)?;
        let mut embeds = self.text.embed(&ids)?;
        if !prompt.images.is_empty() {
            // The tower is frozen (adapters sit on the language model), so it runs
            // on the fast path and its output is a constant for the loss.
            let image_embeds = self.image_embeds(&prompt.images, false)?.detach();
            embeds = scatter_rows(&embeds, &prompt.ids, self.config.tokens.image, &image_embeds)?;
        }
        Ok(Prefill { embeds: embeds.unsqueeze(0)?, positions, rope_delta })
    }

    /// The tower's output for a batch of preprocessed images `[tokens, hidden]`.
    pub fn image_embeds(&self, images: &[PixelPatches], train: bool) -> Result<Tensor, ModelError> {
        let dim = images.first().map(|p| p.patch_dim).unwrap_or(0);
        let total: usize = images.iter().map(|p| p.values.len() / dim.max(1)).sum();
        let flat: Vec<f32> = images.iter().flat_map(|p| p.values.iter().copied()).collect();
        let pixels = Tensor::from_vec(flat, (total, dim), &self.device)?;
        let grids: Vec<[usize; 3]> = images.iter().map(|p| p.grid_thw).collect();
        Ok(self.vision.forward(&pixels, &grids, train)?)
    }

    /// Logits of the last prompt position (a fresh cache), as f32 `[vocab]`.
    pub fn last_logits(&self, prompt: &Prompt) -> Result<Tensor, ModelError> {
        let p = self.prepare(prompt)?;
        let mut cache = KvCache::new();
        let h = self.text.forward_hidden(&p.embeds, &p.positions, &mut cache, false)?;
        let len = h.dim(1)?;
        Ok(self.text.logits(&h.narrow(1, len - 1, 1)?)?.flatten_all()?.to_dtype(DType::F32)?)
    }
}

/// Replaces the rows of `embeds` whose id is `token` with `rows`, in order.
fn scatter_rows(embeds: &Tensor, ids: &[u32], token: u32, rows: &Tensor) -> Result<Tensor, ModelError> {
    let slots = ids.iter().filter(|&&t| t == token).count();
    let n = rows.dim(0)?;
    if slots != n {
        return Err(ModelError::Input(format!("the prompt has {slots} image tokens but the images give {n} embeddings")));
    }
    let rows = rows.to_dtype(embeds.dtype())?;
    // Gather from [text embeds ; image rows] so the result stays differentiable.
    let both = Tensor::cat(&[embeds, &rows], 0)?;
    let mut k = 0u32;
    let index: Vec<u32> = ids
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            if t == token {
                k += 1;
                ids.len() as u32 + k - 1
            } else {
                i as u32
            }
        })
        .collect();
    Ok(both.index_select(&Tensor::new(index.as_slice(), embeds.device())?, 0)?)
}

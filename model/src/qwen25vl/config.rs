//! `config.json` and `preprocessor_config.json` of a Qwen2.5-VL checkpoint.
//!
//! Checkpoints exist in two layouts: the original one (text fields at the top
//! level, `rope_scaling.mrope_section`) and the one transformers 5 writes
//! (`text_config`, `rope_parameters`). Both are read into the same structs.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::ModelError;

/// The vision tower's hyper-parameters.
#[derive(Clone, Debug, Deserialize)]
pub struct VisionConfig {
    /// Transformer blocks.
    pub depth: usize,
    /// Width of the tower.
    pub hidden_size: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Width after the patch merger (the language model's hidden size).
    pub out_hidden_size: usize,
    /// Pixel patch side.
    #[serde(default = "d14")]
    pub patch_size: usize,
    /// Side of the square of patches merged into one token.
    #[serde(default = "d2")]
    pub spatial_merge_size: usize,
    /// Frames per temporal patch (a still image is repeated this many times).
    #[serde(default = "d2")]
    pub temporal_patch_size: usize,
    /// Input channels.
    #[serde(default = "d3", alias = "in_chans")]
    pub in_channels: usize,
    /// Side of an attention window, in pixels.
    #[serde(default = "d112")]
    pub window_size: usize,
    /// Blocks that attend over the whole image instead of windows.
    #[serde(default)]
    pub fullatt_block_indexes: Vec<usize>,
    /// Temporal positions per second of video (unused for images).
    #[serde(default = "d2")]
    pub tokens_per_second: usize,
}

fn d14() -> usize {
    14
}
fn d2() -> usize {
    2
}
fn d3() -> usize {
    3
}
fn d112() -> usize {
    112
}

/// The language model's hyper-parameters plus the special token ids.
#[derive(Clone, Debug)]
pub struct TextConfig {
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention).
    pub num_key_value_heads: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Rotary half-dims given to the temporal, height and width positions.
    pub mrope_section: Vec<usize>,
    /// Whether `lm_head` shares the embedding matrix.
    pub tie_word_embeddings: bool,
}

impl TextConfig {
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// Special token ids the model was trained with.
#[derive(Clone, Copy, Debug)]
pub struct TokenIds {
    /// `<|image_pad|>`.
    pub image: u32,
    /// `<|video_pad|>`.
    pub video: Option<u32>,
    /// `<|vision_start|>`.
    pub vision_start: u32,
}

/// Everything `config.json` says.
#[derive(Clone, Debug)]
pub struct Qwen25VlConfig {
    /// The language model.
    pub text: TextConfig,
    /// The vision tower.
    pub vision: VisionConfig,
    /// Special token ids.
    pub tokens: TokenIds,
}

impl Qwen25VlConfig {
    /// Reads `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", path.display())))?;
        Self::from_json(&v).map_err(|e| match e {
            ModelError::Config(m) => ModelError::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses either layout of `config.json`.
    pub fn from_json(v: &Value) -> Result<Self, ModelError> {
        if let Some(mt) = v.get("model_type").and_then(Value::as_str) {
            if mt != "qwen2_5_vl" {
                return Err(ModelError::Config(format!("model_type is {mt:?}, not \"qwen2_5_vl\" (only Qwen2.5-VL checkpoints load here)")));
            }
        }
        // transformers 5 nests the text fields; older files keep them at the top.
        let t = v.get("text_config").filter(|t| t.is_object()).unwrap_or(v);
        let get = |k: &str| t.get(k).or_else(|| v.get(k));
        let num = |k: &str| -> Result<usize, ModelError> {
            get(k).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(|| ModelError::Config(format!("missing or non-integer `{k}`")))
        };
        let rope = get("rope_parameters").or_else(|| get("rope_scaling")).cloned().unwrap_or(Value::Null);
        let rope_theta = rope.get("rope_theta").or_else(|| get("rope_theta")).and_then(Value::as_f64).unwrap_or(1_000_000.0);
        let mrope_section: Vec<usize> = rope
            .get("mrope_section")
            .and_then(Value::as_array)
            .ok_or_else(|| ModelError::Config("missing `mrope_section` (in rope_scaling or rope_parameters)".to_string()))?
            .iter()
            .map(|x| x.as_u64().map(|n| n as usize).ok_or_else(|| ModelError::Config("non-integer in mrope_section".to_string())))
            .collect::<Result<_, _>>()?;
        let heads = num("num_attention_heads")?;
        let text = TextConfig {
            vocab_size: num("vocab_size")?,
            hidden_size: num("hidden_size")?,
            intermediate_size: num("intermediate_size")?,
            num_hidden_layers: num("num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: get("num_key_value_heads").and_then(Value::as_u64).map(|n| n as usize).unwrap_or(heads),
            rms_norm_eps: get("rms_norm_eps").and_then(Value::as_f64).unwrap_or(1e-6),
            rope_theta,
            mrope_section,
            tie_word_embeddings: v.get("tie_word_embeddings").or_else(|| t.get("tie_word_embeddings")).and_then(Value::as_bool).unwrap_or(false),
        };
        if !text.hidden_size.is_multiple_of(heads) || heads % text.num_key_value_heads.max(1) != 0 {
            return Err(ModelError::Config(format!("hidden_size {} / heads {} / kv heads {} do not divide", text.hidden_size, heads, text.num_key_value_heads)));
        }
        if text.mrope_section.len() != 3 || text.mrope_section.iter().sum::<usize>() * 2 != text.head_dim() {
            return Err(ModelError::Config(format!("mrope_section {:?} must have 3 parts summing to head_dim/2 = {}", text.mrope_section, text.head_dim() / 2)));
        }
        let vision: VisionConfig = serde_json::from_value(v.get("vision_config").cloned().ok_or_else(|| ModelError::Config("missing `vision_config`".to_string()))?)
            .map_err(|e| ModelError::Config(format!("vision_config: {e}")))?;
        if !vision.hidden_size.is_multiple_of(vision.num_heads) {
            return Err(ModelError::Config("vision hidden_size is not a multiple of num_heads".to_string()));
        }
        let id = |k: &str| get(k).and_then(Value::as_u64).map(|n| n as u32);
        let tokens = TokenIds {
            image: id("image_token_id").ok_or_else(|| ModelError::Config("missing `image_token_id`".to_string()))?,
            video: id("video_token_id"),
            vision_start: id("vision_start_token_id").ok_or_else(|| ModelError::Config("missing `vision_start_token_id`".to_string()))?,
        };
        Ok(Self { text, vision, tokens })
    }
}

/// What `preprocessor_config.json` says about resizing and normalising.
#[derive(Clone, Debug, Deserialize)]
pub struct PreprocessorConfig {
    /// Lower bound on resized pixels.
    #[serde(default = "min_px")]
    pub min_pixels: usize,
    /// Upper bound on resized pixels.
    #[serde(default = "max_px")]
    pub max_pixels: usize,
    /// Per-channel mean.
    #[serde(default = "clip_mean")]
    pub image_mean: [f32; 3],
    /// Per-channel std.
    #[serde(default = "clip_std")]
    pub image_std: [f32; 3],
    /// Pixel patch side.
    #[serde(default = "d14")]
    pub patch_size: usize,
    /// Merge side.
    #[serde(default = "d2")]
    pub merge_size: usize,
    /// Frames per temporal patch.
    #[serde(default = "d2")]
    pub temporal_patch_size: usize,
    /// `size.shortest_edge` / `size.longest_edge` (newer files put the bounds here).
    #[serde(default)]
    pub size: Option<Value>,
}

fn min_px() -> usize {
    56 * 56
}
fn max_px() -> usize {
    28 * 28 * 1280
}
fn clip_mean() -> [f32; 3] {
    [0.481_454_66, 0.457_827_5, 0.408_210_73]
}
fn clip_std() -> [f32; 3] {
    [0.268_629_54, 0.261_302_6, 0.275_777_1]
}

impl PreprocessorConfig {
    /// Reads `dir/preprocessor_config.json`; defaults when absent.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("preprocessor_config.json");
        if !path.exists() {
            return serde_json::from_str("{}").map_err(|e| ModelError::Config(e.to_string()));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
        let mut c: Self = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", path.display())))?;
        // transformers writes both; `size` is what its processor reads first.
        if let Some(size) = &c.size {
            if let Some(n) = size.get("shortest_edge").and_then(Value::as_u64) {
                c.min_pixels = n as usize;
            }
            if let Some(n) = size.get("longest_edge").and_then(Value::as_u64) {
                c.max_pixels = n as usize;
            }
        }
        Ok(c)
    }
}

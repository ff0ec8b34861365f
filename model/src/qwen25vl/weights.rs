//! Safetensors files of a checkpoint (one file or an index of shards), and
//! which tensor-name layout they use.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use super::ModelError;

/// The weight files of `dir`: the shards named in `model.safetensors.index.json`,
/// else every `*.safetensors`.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::io(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ModelError::Weights(format!("{}: {e}", index.display())))?;
        let map = v.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| ModelError::Weights(format!("{}: no weight_map", index.display())))?;
        let mut shards: Vec<PathBuf> = map.values().filter_map(|f| f.as_str()).map(|f| dir.join(f)).collect();
        shards.sort();
        shards.dedup();
        for s in &shards {
            if !s.exists() {
                return Err(ModelError::Weights(format!("{} names {}, which is missing", index.display(), s.display())));
            }
        }
        return Ok(shards);
    }
    let rd = std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut out: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "safetensors")).collect();
    out.sort();
    if out.is_empty() {
        return Err(ModelError::Weights(format!("{}: no *.safetensors files", dir.display())));
    }
    Ok(out)
}

/// A var builder over the checkpoint's files, memory-mapped.
pub fn var_builder(dir: &Path, dtype: DType, device: &Device) -> Result<VarBuilder<'static>, ModelError> {
    let files = files(dir)?;
    // Validate headers first so a corrupt file is a clear error, not a panic deep in mmap use.
    for f in &files {
        let bytes = std::fs::File::open(f).map_err(|e| ModelError::io(f, e))?;
        let mut header = [0u8; 8];
        use std::io::Read;
        (&bytes).read_exact(&mut header).map_err(|e| ModelError::Weights(format!("{}: not a safetensors file ({e})", f.display())))?;
        let n = u64::from_le_bytes(header);
        let len = bytes.metadata().map_err(|e| ModelError::io(f, e))?.len();
        if n == 0 || n > len.saturating_sub(8) {
            return Err(ModelError::Weights(format!("{}: not a safetensors file (header length {n} for a {len}-byte file)", f.display())));
        }
    }
    // SAFETY: the files are memory-mapped read-only; the caller must not truncate
    // them while the model is alive (the same contract as every mmap loader).
    unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }.map_err(|e| ModelError::Weights(e.to_string()))
}

/// Tensor-name prefixes of a checkpoint.
pub struct Layout {
    /// Vision tower prefix.
    pub vision: &'static str,
    /// Language model prefix.
    pub text: &'static str,
}

impl Layout {
    /// Looks at which names exist.
    pub fn detect(vb: &VarBuilder) -> Result<Self, ModelError> {
        let vision = ["visual", "model.visual"].into_iter().find(|p| vb.contains_tensor(&format!("{p}.patch_embed.proj.weight")));
        let text = ["model", "model.language_model", "language_model.model"].into_iter().find(|p| vb.contains_tensor(&format!("{p}.embed_tokens.weight")));
        match (vision, text) {
            (Some(vision), Some(text)) => Ok(Self { vision, text }),
            (None, _) => Err(ModelError::Weights("no vision tower weights (looked for visual.patch_embed.proj.weight and model.visual.…)".into())),
            (_, None) => Err(ModelError::Weights("no language model weights (looked for model.embed_tokens.weight and model.language_model.…)".into())),
        }
    }
}

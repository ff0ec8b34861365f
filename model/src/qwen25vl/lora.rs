//! LoRA adapters on the language model's projections: attached for training
//! (trainable [`Var`]s), saved as safetensors, and loaded by inference.
//!
//! Names in the file: `layers.{i}.{q,k,v,o,gate,up,down}.lora_{a,b}`, plus
//! metadata-free scalars `rank` and `alpha` stored as 1-element tensors so a
//! file is self-describing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};

use super::layers::{Lora, Proj};
use super::{ModelError, Qwen25Vl};

/// Which projections get adapters, and their size.
#[derive(Clone, Debug)]
pub struct LoraConfig {
    /// Rank r.
    pub rank: usize,
    /// alpha (the update is scaled by alpha / r).
    pub alpha: f64,
    /// Projection names among q, k, v, o, gate, up, down.
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self { rank: 8, alpha: 16.0, targets: ["q", "k", "v", "o", "gate", "up", "down"].map(String::from).to_vec() }
    }
}

/// The adapters attached to a model.
pub struct LoraSet {
    /// Trainable tensors by name.
    pub vars: Vec<(String, Var)>,
    /// The adapters' on/off switch.
    pub enabled: Arc<AtomicBool>,
    /// Settings.
    pub config: LoraConfig,
}

fn projections(model: &mut Qwen25Vl) -> Vec<(String, &mut Proj)> {
    let mut out = Vec::new();
    for (i, l) in model.text.layers.iter_mut().enumerate() {
        for (n, p) in [("q", &mut l.q), ("k", &mut l.k), ("v", &mut l.v), ("o", &mut l.o), ("gate", &mut l.mlp.gate), ("up", &mut l.mlp.up), ("down", &mut l.mlp.down)] {
            out.push((format!("layers.{i}.{n}"), p));
        }
    }
    out
}

impl LoraSet {
    /// Attaches fresh adapters: A ~ N(0, 1/r) (seeded), B = 0, so training
    /// starts from the base model exactly.
    pub fn attach(model: &mut Qwen25Vl, config: LoraConfig, seed: u64) -> Result<Self, ModelError> {
        let dev = model.device.clone();
        let mut rng = SplitMix(seed);
        let enabled = Arc::new(AtomicBool::new(true));
        let mut vars = Vec::new();
        let scale = config.alpha / config.rank as f64;
        for (name, p) in projections(model) {
            if !config.targets.iter().any(|t| name.ends_with(&format!(".{t}"))) {
                continue;
            }
            let std = (1.0 / config.rank as f64).sqrt();
            let init: Vec<f32> = (0..config.rank * p.in_dim()).map(|_| (rng.normal() * std) as f32).collect();
            let a = Var::from_tensor(&Tensor::from_vec(init, (config.rank, p.in_dim()), &dev)?)?;
            let b = Var::zeros((p.out_dim(), config.rank), DType::F32, &dev)?;
            p.lora = Some(Lora { a: a.as_tensor().clone(), b: b.as_tensor().clone(), scale, enabled: enabled.clone() });
            vars.push((format!("{name}.lora_a"), a));
            vars.push((format!("{name}.lora_b"), b));
        }
        Ok(Self { vars, enabled, config })
    }

    /// Turns the adapters on or off (off: the base model).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Writes the adapters to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let mut map: HashMap<String, Tensor> = self.vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
        map.insert("rank".into(), Tensor::new(&[self.config.rank as f32], &Device::Cpu)?);
        map.insert("alpha".into(), Tensor::new(&[self.config.alpha as f32], &Device::Cpu)?);
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    /// Overwrites the adapters' values from a file written by [`LoraSet::save`].
    pub fn restore(&self, path: &Path) -> Result<(), ModelError> {
        let map = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| ModelError::Weights(format!("{}: {e}", path.display())))?;
        for (n, v) in &self.vars {
            let t = map.get(n).ok_or_else(|| ModelError::Weights(format!("{}: no tensor {n}", path.display())))?;
            v.set(&t.to_device(v.device())?)?;
        }
        Ok(())
    }
}

/// A small seeded generator: candle's CPU device cannot be seeded, and runs
/// must be reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Box-Muller.
    fn normal(&mut self) -> f64 {
        let u = self.next_f64().max(1e-300);
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Applies adapters from a file for inference (frozen).
pub fn load_adapters(model: &mut Qwen25Vl, path: &Path) -> Result<usize, ModelError> {
    let map = candle_core::safetensors::load(path, &model.device).map_err(|e| ModelError::Weights(format!("{}: {e}", path.display())))?;
    let scalar = |k: &str| -> Result<f64, ModelError> {
        let t = map.get(k).ok_or_else(|| ModelError::Weights(format!("{}: not a trutheye LoRA file (no `{k}`)", path.display())))?;
        Ok(t.flatten_all()?.to_vec1::<f32>()?.first().copied().unwrap_or(0.0) as f64)
    };
    let (rank, alpha) = (scalar("rank")?, scalar("alpha")?);
    if rank <= 0.0 {
        return Err(ModelError::Weights(format!("{}: rank {rank}", path.display())));
    }
    let enabled = Arc::new(AtomicBool::new(true));
    let mut n = 0;
    for (name, p) in projections(model) {
        if let (Some(a), Some(b)) = (map.get(&format!("{name}.lora_a")), map.get(&format!("{name}.lora_b"))) {
            if a.dims() != [rank as usize, p.in_dim()] || b.dims() != [p.out_dim(), rank as usize] {
                return Err(ModelError::Weights(format!("{}: {name} has shapes {:?}/{:?}, the model needs [{rank}, {}]/[{}, {rank}]", path.display(), a.dims(), b.dims(), p.in_dim(), p.out_dim())));
            }
            p.lora = Some(Lora { a: a.clone(), b: b.clone(), scale: alpha / rank, enabled: enabled.clone() });
            n += 1;
        }
    }
    if n == 0 {
        return Err(ModelError::Weights(format!("{}: no adapter matches this model's layers", path.display())));
    }
    Ok(n)
}

//! AdamW over named [`Var`]s whose moments can be saved and restored, so a
//! resumed run continues exactly where it stopped (candle's own optimiser
//! keeps its state private).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{backprop::GradStore, Device, Tensor, Var};

/// Hyper-parameters (PyTorch's defaults except the learning rate).
#[derive(Clone, Copy, Debug)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator guard.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: off).
    pub max_grad_norm: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, max_grad_norm: 1.0 }
    }
}

/// The optimiser.
pub struct AdamW {
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Steps taken.
    pub step: u64,
    /// Settings.
    pub cfg: AdamWConfig,
}

impl AdamW {
    /// An optimiser over `vars` with zero moments.
    pub fn new(vars: Vec<(String, Var)>, cfg: AdamWConfig) -> candle_core::Result<Self> {
        let m = vars.iter().map(|(_, v)| v.zeros_like()).collect::<candle_core::Result<Vec<_>>>()?;
        let v2 = vars.iter().map(|(_, v)| v.zeros_like()).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self { vars, m, v: v2, step: 0, cfg })
    }

    /// One update from `grads`; returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore) -> candle_core::Result<f64> {
        let mut sq = 0.0;
        let gs: Vec<Option<Tensor>> = self.vars.iter().map(|(_, v)| grads.get(v.as_tensor()).cloned()).collect();
        for g in gs.iter().flatten() {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
        let norm = sq.sqrt();
        let clip = if self.cfg.max_grad_norm > 0.0 && norm > self.cfg.max_grad_norm { self.cfg.max_grad_norm / (norm + 1e-6) } else { 1.0 };
        self.step += 1;
        let c = &self.cfg;
        let (bc1, bc2) = (1.0 - c.beta1.powi(self.step as i32), 1.0 - c.beta2.powi(self.step as i32));
        for (i, g) in gs.into_iter().enumerate() {
            let Some(g) = g else { continue };
            let g = (g * clip)?;
            let var = &self.vars[i].1;
            self.m[i] = ((&self.m[i] * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            self.v[i] = ((&self.v[i] * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let mhat = (&self.m[i] / bc1)?;
            let vhat = (&self.v[i] / bc2)?;
            let update = (mhat / (vhat.sqrt()? + c.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - c.lr * c.weight_decay))?;
            var.set(&(decayed - (update * c.lr)?)?)?;
        }
        Ok(norm)
    }

    /// Writes the moments and step to a safetensors file.
    pub fn save(&self, path: &Path) -> candle_core::Result<()> {
        let mut map = HashMap::new();
        for (i, (n, _)) in self.vars.iter().enumerate() {
            map.insert(format!("m.{n}"), self.m[i].clone());
            map.insert(format!("v.{n}"), self.v[i].clone());
        }
        map.insert("step".into(), Tensor::new(&[self.step as f32], &Device::Cpu)?);
        candle_core::safetensors::save(&map, path)
    }

    /// Restores what [`AdamW::save`] wrote.
    pub fn restore(&mut self, path: &Path) -> candle_core::Result<()> {
        let dev = self.vars.first().map(|(_, v)| v.device().clone()).unwrap_or(Device::Cpu);
        let map = candle_core::safetensors::load(path, &dev)?;
        for (i, (n, _)) in self.vars.iter().enumerate() {
            let get = |k: String| map.get(&k).cloned().ok_or_else(|| candle_core::Error::Msg(format!("{}: no {k}", path.display())));
            self.m[i] = get(format!("m.{n}"))?;
            self.v[i] = get(format!("v.{n}"))?;
        }
        let step = map.get("step").ok_or_else(|| candle_core::Error::Msg(format!("{}: no step", path.display())))?;
        self.step = step.to_vec1::<f32>()?.first().copied().unwrap_or(0.0) as u64;
        Ok(())
    }
}

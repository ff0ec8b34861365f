//! The Qwen2.5-VL vision tower: 14x14x2 patch embedding, 2-D rotary
//! positions, blocks that attend within 112-pixel windows (full attention at
//! the configured indexes), RMSNorm, SwiGLU, and the 2x2 patch merger.

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::VisionConfig;
use super::kernels::{self, attention::{attend, Dims, Heads, Mask}};
use super::layers::{rope, softmax_last, Proj, RmsNorm, SwiGlu};

struct Block {
    norm1: RmsNorm,
    norm2: RmsNorm,
    qkv: Proj,
    proj: Proj,
    mlp: SwiGlu,
}

/// The tower.
pub struct VisionTower {
    cfg: VisionConfig,
    patch_embed: Tensor,
    blocks: Vec<Block>,
    merger_norm: RmsNorm,
    merger_fc1: Proj,
    merger_fc2: Proj,
}

/// The window layout of a batch of images (reference: `get_window_index`).
struct Windows {
    /// Merged-token order that makes every window contiguous.
    index: Vec<u32>,
    /// Patch-level segment boundaries of the windows.
    window_bounds: Vec<usize>,
    /// Patch-level segment boundaries of the images (full attention).
    image_bounds: Vec<usize>,
}

impl VisionTower {
    /// Loads the tower from `vb` (the `visual` prefix).
    pub fn load(cfg: &VisionConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        let patch_dim = cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size * cfg.patch_size;
        // A Conv3d whose stride equals its kernel is a matrix product on flattened patches.
        let conv = vb.pp("patch_embed").pp("proj").get((d, cfg.in_channels, cfg.temporal_patch_size, cfg.patch_size, cfg.patch_size), "weight")?;
        let patch_embed = conv.reshape((d, patch_dim))?;
        let mut blocks = Vec::with_capacity(cfg.depth);
        for i in 0..cfg.depth {
            let b = vb.pp("blocks").pp(i);
            blocks.push(Block {
                norm1: RmsNorm::load(d, 1e-6, b.pp("norm1"))?,
                norm2: RmsNorm::load(d, 1e-6, b.pp("norm2"))?,
                qkv: Proj::load(d, 3 * d, true, b.pp("attn").pp("qkv"))?,
                proj: Proj::load(d, d, true, b.pp("attn").pp("proj"))?,
                mlp: SwiGlu::load(d, cfg.intermediate_size, true, b.pp("mlp"))?,
            });
        }
        let merged = d * cfg.spatial_merge_size * cfg.spatial_merge_size;
        let m = vb.pp("merger");
        Ok(Self {
            cfg: cfg.clone(),
            patch_embed,
            blocks,
            merger_norm: RmsNorm::load(d, 1e-6, m.pp("ln_q"))?,
            merger_fc1: Proj::load(merged, merged, true, m.pp("mlp").pp("0"))?,
            merger_fc2: Proj::load(merged, cfg.out_hidden_size, true, m.pp("mlp").pp("2"))?,
        })
    }

    /// `pixel_values` `[patches, patch_dim]` of all images, `grids` their
    /// `(t, h, w)`: returns merged embeddings `[patches / 4, out_hidden]`.
    pub fn forward(&self, pixel_values: &Tensor, grids: &[[usize; 3]], train: bool) -> Result<Tensor> {
        let dev = pixel_values.device();
        let unit = self.cfg.spatial_merge_size * self.cfg.spatial_merge_size;
        let x = pixel_values.to_dtype(self.patch_embed.dtype())?.matmul(&self.patch_embed.t()?)?;
        let seq = x.dim(0)?;
        let (cos, sin) = self.rotary(grids, dev)?;
        let w = self.windows(grids);
        if w.index.len() * unit != seq {
            candle_core::bail!("pixel values hold {seq} patches but the grids describe {}", w.index.len() * unit);
        }
        // Reorder so that each window's patches are contiguous (merge units stay together).
        let idx = Tensor::from_vec(w.index.clone(), w.index.len(), dev)?;
        let reorder = |t: &Tensor| -> Result<Tensor> {
            let d = t.dim(1)?;
            t.reshape((seq / unit, unit * d))?.index_select(&idx, 0)?.reshape((seq, d))
        };
        let mut x = reorder(&x)?;
        let (cos, sin) = (reorder(&cos)?, reorder(&sin)?);
        let fused = kernels::applies(&x, train);
        for (i, b) in self.blocks.iter().enumerate() {
            let bounds = if self.cfg.fullatt_block_indexes.contains(&i) { &w.image_bounds } else { &w.window_bounds };
            let normed = b.norm1.forward(&x, train)?;
            let attn = if fused { self.attention_fused(b, &normed, &cos, &sin, bounds, &x)? } else { None };
            x = match attn {
                Some(x) => x,
                None => (&x + self.attention(b, &normed, &cos, &sin, bounds, train)?)?,
            };
            x = b.mlp.forward_add(&b.norm2.forward(&x, train)?, Some(&x), train)?;
        }
        let merged = self.merger_norm.forward(&x, train)?.reshape((seq / unit, ()))?;
        let merged = self.merger_fc2.forward(&self.merger_fc1.forward(&merged)?.gelu_erf()?)?;
        // Back to raster order.
        let mut inverse = vec![0u32; w.index.len()];
        for (pos, &src) in w.index.iter().enumerate() {
            inverse[src as usize] = pos as u32;
        }
        merged.index_select(&Tensor::from_vec(inverse, w.index.len(), dev)?, 0)
    }

    fn attention(&self, b: &Block, x: &Tensor, cos: &Tensor, sin: &Tensor, bounds: &[usize], train: bool) -> Result<Tensor> {
        let seq = x.dim(0)?;
        let heads = self.cfg.num_heads;
        let hd = self.cfg.hidden_size / heads;
        let qkv = b.qkv.forward(x)?.reshape((seq, 3, heads, hd))?.permute((1, 2, 0, 3))?;
        // Rotary in f32 as the reference does, whatever the weights' dtype.
        let dtype = x.dtype();
        let q = rope(&qkv.get(0)?.to_dtype(DType::F32)?.unsqueeze(0)?, cos, sin, train)?.squeeze(0)?.to_dtype(dtype)?;
        let k = rope(&qkv.get(1)?.to_dtype(DType::F32)?.unsqueeze(0)?, cos, sin, train)?.squeeze(0)?.to_dtype(dtype)?;
        let v = qkv.get(2)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let mut outs = Vec::with_capacity(bounds.len());
        for pair in bounds.windows(2) {
            let (s, n) = (pair[0], pair[1] - pair[0]);
            if n == 0 {
                continue;
            }
            let (q, k, v) = (q.narrow(1, s, n)?, k.narrow(1, s, n)?, v.narrow(1, s, n)?.contiguous()?);
            let att = (q.contiguous()?.matmul(&k.t()?.contiguous()?)? * scale)?;
            outs.push(softmax_last(&att, train)?.matmul(&v)?);
        }
        let o = Tensor::cat(&outs, 1)?.permute((1, 0, 2))?.reshape((seq, heads * hd))?;
        b.proj.forward(&o)
    }

    /// `residual + proj(attention(x))` through the fused CPU kernels (f32):
    /// rotary on `[patches, heads, hd]`, then attention within each segment
    /// of `bounds`, reading k and v straight from the qkv output. `None` when
    /// they do not apply.
    fn attention_fused(&self, b: &Block, x: &Tensor, cos: &Tensor, sin: &Tensor, bounds: &[usize], residual: &Tensor) -> Result<Option<Tensor>> {
        let seq = x.dim(0)?;
        let heads = self.cfg.num_heads;
        let d = self.cfg.hidden_size;
        let hd = d / heads;
        let qkv = b.qkv.forward_add(x, None, false)?.reshape((seq, 3, heads, hd))?;
        let part = |i: usize| -> Result<Tensor> {
            let t = qkv.narrow(1, i, 1)?.contiguous()?.reshape((1, seq, heads, hd))?;
            candle_nn::rotary_emb::rope_thd(&t, cos, sin)
        };
        let (q, k) = (part(0)?, part(1)?);
        let dims = Dims { rows: seq, kv_rows: seq, heads, kv_heads: heads, head_dim: hd };
        let scale = 1.0 / (hd as f64).sqrt();
        let o = kernels::with_f32(&q, |qd| {
            kernels::with_f32(&k, |kd| {
                kernels::with_f32(&qkv, |all| {
                    let q = Heads { data: qd, offset: 0, row_stride: d, head_stride: hd };
                    let v = Heads { data: all, offset: 2 * d, row_stride: 3 * d, head_stride: hd };
                    attend(q, Heads { data: kd, ..q }, v, dims, Mask::Segments(bounds), scale as f32)
                })
            })
        });
        let Some(o) = o.flatten().flatten().flatten() else { return Ok(None) };
        b.proj.forward_add(&kernels::tensor(o, &[seq, d])?, Some(residual), false).map(Some)
    }

    /// cos/sin `[patches, head_dim / 2]`: the first half rotates with the patch
    /// row, the second with the column; patches listed merge-block first.
    fn rotary(&self, grids: &[[usize; 3]], dev: &Device) -> Result<(Tensor, Tensor)> {
        let hd = self.cfg.hidden_size / self.cfg.num_heads;
        let dim = hd / 2;
        let inv: Vec<f32> = (0..dim / 2).map(|i| 1.0 / 10000f32.powf((2 * i) as f32 / dim as f32)).collect();
        let m = self.cfg.spatial_merge_size;
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        for &[t, h, w] in grids {
            for _ in 0..t {
                for bh in 0..h / m {
                    for bw in 0..w / m {
                        for mh in 0..m {
                            for mw in 0..m {
                                let (row, col) = ((bh * m + mh) as f32, (bw * m + mw) as f32);
                                for pos in [row, col] {
                                    for f in &inv {
                                        let a = pos * f;
                                        cos.push(a.cos());
                                        sin.push(a.sin());
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let n = cos.len() / dim;
        Ok((Tensor::from_vec(cos, (n, dim), dev)?, Tensor::from_vec(sin, (n, dim), dev)?))
    }

    fn windows(&self, grids: &[[usize; 3]]) -> Windows {
        let m = self.cfg.spatial_merge_size;
        let unit = m * m;
        let ws = (self.cfg.window_size / m / self.cfg.patch_size).max(1);
        let (mut index, mut window_bounds, mut image_bounds) = (Vec::new(), vec![0usize], vec![0usize]);
        let mut base = 0usize;
        for &[t, h, w] in grids {
            let (lh, lw) = (h / m, w / m);
            let (nwh, nww) = (lh.div_ceil(ws), lw.div_ceil(ws));
            for ti in 0..t {
                for wy in 0..nwh {
                    for wx in 0..nww {
                        let mut count = 0;
                        for y in wy * ws..((wy + 1) * ws).min(lh) {
                            for x in wx * ws..((wx + 1) * ws).min(lw) {
                                index.push((base + ti * lh * lw + y * lw + x) as u32);
                                count += 1;
                            }
                        }
                        let last = *window_bounds.last().unwrap_or(&0);
                        if count > 0 {
                            window_bounds.push(last + count * unit);
                        }
                    }
                }
                let last = *image_bounds.last().unwrap_or(&0);
                image_bounds.push(last + h * w);
            }
            base += t * lh * lw;
        }
        Windows { index, window_bounds, image_bounds }
    }
}

//! Localization by fusing the heat-maps of the operators an episode ran on the
//! whole image into one mask.
//!
//! Each operator's heat-map ([`HeatGrid`], kept in its [`Evidence`]) is
//! normalised robustly (its median reads 0 and its 99th percentile 1, so an
//! operator whose whole map is loud does not dominate), resampled to one grid over
//! `image_clue_0`, and combined linearly: `logit = bias + Σ weight[op] · z[op]`,
//! box-smoothed. A cell is in the mask when its logit is ≥ 0 (the bias sets the
//! threshold); optionally only the largest 4-connected component is kept.
//! The weights, the bias, the smoothing and that choice are fitted on a
//! labelled set by `trutheye train fusion` (`configs/fusion.toml` says how the
//! shipped ones were chosen).
//!
//! The same [`fuse`] serves the episode (the verdict's mask) and policies (the
//! region a scripted agent names), so the box an answer names and the mask the
//! verdict carries come from one computation.

use std::collections::BTreeMap;

use image::GrayImage;
use serde::{Deserialize, Serialize};

use crate::evidence::{Evidence, HeatGrid};
use crate::verdict::{BBox, BoxGeometry};
use crate::CoreError;

/// The built-in fusion (`configs/fusion.toml`).
pub const DEFAULT_FUSION: &str = include_str!("../../configs/fusion.toml");

/// How heat-maps are fused (the `[localization]` section of an agent config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionConfig {
    /// Long side of the fused grid, in cells.
    pub grid: u32,
    /// Each map's robust z-score is clipped to ±this before weighting.
    pub clip: f64,
    /// Constant of the fused logit; a cell is in the mask when its logit ≥ 0.
    pub bias: f64,
    /// Operator name → weight of its normalised heat-map. Operators not listed
    /// contribute nothing; when listed operators were not run, the terms of
    /// those that were are scaled up to the whole weight mass.
    pub weights: BTreeMap<String, f64>,
    /// Radius, in cells, of the box filter applied to the fused logit.
    pub smooth: u32,
    /// Keep only the largest connected component of the mask.
    pub largest_only: bool,
    /// Image-relative edge, 0..1 (0: off). The mask's edge is raised from logit 0
    /// to `median + peak_fraction · (peak − median)` of this image's fused logit
    /// when that is higher, so an image whose whole map is loud still gets a
    /// mask around its strongest evidence only (the operators' maps have no
    /// common scale across images; their peaks do mark the edit).
    #[serde(default)]
    pub peak_fraction: f64,
    /// When `copy_move` names which region of a duplication is the copy (its
    /// `copy_region`: both regions verified densely and the copy told from its
    /// source by the interpolation residual), the mask is that region, read off
    /// `copy_move`'s own map, instead of the fusion. Fusing texture-driven maps
    /// into a verified copy only blurs it: on shared/bench/dev's named copies
    /// `copy_move`'s map alone scores pixel F1 0.91–0.96, the fused mask 0.66–0.81.
    #[serde(default = "named_copy_default")]
    pub named_copy_as_mask: bool,
}

fn named_copy_default() -> bool {
    true
}

impl Default for FusionConfig {
    fn default() -> Self {
        // Checked by a unit test; cannot fail at run time.
        Self::from_toml(DEFAULT_FUSION, "configs/fusion.toml").unwrap_or_else(|e| panic!("{e}"))
    }
}

impl FusionConfig {
    /// Parses a fusion file (its `[localization]` table); unknown keys are errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, CoreError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            localization: FusionConfig,
        }
        let f: File = toml::from_str(text).map_err(|e| CoreError::Config(crate::config::toml_error(text, origin, &e)))?;
        f.localization.check().map_err(|e| CoreError::Config(format!("{origin}: {e}")))?;
        Ok(f.localization)
    }

    /// Checks ranges.
    pub fn check(&self) -> Result<(), String> {
        if !(4..=512).contains(&self.grid) {
            return Err(format!("localization.grid must be 4..=512 (got {})", self.grid));
        }
        let finite = self.clip.is_finite() && self.bias.is_finite() && self.weights.values().all(|w| w.is_finite());
        if !finite || self.clip <= 0.0 {
            return Err("localization.clip must be positive and every weight and the bias finite".into());
        }
        if !(0.0..1.0).contains(&self.peak_fraction) {
            return Err(format!("localization.peak_fraction must be in [0, 1) (got {})", self.peak_fraction));
        }
        if self.smooth > 8 {
            return Err(format!("localization.smooth must be at most 8 cells (got {})", self.smooth));
        }
        Ok(())
    }

    /// Grid size for an image of `w`×`h`: long side [`FusionConfig::grid`], aspect kept.
    pub fn grid_size(&self, (w, h): (u32, u32)) -> (usize, usize) {
        let long = w.max(h).max(1) as f64;
        let g = self.grid as f64;
        (((w as f64 / long * g).round() as usize).max(1), ((h as f64 / long * g).round() as usize).max(1))
    }
}

/// The heat-maps of an episode's whole-image operator runs, normalised and
/// resampled onto one grid: the inputs of the fusion (and of fitting it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layers {
    /// Grid columns.
    pub width: usize,
    /// Grid rows.
    pub height: usize,
    /// Operator → its clipped robust z-scores on the grid (row-major). The
    /// latest whole-image run of each operator is the one kept.
    pub maps: BTreeMap<String, Vec<f32>>,
}

impl Layers {
    /// The layers of every operator run in `evidence` whose heat-map covers the
    /// whole of `root` (`image_clue_0`'s size).
    pub fn from_evidence(evidence: &[Evidence], root: (u32, u32), cfg: &FusionConfig) -> Self {
        Self::from_grids(evidence.iter().filter_map(|ev| Some((ev.operator.as_str(), ev.heat.as_ref()?))), root, cfg)
    }

    /// The layers of (operator, heat grid) pairs; grids that do not cover the
    /// whole of `root` are skipped, and a later grid of an operator replaces an earlier one.
    pub fn from_grids<'g>(grids: impl IntoIterator<Item = (&'g str, &'g HeatGrid)>, root: (u32, u32), cfg: &FusionConfig) -> Self {
        let (width, height) = cfg.grid_size(root);
        let full = [0, 0, root.0, root.1];
        let mut maps = BTreeMap::new();
        for (op, grid) in grids.into_iter().filter(|(_, g)| g.region == Some(full)) {
            maps.insert(op.to_string(), normalise(grid, width, height, cfg.clip as f32));
        }
        Self { width, height, maps }
    }
}

/// A heat grid normalised robustly by its own distribution: `(v − median) /
/// (p99 − median)`, so the median cell reads 0 and the map's top percentile
/// reads 1 whatever the operator's units (the display stretch of observations
/// and baselines is the same idea), clipped to ±clip and bilinearly resampled
/// to `width`×`height`.
fn normalise(g: &HeatGrid, width: usize, height: usize, clip: f32) -> Vec<f32> {
    let mut sorted = g.values.clone();
    sorted.sort_unstable_by(f32::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let p99 = sorted.get((sorted.len().saturating_sub(1)) * 99 / 100).copied().unwrap_or(median);
    // A flat map carries no spatial evidence; the floor keeps it finite.
    let scale = (p99 - median).max(1e-3);
    let (gw, gh) = (g.width as usize, g.height as usize);
    let at = |x: usize, y: usize| g.values[y.min(gh - 1) * gw + x.min(gw - 1)];
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        // Cell centres mapped onto the source grid's cell centres.
        let sy = ((y as f32 + 0.5) * gh as f32 / height as f32 - 0.5).max(0.0);
        let (y0, fy) = (sy.floor() as usize, sy.fract());
        for x in 0..width {
            let sx = ((x as f32 + 0.5) * gw as f32 / width as f32 - 0.5).max(0.0);
            let (x0, fx) = (sx.floor() as usize, sx.fract());
            let v = (at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx) * (1.0 - fy) + (at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
            out.push(((v - median) / scale).clamp(-clip, clip));
        }
    }
    out
}

/// The fused localization of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedMap {
    /// Grid columns.
    pub width: usize,
    /// Grid rows.
    pub height: usize,
    /// Fused, smoothed logit per cell.
    pub logit: Vec<f32>,
    /// Cells in the mask (after `largest_only`).
    pub mask: Vec<bool>,
    /// Box of the mask's largest component in `image_clue_0` pixels (x2/y2 exclusive).
    pub bbox: Option<BBox>,
    /// Operators whose maps were fused (weighted and run).
    pub operators: Vec<String>,
    /// Region-versus-rest statistics for adjudication (see [`region_features`]).
    pub features: BTreeMap<String, f64>,
}

/// Fuses the whole-image heat-maps in `evidence`; `None` when no weighted
/// operator left one.
///
/// With [`FusionConfig::named_copy_as_mask`], a copy that `copy_move` named
/// replaces the fused mask and box ([`named_copy`]); the region features stay
/// those of the fusion.
pub fn fuse(evidence: &[Evidence], root: (u32, u32), cfg: &FusionConfig) -> Option<FusedMap> {
    let fused = fuse_layers(&Layers::from_evidence(evidence, root, cfg), root, cfg);
    match cfg.named_copy_as_mask.then(|| named_copy(evidence, root)).flatten() {
        Some(copy) => Some(FusedMap { features: fused.map(|f| f.features).unwrap_or_default(), ..copy }),
        None => fused,
    }
}

/// The copy of a duplicated region as a mask, when the latest whole-image
/// `copy_move` run named it: its heat-map then marks the copy alone (1 per
/// verified block, block-averaged onto the evidence grid), and the mask is
/// the cells at least half covered, on that grid; the box is the operator's
/// `copy_region`. `None` when no run named a copy, or nothing of its map is left.
pub fn named_copy(evidence: &[Evidence], root: (u32, u32)) -> Option<FusedMap> {
    let full = [0, 0, root.0, root.1];
    let run = evidence.iter().rev().find(|e| e.operator == "copy_move" && e.heat.as_ref().is_some_and(|g| g.region == Some(full)))?;
    let corners: Vec<f64> = run.stats.get("copy_region")?.as_array()?.iter().filter_map(serde_json::Value::as_f64).collect();
    let bbox = <[f64; 4]>::try_from(corners).ok().and_then(|raw| BBox::clamped(raw, Some(root)))?;
    let grid = run.heat.as_ref()?;
    let mask: Vec<bool> = grid.values.iter().map(|&v| v >= 0.5).collect();
    if !mask.iter().any(|&m| m) {
        return None;
    }
    // A confident logit either side: the heat image is the mask, read at 128.
    let logit = mask.iter().map(|&m| if m { 4.0 } else { -4.0 }).collect();
    Some(FusedMap { width: grid.width as usize, height: grid.height as usize, logit, mask, bbox: Some(bbox), operators: vec!["copy_move".into()], features: BTreeMap::new() })
}

/// [`fuse`] on layers already built (what fitting calls for every candidate setting).
pub fn fuse_layers(layers: &Layers, root: (u32, u32), cfg: &FusionConfig) -> Option<FusedMap> {
    let (w, h) = (layers.width, layers.height);
    let used: Vec<(&String, &Vec<f32>, f32)> =
        layers.maps.iter().filter_map(|(op, z)| cfg.weights.get(op).filter(|w| **w != 0.0).map(|&wt| (op, z, wt as f32))).collect();
    if used.is_empty() || w * h == 0 {
        return None;
    }
    // A weighted operator that was not run is assumed to agree with those that
    // were: the present terms are scaled up to the whole weight mass, so a
    // strategy that could afford fewer maps keeps the fitted edge.
    let total: f64 = cfg.weights.values().map(|w| w.abs()).sum();
    let present: f64 = used.iter().map(|(_, _, w)| w.abs() as f64).sum();
    let scale = if present > 0.0 { (total / present) as f32 } else { 1.0 };
    let mut raw = vec![cfg.bias as f32; w * h];
    for (_, z, wt) in &used {
        for (r, v) in raw.iter_mut().zip(z.iter()) {
            *r += scale * wt * v;
        }
    }
    let mut logit = box_blur(&raw, w, h, cfg.smooth as usize);
    if cfg.peak_fraction > 0.0 {
        let mut sorted = logit.clone();
        sorted.sort_unstable_by(f32::total_cmp);
        let (median, peak) = (sorted[sorted.len() / 2], sorted[sorted.len() - 1]);
        let edge = (median + cfg.peak_fraction as f32 * (peak - median)).max(0.0);
        logit.iter_mut().for_each(|v| *v -= edge);
    }
    let on: Vec<bool> = logit.iter().map(|&v| v >= 0.0).collect();
    let comps = trutheye_plugin_api::blocks::components(&on, w, h);
    let largest = comps.iter().max_by_key(|c| c.len());
    let mask = match (cfg.largest_only, largest) {
        (true, Some(c)) => {
            let mut m = vec![false; w * h];
            c.iter().for_each(|&i| m[i] = true);
            m
        }
        (true, None) => vec![false; w * h],
        (false, _) => on,
    };
    let bbox = largest.map(|c| cells_bbox(c, w, h, root));
    let features = region_features(layers, &logit, largest.map(Vec::as_slice), comps.len());
    Some(FusedMap { width: w, height: h, logit, mask, bbox, operators: used.iter().map(|(op, _, _)| (*op).clone()).collect(), features })
}

impl FusedMap {
    /// The fused map as an 8-bit heat-map whose level 128 is the mask's edge:
    /// mask cells are 128..=255 by their probability σ(logit), other cells
    /// 0..=127, so reading it at 0.5 gives exactly the mask and lower or higher
    /// thresholds still rank cells by the fused evidence.
    pub fn heat_image(&self) -> GrayImage {
        let px = |i: usize| {
            let p = 1.0 / (1.0 + (-self.logit[i]).exp());
            let v = (p * 255.0).round().clamp(0.0, 255.0) as u8;
            if self.mask[i] { v.max(128) } else { v.min(127) }
        };
        GrayImage::from_fn(self.width as u32, self.height as u32, |x, y| image::Luma([px(y as usize * self.width + x as usize)]))
    }

    /// The mask restricted to a box (in `image_clue_0` pixels of size `root`):
    /// what a verdict whose answer names that box carries. `None` when nothing
    /// of the mask is left in the box.
    pub fn restricted_to(&self, b: BBox, root: (u32, u32)) -> Option<FusedMap> {
        let (w, h) = (self.width, self.height);
        let (sx, sy) = (root.0.max(1) as f64 / w as f64, root.1.max(1) as f64 / h as f64);
        let mut out = self.clone();
        let mut any = false;
        for y in 0..h {
            for x in 0..w {
                // A cell is kept when its centre lies in the box.
                let (cx, cy) = ((x as f64 + 0.5) * sx, (y as f64 + 0.5) * sy);
                let inside = cx >= b[0] as f64 && cx < b[2] as f64 && cy >= b[1] as f64 && cy < b[3] as f64;
                let i = y * w + x;
                out.mask[i] &= inside;
                if !inside {
                    out.logit[i] = out.logit[i].min(-1e-3);
                }
                any |= out.mask[i];
            }
        }
        any.then_some(out)
    }
}

/// Statistics of the candidate region against the rest of the image: the
/// cues of a local edit (an inpainted or spliced region's noise and
/// compression differ from its surround), which a whole-image statistic
/// averages away.
///
/// The region is the fused mask's largest component, or, when the mask is
/// empty, the cells at or above the 95th percentile of the logit.
/// * `fusion.peak`: the largest logit; `fusion.area`: the region's share of the
///   image; `fusion.components`: connected components in the mask;
///   `fusion.contrast`: mean logit inside minus outside.
/// * `region.<op>`: for every operator with a whole-image map (weighted or not),
///   its mean normalised heat inside minus outside.
pub fn region_features(layers: &Layers, logit: &[f32], largest: Option<&[usize]>, n_components: usize) -> BTreeMap<String, f64> {
    let n = logit.len();
    let mut inside = vec![false; n];
    match largest {
        Some(c) if !c.is_empty() => c.iter().for_each(|&i| inside[i] = true),
        _ => {
            let mut sorted = logit.to_vec();
            sorted.sort_unstable_by(f32::total_cmp);
            let cut = sorted.get(n * 95 / 100).copied().unwrap_or(f32::INFINITY);
            logit.iter().zip(inside.iter_mut()).for_each(|(v, i)| *i = *v >= cut);
        }
    }
    let k = inside.iter().filter(|&&b| b).count();
    let contrast = |v: &[f32]| -> f64 {
        if k == 0 || k == n {
            return 0.0;
        }
        let (mut a, mut b) = (0f64, 0f64);
        for (x, &i) in v.iter().zip(&inside) {
            if i {
                a += *x as f64;
            } else {
                b += *x as f64;
            }
        }
        a / k as f64 - b / (n - k) as f64
    };
    let mut f = BTreeMap::new();
    f.insert("fusion.peak".into(), logit.iter().copied().fold(f32::MIN, f32::max) as f64);
    f.insert("fusion.area".into(), k as f64 / n.max(1) as f64);
    f.insert("fusion.components".into(), n_components as f64);
    f.insert("fusion.contrast".into(), contrast(logit));
    for (op, z) in &layers.maps {
        f.insert(format!("region.{op}"), contrast(z));
    }
    // Rounded like every statistic a policy reads, so a trajectory re-read gives the same numbers.
    f.values_mut().for_each(|v| *v = (*v * 1000.0).round() / 1000.0);
    f
}

/// Separable box filter of radius `r` (edges use the cells that exist).
fn box_blur(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    if r == 0 {
        return v.to_vec();
    }
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let (c, len) = if horizontal { (x, w) } else { (y, h) };
                let (lo, hi) = (c.saturating_sub(r), (c + r).min(len - 1));
                let mut s = 0f32;
                for k in lo..=hi {
                    s += if horizontal { src[y * w + k] } else { src[k * w + x] };
                }
                out[y * w + x] = s / (hi - lo + 1) as f32;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

/// The pixel box (in `root` pixels) of a set of cells.
fn cells_bbox(cells: &[usize], w: usize, h: usize, root: (u32, u32)) -> BBox {
    let (mut x1, mut y1, mut x2, mut y2) = (usize::MAX, usize::MAX, 0, 0);
    for &i in cells {
        let (x, y) = (i % w, i / w);
        x1 = x1.min(x);
        y1 = y1.min(y);
        x2 = x2.max(x + 1);
        y2 = y2.max(y + 1);
    }
    let px = |c: usize, n: usize, size: u32| ((c as f64 * size as f64 / n as f64).round() as u32).min(size);
    [px(x1, w, root.0), px(y1, h, root.1), px(x2, w, root.0), px(y2, h, root.1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::RegionFrame;

    fn run(op: &str, grid: HeatGrid) -> Evidence {
        Evidence { operator: op.into(), image: "image_clue_0".into(), summary: String::new(), stats: Default::default(), regions: vec![], frame: RegionFrame::Root, maps: vec![], heat: Some(grid) }
    }

    #[test]
    fn a_named_copy_is_the_mask_and_box() {
        let root = (160, 120);
        let whole = |values: Vec<f32>| HeatGrid { map: "m".into(), width: 16, height: 12, values, region: Some([0, 0, 160, 120]) };
        // copy_move marks its copy, blocks (1..4, 2..5): what it does when it names one.
        let copy: Vec<f32> = (0..16 * 12).map(|i| if (1..4).contains(&(i % 16)) && (2..5).contains(&(i / 16)) { 1.0 } else { 0.0 }).collect();
        let mut cm = run("copy_move", whole(copy.clone()));
        cm.stats.insert("copy_region".into(), serde_json::json!([10, 20, 40, 50]));
        let evidence = [run("srm", whole(patch_map(5.0))), cm.clone()];
        let cfg = config(&[("srm", 1.0), ("copy_move", 1.0)], -0.5);
        let f = fuse(&evidence, root, &cfg).expect("fused");
        assert_eq!(f.bbox, Some([10, 20, 40, 50]));
        assert_eq!(f.operators, vec!["copy_move".to_string()]);
        assert_eq!(f.mask, copy.iter().map(|&v| v >= 0.5).collect::<Vec<_>>());
        assert!(!f.features.is_empty(), "the fusion's region features are kept");
        // Off, or with no copy named (the map then marks both regions), the fusion decides.
        let fused = fuse(&evidence, root, &FusionConfig { named_copy_as_mask: false, ..cfg.clone() }).expect("fused");
        assert_ne!(fused.bbox, Some([10, 20, 40, 50]));
        assert_eq!(fused.width, 32);
        cm.stats.insert("copy_region".into(), serde_json::Value::Null);
        assert_eq!(fuse(&[run("srm", whole(patch_map(5.0))), cm.clone()], root, &cfg), Some(fused.clone()));
        // A run on a crop, or an empty map, names nothing.
        cm.stats.insert("copy_region".into(), serde_json::json!([10, 20, 40, 50]));
        assert!(named_copy(&[Evidence { heat: Some(HeatGrid { region: Some([0, 0, 80, 60]), ..whole(copy.clone()) }), ..cm.clone() }], root).is_none());
        assert!(named_copy(&[Evidence { heat: Some(whole(vec![0.2; 16 * 12])), ..cm }], root).is_none());
    }

    /// A 16×12 block map with a hot 4×3 patch at blocks (8..12, 4..7) over low noise.
    fn patch_map(hot: f32) -> Vec<f32> {
        (0..16 * 12).map(|i| if (8..12).contains(&(i % 16)) && (4..7).contains(&(i / 16)) { hot } else { ((i * 7919) % 13) as f32 * 0.01 }).collect()
    }

    fn config(weights: &[(&str, f64)], bias: f64) -> FusionConfig {
        FusionConfig { grid: 32, clip: 8.0, bias, weights: weights.iter().map(|(k, v)| (k.to_string(), *v)).collect(), smooth: 0, largest_only: true, peak_fraction: 0.0, named_copy_as_mask: true }
    }

    #[test]
    fn builtin_fusion_parses() {
        let c = FusionConfig::default();
        assert!(!c.weights.is_empty());
        let bad = DEFAULT_FUSION.replacen("[localization]\n", "[localization]\ngird = 3\n", 1);
        assert!(FusionConfig::from_toml(&bad, "x").unwrap_err().to_string().contains("gird"));
    }

    #[test]
    fn a_hot_patch_becomes_the_mask_and_its_box() {
        let root = (320, 240);
        let grid = HeatGrid::from_map("z", 16, 12, &patch_map(5.0), Some([0, 0, 320, 240])).unwrap();
        let fused = fuse(&[run("srm", grid)], root, &config(&[("srm", 1.0)], -0.5)).unwrap();
        assert_eq!((fused.width, fused.height), (32, 24));
        // Blocks 8..12 × 4..7 of 20 px are pixels [160, 80, 240, 140]; bilinear
        // resampling spreads the edge by at most one 10 px cell.
        let b = fused.bbox.unwrap();
        assert!(b[0] >= 150 && b[0] <= 170 && b[2] >= 230 && b[2] <= 250, "{b:?}");
        assert!(b[1] >= 70 && b[1] <= 90 && b[3] >= 130 && b[3] <= 150, "{b:?}");
        // The patch is the map's top percentile, so it normalises to about 1 over a median of 0.
        assert!(fused.features["fusion.contrast"] > 0.7, "{:?}", fused.features);
        assert!(fused.features["region.srm"] > 0.7, "{:?}", fused.features);
        // The heat image at 0.5 is exactly the mask.
        let heat = fused.heat_image();
        for (i, p) in heat.as_raw().iter().enumerate() {
            assert_eq!(*p >= 128, fused.mask[i]);
        }
        // Restricting to a box away from the patch leaves nothing; around it, the patch.
        assert!(fused.restricted_to([0, 0, 100, 100], root).is_none());
        let kept = fused.restricted_to([150, 70, 250, 150], root).unwrap();
        assert_eq!(kept.mask.iter().filter(|&&m| m).count(), fused.mask.iter().filter(|&&m| m).count());
    }

    #[test]
    fn unweighted_crop_and_unplaced_maps_are_not_fused() {
        let root = (320, 240);
        let crop = HeatGrid::from_map("z", 16, 12, &patch_map(5.0), Some([0, 0, 160, 120])).unwrap();
        let unplaced = HeatGrid::from_map("z", 16, 12, &patch_map(5.0), None).unwrap();
        let whole = HeatGrid::from_map("z", 16, 12, &patch_map(5.0), Some([0, 0, 320, 240])).unwrap();
        let cfg = config(&[("srm", 1.0)], -0.5);
        assert!(fuse(&[run("srm", crop), run("srm", unplaced)], root, &cfg).is_none());
        assert!(fuse(&[run("ela", whole)], root, &cfg).is_none(), "ela has no weight");
    }

    #[test]
    fn a_negative_weight_and_the_bias_move_the_mask() {
        let root = (320, 240);
        let whole = || HeatGrid::from_map("z", 16, 12, &patch_map(5.0), Some([0, 0, 320, 240])).unwrap();
        let none = fuse(&[run("srm", whole())], root, &config(&[("srm", -1.0)], -0.5)).unwrap();
        assert!(none.mask.iter().all(|&m| !m) && none.bbox.is_none());
        // Without a mask the region is the top 5% of the logit, so contrasts stay defined.
        assert!(none.features["fusion.area"] > 0.0);
        let all = fuse(&[run("srm", whole())], root, &config(&[("srm", 1.0)], 100.0)).unwrap();
        assert_eq!(all.bbox, Some([0, 0, 320, 240]));
    }

    #[test]
    fn heat_grids_are_block_averaged_to_the_kept_size() {
        let v: Vec<f32> = (0..200 * 100).map(|i| (i % 200) as f32).collect();
        let g = HeatGrid::from_map("m", 200, 100, &v, None).unwrap();
        assert_eq!((g.width, g.height), (50, 25), "factor ceil(200/64) = 4");
        assert_eq!(g.values[0], 1.5, "mean of 0..4");
        assert!(HeatGrid::from_map("m", 3, 3, &[0.0; 8], None).is_none());
    }
}

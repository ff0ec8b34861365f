//! Operator outputs as data. An [`Evidence`] is one operator run as the model
//! was shown it: `observe::render_evidence` writes the text the model reads from
//! it, and everything else that wants the numbers (the scripted policy, the
//! scorer's features) reads the data, never the text.
//!
//! Values are kept at the precision the text shows (stats rounded to 3
//! decimals, region scores to 1), so a reader of the data decides exactly as a
//! reader of the text would.

mod legacy;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use trutheye_plugin_api::MapRole;

use crate::trajectory::Trajectory;
use crate::verdict::BBox;

pub use legacy::legacy_evidence_from_text;

/// Regions an observation lists (the strongest first); the rest are dropped
/// because every line costs the model tokens.
pub const MAX_REGIONS: usize = 5;

/// One operator run: what it said, its statistics, its regions and its maps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Operator name (`srm`, `ela`, ...), as registered.
    pub operator: String,
    /// The input as the observation names it (`image_clue_k`, or a sandbox
    /// label such as `derived 64x64 image`).
    pub image: String,
    /// The operator's summary, trimmed.
    pub summary: String,
    /// The operator's statistics, every float rounded to 3 decimals. Kept as
    /// JSON because operators also report arrays and strings, and integers
    /// must render as integers; [`Evidence::numbers`] gives the numeric ones.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub stats: Map<String, Value>,
    /// The operator's strongest regions (at most [`MAX_REGIONS`]), in `frame`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<ScoredRegion>,
    /// Which pixels the region boxes are in.
    pub frame: RegionFrame,
    /// The maps the operator returned (inconsistent maps are left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maps: Vec<MapSummary>,
    /// The operator's heat-map as numbers, coarsened (see [`HeatGrid`]); what
    /// localization fuses. Not shown to the model as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heat: Option<HeatGrid>,
}

/// Long side of a kept [`HeatGrid`]: operators' heat-maps are block maps (one
/// value per 16–32 px block), so a 1-megapixel image's map fits already and a
/// 12-megapixel one is averaged down to this.
pub const HEAT_GRID_SIDE: usize = 64;

/// An operator's heat-map (larger = more suspicious, by convention a robust
/// z-score per block) kept as data, so localization can fuse the maps of
/// every operator an episode ran, and `trutheye train fusion` can refit the
/// fusion from recorded trajectories without running operators again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatGrid {
    /// The operator's name for the map (`energy_abs_z`, ...).
    pub map: String,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Row-major values, rounded to 2 decimals (non-finite values are 0: no evidence).
    pub values: Vec<f32>,
    /// Where the grid lies in `image_clue_0` pixels (the whole image for a run on
    /// it, the crop for a run on a crop); `None` when the input is not placed in
    /// it (a resized or rotated image).
    pub region: Option<BBox>,
}

impl HeatGrid {
    /// The grid of an operator output's first one-channel float heat-map.
    pub fn from_output(out: &trutheye_plugin_api::Output, region: Option<BBox>) -> Option<Self> {
        let m = out.maps.iter().find(|m| m.channels == 1 && m.role == MapRole::Heatmap && m.is_consistent())?;
        match &m.data {
            trutheye_plugin_api::MapData::F32(v) => Self::from_map(&m.name, m.width, m.height, v, region),
            trutheye_plugin_api::MapData::U8(_) => None,
        }
    }

    /// The grid of a float heat-map (`width`×`height`, row-major), block-averaged
    /// so its long side is at most [`HEAT_GRID_SIDE`]. `None` for an empty or
    /// inconsistent map.
    pub fn from_map(map: &str, width: usize, height: usize, values: &[f32], region: Option<BBox>) -> Option<Self> {
        if width == 0 || height == 0 || values.len() != width * height {
            return None;
        }
        let factor = width.max(height).div_ceil(HEAT_GRID_SIDE).max(1);
        let (gw, gh) = (width.div_ceil(factor), height.div_ceil(factor));
        let mut sum = vec![0f64; gw * gh];
        let mut n = vec![0u32; gw * gh];
        for y in 0..height {
            for x in 0..width {
                let v = values[y * width + x];
                let c = (y / factor) * gw + x / factor;
                sum[c] += if v.is_finite() { v as f64 } else { 0.0 };
                n[c] += 1;
            }
        }
        let values = sum.iter().zip(&n).map(|(s, &k)| ((s / k.max(1) as f64) * 100.0).round() as f32 / 100.0).collect();
        Some(Self { map: map.into(), width: gw as u32, height: gh as u32, values, region })
    }
}

/// A region an operator flagged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredRegion {
    /// `[x1, y1, x2, y2]` in the evidence's frame (x2/y2 exclusive).
    pub bbox: BBox,
    /// Anomaly score (by convention a robust z-score), at the 0.1 the text
    /// shows; not-a-number and infinities survive serialization as strings.
    #[serde(serialize_with = "ser_score", deserialize_with = "de_score")]
    pub score: f64,
}

/// The pixels region boxes are given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionFrame {
    /// `image_clue_0` pixels: the input's place in it was known (it is
    /// `image_clue_0` or a chain of crops of it).
    Root,
    /// The input's own pixels (a resized or rotated image).
    Input,
}

/// A map an operator returned and what became of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapSummary {
    /// Map name (`residual`, `heatmap`, ...).
    pub name: String,
    /// How it is meant to be read.
    pub role: MapRole,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Shown, saved, or refused.
    pub fate: MapFate,
}

/// What happened to a map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapFate {
    /// Shown to the model as this image (`image_clue_k`).
    Shown(String),
    /// Saved under this artifact name, not shown (only one map per run is).
    Artifact(String),
    /// It was to be shown but could not be added (the reason).
    NotShown(String),
}

impl Evidence {
    /// The numeric statistics (`anomaly_z`, `residual_std`, ...), in key order;
    /// arrays, strings and nulls are skipped.
    pub fn numbers(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.stats.iter().filter_map(|(k, v)| v.as_f64().map(|x| (k.as_str(), x)))
    }

    /// One numeric statistic.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.stats.get(key).and_then(Value::as_f64)
    }

    /// Regions whose boxes are in `image_clue_0` pixels (none when the frame is the input's).
    pub fn root_regions(&self) -> &[ScoredRegion] {
        match self.frame {
            RegionFrame::Root => &self.regions,
            RegionFrame::Input => &[],
        }
    }
}

/// A region score at the precision the observation text shows (`z=4.5`).
/// Formatting and parsing back, rather than arithmetic rounding, gives exactly
/// the value a reader of the text got, ties and all.
pub fn shown_score(score: f32) -> f64 {
    format!("{score:.1}").parse().unwrap_or(f64::NAN)
}

/// Every operator run of a recorded episode, in order. Trajectories written
/// before observations carried evidence have it read back from their text
/// ([`legacy_evidence_from_text`]); a trajectory is that old when a forensic
/// tool succeeded in it and no observation carries evidence (today every
/// successful operator run records its evidence).
pub fn trajectory_evidence(t: &Trajectory) -> Vec<Evidence> {
    let records = || t.turns.iter().filter_map(|turn| turn.observation.as_ref());
    let has_evidence = records().any(|o| !o.evidence.is_empty());
    let ran_operator = records().flat_map(|o| &o.tools).any(|u| u.ok && u.kind == crate::executor::ToolKind::Forensic);
    if !has_evidence && ran_operator {
        return records().flat_map(|o| legacy_evidence_from_text(&o.text)).collect();
    }
    records().flat_map(|o| o.evidence.iter().cloned()).collect()
}

fn ser_score<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        // JSON has no NaN or infinity; serde_json would write null and lose which.
        s.serialize_str(&v.to_string())
    }
}

fn de_score<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Score {
        Number(f64),
        Text(String),
        Null(()),
    }
    Ok(match Score::deserialize(d)? {
        Score::Number(x) => x,
        Score::Text(s) => s.parse().unwrap_or(f64::NAN),
        Score::Null(()) => f64::NAN,
    })
}

#[cfg(test)]
mod tests;

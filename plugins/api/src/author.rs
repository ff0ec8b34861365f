//! The untyped operator trait [`RawOperator`] (parameters as raw JSON, schema
//! written by hand), plain output types, and the ABI wrapper behind
//! [`export_plugin!`](crate::export_plugin). Authors implement the typed
//! [`Operator`](crate::Operator) instead; every `Operator` is a `RawOperator`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::std_types::{RErr, ROk, RResult, RStr, RString, RVec};
use serde::{Deserialize, Serialize};

use crate::abi::{AbiImage, AbiMap, AbiMapData, AbiMapRole, AbiOperator, AbiOutput, AbiRegion};
use crate::error::OperatorError;
use crate::image::ImageRef;

/// A forensic operator whose parameters arrive as raw JSON. What the ABI
/// wrapper calls; implement [`Operator`](crate::Operator) instead unless the
/// parameters cannot be declared with [`params!`](crate::params).
pub trait RawOperator: Default + 'static {
    /// Registry name, `snake_case`; what the model writes in a tool call.
    const NAME: &'static str;
    /// What the operator shows and how to read its output; the model sees this.
    const DESCRIPTION: &'static str;
    /// Family: `frequency`, `noise`, `edge`, `compression`, `statistics` or `learned`.
    const CATEGORY: &'static str;
    /// Other names a model may call it by (titles from papers: `Error Level
    /// Analysis`). Names are matched ignoring case, spaces, `_` and `-`, so
    /// `JPEG Ghost` needs no entry for `jpeg_ghost`. They travel in the
    /// parameter schema as the annotation keyword [`ALIASES_KEYWORD`], so the
    /// ABI (and every plugin built before aliases existed) is unchanged.
    const ALIASES: &'static [&'static str] = &[];

    /// JSON schema of the parameters object. Defaults must be documented in it;
    /// the host validates calls against it before `run`.
    fn params_schema() -> serde_json::Value {
        serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false})
    }

    /// Runs the operator. Errors are shown to the model as the observation.
    fn run(&self, image: &ImageRef<'_>, params: &serde_json::Value) -> Result<Output, OperatorError>;
}

/// How a map is meant to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapRole {
    /// A picture to show (8-bit, 1 or 3 channels).
    Visual,
    /// A scalar field where larger means more suspicious.
    Heatmap,
    /// A binary mask, 0 or 255.
    Mask,
}

impl From<MapRole> for AbiMapRole {
    fn from(role: MapRole) -> Self {
        match role {
            MapRole::Visual => AbiMapRole::Visual,
            MapRole::Heatmap => AbiMapRole::Heatmap,
            MapRole::Mask => AbiMapRole::Mask,
        }
    }
}

/// Samples of a map.
#[derive(Clone, Debug, PartialEq)]
pub enum MapData {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 32-bit float samples.
    F32(Vec<f32>),
}

/// One output map, row-major with interleaved channels.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// Short name used in file names.
    pub name: String,
    /// Width in samples.
    pub width: usize,
    /// Height in samples.
    pub height: usize,
    /// Channels per sample (1 or 3).
    pub channels: usize,
    /// How to read it.
    pub role: MapRole,
    /// The samples.
    pub data: MapData,
}

impl Map {
    /// A single-channel f32 heat-map (larger = more suspicious).
    pub fn heatmap(name: &str, width: usize, height: usize, values: Vec<f32>) -> Self {
        Self { name: name.into(), width, height, channels: 1, role: MapRole::Heatmap, data: MapData::F32(values) }
    }

    /// An 8-bit picture with 1 or 3 channels.
    pub fn visual(name: &str, width: usize, height: usize, channels: usize, pixels: Vec<u8>) -> Self {
        Self { name: name.into(), width, height, channels, role: MapRole::Visual, data: MapData::U8(pixels) }
    }

    /// [`Map::visual`] of what `render` draws, or `None` without calling it when the
    /// caller reads no visuals ([`ImageRef::wants`]), so an operator skips the
    /// rendering pass (and any buffer it keeps only for the picture) for hosts that
    /// read heat-maps alone.
    pub fn visual_for(image: &ImageRef<'_>, name: &str, width: usize, height: usize, channels: usize, render: impl FnOnce() -> Vec<u8>) -> Option<Self> {
        image.wants(MapRole::Visual).then(|| Self::visual(name, width, height, channels, render()))
    }

    /// A 0/255 mask.
    pub fn mask(name: &str, width: usize, height: usize, pixels: Vec<u8>) -> Self {
        Self { name: name.into(), width, height, channels: 1, role: MapRole::Mask, data: MapData::U8(pixels) }
    }

    /// Number of samples the size promises.
    pub fn expected_len(&self) -> usize {
        self.width * self.height * self.channels
    }

    /// True when the sample count matches the size.
    pub fn is_consistent(&self) -> bool {
        let n = match &self.data {
            MapData::U8(v) => v.len(),
            MapData::F32(v) => v.len(),
        };
        n == self.expected_len() && (self.channels == 1 || self.channels == 3)
    }
}

/// A suspicious region in input-image pixels (x2/y2 exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [u32; 4],
    /// Operator-specific anomaly score; by convention a robust z-score.
    pub score: f32,
}

/// Everything an operator returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// One or two sentences with numbers, read by the model.
    pub summary: String,
    /// The numbers behind the summary, as a JSON object.
    pub stats: serde_json::Value,
    /// Output maps.
    pub maps: Vec<Map>,
    /// Most anomalous regions, most suspicious first.
    pub regions: Vec<Region>,
}

impl Output {
    /// Converts to the ABI form.
    pub fn into_abi(self) -> AbiOutput {
        AbiOutput {
            summary: self.summary.into(),
            stats_json: self.stats.to_string().into(),
            maps: self.maps.into_iter().map(map_to_abi).collect(),
            regions: self
                .regions
                .into_iter()
                .map(|r| AbiRegion { x1: r.bbox[0], y1: r.bbox[1], x2: r.bbox[2], y2: r.bbox[3], score: r.score })
                .collect(),
        }
    }

    /// Converts from the ABI form, checking what a foreign library could get wrong.
    pub fn from_abi(out: AbiOutput) -> Result<Self, OperatorError> {
        let stats = if out.stats_json.is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(out.stats_json.as_str())
                .map_err(|e| OperatorError::Failed(format!("plugin returned invalid stats JSON: {e}")))?
        };
        let maps = out.maps.into_iter().map(map_from_abi).collect::<Vec<_>>();
        if let Some(bad) = maps.iter().find(|m| !m.is_consistent()) {
            return Err(OperatorError::Failed(format!(
                "plugin returned map `{}` whose data does not match {}x{}x{}",
                bad.name, bad.width, bad.height, bad.channels
            )));
        }
        Ok(Self {
            summary: out.summary.into_string(),
            stats,
            maps,
            regions: out
                .regions
                .into_iter()
                .map(|r| Region { bbox: [r.x1, r.y1, r.x2, r.y2], score: r.score })
                .collect(),
        })
    }
}

fn map_to_abi(m: Map) -> AbiMap {
    AbiMap {
        name: m.name.into(),
        width: m.width as u32,
        height: m.height as u32,
        channels: m.channels as u32,
        role: m.role.into(),
        data: match m.data {
            MapData::U8(v) => AbiMapData::U8(v.into()),
            MapData::F32(v) => AbiMapData::F32(v.into()),
        },
    }
}

fn map_from_abi(m: AbiMap) -> Map {
    Map {
        name: m.name.into_string(),
        width: m.width as usize,
        height: m.height as usize,
        channels: m.channels as usize,
        role: match m.role {
            AbiMapRole::Visual => MapRole::Visual,
            AbiMapRole::Heatmap => MapRole::Heatmap,
            AbiMapRole::Mask => MapRole::Mask,
        },
        data: match m.data {
            AbiMapData::U8(v) => MapData::U8(v.into_vec()),
            AbiMapData::F32(v) => MapData::F32(v.into_vec()),
        },
    }
}

/// The top-level keyword of a parameter schema that carries the operator's
/// [`RawOperator::ALIASES`]. JSON Schema ignores keywords it does not know, so
/// hosts that predate it validate as before; hosts that know it take it out of
/// the schema before showing or compiling it.
pub const ALIASES_KEYWORD: &str = "x-trutheye-aliases";

/// Builds the ABI declaration of an operator. Used by
/// [`export_plugin!`](crate::export_plugin); hosts may also use it to run an
/// operator in-process through exactly the same entry point.
pub fn declare<O: RawOperator>() -> AbiOperator {
    let mut schema = O::params_schema();
    if let (false, Some(obj)) = (O::ALIASES.is_empty(), schema.as_object_mut()) {
        obj.insert(ALIASES_KEYWORD.into(), serde_json::json!(O::ALIASES));
    }
    AbiOperator {
        name: O::NAME.into(),
        description: O::DESCRIPTION.into(),
        params_schema: schema.to_string().into(),
        category: O::CATEGORY.into(),
        run: trampoline::<O>,
    }
}

/// The `extern "C"` entry point for `O`. Panics must not unwind across the
/// boundary (that aborts the host), so they are caught here and turned into errors.
extern "C" fn trampoline<O: RawOperator>(image: AbiImage<'_>, params: RStr<'_>) -> RResult<AbiOutput, RString> {
    quiet_panics_in_operators();
    IN_OPERATOR.with(|f| f.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<AbiOutput, OperatorError> {
        let image = ImageRef::from_abi(&image).map_err(OperatorError::Image)?;
        let params: serde_json::Value = if params.as_str().trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(params.as_str()).map_err(|e| OperatorError::Params(format!("parameters are not JSON: {e}")))?
        };
        O::default().run(&image, &params).map(Output::into_abi)
    }));
    IN_OPERATOR.with(|f| f.set(false));
    match result {
        Ok(Ok(out)) => ROk(out),
        Ok(Err(e)) => RErr(e.to_string().into()),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            RErr(format!("operator `{}` panicked: {msg}", O::NAME).into())
        }
    }
}

thread_local! {
    static IN_OPERATOR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A panic inside an operator is caught and returned as an error, so the default
/// hook's `thread panicked at ...` message must not reach the user. The hook is
/// installed once per copy of `std` (a cdylib has its own) and defers to the
/// previous hook for panics outside operators.
fn quiet_panics_in_operators() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_OPERATOR.with(|f| f.get()) {
                previous(info);
            }
        }));
    });
}

/// Collects operator declarations; used by [`export_plugin!`](crate::export_plugin).
pub fn declare_all(list: Vec<AbiOperator>) -> RVec<AbiOperator> {
    list.into()
}

//! `#[repr(C)]` types that cross the dylib boundary. Changing any of them changes
//! the layout that `abi_stable` checks, so old plugins are refused with a clear
//! message instead of being called with the wrong memory layout.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RSlice, RStr, RString, RVec},
    StableAbi,
};

/// The image handed to an operator: interleaved RGB8 plus, when available, the
/// original encoded file.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct AbiImage<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major, R G B.
    pub rgb: RSlice<'a, u8>,
    /// The untouched source file, or empty for derived images.
    pub encoded: RSlice<'a, u8>,
    /// Lower-case format of `encoded` (`"jpeg"`, `"png"`, ...), empty when unknown.
    pub format: RStr<'a>,
    /// The map roles the caller will read, one bit per [`AbiMapRole`]
    /// (`1 << role`). An operator may skip computing maps of the other roles (a
    /// full-resolution visual costs a pass over the image and a page-faulted
    /// buffer); returning them anyway is allowed. Hosts set every bit unless they
    /// know they read fewer (`trutheye op --maps heatmap --json`, the evaluator's
    /// baselines, `train fusion`).
    pub wanted_roles: u8,
}

/// How a map is meant to be read.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiMapRole {
    /// A picture to show (8-bit, 1 or 3 channels).
    Visual = 0,
    /// A scalar field where larger means more suspicious.
    Heatmap = 1,
    /// A binary mask, 0 or 255.
    Mask = 2,
}

/// Pixel storage of a map.
#[repr(C, u8)]
#[derive(StableAbi, Clone)]
pub enum AbiMapData {
    /// 8-bit samples.
    U8(RVec<u8>),
    /// 32-bit float samples.
    F32(RVec<f32>),
}

/// One output map.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct AbiMap {
    /// Short name, used in file names (`"residual"`, `"ghost_q75"`).
    pub name: RString,
    /// Width in samples.
    pub width: u32,
    /// Height in samples.
    pub height: u32,
    /// Interleaved channels per sample (1 or 3).
    pub channels: u32,
    /// How to read it.
    pub role: AbiMapRole,
    /// The samples, `width * height * channels` of them.
    pub data: AbiMapData,
}

/// A suspicious region, in pixel coordinates of the input image (x2/y2 exclusive).
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct AbiRegion {
    /// Left edge.
    pub x1: u32,
    /// Top edge.
    pub y1: u32,
    /// Right edge, exclusive.
    pub x2: u32,
    /// Bottom edge, exclusive.
    pub y2: u32,
    /// Operator-specific anomaly score; by convention a robust z-score.
    pub score: f32,
}

/// Everything an operator returns.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct AbiOutput {
    /// One or two sentences the model reads.
    pub summary: RString,
    /// A JSON object with the numbers behind the summary.
    pub stats_json: RString,
    /// Output maps.
    pub maps: RVec<AbiMap>,
    /// Most anomalous regions, most suspicious first.
    pub regions: RVec<AbiRegion>,
}

/// The function every operator exports. It must not unwind: the author-side
/// trampoline catches panics and returns them as errors.
pub type AbiRunFn =
    extern "C" fn(image: AbiImage<'_>, params_json: RStr<'_>) -> RResult<AbiOutput, RString>;

/// Declaration of one operator.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct AbiOperator {
    /// Registry name, `snake_case`; what the model calls.
    pub name: RString,
    /// What the operator shows and how to read it; shown to the model.
    pub description: RString,
    /// JSON schema (draft 2020-12) of the parameters object.
    pub params_schema: RString,
    /// Family (`frequency`, `noise`, `edge`, `compression`, `statistics`, `learned`).
    pub category: RString,
    /// Entry point; see [`AbiRunFn`]. Written out because `abi_stable`'s derive
    /// reads function-pointer types from the field's syntax.
    pub run: extern "C" fn(image: AbiImage<'_>, params_json: RStr<'_>) -> RResult<AbiOutput, RString>,
}

/// The root module of a plugin library.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// Plugin name (usually the crate name).
    pub name: extern "C" fn() -> RString,
    /// Plugin version (usually the crate version).
    pub version: extern "C" fn() -> RString,
    /// The operators this plugin provides.
    #[sabi(last_prefix_field)]
    pub operators: extern "C" fn() -> RVec<AbiOperator>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "trutheye_plugin";
    const NAME: &'static str = "trutheye_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

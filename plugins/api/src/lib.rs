//! The stable ABI between trutheye and forensic operator plugins.
//!
//! Two halves live here, in the spirit of nushell's protocol/author split:
//!
//! * [`abi`]: `#[repr(C)]` types checked by `abi_stable` at load time. They are
//!   what actually crosses the dylib boundary, and nothing else does.
//! * the author side: [`Operator`] with parameters declared once by
//!   [`params!`] (schema derived, values checked), plain output types,
//!   [`export_plugin!`] which turns a list of operators into the root module the
//!   host looks for, [`blocks`] (the median, robust z and region grouping the
//!   built-in block-map operators score with) and [`testing`] helpers. The host uses the same plain types,
//!   so the conversion to and from the ABI is written exactly once, here.
//!
//! A plugin crate depends on this crate only: `abi_stable`, `serde`,
//! `serde_json` and `schemars` are re-exported for the macros and for authors.
//!
//! # What crosses the boundary
//! * Input: always interleaved 8-bit RGB (`width * height * 3` bytes). The host
//!   decodes every format (gray, 16-bit, alpha, CMYK) to this one layout so that
//!   operators never guess. The original encoded bytes come along when the image is
//!   the untouched file, so JPEG operators can read quantization tables and chroma
//!   sampling; for derived images (crops, enhanced copies) they are empty.
//! * Parameters: a JSON object as text, validated by the host against the
//!   operator's JSON schema before the call (and parsed and checked again by the
//!   operator, which cannot trust its caller).
//! * Output: a model-readable summary, a JSON statistics object, zero or more maps
//!   (8-bit visual images, f32 heat-maps, 0/255 masks; row-major, interleaved
//!   channels) and the most anomalous regions as boxes.

#![warn(missing_docs)]

// The derives that `params!` expands to name `trutheye_plugin_api::serde` and
// `::schemars` by path (derive attributes cannot take `$crate`); this makes the
// same path work inside this crate's own tests and doc examples.
extern crate self as trutheye_plugin_api;

pub mod abi;
pub mod alloc;
pub mod author;
pub mod blocks;
mod error;
mod export;
pub mod image;
pub mod params;
mod params_macro;
pub mod testing;
mod typed;

pub use abi_stable;
/// JPEG header facts (quantization tables, chroma sampling, IJG quality) and
/// Pillow's resampling, from the one imaging crate every host shares
/// (`trutheye-imaging`), so an operator sees the pixels the host and the
/// models see.
pub use trutheye_imaging::{pillow, quant as jpeg};
pub use author::{declare, Map, MapData, MapRole, RawOperator, Output, Region};
pub use export::LIB_HEADER_SYMBOL;
pub use image::{ImageRef, MapRoles};
pub use params::Params;
pub use schemars;
pub use serde;
pub use serde_json;
pub use typed::{NoParams, Operator};
pub use error::OperatorError;

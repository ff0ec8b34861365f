//! The stable ABI between trutheye and forensic operator plugins.
//!
//! Two halves live here, in the spirit of nushell's protocol/author split:
//!
//! * [`abi`]: `#[repr(C)]` types checked by `abi_stable` at load time. They are
//!   what actually crosses the dylib boundary, and nothing else does.
//! * [`author`]: plain Rust types and the [`Operator`] trait that a plugin author
//!   implements, plus [`export_plugin!`] which turns a list of operators into the
//!   root module the host looks for. The host uses the same plain types, so the
//!   conversion to and from the ABI is written exactly once, here.
//!
//! # What crosses the boundary
//! * Input: always interleaved 8-bit RGB (`width * height * 3` bytes). The host
//!   decodes every format (gray, 16-bit, alpha, CMYK) to this one layout so that
//!   operators never guess. The original encoded bytes come along when the image is
//!   the untouched file, so JPEG operators can read quantization tables and chroma
//!   sampling; for derived images (crops, enhanced copies) they are empty.
//! * Parameters: a JSON object as text, validated by the host against the
//!   operator's JSON schema before the call.
//! * Output: a model-readable summary, a JSON statistics object, zero or more maps
//!   (8-bit visual images, f32 heat-maps, 0/255 masks; row-major, interleaved
//!   channels) and the most anomalous regions as boxes.

pub mod abi;
pub mod author;
pub mod image;
pub mod jpeg;
pub mod pillow;

pub use abi_stable;
pub use author::{declare, Map, MapData, MapRole, Operator, Output, Region};
pub use image::ImageRef;

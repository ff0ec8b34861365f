//! ONNX Runtime backends as a trutheye plugin.
//!
//! Every `<name>.toml` manifest in the model directories becomes one operator
//! backed by the `.onnx` file it names: learned detectors (a CLIP probe scoring
//! "synthetic") and alternate backends of classic operators (SRM, Bayar as ONNX
//! convolution graphs). Nothing is loaded at build time; ONNX Runtime is opened at
//! run time from a checked path (see [`runtime`]). Format and setup: `docs/onnx.md`.
//!
//! # Why the root module is written by hand
//! The ABI's operator entry point is a bare `extern "C" fn` with no context
//! pointer, while the number of operators is only known once manifests are read.
//! So the plugin exports [`SLOTS`] monomorphised trampolines `run_slot::<I>` and
//! binds the I-th loaded model to the I-th slot. The root module keeps exactly the
//! layout of `export_plugin!` (same `PluginMod`), so any host loads it unchanged.

pub mod catalog;
mod error;
pub mod manifest;
pub mod model;
pub mod preprocess;
pub mod residual;
pub mod runtime;

pub use error::OnnxError;

use std::panic::{catch_unwind, AssertUnwindSafe};

use trutheye_plugin_api::abi_stable::std_types::{RErr, ROk, RResult, RStr, RString, RVec};
use trutheye_plugin_api::abi::{AbiImage, AbiOperator, AbiOutput, PluginMod, PluginModRef};
use trutheye_plugin_api::ImageRef;

/// Most ONNX operators one process can expose (one per trampoline).
pub const SLOTS: usize = 16;

/// Runs the model bound to slot `I`. Panics never cross the boundary.
extern "C" fn run_slot<const I: usize>(image: AbiImage<'_>, params: RStr<'_>) -> RResult<AbiOutput, RString> {
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<AbiOutput, String> {
        let model = catalog::get().models.get(I).ok_or_else(|| format!("ONNX operator slot {I} is not bound"))?;
        let image = ImageRef::from_abi(&image)?;
        let params: serde_json::Value = if params.as_str().trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(params.as_str()).map_err(|e| format!("parameters are not JSON: {e}"))?
        };
        model.run(&image, &params).map(|o| o.into_abi()).map_err(|e| e.to_string())
    }));
    match result {
        Ok(Ok(out)) => ROk(out),
        Ok(Err(msg)) => RErr(msg.into()),
        Err(_) => RErr("ONNX operator panicked (see stderr)".to_string().into()),
    }
}

type SlotFn = extern "C" fn(AbiImage<'_>, RStr<'_>) -> RResult<AbiOutput, RString>;

const SLOT_FNS: [SlotFn; SLOTS] = [
    run_slot::<0>, run_slot::<1>, run_slot::<2>, run_slot::<3>, run_slot::<4>, run_slot::<5>, run_slot::<6>, run_slot::<7>,
    run_slot::<8>, run_slot::<9>, run_slot::<10>, run_slot::<11>, run_slot::<12>, run_slot::<13>, run_slot::<14>, run_slot::<15>,
];

/// The ABI declarations of every loaded model, in slot order.
pub fn declarations() -> Vec<AbiOperator> {
    catalog::get()
        .models
        .iter()
        .zip(SLOT_FNS)
        .map(|(m, run)| AbiOperator {
            name: m.manifest.name.clone().into(),
            // `plugins list` prints the first sentence: make it the backend and model path.
            description: format!("[{} backend, model {}]. {}", m.backend(), m.path.display(), m.manifest.description).into(),
            params_schema: catalog::params_schema(&m.manifest).to_string().into(),
            category: m.manifest.category.clone().into(),
            run,
        })
        .collect()
}

extern "C" fn plugin_name() -> RString {
    env!("CARGO_PKG_NAME").into()
}

extern "C" fn plugin_version() -> RString {
    env!("CARGO_PKG_VERSION").into()
}

extern "C" fn plugin_operators() -> RVec<AbiOperator> {
    // Loading models runs foreign code; a panic here must not unwind into the host.
    catch_unwind(declarations).unwrap_or_else(|_| {
        eprintln!("trutheye-plugin-onnx: loading ONNX models panicked; no ONNX operators");
        Vec::new()
    })
    .into()
}

/// The root module the host's loader looks for (same layout as `export_plugin!`).
pub fn trutheye_plugin_root() -> PluginModRef {
    use trutheye_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
    PluginMod { name: plugin_name, version: plugin_version, operators: plugin_operators }.leak_into_prefix()
}

trutheye_plugin_api::export_root_module!(trutheye_plugin_root);

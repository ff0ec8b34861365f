//! Test support for operator authors: run an operator through the same `extern "C"`
//! entry point the host calls, on a generated image, and check that its parameter
//! schema is one the host can show and validate.
//!
//! ```
//! use trutheye_plugin_api::{testing, ImageRef, NoParams, Operator, OperatorError, Output};
//!
//! #[derive(Default)]
//! struct Mean;
//! impl Operator for Mean {
//!     const NAME: &'static str = "mean";
//!     const DESCRIPTION: &'static str = "Mean luma.";
//!     const CATEGORY: &'static str = "statistics";
//!     type Params = NoParams;
//!     fn analyze(&self, image: &ImageRef<'_>, _: NoParams) -> Result<Output, OperatorError> {
//!         let mean = image.luma().iter().sum::<f32>() / image.pixels() as f32;
//!         Ok(Output { summary: format!("mean {mean:.1}"), ..Default::default() })
//!     }
//! }
//!
//! testing::check_schema::<Mean>().unwrap();
//! let out = testing::run_on_noise::<Mean>(32, 32, &serde_json::json!({})).unwrap();
//! assert!(out.summary.starts_with("mean "));
//! let err = testing::run_on_noise::<Mean>(32, 32, &serde_json::json!({"x": 1})).unwrap_err();
//! assert!(err.to_string().contains("unknown parameter `x`"));
//! ```

use serde_json::{Map, Value};

use crate::author::{declare, Output, RawOperator};
use crate::error::OperatorError;
use crate::image::ImageRef;
use crate::params::Params;
use crate::typed::Operator;

/// A deterministic `width x height` RGB noise image (values 64..=191, so neither
/// clipping end is hit), the same for the same `seed`.
pub fn noise_image(width: usize, height: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..width * height * 3)
        .map(|_| {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            64 + (state >> 25) as u8
        })
        .collect()
}

/// Runs `O` on `image` with `params` through its ABI declaration (the trampoline
/// the host calls: parameter parsing, panic containment and the output
/// conversion included) and returns the checked output.
pub fn run<O: RawOperator>(image: &ImageRef<'_>, params: &Value) -> Result<Output, OperatorError> {
    let decl = declare::<O>();
    let text = params.to_string();
    let out = (decl.run)(image.to_abi(), text.as_str().into()).into_result();
    Output::from_abi(out.map_err(|e| OperatorError::Failed(e.into_string()))?)
}

/// [`run`] on [`noise_image`]`(width, height, 1)`.
pub fn run_on_noise<O: RawOperator>(width: usize, height: usize, params: &Value) -> Result<Output, OperatorError> {
    let rgb = noise_image(width, height, 1);
    let image = ImageRef::from_rgb(width, height, &rgb).ok_or(OperatorError::Image("image size overflows".into()))?;
    run::<O>(&image, params)
}

/// Checks `O`'s parameter schema: an object schema refusing unknown keys whose
/// every property has a known `type`, a non-empty `description` and a `default`
/// within its own bounds, and whose defaults, passed back as parameters, parse to
/// `O::Params::default()`. Returns the first problem found.
pub fn check_schema<O: Operator>() -> Result<(), OperatorError> {
    let schema = <O as RawOperator>::params_schema();
    let name = <O as Operator>::NAME;
    if schema["type"] != "object" || schema["additionalProperties"] != false {
        return Err(OperatorError::Declaration(format!("{name}: schema must be an object with additionalProperties false: {schema}")));
    }
    let props = schema["properties"].as_object().ok_or_else(|| OperatorError::Declaration(format!("{name}: schema has no properties object")))?;
    let mut defaults = Map::new();
    for (key, p) in props {
        let at = |what: &str| OperatorError::Declaration(format!("{name}: parameter `{key}` {what}: {p}"));
        if !matches!(p["type"].as_str(), Some("integer" | "number" | "boolean" | "string" | "array" | "object")) {
            return Err(at("has no JSON type"));
        }
        if p["description"].as_str().is_none_or(|d| d.trim().is_empty()) {
            return Err(at("has no description"));
        }
        let default = p.get("default").ok_or_else(|| at("has no default"))?;
        within(p, default).map_err(|why| at(&format!("default {default} {why}")))?;
        defaults.insert(key.clone(), default.clone());
    }
    let parsed = O::Params::from_json(&Value::Object(defaults))
        .map_err(|e| OperatorError::Declaration(format!("{name}: the schema's defaults are refused: {e}")))?;
    if parsed != O::Params::default() {
        return Err(OperatorError::Declaration(format!("{name}: the schema's defaults parse to {parsed:?}, not the declared defaults")));
    }
    Ok(())
}

/// Checks `v` against the bound keywords of `p` (and of its `items`).
fn within(p: &Value, v: &Value) -> Result<(), String> {
    let num = |k: &str| p.get(k).and_then(Value::as_f64);
    if let Some(x) = v.as_f64() {
        if num("minimum").is_some_and(|m| x < m) || num("maximum").is_some_and(|m| x > m) {
            return Err("is outside minimum/maximum".into());
        }
    }
    if let Some(allowed) = p.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            return Err("is not in enum".into());
        }
    }
    if let Some(list) = v.as_array() {
        let n = list.len() as f64;
        if num("minItems").is_some_and(|m| n < m) || num("maxItems").is_some_and(|m| n > m) {
            return Err("has too few or too many items".into());
        }
        if let Some(items) = p.get("items") {
            list.iter().try_for_each(|x| within(items, x))?;
        }
    }
    Ok(())
}

/// Checks that a library crate name (pass `env!("CARGO_CRATE_NAME")` from a test
/// in the plugin) gives a file the host's loader picks up: it only opens
/// `libtrutheye_plugin_*.so` (`.dylib`; `trutheye_plugin_*.dll`), so a directory
/// of unrelated libraries is never loaded. Set `[lib] name` in `Cargo.toml` to
/// choose the library name independently of the package name.
pub fn check_plugin_name(crate_name: &str) -> Result<(), OperatorError> {
    if crate_name.starts_with("trutheye_plugin_") {
        Ok(())
    } else {
        Err(OperatorError::Declaration(format!(
            "library `{crate_name}` would not be loaded: plugin libraries must be named `trutheye_plugin_*` \
             (set `[lib] name = \"trutheye_plugin_<yours>\"` in Cargo.toml)"
        )))
    }
}

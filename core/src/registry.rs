//! The operator registry: what the executors and the PVR sandbox call, filled by
//! plugins (or, in tests and benches, by in-process operators).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use trutheye_plugin_api::{Operator, Output};

use crate::image::ImageBuf;

/// What the registry shows about an operator (and what the model sees).
#[derive(Clone, Debug, Serialize)]
pub struct OperatorSpec {
    /// Registry name.
    pub name: String,
    /// Description shown to the model.
    pub description: String,
    /// JSON schema of the parameters.
    pub params_schema: serde_json::Value,
    /// Family (`frequency`, `noise`, ...).
    pub category: String,
    /// Where it came from: `plugin-name 0.1.0 (/path/lib.so)` or `in-process`.
    pub origin: String,
}

/// The host-side operator seam. Plugins are adapted to it by the loader.
pub trait ForensicOperator: Send + Sync {
    /// Name, description, schema.
    fn spec(&self) -> &OperatorSpec;
    /// Runs on an image with already-validated parameters.
    fn run(&self, image: &ImageBuf, params: &serde_json::Value) -> Result<Output, String>;
}

/// Why an operator call failed; the text is what the model sees.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No operator with that name.
    #[error("unknown tool `{name}`; available tools: {available}")]
    Unknown {
        /// Requested name.
        name: String,
        /// Comma-separated list.
        available: String,
    },
    /// Parameters do not match the schema.
    #[error("invalid arguments for `{name}`: {detail}")]
    BadArguments {
        /// Tool.
        name: String,
        /// Validator message.
        detail: String,
    },
    /// The operator ran and reported an error (or panicked inside its plugin).
    #[error("`{name}` failed: {detail}")]
    Failed {
        /// Tool.
        name: String,
        /// Operator message.
        detail: String,
    },
}

/// A name clash: the first registration wins (see `docs/plugins.md`).
#[derive(Clone, Debug, Serialize)]
pub struct Shadowed {
    /// The operator name.
    pub name: String,
    /// Origin of the operator that was kept.
    pub kept: String,
    /// Origin of the one that was skipped.
    pub skipped: String,
}

struct Entry {
    op: Arc<dyn ForensicOperator>,
    validator: Option<jsonschema::Validator>,
}

/// Operators by name, with compiled parameter validators.
#[derive(Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
    /// Clashes seen while registering.
    pub shadowed: Vec<Shadowed>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an operator. On a name clash the existing one stays and the clash
    /// is recorded; returns false in that case.
    pub fn register(&mut self, op: Arc<dyn ForensicOperator>) -> bool {
        let name = op.spec().name.clone();
        if let Some(existing) = self.entries.get(&name) {
            let s = Shadowed { name, kept: existing.op.spec().origin.clone(), skipped: op.spec().origin.clone() };
            tracing::warn!(operator = %s.name, kept = %s.kept, skipped = %s.skipped, "operator name clash; keeping the first");
            self.shadowed.push(s);
            return false;
        }
        // A schema that does not compile is the plugin's bug; calls then skip
        // validation rather than making the operator unusable.
        let validator = match jsonschema::validator_for(&op.spec().params_schema) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(operator = %name, "parameter schema does not compile: {e}");
                None
            }
        };
        self.entries.insert(name, Entry { op, validator });
        true
    }

    /// Registers an in-process operator type (tests, benchmarks, built-ins).
    pub fn register_native<O: Operator + Send + Sync>(&mut self) -> bool {
        self.register(Arc::new(NativeOperator::<O>::new()))
    }

    /// Looks up an operator.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ForensicOperator>> {
        self.entries.get(name).map(|e| &e.op)
    }

    /// All specs, sorted by name.
    pub fn specs(&self) -> impl Iterator<Item = &OperatorSpec> {
        self.entries.values().map(|e| e.op.spec())
    }

    /// Operator names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Number of operators.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no operator is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Validates parameters against the operator's schema.
    pub fn validate(&self, name: &str, params: &serde_json::Value) -> Result<(), CallError> {
        let entry = self.entries.get(name).ok_or_else(|| self.unknown(name))?;
        if let Some(v) = &entry.validator {
            let errors: Vec<String> = v
                .iter_errors(params)
                .take(3)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
                })
                .collect();
            if !errors.is_empty() {
                return Err(CallError::BadArguments { name: name.into(), detail: errors.join("; ") });
            }
        }
        Ok(())
    }

    /// Validates and runs an operator.
    pub fn call(&self, name: &str, image: &ImageBuf, params: &serde_json::Value) -> Result<Output, CallError> {
        self.validate(name, params)?;
        let entry = self.entries.get(name).ok_or_else(|| self.unknown(name))?;
        let started = std::time::Instant::now();
        let out = entry.op.run(image, params).map_err(|detail| CallError::Failed { name: name.into(), detail });
        tracing::debug!(operator = name, ms = started.elapsed().as_millis() as u64, ok = out.is_ok(), "operator call");
        out
    }

    fn unknown(&self, name: &str) -> CallError {
        CallError::Unknown { name: name.into(), available: self.names().join(", ") }
    }
}

/// An operator compiled into the host, called through the same `extern "C"`
/// trampoline a plugin exports, so panics are contained the same way.
pub struct NativeOperator<O> {
    spec: OperatorSpec,
    decl: trutheye_plugin_api::abi::AbiOperator,
    _marker: std::marker::PhantomData<fn() -> O>,
}

impl<O: Operator> NativeOperator<O> {
    /// Declares `O`.
    pub fn new() -> Self {
        let decl = trutheye_plugin_api::declare::<O>();
        let spec = spec_from_abi(&decl, "in-process".into());
        Self { spec, decl, _marker: std::marker::PhantomData }
    }
}

impl<O: Operator> Default for NativeOperator<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: Operator> ForensicOperator for NativeOperator<O> {
    fn spec(&self) -> &OperatorSpec {
        &self.spec
    }
    fn run(&self, image: &ImageBuf, params: &serde_json::Value) -> Result<Output, String> {
        run_abi(&self.decl, image, params)
    }
}

/// Builds a spec from an ABI declaration; a schema that is not JSON becomes an
/// empty object schema (logged) rather than a failure to load.
pub(crate) fn spec_from_abi(decl: &trutheye_plugin_api::abi::AbiOperator, origin: String) -> OperatorSpec {
    let params_schema = serde_json::from_str(decl.params_schema.as_str()).unwrap_or_else(|e| {
        tracing::warn!(operator = %decl.name, "parameter schema is not JSON ({e}); accepting any object");
        serde_json::json!({"type": "object"})
    });
    OperatorSpec {
        name: decl.name.to_string(),
        description: decl.description.to_string(),
        params_schema,
        category: decl.category.to_string(),
        origin,
    }
}

/// Calls an ABI entry point.
pub(crate) fn run_abi(
    decl: &trutheye_plugin_api::abi::AbiOperator,
    image: &ImageBuf,
    params: &serde_json::Value,
) -> Result<Output, String> {
    let params = params.to_string();
    let view = image.as_ref();
    let result = (decl.run)(view.to_abi(), params.as_str().into());
    match result.into_result() {
        Ok(out) => Output::from_abi(out),
        Err(e) => Err(e.into_string()),
    }
}

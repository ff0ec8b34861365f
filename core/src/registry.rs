//! The operator registry: what the executors and the PVR sandbox call, filled by
//! plugins (or, in tests and benches, by in-process operators).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};
use trutheye_plugin_api::{MapRoles, RawOperator, Output, OperatorError};

use crate::aliases::{tool_key, Resolved, ToolAlias};
use crate::executor::ToolKind;
use crate::executors::BASIC_TOOLS;
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
    /// Other names the operator declared (`Operator::ALIASES`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// The host-side operator seam. Plugins are adapted to it by the loader.
pub trait ForensicOperator: Send + Sync {
    /// Name, description, schema.
    fn spec(&self) -> &OperatorSpec;
    /// Runs on an image with already-validated parameters, for a caller that
    /// reads only maps of the roles in `wanted` (the operator may leave the others
    /// out; [`MapRoles::ALL`] for everything).
    fn run(&self, image: &ImageBuf, params: &serde_json::Value, wanted: MapRoles) -> Result<Output, OperatorError>;
}

/// Why an operator call failed; the text is what the model sees.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No tool with that name.
    #[error("unknown tool `{name}`; available tools: {available}")]
    Unknown {
        /// Requested name.
        name: String,
        /// Every name the model may call, comma-separated (basic tools,
        /// operators and preset aliases).
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

/// Operators by name, with compiled parameter validators, and the other names
/// tools are called by (see [`crate::aliases`]).
#[derive(Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
    /// Preset aliases by [`tool_key`].
    aliases: BTreeMap<String, ToolAlias>,
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
    pub fn register_native<O: RawOperator + Send + Sync>(&mut self) -> bool {
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

    /// Adds a preset's alias. Its target must be a basic tool or a registered
    /// operator; a later alias with the same [`tool_key`] is an error.
    pub fn add_alias(&mut self, alias: ToolAlias) -> Result<(), crate::CoreError> {
        let key = tool_key(&alias.name);
        if key.is_empty() {
            return Err(crate::CoreError::Alias(format!("alias `{}` has no letters or digits", alias.name)));
        }
        if !BASIC_TOOLS.contains(&alias.target.as_str()) && !self.entries.contains_key(&alias.target) {
            return Err(crate::CoreError::Alias(format!(
                "alias `{}`: target `{}` is not a tool (basic tools: {}; operators: {})",
                alias.name,
                alias.target,
                BASIC_TOOLS.join(", "),
                self.names().join(", ")
            )));
        }
        if let Some(prev) = self.aliases.get(&key) {
            return Err(crate::CoreError::Alias(format!("aliases `{}` and `{}` are the same name (names ignore case, spaces, `_` and `-`)", prev.name, alias.name)));
        }
        self.aliases.insert(key, alias);
        Ok(())
    }

    /// Adds every alias of a list (a config's `[[tools.aliases]]`).
    pub fn add_aliases(&mut self, aliases: &[ToolAlias]) -> Result<(), crate::CoreError> {
        aliases.iter().try_for_each(|a| self.add_alias(a.clone()))
    }

    /// The preset aliases, sorted by name key.
    pub fn aliases(&self) -> impl Iterator<Item = &ToolAlias> {
        self.aliases.values()
    }

    /// Finds the tool a name the model wrote stands for, and the arguments that
    /// tool gets: preset aliases first (they speak the model's dialect), then
    /// basic tools and operators, then the operators' own aliases, all compared
    /// by [`tool_key`]. `Unknown` lists every name the model may call.
    pub fn resolve(&self, name: &str, arguments: &Map<String, Value>) -> Result<Resolved, CallError> {
        let key = tool_key(name);
        let via = |canonical: &str| (canonical != name).then(|| name.to_string());
        if let Some(alias) = self.aliases.get(&key) {
            let kind = if BASIC_TOOLS.contains(&alias.target.as_str()) { ToolKind::Basic } else { ToolKind::Forensic };
            return Ok(Resolved { name: alias.target.clone(), kind, arguments: alias.map_arguments(arguments), via: via(&alias.target) });
        }
        let plain = |name: String, kind| Ok(Resolved { via: via(&name), name, kind, arguments: arguments.clone() });
        if let Some(b) = BASIC_TOOLS.iter().find(|b| tool_key(b) == key) {
            return plain(b.to_string(), ToolKind::Basic);
        }
        if let Some(op) = self.entries.keys().find(|n| tool_key(n) == key) {
            return plain(op.clone(), ToolKind::Forensic);
        }
        let declared = self.specs().find(|s| s.aliases.iter().any(|a| tool_key(a) == key));
        match declared {
            Some(spec) => plain(spec.name.clone(), ToolKind::Forensic),
            None => Err(self.unknown(name)),
        }
    }

    /// Every name the model may call: basic tools, operators, then preset
    /// aliases whose name is not already one of those.
    pub fn callable_names(&self) -> Vec<String> {
        let mut names: Vec<String> = BASIC_TOOLS.iter().map(|s| s.to_string()).chain(self.names()).collect();
        let mut keys: std::collections::HashSet<String> = names.iter().map(|n| tool_key(n)).collect();
        for a in self.aliases.values() {
            if keys.insert(tool_key(&a.name)) {
                names.push(a.name.clone());
            }
        }
        names
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

    /// Validates and runs an operator for a caller that reads every map.
    pub fn call(&self, name: &str, image: &ImageBuf, params: &serde_json::Value) -> Result<Output, CallError> {
        self.call_for(name, image, params, MapRoles::ALL)
    }

    /// [`Registry::call`] for a caller that reads only maps of the roles in
    /// `wanted`: operators may skip the rest (a heat-map reader need not wait for
    /// a full-resolution visual).
    pub fn call_for(&self, name: &str, image: &ImageBuf, params: &serde_json::Value, wanted: MapRoles) -> Result<Output, CallError> {
        self.validate(name, params)?;
        let entry = self.entries.get(name).ok_or_else(|| self.unknown(name))?;
        let started = std::time::Instant::now();
        let out = entry.op.run(image, params, wanted).map_err(|e| CallError::Failed { name: name.into(), detail: e.to_string() });
        tracing::debug!(operator = name, ms = started.elapsed().as_millis() as u64, ok = out.is_ok(), "operator call");
        out
    }

    fn unknown(&self, name: &str) -> CallError {
        CallError::Unknown { name: name.into(), available: self.callable_names().join(", ") }
    }
}

/// An operator compiled into the host, called through the same `extern "C"`
/// trampoline a plugin exports, so panics are contained the same way.
pub struct NativeOperator<O> {
    spec: OperatorSpec,
    decl: trutheye_plugin_api::abi::AbiOperator,
    _marker: std::marker::PhantomData<fn() -> O>,
}

impl<O: RawOperator> NativeOperator<O> {
    /// Declares `O`.
    pub fn new() -> Self {
        let decl = trutheye_plugin_api::declare::<O>();
        let spec = spec_from_abi(&decl, "in-process".into());
        Self { spec, decl, _marker: std::marker::PhantomData }
    }
}

impl<O: RawOperator> Default for NativeOperator<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: RawOperator> ForensicOperator for NativeOperator<O> {
    fn spec(&self) -> &OperatorSpec {
        &self.spec
    }
    fn run(&self, image: &ImageBuf, params: &serde_json::Value, wanted: MapRoles) -> Result<Output, OperatorError> {
        run_abi(&self.decl, image, params, wanted)
    }
}

/// Builds a spec from an ABI declaration; a schema that is not JSON becomes an
/// empty object schema (logged) rather than a failure to load. The operator's
/// aliases come out of the schema's annotation keyword
/// ([`ALIASES_KEYWORD`](trutheye_plugin_api::author::ALIASES_KEYWORD)), so the
/// model and the validator see the schema without it.
pub(crate) fn spec_from_abi(decl: &trutheye_plugin_api::abi::AbiOperator, origin: String) -> OperatorSpec {
    let mut params_schema: Value = serde_json::from_str(decl.params_schema.as_str()).unwrap_or_else(|e| {
        tracing::warn!(operator = %decl.name, "parameter schema is not JSON ({e}); accepting any object");
        serde_json::json!({"type": "object"})
    });
    let aliases = params_schema
        .as_object_mut()
        .and_then(|o| o.remove(trutheye_plugin_api::author::ALIASES_KEYWORD))
        .and_then(|v| v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()))
        .unwrap_or_default();
    OperatorSpec {
        name: decl.name.to_string(),
        description: decl.description.to_string(),
        params_schema,
        category: decl.category.to_string(),
        origin,
        aliases,
    }
}

/// Calls an ABI entry point.
pub(crate) fn run_abi(
    decl: &trutheye_plugin_api::abi::AbiOperator,
    image: &ImageBuf,
    params: &serde_json::Value,
    wanted: MapRoles,
) -> Result<Output, OperatorError> {
    let params = params.to_string();
    let view = image.as_ref().wanting(wanted);
    let result = (decl.run)(view.to_abi(), params.as_str().into());
    match result.into_result() {
        Ok(out) => Output::from_abi(out),
        Err(e) => Err(OperatorError::Failed(e.into_string())),
    }
}

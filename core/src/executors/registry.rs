//! The fixed tool registry (ForenAgent style): JSON tool calls validated against
//! each tool's schema.

use crate::CoreError;
use serde_json::{json, Value};

use super::basic::{basic_tool_specs, is_basic_tool, run_basic_tool};
use crate::action::Action;
use crate::executor::{EpisodeState, Executor, NamedImage, Observation, ToolKind, ToolUse};
use crate::observe::operator_observation;
use crate::registry::Registry;

/// Argument names models use to pick the input image; removed before the
/// operator's own schema is checked.
const IMAGE_KEYS: [&str; 5] = ["image_index", "img_idx", "image_idx", "image", "img"];

/// The `registry` strategy.
#[derive(Default)]
pub struct RegistryExecutor;

impl Executor for RegistryExecutor {
    fn name(&self) -> &'static str {
        "registry"
    }

    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        match action {
            Action::ToolCall { name, arguments } => call_tool(name, arguments, state),
            Action::Code { .. } => Observation::error(
                "Code execution is not available in this session. Call a tool instead: \
                 <tool_call>{\"name\": \"<tool>\", \"arguments\": {...}}</tool_call>.",
            ),
            Action::Answer(_) => Observation::error("internal: answers are not executed"),
        }
    }
}

/// Resolves the input image from the arguments (`image_index`, `img_idx`,
/// `image_idx`, or `image: "image_clue_k"`); default `image_clue_0`.
pub fn image_argument(args: &serde_json::Map<String, Value>, state: &EpisodeState) -> Result<NamedImage, CoreError> {
    for key in IMAGE_KEYS {
        let Some(v) = args.get(key) else { continue };
        if let Some(i) = v.as_u64() {
            return state.by_index(i as usize).cloned();
        }
        if let Some(s) = v.as_str() {
            if let Ok(i) = s.trim().parse::<usize>() {
                return state.by_index(i).cloned();
            }
            return state.by_name(s.trim()).cloned().ok_or_else(|| CoreError::Episode(format!("NameError: no image named `{s}`")));
        }
        return Err(CoreError::Episode(format!("`{key}` must be an image index or an image_clue_k name, got {v}")));
    }
    state.by_index(0).cloned()
}

/// Calls a basic tool or a registry operator by the name the model wrote (an
/// alias or a differently spelled name resolves through the registry).
pub fn call_tool(written: &str, arguments: &serde_json::Map<String, Value>, state: &mut EpisodeState) -> Observation {
    let resolved = match state.registry.resolve(written, arguments) {
        Ok(r) => r,
        Err(e) => {
            let mut obs = Observation::error(format!("Error: {e}"));
            obs.tools.push(ToolUse { name: written.into(), kind: ToolKind::Forensic, input: None, outputs: vec![], ok: false });
            return obs;
        }
    };
    let name = resolved.name.as_str();
    let input = match image_argument(&resolved.arguments, state) {
        Ok(i) => i,
        Err(e) => return Observation::error(format!("Error in `{written}`: {e}")),
    };
    let mut params = resolved.arguments.clone();
    for k in IMAGE_KEYS {
        params.remove(k);
    }
    let params = Value::Object(params);
    if is_basic_tool(name) {
        let schema_ok = basic_tool_specs()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, schema)| jsonschema::validate(&schema, &params).map_err(|e| e.to_string()));
        if let Some(Err(e)) = schema_ok {
            return Observation::error(format!("Error in `{written}`: invalid arguments: {e}"));
        }
        return run_basic_tool(name, &params, &input, state);
    }
    let registry = state.registry.clone();
    match registry.call(name, &input.image, &params) {
        Ok(out) => operator_observation(state, name, &input, out),
        Err(e) => {
            let mut obs = Observation::error(format!("Error: {e}"));
            obs.tools.push(ToolUse { name: name.into(), kind: ToolKind::Forensic, input: Some(input.name), outputs: vec![], ok: false });
            obs
        }
    }
}

/// Every callable tool in the Qwen/OpenAI function format (what the system
/// prompt lists and what ms-swift's `tools` field carries).
pub fn tool_list(registry: &Registry, include_basic: bool) -> Vec<Value> {
    let image_prop = json!({"type": "integer", "minimum": 0, "description": "which image_clue_k to analyse (default 0)"});
    let mut tools = Vec::new();
    if include_basic {
        for (name, desc, schema) in basic_tool_specs() {
            tools.push(json!({"type": "function", "function": {"name": name, "description": desc, "parameters": schema}}));
        }
    }
    for spec in registry.specs() {
        let mut schema = spec.params_schema.clone();
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("image_index".into(), image_prop.clone());
        }
        tools.push(json!({"type": "function", "function": {"name": spec.name, "description": spec.description, "parameters": schema}}));
    }
    tools
}

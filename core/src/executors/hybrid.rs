//! The `hybrid` strategy: PVR code first, the registry for tool calls.

use serde_json::Value;

use super::registry::{call_tool, RegistryExecutor};
use crate::action::Action;
use crate::executor::{EpisodeState, Executor, Observation};

/// Code goes to the PVR executor; tool calls go to the registry. When code fails
/// and is nothing but a call of one registry tool (`srm(image_clue_0)`), the call
/// is retried through the registry, so a model that mixes the two styles is not
/// punished for the sandbox's narrower surface.
pub struct HybridExecutor<P> {
    pvr: P,
    registry: RegistryExecutor,
}

impl<P: Executor> HybridExecutor<P> {
    /// Wraps a PVR executor.
    pub fn new(pvr: P) -> Self {
        Self { pvr, registry: RegistryExecutor }
    }
}

impl<P: Executor> Executor for HybridExecutor<P> {
    fn name(&self) -> &'static str {
        "hybrid"
    }

    fn backend(&self) -> Option<&'static str> {
        self.pvr.backend()
    }

    fn code_isolation(&self) -> Option<&'static str> {
        self.pvr.code_isolation()
    }

    fn prepare(&mut self, state: &EpisodeState) {
        self.pvr.prepare(state)
    }

    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        match action {
            Action::Code { code, .. } => {
                let obs = self.pvr.execute(action, state);
                if obs.error.is_none() {
                    return obs;
                }
                match bare_tool_call(code, state) {
                    Some((name, args)) => {
                        let mut fallback = call_tool(&name, &args, state);
                        fallback.text = format!("(code failed: {}; ran `{name}` through the tool registry)\n{}", obs.text.trim(), fallback.text);
                        // The text shows what the failed code ran too, so its evidence comes first.
                        fallback.evidence.splice(0..0, obs.evidence);
                        fallback
                    }
                    None => obs,
                }
            }
            _ => self.registry.execute(action, state),
        }
    }
}

/// Recognises `name(image_clue_k)` / `name(image)` / `result = name(img)`.
fn bare_tool_call(code: &str, state: &EpisodeState) -> Option<(String, serde_json::Map<String, Value>)> {
    let line = code.trim();
    if line.lines().count() != 1 {
        return None;
    }
    let call = line.split_once('=').map(|(_, r)| r.trim()).filter(|_| !line.contains("==")).unwrap_or(line);
    let (name, rest) = call.split_once('(')?;
    let arg = rest.strip_suffix(')')?.trim();
    let name = name.trim();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || state.registry.get(name).is_none() {
        return None;
    }
    let target = state.by_name(arg)?;
    let mut args = serde_json::Map::new();
    args.insert("image".into(), Value::String(target.name.clone()));
    Some((name.to_string(), args))
}

//! Other names for tools, and how a name the model wrote finds its tool.
//!
//! Models call tools by the names their own harness taught them: DeepEyes
//! writes `image_zoom_in_tool` with `bbox_2d`, ForenAgent's paper writes titles
//! (`SRM`, `JPEG Ghost`). The parser keeps the name as written; the
//! [`Registry`](crate::registry::Registry) resolves it here, against
//!
//! 1. aliases a preset declares ([`ToolAlias`], `[[tools.aliases]]` in a config),
//!    which may also rename and add arguments;
//! 2. the tools themselves (basic tools and operators);
//! 3. aliases operators declare (`Operator::ALIASES` in the plugin API).
//!
//! Every comparison uses [`tool_key`]: case, spaces, `_` and `-` do not count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::executor::ToolKind;

/// The form names are compared in: lower case without whitespace, `_` or `-`
/// (`JPEG Ghost`, `jpeg_ghost` and `jpeg-ghost` are all `jpegghost`).
pub fn tool_key(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace() && *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// Another name for a tool, declared by a preset (`[[tools.aliases]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolAlias {
    /// The name the model writes (`image_zoom_in_tool`).
    pub name: String,
    /// The tool it runs: a basic tool (`crop`, `zoom`, `rotate`, `flip`,
    /// `enhance`) or an operator's registry name.
    pub target: String,
    /// Argument renames, the model's key to the target's (`bbox_2d = "bbox"`);
    /// a key renamed to `""` is dropped (DeepEyes' free-text `label`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arguments: BTreeMap<String, String>,
    /// Arguments the target gets unless the call gives them (`min_side = 28`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fixed: Map<String, Value>,
    /// Description shown to the model; default: the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the parameters as the model is shown them (its own
    /// harness's schema); default: the target's. Calls are validated against
    /// the target's schema after the renames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Whether the system prompt's tool list shows this alias.
    #[serde(default = "listed_default")]
    pub listed: bool,
}

fn listed_default() -> bool {
    true
}

impl ToolAlias {
    /// The target's arguments for a call made under this alias: renames
    /// applied, fixed values added where the call did not give them.
    pub fn map_arguments(&self, given: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in given {
            match self.arguments.get(k) {
                Some(to) if to.is_empty() => {}
                Some(to) => {
                    out.insert(to.clone(), v.clone());
                }
                None => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        for (k, v) in &self.fixed {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out
    }
}

/// Where a name the model wrote leads.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The tool that runs: a basic tool or an operator, by its own name.
    pub name: String,
    /// Basic or forensic.
    pub kind: ToolKind,
    /// The arguments for that tool (alias renames and fixed values applied).
    pub arguments: Map<String, Value>,
    /// The name as the model wrote it, when it differs from `name`.
    pub via: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trutheye_plugin_api::{ImageRef, RawOperator, Output, OperatorError};

    use super::*;
    use crate::registry::{CallError, Registry};

    #[derive(Default)]
    struct Ghost;
    impl RawOperator for Ghost {
        const NAME: &'static str = "jpeg_ghost";
        const DESCRIPTION: &'static str = "Recompression ghosts.";
        const CATEGORY: &'static str = "compression";
        const ALIASES: &'static [&'static str] = &["Ghost Analysis"];
        fn params_schema() -> Value {
            json!({"type": "object", "properties": {"qualities": {"type": "array"}}, "additionalProperties": false})
        }
        fn run(&self, _: &ImageRef<'_>, _: &Value) -> Result<Output, OperatorError> {
            Ok(Output::default())
        }
    }

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register_native::<Ghost>();
        r
    }

    fn zoom_alias() -> ToolAlias {
        let mut arguments = BTreeMap::new();
        arguments.insert("bbox_2d".to_string(), "bbox".to_string());
        arguments.insert("label".to_string(), String::new());
        ToolAlias { name: "image_zoom_in_tool".into(), target: "crop".into(), arguments, fixed: Map::new(), description: None, parameters: None, listed: true }
    }

    #[test]
    fn names_match_ignoring_case_spaces_underscores_and_hyphens() {
        assert_eq!(tool_key("JPEG Ghost"), "jpegghost");
        assert_eq!(tool_key(" jpeg-ghost_"), "jpegghost");
        let r = registry();
        for written in ["jpeg_ghost", "JPEG Ghost", "jpeg-ghost", "ghost analysis"] {
            let got = r.resolve(written, &Map::new()).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!((got.name.as_str(), got.kind), ("jpeg_ghost", ToolKind::Forensic), "{written}");
            assert_eq!(got.via.is_some(), written != "jpeg_ghost");
        }
        // The alias keyword is taken out of the schema the model and the validator see.
        let spec = r.get("jpeg_ghost").map(|o| o.spec().clone()).expect("registered");
        assert_eq!(spec.aliases, ["Ghost Analysis"]);
        assert!(spec.params_schema.get(trutheye_plugin_api::author::ALIASES_KEYWORD).is_none());
        assert_eq!(r.resolve("Crop", &Map::new()).map(|x| x.kind), Ok(ToolKind::Basic));
    }

    #[test]
    fn preset_aliases_rename_drop_and_add_arguments() {
        let mut r = registry();
        let mut alias = zoom_alias();
        alias.fixed.insert("min_side".into(), json!(28));
        r.add_alias(alias).expect("crop is a tool");
        let args = json!({"bbox_2d": [1, 2, 30, 40], "label": "the sign"});
        let got = r.resolve("Image_Zoom_In_Tool", args.as_object().expect("object")).expect("resolves");
        assert_eq!(got.name, "crop");
        assert_eq!(Value::Object(got.arguments), json!({"bbox": [1, 2, 30, 40], "min_side": 28}));
        // Bad targets and duplicate names are refused when the preset loads.
        let bad = ToolAlias { target: "nope".into(), ..zoom_alias() };
        assert!(r.add_alias(ToolAlias { name: "other".into(), ..bad }).unwrap_err().to_string().contains("not a tool"));
        assert!(r.add_alias(ToolAlias { name: "image zoom in tool".into(), ..zoom_alias() }).unwrap_err().to_string().contains("same name"));
    }

    #[test]
    fn unknown_tool_lists_every_callable_name() {
        let mut r = registry();
        r.add_alias(zoom_alias()).expect("adds");
        match r.resolve("SRM", &Map::new()) {
            Err(CallError::Unknown { available, .. }) => {
                assert_eq!(available, "crop, zoom, rotate, flip, enhance, jpeg_ghost, image_zoom_in_tool");
            }
            other => panic!("{other:?}"),
        }
    }
}

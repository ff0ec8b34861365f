//! Agent configuration (`configs/*.toml`). Unknown keys are errors, so a typo
//! never silently falls back to a default.

use crate::CoreError;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::aliases::ToolAlias;
use crate::verdict::VerdictLabel;

/// The built-in default configuration (`configs/default.toml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../configs/default.toml");

/// Episode budgets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Most assistant turns per episode.
    pub max_turns: usize,
    /// Most executed tool/code actions (ForenAgent: 7).
    pub max_tool_calls: usize,
    /// Most new tokens per assistant message.
    pub max_output_tokens: u32,
    /// Wall-clock limit per episode, in seconds.
    pub wall_time_s: f64,
    /// Consecutive format errors before the verdict is forced.
    pub max_format_errors: usize,
}

/// Image limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageLimits {
    /// Largest input image, in pixels (decompression-bomb guard).
    pub max_input_pixels: u64,
    /// Largest input image or mask file, in bytes, checked before reading it
    /// (files that are not regular files are refused whatever their size).
    /// Optional in a config file so older configs keep loading.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Largest image an action may create, in pixels.
    pub max_created_pixels: u64,
    /// Largest side an action may create.
    pub max_side: u32,
    /// Most images per episode.
    pub max_images: usize,
    /// Rotate/flip JPEGs by their EXIF orientation when decoding, as Pillow's
    /// `ImageOps.exif_transpose` does. Off by default because `Image.open`
    /// (what transformers' processors, vLLM, ms-swift and `qwen_vl_utils` are
    /// fed) does not apply it: a checkpoint saw the stored orientation.
    #[serde(default)]
    pub exif_transpose: bool,
}

fn default_max_file_bytes() -> u64 {
    crate::input::DEFAULT_MAX_FILE_BYTES
}

impl ImageLimits {
    /// How input files are decoded under these limits.
    pub fn decode_options(&self) -> crate::image::DecodeOptions {
        crate::image::DecodeOptions { max_pixels: self.max_input_pixels, exif_transpose: self.exif_transpose, max_file_bytes: self.max_file_bytes }
    }
}

/// Prompts of one strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyPrompts {
    /// System prompt; `{tools}` is replaced by the tool list.
    pub system: String,
}

/// Prompts for every strategy plus the shared user prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// User prompt; `{images}` is replaced by the image list with resolutions,
    /// `{image_path}`, `{image_size}`, `{image_width}`, `{image_height}` by the
    /// first image's file, `WxH`, width and height.
    pub user: String,
    /// Programmatic visual reasoning.
    pub pvr: StrategyPrompts,
    /// Fixed registry.
    pub registry: StrategyPrompts,
    /// PVR plus registry.
    pub hybrid: StrategyPrompts,
    /// No tools.
    pub none: StrategyPrompts,
}

/// What to conclude when the model never answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forced {
    /// Label of a forced verdict.
    pub label: VerdictLabel,
}

/// Where code actions run (`[pvr]`; optional, so older configs still load).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PvrSettings {
    /// `auto` (python for model policies when an environment is set up, else
    /// interp), `interp` or `python`. `--backend` overrides it.
    pub backend: String,
    /// The interpreter for the python backend; empty: `TRUTHEYE_PYTHON`, then the
    /// venv `trutheye pvr setup` made. `--python` overrides it.
    pub python: String,
    /// Harness rules of one peer for the python backend: `""` (every peer's
    /// conventions at once), `thyme` or `trutheye2`. `--dialect` overrides it.
    #[serde(default)]
    pub dialect: String,
}

impl Default for PvrSettings {
    fn default() -> Self {
        Self { backend: "auto".into(), python: String::new(), dialect: String::new() }
    }
}

/// Which tools the system prompt's `{tools}` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolListing {
    /// Basic tools, operators and the listed aliases.
    All,
    /// The operators only.
    Operators,
    /// Only the listed aliases (a harness that shows the model its own tools).
    Aliases,
    /// Nothing (the prompt spells its tools out itself).
    None,
}

/// How each listed tool is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolRender {
    /// One `{"type": "function", "function": {…}}` object per line: what Qwen's
    /// chat template puts between `<tools>` and `</tools>`.
    Json,
    /// `- name(image, params): description`, for code that calls operators.
    Functions,
    /// `- name: description`.
    Names,
}

/// Tool names, aliases and the tool list shown to the model (`[tools]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolSettings {
    /// What `{tools}` lists; unset: operators for `pvr`, everything for
    /// `registry` and `hybrid`.
    pub list: Option<ToolListing>,
    /// How; unset: `functions` for `pvr`, `json` otherwise.
    pub render: Option<ToolRender>,
    /// Other names the model may call tools by, with argument renames
    /// (`[[tools.aliases]]`; see `docs/presets.md`).
    pub aliases: Vec<ToolAlias>,
}

/// What model policies are asked to generate with (`[generation]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerationSettings {
    /// Stop strings; unset: the backend's own (`</code>`, `</tool_call>`,
    /// `</answer>`). Replaces them when set.
    pub stop: Option<Vec<String>>,
}

/// How an observation is worded for the model (`[observation]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObservationSettings {
    /// Template with `{observation}` for the executor's text (a harness's
    /// `<tool_response>…</tool_response>` wrapper); unset: the text as is.
    pub template: Option<String>,
}

/// Words an answer may use for a label, beyond the built-in ones (`[answer]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerSettings {
    /// Whole-answer words and their label (`"A" = "authentic"` for a harness
    /// that asks multiple-choice questions); compared ignoring case and a
    /// trailing period.
    pub labels: BTreeMap<String, VerdictLabel>,
}

/// The whole agent configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Budgets.
    pub budget: Budget,
    /// Image limits.
    pub images: ImageLimits,
    /// Forced-verdict policy.
    pub forced: Forced,
    /// Prompts.
    pub prompts: Prompts,
    /// PVR backend selection.
    #[serde(default)]
    pub pvr: PvrSettings,
    /// Tool aliases and listing.
    #[serde(default)]
    pub tools: ToolSettings,
    /// Stop strings.
    #[serde(default)]
    pub generation: GenerationSettings,
    /// Observation wording.
    #[serde(default)]
    pub observation: ObservationSettings,
    /// Answer vocabulary.
    #[serde(default)]
    pub answer: AnswerSettings,
    /// How the verdict's mask is fused from operators' heat-maps; absent means
    /// the built-in `configs/fusion.toml`.
    #[serde(default)]
    pub localization: crate::fusion::FusionConfig,
}

impl AgentConfig {
    /// The built-in defaults.
    pub fn default_config() -> Self {
        // The embedded file is checked by a unit test, so this cannot fail at run time.
        Self::from_toml(DEFAULT_CONFIG, "configs/default.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Parses a TOML document; the error names the file and the offending key.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, CoreError> {
        let cfg: Self = toml::from_str(text).map_err(|e| CoreError::Config(toml_error(text, origin, &e)))?;
        cfg.check().map_err(|e| CoreError::Config(format!("{origin}: {e}")))?;
        Ok(cfg)
    }

    /// Deserializes and checks a whole configuration held as a TOML table (a
    /// preset laid over a base). The error is one line naming the key.
    pub fn from_table(table: toml::Table) -> Result<Self, CoreError> {
        let cfg: Self = table.try_into().map_err(|e: toml::de::Error| CoreError::Config(e.message().split_whitespace().collect::<Vec<_>>().join(" ")))?;
        cfg.check().map_err(CoreError::Config)?;
        Ok(cfg)
    }

    /// Loads a file. Keys missing from it are an error too: a config is complete
    /// (copy `configs/default.toml` and edit it).
    pub fn load(path: &Path) -> Result<Self, CoreError> {
        let text = crate::input::read_text_bounded(path, crate::input::MAX_TEXT_BYTES).map_err(|e| CoreError::Config(format!("{}: cannot read config: {}", path.display(), e.detail())))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    fn check(&self) -> Result<(), String> {
        self.localization.check()?;
        let b = &self.budget;
        if b.max_turns == 0 {
            return Err("budget.max_turns must be at least 1".into());
        }
        if b.wall_time_s.is_nan() || b.wall_time_s <= 0.0 {
            return Err("budget.wall_time_s must be positive".into());
        }
        if b.max_format_errors == 0 {
            return Err("budget.max_format_errors must be at least 1".into());
        }
        if self.images.max_input_pixels == 0 || self.images.max_side == 0 || self.images.max_file_bytes == 0 {
            return Err("images limits must be positive".into());
        }
        if !["auto", "interp", "python"].contains(&self.pvr.backend.as_str()) {
            return Err(format!("pvr.backend must be \"auto\", \"interp\" or \"python\", not {:?}", self.pvr.backend));
        }
        if !["", "thyme", "trutheye2"].contains(&self.pvr.dialect.as_str()) {
            return Err(format!("pvr.dialect must be \"\", \"thyme\" or \"trutheye2\", not {:?}", self.pvr.dialect));
        }
        if let Some(t) = &self.observation.template {
            if !t.contains("{observation}") {
                return Err("observation.template must contain {observation}".into());
            }
        }
        Ok(())
    }
}

/// One line for a TOML error: `file:line:column: message`, since the default
/// rendering spans several lines with a source excerpt.
pub fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> String {
    let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map(|l| l.chars().count() + 1).unwrap_or(1);
            format!("{origin}:{line}:{col}: {msg}")
        }
        None => format!("{origin}: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = AgentConfig::from_toml(DEFAULT_CONFIG, "default").expect("default config parses");
        assert_eq!(c.budget.max_tool_calls, 7);
        assert!(c.prompts.pvr.system.contains("{tools}"));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let bad = DEFAULT_CONFIG.replacen("[budget]", "[budget]\nmax_tunrs = 3", 1);
        let err = AgentConfig::from_toml(&bad, "x.toml").unwrap_err().to_string();
        assert!(err.contains("max_tunrs") && err.starts_with("x.toml:"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn invalid_values_are_errors() {
        let bad = DEFAULT_CONFIG.replacen("max_turns = 12", "max_turns = 0", 1);
        assert!(AgentConfig::from_toml(&bad, "x").unwrap_err().to_string().contains("max_turns"));
    }
}

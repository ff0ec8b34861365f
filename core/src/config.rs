//! Agent configuration (`configs/*.toml`). Unknown keys are errors, so a typo
//! never silently falls back to a default.

use std::path::Path;

use serde::{Deserialize, Serialize};

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

impl ImageLimits {
    /// How input files are decoded under these limits.
    pub fn decode_options(&self) -> crate::image::DecodeOptions {
        crate::image::DecodeOptions { max_pixels: self.max_input_pixels, exif_transpose: self.exif_transpose }
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
    /// User prompt; `{images}` is replaced by the image list with resolutions.
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
}

impl Default for PvrSettings {
    fn default() -> Self {
        Self { backend: "auto".into(), python: String::new() }
    }
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
}

impl AgentConfig {
    /// The built-in defaults.
    pub fn default_config() -> Self {
        // The embedded file is checked by a unit test, so this cannot fail at run time.
        Self::from_toml(DEFAULT_CONFIG, "configs/default.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Parses a TOML document; the error names the file and the offending key.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        let cfg: Self = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        cfg.check().map_err(|e| format!("{origin}: {e}"))?;
        Ok(cfg)
    }

    /// Loads a file. Keys missing from it are an error too: a config is complete
    /// (copy `configs/default.toml` and edit it).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read config: {e}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    fn check(&self) -> Result<(), String> {
        let b = &self.budget;
        if b.max_turns == 0 {
            return Err("budget.max_turns must be at least 1".into());
        }
        if !(b.wall_time_s > 0.0) {
            return Err("budget.wall_time_s must be positive".into());
        }
        if b.max_format_errors == 0 {
            return Err("budget.max_format_errors must be at least 1".into());
        }
        if self.images.max_input_pixels == 0 || self.images.max_side == 0 {
            return Err("images limits must be positive".into());
        }
        if !["auto", "interp", "python"].contains(&self.pvr.backend.as_str()) {
            return Err(format!("pvr.backend must be \"auto\", \"interp\" or \"python\", not {:?}", self.pvr.backend));
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
        let err = AgentConfig::from_toml(&bad, "x.toml").unwrap_err();
        assert!(err.contains("max_tunrs") && err.starts_with("x.toml:"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn invalid_values_are_errors() {
        let bad = DEFAULT_CONFIG.replacen("max_turns = 12", "max_turns = 0", 1);
        assert!(AgentConfig::from_toml(&bad, "x").unwrap_err().contains("max_turns"));
    }
}

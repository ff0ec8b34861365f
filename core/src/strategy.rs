//! How the agent may act: the one strategy type every host (analyze, eval,
//! serve, training data, GRPO) and every policy uses. It owns what differs
//! between strategies: the system prompt, whether tools are listed and how,
//! which actions it accepts (and so the stop strings), whether code runs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::{Prompts, StrategyPrompts, ToolListing, ToolRender};

/// How the agent may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Programmatic visual reasoning: the model writes image-operation code.
    Pvr,
    /// A fixed registry of tools called with JSON.
    Registry,
    /// Code first; tool calls and failed bare operator calls go to the registry.
    Hybrid,
    /// No tools: the model answers from the image alone.
    None,
}

impl Strategy {
    /// Every strategy, in the order reports list them.
    pub const ALL: [Strategy; 4] = [Strategy::Pvr, Strategy::Registry, Strategy::Hybrid, Strategy::None];

    /// The names, as flags and trajectories write them.
    pub const NAMES: [&'static str; 4] = ["pvr", "registry", "hybrid", "none"];

    /// `pvr`, `registry`, `hybrid`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Pvr => "pvr",
            Strategy::Registry => "registry",
            Strategy::Hybrid => "hybrid",
            Strategy::None => "none",
        }
    }

    /// The strategy an executor name stands for; anything else (a test
    /// executor's own name) gets the tool-less prompt, as before.
    pub fn of_executor(name: &str) -> Strategy {
        name.parse().unwrap_or(Strategy::None)
    }

    /// Whether model code runs (pvr, hybrid): such runs need a PVR engine.
    pub fn runs_code(self) -> bool {
        matches!(self, Strategy::Pvr | Strategy::Hybrid)
    }

    /// Whether the model may call registry tools (registry, hybrid).
    pub fn calls_tools(self) -> bool {
        matches!(self, Strategy::Registry | Strategy::Hybrid)
    }

    /// One line on what the model may do under it (the CLI's help for each value).
    pub fn summary(self) -> &'static str {
        match self {
            Strategy::Pvr => "Programmatic visual reasoning: the model writes image-operation code",
            Strategy::Registry => "A fixed registry of tools called with JSON",
            Strategy::Hybrid => "Code first; tool calls and failed bare operator calls go to the registry",
            Strategy::None => "No tools: the model answers from the image alone",
        }
    }

    /// This strategy's prompts in the config.
    pub fn prompts(self, prompts: &Prompts) -> &StrategyPrompts {
        match self {
            Strategy::Pvr => &prompts.pvr,
            Strategy::Registry => &prompts.registry,
            Strategy::Hybrid => &prompts.hybrid,
            Strategy::None => &prompts.none,
        }
    }

    /// Which tools the system prompt lists, and how, unless the config says:
    /// PVR code calls operators as functions; tool callers see every tool as JSON.
    pub fn default_tool_listing(self) -> Option<(ToolListing, ToolRender)> {
        match self {
            Strategy::Pvr => Some((ToolListing::Operators, ToolRender::Functions)),
            Strategy::Registry | Strategy::Hybrid => Some((ToolListing::All, ToolRender::Json)),
            Strategy::None => None,
        }
    }

    /// The closing tags of the actions it accepts: where generation stops.
    pub fn stop_strings(self) -> Vec<String> {
        let tags: &[&str] = match self {
            Strategy::Pvr => &["</code>", "</answer>"],
            Strategy::Registry => &["</tool_call>", "</answer>"],
            Strategy::Hybrid => &["</code>", "</tool_call>", "</answer>"],
            Strategy::None => &["</answer>"],
        };
        tags.iter().map(|s| s.to_string()).collect()
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;

    /// Parses a name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        Strategy::ALL
            .into_iter()
            .find(|st| st.as_str() == lower)
            .ok_or_else(|| format!("unknown strategy `{s}` (expected pvr, registry, hybrid or none)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (s, n) in Strategy::ALL.into_iter().zip(Strategy::NAMES) {
            assert_eq!(s.as_str(), n);
            assert_eq!(n.parse::<Strategy>(), Ok(s));
            assert_eq!(n.to_uppercase().parse::<Strategy>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).ok(), Some(format!("\"{n}\"")));
        }
        assert!("code".parse::<Strategy>().unwrap_err().to_string().contains("expected pvr, registry, hybrid or none"));
        assert_eq!(Strategy::of_executor("test-executor"), Strategy::None);
    }
}

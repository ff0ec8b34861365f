//! The executors that live in core: the fixed tool registry, no tools, and the
//! hybrid that puts the PVR sandbox in front of the registry.

mod basic;
mod hybrid;
mod none;
mod registry;

pub use basic::{basic_tool_specs, is_basic_tool, run_basic_tool, BASIC_TOOLS};
pub use hybrid::HybridExecutor;
pub use none::NoneExecutor;
pub use registry::{image_argument, tool_list, RegistryExecutor};

use crate::{Executor, Strategy};

/// The executor of a strategy that runs no model code (`registry`, `none`);
/// `None` for `pvr` and `hybrid`, whose executors need a code backend
/// (`trutheye_sandbox::PvrEngine::executor`, which calls this for the other
/// two). The one place a tool-only strategy becomes an executor, for hosts
/// that never run code (the scorer's feature episodes, GRPO's agent
/// rollouts).
pub fn tool_executor(strategy: Strategy) -> Option<Box<dyn Executor>> {
    match strategy {
        Strategy::Registry => Some(Box::new(RegistryExecutor)),
        Strategy::None => Some(Box::new(NoneExecutor)),
        Strategy::Pvr | Strategy::Hybrid => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tool_strategies_have_an_executor_without_a_code_backend() {
        for s in Strategy::ALL {
            let e = tool_executor(s);
            assert_eq!(e.is_some(), !s.runs_code(), "{s}");
            if let Some(e) = e {
                assert_eq!(Strategy::of_executor(e.name()), s, "{s}: the executor names its strategy");
            }
        }
    }
}

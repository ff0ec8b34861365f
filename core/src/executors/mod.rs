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

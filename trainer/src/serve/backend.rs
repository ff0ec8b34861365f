//! Executors for served sessions: one per session, from the run's PVR engine
//! (embedded interpreter in-process or in a worker, or CPython in the jail).

use trutheye_core::executors::{NoneExecutor, RegistryExecutor};
use trutheye_core::Executor;
use trutheye_sandbox::PvrEngine;

use super::ExecutorFactory;

/// A factory making one executor per session for `pvr`, `registry`, `hybrid`, `none`.
pub fn executor_factory(engine: PvrEngine) -> ExecutorFactory {
    Box::new(move |strategy: &str| -> Result<Box<dyn Executor>, String> {
        Ok(match strategy {
            "pvr" => engine.pvr(),
            "hybrid" => engine.hybrid(),
            "registry" => Box::new(RegistryExecutor),
            "none" => Box::new(NoneExecutor),
            other => return Err(format!("unknown strategy `{other}`")),
        })
    })
}

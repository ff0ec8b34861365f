//! Executors for served sessions: where PVR code runs.

use std::time::Duration;

use trutheye_core::executors::{HybridExecutor, NoneExecutor, RegistryExecutor};
use trutheye_core::Executor;
use trutheye_sandbox::{PvrExecutor, PvrLimits, WorkerConfig, WorkerExecutor};

use super::ExecutorFactory;

/// Where code actions (`pvr`, `hybrid`) run.
#[derive(Clone, Debug)]
pub enum PvrBackend {
    /// The interpreter inside the server process (step and wall-time budgets).
    InProcess(PvrLimits),
    /// One killable `trutheye pvr-worker` process per session (the default of the CLI).
    Worker(WorkerConfig),
}

impl PvrBackend {
    /// In-process with the default limits and the given wall time per action.
    pub fn in_process(timeout: Duration) -> Self {
        PvrBackend::InProcess(PvrLimits { max_wall: timeout, ..PvrLimits::default() })
    }
}

/// A factory making one executor per session for `pvr`, `registry`, `hybrid`, `none`.
pub fn executor_factory(backend: PvrBackend) -> ExecutorFactory {
    Box::new(move |strategy: &str| -> Result<Box<dyn Executor>, String> {
        Ok(match (strategy, &backend) {
            ("pvr", PvrBackend::InProcess(l)) => Box::new(PvrExecutor::new(*l)),
            ("pvr", PvrBackend::Worker(cfg)) => Box::new(WorkerExecutor::new(cfg.clone())),
            ("hybrid", PvrBackend::InProcess(l)) => Box::new(HybridExecutor::new(PvrExecutor::new(*l))),
            ("hybrid", PvrBackend::Worker(cfg)) => Box::new(HybridExecutor::new(WorkerExecutor::new(cfg.clone()))),
            ("registry", _) => Box::new(RegistryExecutor),
            ("none", _) => Box::new(NoneExecutor),
            (other, _) => return Err(format!("unknown strategy `{other}`")),
        })
    })
}

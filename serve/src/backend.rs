//! Executors for served sessions: one per session, from the run's PVR engine
//! (embedded interpreter in-process or in a worker, or CPython in the jail).

use trutheye_sandbox::PvrEngine;

use super::ExecutorFactory;

/// A factory making one executor per session ([`PvrEngine::executor`]).
pub fn executor_factory(engine: PvrEngine) -> ExecutorFactory {
    Box::new(move |strategy| Ok(engine.executor(strategy)))
}

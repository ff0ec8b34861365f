//! Shared by the python-backend tests: finding the environment (`.ci/run`
//! installs it under target/pvr-venv; `TRUTHEYE_PYTHON` points elsewhere) and
//! running code in the jail.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, Observation, Registry};
use trutheye_sandbox::python::{PythonBackend, PythonConfig};

/// The interpreter to test with, or `None` (then the test is skipped, unless
/// `TRUTHEYE_PYTHON_REQUIRED` is set, as in CI, where a skip is a failure).
pub fn python() -> Option<PathBuf> {
    let found = std::env::var_os("TRUTHEYE_PYTHON").map(PathBuf::from).or_else(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pvr-venv/bin/python3");
        p.is_file().then_some(p)
    });
    if found.is_none() {
        assert!(
            std::env::var_os("TRUTHEYE_PYTHON_REQUIRED").is_none(),
            "TRUTHEYE_PYTHON_REQUIRED is set but no Python environment was found (target/pvr-venv or TRUTHEYE_PYTHON)"
        );
        eprintln!("skipped: no Python environment (run `trutheye pvr setup --venv target/pvr-venv`)");
    }
    found
}

/// A backend with a short action timeout.
pub fn backend(python: &PathBuf, timeout: Duration) -> Arc<PythonBackend> {
    let mut cfg = PythonConfig::new(python);
    cfg.action_timeout = timeout;
    PythonBackend::new(cfg).expect("python backend")
}

/// An episode over one image with a registry.
pub fn state(img: ImageBuf, registry: Registry) -> EpisodeState {
    EpisodeState::new(vec![Arc::new(img)], Arc::new(registry), ExecLimits::default())
}

/// Runs code in a fresh executor of `b`.
pub fn run_once(b: &Arc<PythonBackend>, state: &mut EpisodeState, code: &str) -> Observation {
    b.executor().run_code(code, None, state)
}

/// Host pids of the processes descending from `root` (inclusive), with their command names.
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let mut parent = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else { continue };
        let comm = stat[stat.find('(').map(|i| i + 1).unwrap_or(0)..close].to_string();
        let ppid: u32 = stat[close + 2..].split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        parent.push((pid, ppid, comm));
    }
    let mut out = vec![];
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid, comm) in &parent {
            if *ppid == p {
                out.push((*pid, comm.clone()));
                frontier.push(*pid);
            }
        }
    }
    out
}

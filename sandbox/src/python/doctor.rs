//! `trutheye pvr setup` and `trutheye pvr doctor`: make the python backend's
//! venv and prove the jail starts, or say what of interpreter, packages, jail,
//! seccomp and cgroup works on this machine. The CLI only prints.

use crate::SandboxError;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::{cgroup, env, seccomp, PythonBackend, PythonConfig};
use crate::engine::{Dialect, PvrEngine};

/// Creates the venv at `venv` (default: the one `find_python` looks for) with
/// the pinned packages, using `base` as the creating interpreter, then starts
/// the jail once with it; returns the venv's interpreter.
pub fn setup(venv: Option<&Path>, base: &Path) -> Result<PathBuf, SandboxError> {
    let venv = match venv {
        Some(v) => v.to_path_buf(),
        None => env::default_venv().ok_or_else(|| SandboxError::Python("cannot tell where to put the venv (no HOME); pass --venv DIR".to_string()))?,
    };
    let python = env::setup(&venv, base)?;
    let engine = PvrEngine::python(Some(&python), std::time::Duration::from_secs(10), Dialect::Union)?;
    engine.warm_up()?;
    Ok(python)
}

/// Whether `venv` is the default venv (so the user need not name it again).
pub fn is_default_venv(python: &Path) -> bool {
    env::default_venv().is_some_and(|v| python.starts_with(v))
}

/// What works for the python backend with `python` (or the discovered
/// interpreter): the interpreter, the jail with its package versions and
/// Landlock ABI, seccomp and the cgroup. The flag is false when the jail
/// does not start.
pub fn doctor(python: Option<&Path>) -> (Map<String, Value>, bool) {
    let mut report = Map::new();
    let mut ok = true;
    let found = env::find_python(python);
    report.insert("python".into(), json!(found));
    let jail = match &found {
        None => Err(SandboxError::Python(format!("no Python environment found; {}", env::SETUP_HINT))),
        Some(p) => PythonBackend::new(PythonConfig::new(p)).and_then(|b| b.start()),
    };
    match jail {
        Ok(hello) => {
            report.insert("jail".into(), json!("ok"));
            report.insert("versions".into(), hello.get("versions").cloned().unwrap_or_default());
            report.insert("python_version".into(), hello.get("python").cloned().unwrap_or_default());
            let abi = hello.get("landlock_abi").and_then(Value::as_u64).unwrap_or(0);
            report.insert(
                "landlock".into(),
                json!(if abi > 0 { format!("ABI {abi}: each episode writes only its scratch dir") } else { "unavailable (episodes in one jail can read each other's scratch dirs)".to_string() }),
            );
        }
        Err(e) => {
            ok = false;
            report.insert("jail".into(), json!(e.to_string()));
        }
    }
    report.insert("seccomp".into(), json!(seccomp::episode_filters().map(|_| "ok").unwrap_or("unavailable")));
    report.insert("cgroup".into(), json!(cgroup::probe().unwrap_or("unavailable (rlimits and the seccomp ban on fork still apply)")));
    (report, ok)
}

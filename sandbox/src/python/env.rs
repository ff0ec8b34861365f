//! Finding, checking and setting up the CPython environment the `python`
//! backend runs in.
//!
//! Order of precedence for the interpreter: `--python PATH` (or the config key
//! `pvr.python`), then `TRUTHEYE_PYTHON`, then the default venv
//! ([`default_venv`]), then `target/pvr-venv` next to a `trutheye` binary built
//! in this repository (what `.ci/run` installs).

use crate::SandboxError;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The pinned requirements `trutheye pvr setup` installs.
pub const REQUIREMENTS: &str = include_str!("../../python/requirements.txt");

/// The command that sets an environment up, for error messages.
pub const SETUP_HINT: &str = "run `trutheye pvr setup` (creates a venv with the pinned packages), or pass --python PATH / set TRUTHEYE_PYTHON to a CPython >= 3.11 with numpy, pillow, opencv-python-headless, matplotlib, scipy and scikit-image";

/// Where `trutheye pvr setup` puts the venv by default: `$XDG_DATA_HOME/trutheye/pvr-venv`
/// (`~/.local/share/trutheye/pvr-venv`).
pub fn default_venv() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("trutheye").join("pvr-venv"))
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python3")
}

/// The interpreter to use, if any is configured or installed. `explicit` is
/// `--python` or the config key.
pub fn find_python(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("TRUTHEYE_PYTHON").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = default_venv().into_iter().map(|v| venv_python(&v)).collect();
    // A binary built in this repository: target/{debug,release}/trutheye (or deps/ for tests).
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(3) {
            if dir.file_name().is_some_and(|n| n == "target") {
                candidates.push(venv_python(&dir.join("pvr-venv")));
            }
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// What the interpreter reports about itself: the directories the jail must
/// show read-only.
#[derive(Clone, Debug, Deserialize)]
pub struct PythonInfo {
    /// `sys.executable`.
    pub executable: PathBuf,
    /// The real file behind the executable (venvs link to their base interpreter).
    pub real_executable: PathBuf,
    /// `sys.version_info[:2]`.
    pub version: (u32, u32),
    /// `sys.prefix`, `sys.base_prefix`, `sys.exec_prefix`, `sys.base_exec_prefix`
    /// and every existing `sys.path` entry: bound read-only into the jail.
    pub dirs: Vec<PathBuf>,
}

const PROBE: &str = r#"
import json, os, sys
dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable))]
dirs += [p for p in sys.path if p and os.path.exists(p)]
print(json.dumps({"executable": sys.executable, "real_executable": os.path.realpath(sys.executable),
                  "version": list(sys.version_info[:2]), "dirs": dirs}))
"#;

/// Asks the interpreter where it lives (runs it once, outside the jail, with a
/// fixed probe script; no model code is involved).
pub fn probe(python: &Path) -> Result<PythonInfo, SandboxError> {
    let out = Command::new(python)
        .args(["-I", "-c", PROBE])
        .output()
        .map_err(|e| SandboxError::Python(format!("python backend: cannot run {}: {e}; {SETUP_HINT}", python.display())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim();
        return Err(SandboxError::Python(format!("python backend: {} failed to start ({}): {last}; {SETUP_HINT}", python.display(), out.status)));
    }
    let mut info: PythonInfo = serde_json::from_slice(&out.stdout)
        .map_err(|e| SandboxError::Python(format!("python backend: {} is not a CPython this backend understands ({e})", python.display())))?;
    if info.version < (3, 11) {
        return Err(SandboxError::Python(format!(
            "python backend: {} is Python {}.{}; the backend needs CPython >= 3.11; {SETUP_HINT}",
            python.display(),
            info.version.0,
            info.version.1
        )));
    }
    // Bind each tree once: drop entries inside another entry.
    let mut dirs: Vec<PathBuf> = info.dirs.iter().filter_map(|d| std::fs::canonicalize(d).ok()).collect();
    dirs.sort();
    dirs.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if !kept.iter().any(|k| d.starts_with(k)) && !is_system_dir(&d) {
            kept.push(d);
        }
    }
    info.dirs = kept;
    Ok(info)
}

/// Directories the jail binds anyway (`/usr`, ...): no need to bind them again.
fn is_system_dir(d: &Path) -> bool {
    ["/usr", "/lib", "/lib64", "/bin", "/sbin"].iter().any(|s| d.starts_with(s))
}

/// Creates a venv at `venv` with `base` (a CPython >= 3.11) and installs the
/// pinned requirements into it. Needs the network (PyPI); prints pip's output.
pub fn setup(venv: &Path, base: &Path) -> Result<PathBuf, SandboxError> {
    let python = venv_python(venv);
    if !python.is_file() {
        if let Some(parent) = venv.parent() {
            std::fs::create_dir_all(parent).map_err(|e| SandboxError::Python(format!("{}: cannot create: {e}", parent.display())))?;
        }
        eprintln!("creating venv {} with {}", venv.display(), base.display());
        let st = Command::new(base)
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .map_err(|e| SandboxError::Python(format!("cannot run {}: {e}", base.display())))?;
        if !st.success() {
            return Err(SandboxError::Python(format!(
                "`{} -m venv {}` failed ({st}); on Debian/Ubuntu install python3-venv",
                base.display(),
                venv.display()
            )));
        }
    }
    let req = venv.join("trutheye-requirements.txt");
    std::fs::write(&req, REQUIREMENTS).map_err(|e| SandboxError::Python(format!("{}: {e}", req.display())))?;
    eprintln!("installing {} into {}", REQUIREMENTS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect::<Vec<_>>().join(", "), venv.display());
    let st = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
        .arg(&req)
        .status()
        .map_err(|e| SandboxError::Python(format!("cannot run pip in {}: {e}", venv.display())))?;
    if !st.success() {
        return Err(SandboxError::Python(format!("pip install into {} failed ({st})", venv.display())));
    }
    Ok(python)
}

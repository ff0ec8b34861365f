//! Finds and loads operator plugins.
//!
//! Search order (first match of an operator name wins, see `docs/plugins.md`):
//! 1. each `--plugin-dir`, in the order given;
//! 2. each entry of `TRUTHEYE_PLUGIN_PATH` (`:`-separated; `;` on Windows);
//! 3. `<directory of the trutheye binary>/plugins`, then the binary's directory
//!    itself (so `cargo build` output works without copying).
//!
//! Within a directory, files are taken in name order. Only files named like
//! `libtrutheye_plugin_*.so` (`.dylib` on macOS, `trutheye_plugin_*.dll` on
//! Windows) are considered, as nushell does with `nu_plugin_*`, so a directory of
//! unrelated libraries is never loaded.
//!
//! Each library is opened through its `abi_stable` library header, not
//! `RootModule::load_from_file`, whose per-type cache would hand back the first
//! plugin for every later path. A library built against an incompatible interface
//! (layout or version) is refused with the checker's reason and loading goes on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::lib_header_from_path;
use serde::Serialize;
use trutheye_plugin_api::abi::{AbiOperator, PluginModRef};
use trutheye_plugin_api::Output;

use crate::image::ImageBuf;
use crate::registry::{run_abi, spec_from_abi, ForensicOperator, OperatorSpec, Registry};

/// Environment variable with extra plugin directories.
pub const PLUGIN_PATH_ENV: &str = "TRUTHEYE_PLUGIN_PATH";

/// A plugin that loaded.
#[derive(Clone, Debug, Serialize)]
pub struct LoadedPlugin {
    /// Name it reports.
    pub name: String,
    /// Version it reports.
    pub version: String,
    /// File it came from.
    pub path: PathBuf,
    /// Operators it provides (including ones shadowed by an earlier plugin).
    pub operators: Vec<String>,
}

/// A plugin that was refused, with the reason.
#[derive(Clone, Debug, Serialize)]
pub struct RefusedPlugin {
    /// File.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// What a load pass did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Directories searched, in order.
    pub searched: Vec<PathBuf>,
    /// Loaded plugins.
    pub loaded: Vec<LoadedPlugin>,
    /// Refused plugins.
    pub refused: Vec<RefusedPlugin>,
}

/// True for file names the loader considers.
pub fn is_plugin_file_name(name: &str) -> bool {
    let (prefix, ext) = if cfg!(windows) { ("trutheye_plugin_", "dll") } else { ("libtrutheye_plugin_", std::env::consts::DLL_EXTENSION) };
    name.starts_with(prefix) && name.rsplit('.').next() == Some(ext)
}

/// The directories to search, in priority order.
pub fn search_dirs(cli_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cli_dirs.to_vec();
    if let Some(v) = std::env::var_os(PLUGIN_PATH_ENV) {
        dirs.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("plugins"));
        dirs.push(exe_dir.clone());
        // Test and bench executables live in target/<profile>/deps.
        if exe_dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(p) = exe_dir.parent() {
                dirs.push(p.to_path_buf());
            }
        }
    }
    dirs
}

/// Loads every plugin found in `dirs` into `registry`.
pub fn load_dirs(dirs: &[PathBuf], registry: &mut Registry) -> LoadReport {
    let mut report = LoadReport { searched: dirs.to_vec(), ..Default::default() };
    let mut seen = HashSet::new();
    for dir in dirs {
        let Ok(read) = std::fs::read_dir(dir) else {
            tracing::debug!(dir = %dir.display(), "plugin directory not readable; skipped");
            continue;
        };
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(is_plugin_file_name))
            .collect();
        files.sort();
        for path in files {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(key) {
                continue;
            }
            match load_file(&path, registry) {
                Ok(p) => report.loaded.push(p),
                Err(reason) => {
                    tracing::warn!(plugin = %path.display(), "plugin refused: {reason}");
                    report.refused.push(RefusedPlugin { path, reason });
                }
            }
        }
    }
    report
}

/// Loads one plugin file into `registry`.
pub fn load_file(path: &Path, registry: &mut Registry) -> Result<LoadedPlugin, String> {
    let header = lib_header_from_path(path).map_err(|e| one_line(&e.to_string()))?;
    let module = header.init_root_module::<PluginModRef>().map_err(|e| one_line(&e.to_string()))?;
    let name = module.name()().into_string();
    let version = module.version()().into_string();
    let decls = module.operators()();
    let origin = format!("{name} {version} ({})", path.display());
    let mut operators = Vec::new();
    for decl in decls.into_iter() {
        operators.push(decl.name.to_string());
        registry.register(Arc::new(PluginOperator { spec: spec_from_abi(&decl, origin.clone()), decl }));
    }
    tracing::info!(plugin = %name, %version, operators = operators.len(), path = %path.display(), "plugin loaded");
    Ok(LoadedPlugin { name, version, path: path.to_path_buf(), operators })
}

/// Collapses abi_stable's multi-line diagnostics to one line a user can read.
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.len() > 400 {
        let cut = (0..=400).rev().find(|i| joined.is_char_boundary(*i)).unwrap_or(0);
        format!("{}…", &joined[..cut])
    } else {
        joined
    }
}

/// An operator living in a loaded library. Libraries are never unloaded (the
/// header API leaks them on purpose), so the function pointer stays valid.
struct PluginOperator {
    spec: OperatorSpec,
    decl: AbiOperator,
}

impl ForensicOperator for PluginOperator {
    fn spec(&self) -> &OperatorSpec {
        &self.spec
    }
    fn run(&self, image: &ImageBuf, params: &serde_json::Value) -> Result<Output, String> {
        run_abi(&self.decl, image, params)
    }
}

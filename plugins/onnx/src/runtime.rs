//! Finding, checking and initialising the ONNX Runtime shared library.
//!
//! `ort` (with `load-dynamic`) opens the library at run time and panics when it is
//! missing, so every path is checked here first: the file must exist, be a shared
//! library exporting `OrtGetApiBase`, and report a version `>= 1.31` (the `api-31`
//! C API). Only then is `ort::init_from` called, inside `catch_unwind`.

use crate::OnnxError;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

/// Environment variable naming the ONNX Runtime shared library (as `ort` uses it).
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Oldest ONNX Runtime minor version the `api-31` C API works with.
pub const MIN_MINOR: u32 = 31;

/// What to run when the runtime is missing; printed in every related error.
pub const SETUP_HINT: &str = "run `plugins/onnx/scripts/setup.sh` (installs the onnxruntime==1.31.1 wheel and records its library) or set ORT_DYLIB_PATH to libonnxruntime.so.1.31.x";

/// Picks the library path: `ORT_DYLIB_PATH` first, then the `runtime` key of the
/// model directory's `onnx.toml` (what `scripts/onnx-setup.sh` writes).
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, OnnxError> {
    if let Some(p) = std::env::var_os(DYLIB_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    configured
        .map(Path::to_path_buf)
        .ok_or_else(|| OnnxError::Runtime(format!("ONNX Runtime not found ({DYLIB_ENV} unset and no `runtime` in onnx.toml); {SETUP_HINT}")))
}

/// Checks a version string such as `1.31.1` against [`MIN_MINOR`].
pub fn check_version(version: &str, path: &Path) -> Result<(), OnnxError> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(1)), Some(Ok(minor))) if minor >= MIN_MINOR => Ok(()),
        (Some(Ok(_)), Some(Ok(_))) => Err(OnnxError::Runtime(format!(
            "ONNX Runtime {version} at {} is too old: trutheye's ONNX plugin needs >= 1.{MIN_MINOR} (C API {MIN_MINOR}); {SETUP_HINT}",
            path.display()
        ))),
        _ => Err(OnnxError::Runtime(format!("ONNX Runtime at {} reports an unreadable version `{version}`", path.display()))),
    }
}

/// Opens the library on its own, reads its version string and checks it, without
/// touching `ort`'s global state (which keeps the first library for the process).
pub fn probe(path: &Path) -> Result<String, OnnxError> {
    if !path.is_file() {
        return Err(OnnxError::Runtime(format!("ONNX Runtime not found at {}; {SETUP_HINT}", path.display())));
    }
    // SAFETY: loading runs the library's initialisers; ONNX Runtime's are benign and
    // this is the same library `ort` would load next.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| OnnxError::Runtime(format!("ONNX Runtime at {} could not be opened: {e}", path.display())))?;
    type GetBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: the symbol's type is fixed by ONNX Runtime's C API.
    let get_base: libloading::Symbol<GetBase> = unsafe { lib.get(b"OrtGetApiBase\0") }
        .map_err(|_| OnnxError::Runtime(format!("{} is not ONNX Runtime (no `OrtGetApiBase` symbol)", path.display())))?;
    // SAFETY: OrtGetApiBase returns a static table; GetVersionString a static C string.
    let version = unsafe {
        let base = get_base();
        if base.is_null() {
            return Err(OnnxError::Runtime(format!("ONNX Runtime at {} returned no API table", path.display())));
        }
        let s = ((*base).GetVersionString)();
        if s.is_null() {
            return Err(OnnxError::Runtime(format!("ONNX Runtime at {} returned no version string", path.display())));
        }
        CStr::from_ptr(s).to_string_lossy().into_owned()
    };
    check_version(&version, path)?;
    Ok(version)
}

/// The process-wide ONNX Runtime environment with the library path and version it
/// was created from.
pub struct Runtime {
    /// The `ort` environment every session is built in.
    pub env: Environment,
    /// Library it came from.
    pub path: PathBuf,
    /// Version string the library reported.
    pub version: String,
}

static RUNTIME: OnceLock<Result<Runtime, OnnxError>> = OnceLock::new();

/// The runtime if this process already initialised one.
pub fn current() -> Option<&'static Runtime> {
    RUNTIME.get().and_then(|r| r.as_ref().ok())
}

/// Initialises ONNX Runtime once per process (later calls return the first
/// result, whatever path they pass: `ort` cannot switch libraries).
pub fn init(path: &Path) -> Result<&'static Runtime, OnnxError> {
    RUNTIME
        .get_or_init(|| {
            let version = probe(path)?;
            let path = path.to_path_buf();
            let built = std::panic::catch_unwind(|| -> Result<Environment, OnnxError> {
                let builder = ort::init_from(&path).map_err(|e| OnnxError::Runtime(format!("ONNX Runtime could not be loaded: {e}")))?;
                builder
                    .with_name("trutheye")
                    .with_telemetry(false)
                    .build()
                    .map_err(|e| OnnxError::Runtime(format!("ONNX Runtime environment could not be created: {e}")))
            })
            .map_err(|_| OnnxError::Runtime(format!("ONNX Runtime initialisation panicked for {}; {SETUP_HINT}", path.display())))??;
            tracing::info!(path = %path.display(), %version, "ONNX Runtime loaded");
            Ok(Runtime { env: built, path, version })
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked() {
        let p = Path::new("/x/libonnxruntime.so");
        assert!(check_version("1.31.1", p).is_ok());
        assert!(check_version("1.32.0", p).is_ok());
        let old = check_version("1.22.0", p).unwrap_err().to_string();
        assert!(old.contains("too old") && old.contains("1.22.0"), "{old}");
        assert!(check_version("banana", p).unwrap_err().to_string().contains("unreadable"));
    }

    #[test]
    fn missing_and_foreign_libraries_are_clear_errors() {
        let err = probe(Path::new("/nonexistent/libonnxruntime.so.1.31.1")).unwrap_err().to_string();
        assert!(err.starts_with("ONNX Runtime not found at"), "{err}");
        let dir = std::env::temp_dir().join(format!("trutheye-onnx-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fake = dir.join("libonnxruntime.so");
        std::fs::write(&fake, b"not a library").expect("write");
        let err = probe(&fake).unwrap_err().to_string();
        assert!(err.contains("could not be opened"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The set of ONNX operators of this process: model directories, their manifests,
//! the models that loaded, and one line per model that was refused.

use crate::OnnxError;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use trutheye_plugin_api::{params, NoParams};

use crate::manifest::{Manifest, Settings};
use crate::model::Model;
use crate::residual::ResidualParams;
use crate::runtime;

/// Environment variable with the model directories (`:`-separated, `;` on Windows).
pub const MODELS_ENV: &str = "TRUTHEYE_ONNX_MODELS";

/// Loaded models and refusals.
#[derive(Default)]
pub struct Catalog {
    /// Directories searched, in order.
    pub dirs: Vec<PathBuf>,
    /// Models that loaded, in slot order.
    pub models: Vec<Model>,
    /// `(manifest or directory, reason)` for everything refused.
    pub refused: Vec<(PathBuf, String)>,
}

/// The model directories: `TRUTHEYE_ONNX_MODELS`, else `$XDG_DATA_HOME/trutheye/onnx`
/// (`~/.local/share/trutheye/onnx`), where `scripts/onnx-setup.sh` installs.
pub fn model_dirs() -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os(MODELS_ENV) {
        return std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    data.map(|d| vec![d.join("trutheye/onnx")]).unwrap_or_default()
}

/// The process-wide catalog, loaded on first use from [`model_dirs`]. Refusals
/// are printed once to stderr, one line each, so `trutheye plugins list` shows them
/// while every other operator still loads.
pub fn get() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let c = load(&model_dirs());
        for (path, why) in &c.refused {
            eprintln!("trutheye-plugin-onnx: refused {}: {why}", path.display());
            tracing::warn!(path = %path.display(), "ONNX model refused: {why}");
        }
        c
    })
}

/// Reads every manifest under `dirs` (name order) and loads its model.
pub fn load(dirs: &[PathBuf]) -> Catalog {
    let mut cat = Catalog { dirs: dirs.to_vec(), ..Default::default() };
    let mut manifests: Vec<(PathBuf, Settings)> = Vec::new();
    let mut settings: Option<Settings> = None;
    for dir in dirs {
        let Ok(read) = std::fs::read_dir(dir) else {
            tracing::debug!(dir = %dir.display(), "ONNX model directory not readable; skipped");
            continue;
        };
        let s = match Settings::read(dir) {
            Ok(s) => s,
            Err(e) => {
                cat.refused.push((dir.join("onnx.toml"), e.to_string()));
                continue;
            }
        };
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.file_name().is_some_and(|n| n != "onnx.toml"))
            .collect();
        files.sort();
        manifests.extend(files.into_iter().map(|f| (f, s.clone())));
        // The first directory with a runtime setting provides it (like PATH lookups).
        if settings.as_ref().is_none_or(|x| x.runtime.is_none()) && s.runtime.is_some() {
            settings = Some(s);
        }
    }
    if manifests.is_empty() {
        return cat;
    }
    let rt_path = settings.as_ref().and_then(|s| s.runtime.as_deref());
    let found = runtime::current().ok_or(()).or_else(|_| runtime::locate(rt_path).and_then(|p| runtime::init(&p)));
    let rt = match found {
        Ok(rt) => rt,
        Err(e) => {
            let n = manifests.len();
            cat.refused.push((dirs.first().cloned().unwrap_or_default(), format!("{e} ({n} ONNX operator(s) unavailable)")));
            return cat;
        }
    };
    for (path, s) in manifests {
        match load_one(&path, rt, &s, &cat) {
            Ok(m) => {
                tracing::info!(op = %m.manifest.name, model = %m.path.display(), backend = %m.backend(), "ONNX operator loaded");
                cat.models.push(m)
            }
            Err(e) => cat.refused.push((path, e.to_string())),
        }
    }
    cat
}

fn load_one(path: &Path, rt: &runtime::Runtime, s: &Settings, cat: &Catalog) -> Result<Model, OnnxError> {
    let m = Manifest::read(path)?;
    if cat.models.iter().any(|x| x.manifest.name == m.name) {
        return Err(OnnxError::Manifest(format!("operator `{}` is already provided by an earlier manifest", m.name)));
    }
    if cat.models.len() >= crate::SLOTS {
        return Err(OnnxError::Manifest(format!("more than {} ONNX operators; this one is skipped", crate::SLOTS)));
    }
    Model::load(m, rt, s)
}

/// JSON schema of an ONNX operator's parameters: derived from
/// [`ResidualParams`](crate::residual::ResidualParams) with the manifest's
/// defaults, or none for other outputs.
pub fn params_schema(m: &Manifest) -> Value {
    if m.output.kind == "residual" {
        let mut s = params::schema::<ResidualParams>();
        s["properties"]["block"]["default"] = json!(m.output.block);
        s["properties"]["truncate"]["default"] = json!(m.output.truncate);
        s
    } else {
        params::schema::<NoParams>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived schemas equal what the hand-written ones reported (exact JSON,
    /// so `3.0` stays `3.0`): what the model is shown must not drift.
    #[test]
    fn schemas_match_the_hand_written_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let srm = Manifest::read(&dir.join("onnx_srm.toml")).expect("manifest");
        let want = json!({"type": "object", "properties": {
            "block": {"type": "integer", "minimum": 8, "maximum": 256, "default": srm.output.block,
                      "description": "side in pixels of the square blocks whose residual energy is compared"},
            "truncate": {"type": "number", "minimum": 0, "maximum": 255, "default": srm.output.truncate,
                         "description": "residuals are clipped to ±truncate before energy is measured; 0 disables clipping"}
        }, "additionalProperties": false});
        assert_eq!(params_schema(&srm), want);
        assert_eq!(params_schema(&srm).to_string(), want.to_string());
        let probe = Manifest::read(&dir.join("clip_probe.toml")).expect("manifest");
        assert_eq!(params_schema(&probe), json!({"type": "object", "properties": {}, "additionalProperties": false}));
    }
}

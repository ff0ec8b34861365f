//! A loaded manifest + ONNX session: validation against the graph, batch inference
//! and turning outputs into a trutheye [`Output`].

use crate::OnnxError;
use std::path::PathBuf;
use std::sync::Mutex;

use ndarray::Axis;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef};
use serde_json::{json, Value};
use trutheye_plugin_api::{ImageRef, NoParams, Output, Params, OperatorError};

use crate::manifest::{Manifest, Settings};
use crate::preprocess::prepare;
use crate::residual::{self, ResidualParams};
use crate::runtime::Runtime;

/// A manifest whose model loaded and matched it. The session is kept for the life
/// of the process (session reuse) behind a mutex because `Session::run` needs `&mut`.
pub struct Model {
    /// The manifest.
    pub manifest: Manifest,
    /// Absolute model path.
    pub path: PathBuf,
    /// Execution providers requested, in order (`cpu` when none configured).
    pub providers: Vec<String>,
    session: Mutex<Session>,
    head: Option<(Vec<f32>, f32)>,
}

impl Model {
    /// Loads the model, checks it against the manifest, and reads the head.
    pub fn load(manifest: Manifest, rt: &Runtime, settings: &Settings) -> Result<Self, OnnxError> {
        let path = manifest.model_path();
        if !path.is_file() {
            return Err(OnnxError::Model(format!("model file {} is missing", path.display())));
        }
        let providers = if settings.execution_providers.is_empty() { vec!["cpu".to_string()] } else { settings.execution_providers.clone() };
        let eps = providers
            .iter()
            .map(|p| match p.as_str() {
                // `CPU::default()` disables ONNX Runtime's memory arena; with it off every
                // run page-faults fresh buffers (3x slower at 12 MP), so keep it on.
                "cpu" => Ok(ort::ep::CPU::default().with_arena_allocator(true).build()),
                "cuda" => Ok(ort::ep::CUDA::default().build()),
                "tensorrt" => Ok(ort::ep::TensorRT::default().build()),
                other => Err(OnnxError::Model(format!("unknown execution provider `{other}` in onnx.toml (cpu, cuda, tensorrt)"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = Session::builder(&rt.env)
            .and_then(|b| b.with_execution_providers(eps).map_err(Into::into))
            .map_err(|e| OnnxError::Model(format!("cannot configure a session: {e}")))?;
        use ort::session::builder::GraphOptimizationLevel as L;
        let level = match manifest.optimization.as_str() {
            "none" => L::Disable,
            "basic" => L::Level1,
            "extended" => L::Level2,
            _ => L::All,
        };
        builder = builder.with_optimization_level(level).map_err(|e| OnnxError::Model(format!("optimization level: {e}")))?;
        if settings.intra_threads > 0 {
            builder = builder.with_intra_threads(settings.intra_threads).map_err(|e| OnnxError::Model(format!("intra_threads: {e}")))?;
        }
        let session = builder
            .commit_from_file(&path)
            .map_err(|e| OnnxError::Model(format!("model {} could not be loaded (corrupt or not ONNX?): {}", path.display(), crate::manifest::one_line(&e.to_string()))))?;
        check_io(&manifest, &session)?;
        let head = match (&manifest.output.kind[..], &manifest.output.head) {
            ("embedding_head", Some(h)) => Some(read_head(&manifest.dir.join(h))?),
            _ => None,
        };
        if let Some((w, _)) = &head {
            let out = session.outputs().iter().find(|o| o.name() == manifest.output.name);
            let width = out.and_then(|o| o.dtype().tensor_shape().and_then(|s| s.last().copied())).unwrap_or(-1);
            if width > 0 && width as usize != w.len() {
                return Err(OnnxError::Model(format!("head has {} weights but output `{}` is {width}-d", w.len(), manifest.output.name)));
            }
        }
        Ok(Self { manifest, path, providers, session: Mutex::new(session), head })
    }

    /// Backend label shown in `plugins list` and summaries, e.g. `onnx/cpu`.
    pub fn backend(&self) -> String {
        format!("onnx/{}", self.providers.join("+"))
    }

    /// Runs the session on a prepared batch and returns the output as `(shape, data)`.
    pub fn infer(&self, batch: ndarray::ArrayView4<'_, f32>) -> Result<(Vec<usize>, Vec<f32>), OnnxError> {
        self.infer_with(batch, |shape, data| (shape.to_vec(), data.to_vec()))
    }

    /// Runs the session and hands the output to `f` while it is still borrowed from
    /// ONNX Runtime (no copy of a possibly 12-megapixel output).
    pub fn infer_with<R>(&self, batch: ndarray::ArrayView4<'_, f32>, f: impl FnOnce(&[usize], &[f32]) -> R) -> Result<R, OnnxError> {
        let tensor = TensorRef::from_array_view(batch).map_err(|e| OnnxError::Model(format!("input tensor: {e}")))?;
        let mut session = self.session.lock().map_err(|_| OnnxError::Model("session lock poisoned by an earlier failure".to_string()))?;
        let outputs = session
            .run(ort::inputs![self.manifest.input.name.as_str() => tensor])
            .map_err(|e| OnnxError::Model(format!("ONNX Runtime failed on `{}`: {}", self.manifest.name, crate::manifest::one_line(&e.to_string()))))?;
        let value = outputs
            .get(&self.manifest.output.name)
            .ok_or_else(|| OnnxError::Model(format!("model has no output `{}`", self.manifest.output.name)))?;
        let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| OnnxError::Model(format!("output `{}`: {e}", self.manifest.output.name)))?;
        let shape: Vec<usize> = shape.iter().map(|d| *d as usize).collect();
        Ok(f(&shape, data))
    }

    /// Probabilities for many images, `manifest.batch` images per session run
    /// (batch inference). Only for score-like outputs.
    pub fn probabilities(&self, images: &[ImageRef<'_>]) -> Result<Vec<f32>, OnnxError> {
        let per = if self.manifest.input.crop == "five" { 5 } else { 1 };
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.manifest.batch.max(1)) {
            let parts = chunk.iter().map(|im| prepare(im, &self.manifest.input)).collect::<Result<Vec<_>, _>>()?;
            let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
            let batch = ndarray::concatenate(Axis(0), &views).map_err(|e| OnnxError::Model(format!("batch: {e}")))?;
            let (shape, data) = self.infer(batch.view())?;
            let width = data.len() / shape[0].max(1);
            for i in 0..chunk.len() {
                let rows = &data[i * per * width..(i + 1) * per * width];
                out.push(self.probability(rows, width)?);
            }
        }
        Ok(out)
    }

    /// Probability from one image's output rows (`crops x width`).
    fn probability(&self, rows: &[f32], width: usize) -> Result<f32, OnnxError> {
        let o = &self.manifest.output;
        let z = match &self.head {
            Some((w, b)) => {
                let mut feat = vec![0f32; width];
                for row in rows.chunks(width) {
                    let n = if o.normalise { row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12) } else { 1.0 };
                    feat.iter_mut().zip(row).for_each(|(f, v)| *f += v / n);
                }
                let crops = (rows.len() / width) as f32;
                feat.iter_mut().for_each(|f| *f /= crops);
                if o.normalise && crops > 1.0 {
                    let n = feat.iter().map(|v| v * v).sum::<f32>().sqrt();
                    if n > 1e-12 {
                        feat.iter_mut().for_each(|f| *f /= n);
                    }
                }
                if w.len() != feat.len() {
                    return Err(OnnxError::Model(format!("head expects {} features, model produced {}", w.len(), feat.len())));
                }
                feat.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + b
            }
            None => {
                let mean = rows.iter().sum::<f32>() / rows.len().max(1) as f32;
                if !o.logit {
                    return Ok(mean.clamp(0.0, 1.0));
                }
                mean
            }
        };
        Ok(1.0 / (1.0 + (-z).exp()))
    }

    /// Runs the operator on one image.
    pub fn run(&self, image: &ImageRef<'_>, params: &Value) -> Result<Output, OperatorError> {
        let o = &self.manifest.output;
        if o.kind == "residual" {
            let defaults = ResidualParams { block: o.block, truncate: o.truncate as f64 };
            let p = ResidualParams::from_json_over(defaults, params)?;
            let (block, t) = (p.block, p.truncate as f32);
            residual::check_size(&self.manifest.name, image.width, image.height, block)?;
            let input = prepare(image, &self.manifest.input)?;
            let backend = self.backend();
            let visual = image.wants(trutheye_plugin_api::MapRole::Visual);
            let r = residual::Report { block, truncate: t, what: &o.what, backend: &backend, visual };
            let (w, h) = (image.width, image.height);
            return self.infer_with(input.view(), |shape, data| {
                if shape.len() != 4 || shape[2] != h || shape[3] != w {
                    return Err(OnnxError::Model(format!("residual output has shape {shape:?}, expected [1, K, {h}, {w}]")));
                }
                Ok(residual::report(data, shape[1], w, h, &r))
            })?
            .map_err(OperatorError::from);
        }
        NoParams::from_json(params)?;
        let p = self.probabilities(std::slice::from_ref(image))?[0];
        let caveat = if o.caveat.is_empty() { String::new() } else { format!(" Caveat: {}", o.caveat) };
        Ok(Output {
            summary: format!(
                "{}: probability {} = {p:.3} ({}; model {}).{caveat}",
                self.manifest.name,
                o.label,
                if p >= 0.5 { format!("leans {}", o.label) } else { format!("leans not {}", o.label) },
                self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            ),
            stats: json!({"probability": p, "label": o.label, "backend": self.backend(), "model": self.path}),
            maps: Vec::new(),
            regions: Vec::new(),
        })
    }
}

/// Refuses a model whose inputs/outputs do not match the manifest.
fn check_io(m: &Manifest, s: &Session) -> Result<(), OnnxError> {
    let names = |v: &[ort::value::Outlet]| v.iter().map(|o| o.name().to_string()).collect::<Vec<_>>().join(", ");
    let input = s.inputs().iter().find(|i| i.name() == m.input.name).ok_or_else(|| {
        OnnxError::Model(format!("manifest input `{}` is not an input of {} (model inputs: {})", m.input.name, m.model, names(s.inputs())))
    })?;
    if s.inputs().len() != 1 {
        return Err(OnnxError::Model(format!("model {} has {} inputs ({}); manifests describe single-input models", m.model, s.inputs().len(), names(s.inputs()))));
    }
    if !s.outputs().iter().any(|o| o.name() == m.output.name) {
        return Err(OnnxError::Model(format!("manifest output `{}` is not an output of {} (model outputs: {})", m.output.name, m.model, names(s.outputs()))));
    }
    let ty = input.dtype();
    if ty.tensor_type() != Some(TensorElementType::Float32) {
        return Err(OnnxError::Model(format!("model input `{}` is {ty:?}, the manifest feeds float32", m.input.name)));
    }
    let shape: Vec<i64> = ty.tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    let (cdim, hdim, wdim) = if m.input.layout == "nhwc" { (3, 1, 2) } else { (1, 2, 3) };
    if shape.len() != 4 {
        return Err(OnnxError::Model(format!("model input `{}` has rank {} ({shape:?}), the manifest feeds a 4-D {} batch", m.input.name, shape.len(), m.input.layout)));
    }
    if shape[cdim] > 0 && shape[cdim] as usize != m.channels() {
        return Err(OnnxError::Model(format!("model input `{}` wants {} channels ({shape:?}), the manifest feeds {} ({})", m.input.name, shape[cdim], m.channels(), m.input.channels)));
    }
    let want = m.input.size.map(|[w, h]| (h as i64, w as i64));
    match want {
        Some((h, w)) if (shape[hdim] > 0 && shape[hdim] != h) || (shape[wdim] > 0 && shape[wdim] != w) => Err(OnnxError::Model(format!(
            "model input `{}` is {}x{} ({shape:?}), the manifest's input.size is {w}x{h}",
            m.input.name, shape[wdim], shape[hdim]
        ))),
        None if shape[hdim] > 0 || shape[wdim] > 0 => Err(OnnxError::Model(format!(
            "model input `{}` has a fixed size ({shape:?}); the manifest must give input.size and a resize policy",
            m.input.name
        ))),
        _ => Ok(()),
    }
}

/// Reads `{"weights": [...], "bias": b}`.
fn read_head(path: &std::path::Path) -> Result<(Vec<f32>, f32), OnnxError> {
    let text = std::fs::read_to_string(path).map_err(|e| OnnxError::Model(format!("cannot read head {}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| OnnxError::Model(format!("head {} is not JSON: {e}", path.display())))?;
    let w: Vec<f32> = v["weights"]
        .as_array()
        .ok_or_else(|| OnnxError::Model(format!("head {} has no `weights` array", path.display())))?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect::<Option<_>>()
        .ok_or_else(|| OnnxError::Model(format!("head {} has a non-number weight", path.display())))?;
    let b = v["bias"].as_f64().unwrap_or(0.0) as f32;
    if w.iter().all(|x| *x == 0.0) || !w.iter().chain([&b]).all(|x| x.is_finite()) {
        return Err(OnnxError::Model(format!("head {} is all zero or not finite", path.display())));
    }
    Ok((w, b))
}

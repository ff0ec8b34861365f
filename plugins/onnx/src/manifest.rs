//! The TOML manifest that turns an `.onnx` file into a trutheye operator, and the
//! per-directory `onnx.toml` configuration. Format: `docs/onnx.md`.

use crate::OnnxError;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How the image becomes the model's input tensor.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input name in the graph.
    pub name: String,
    /// `nchw` (default) or `nhwc`.
    #[serde(default = "default_layout")]
    pub layout: String,
    /// `rgb` (3 channels, default) or `luma` (1 channel, BT.601 like `ImageRef::luma`).
    #[serde(default = "default_channels")]
    pub channels: String,
    /// `[width, height]` fed to the model; absent = the full image (fully convolutional graphs).
    pub size: Option<[usize; 2]>,
    /// `shorter_side` (scale the shorter side to the target, keep aspect), `stretch`, or `none`.
    #[serde(default = "default_resize")]
    pub resize: String,
    /// `center` (one centre crop), `five` (centre + 4 corners, a batch of 5 whose
    /// embeddings are averaged) or `none`.
    #[serde(default = "default_crop")]
    pub crop: String,
    /// Pixel values are divided by this first (1 keeps 0..255, 255 gives 0..1).
    #[serde(default = "one")]
    pub scale: f32,
    /// Per-channel mean subtracted after scaling.
    #[serde(default)]
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by after the mean.
    #[serde(default)]
    pub std: Vec<f32>,
}

/// What the model's output means.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output name in the graph.
    pub name: String,
    /// `embedding_head` (embedding + linear head -> probability), `score` (one logit or
    /// probability per image) or `residual` (per-pixel residual channels, reported as
    /// block residual energy like the native `srm` / `bayar`).
    pub kind: String,
    /// For `embedding_head`: JSON file with `weights` (the embedding width) and `bias`.
    pub head: Option<String>,
    /// For `embedding_head`: L2-normalise embeddings before the head (CLIP probes do).
    #[serde(default = "yes")]
    pub normalise: bool,
    /// For `score`: the output is a logit (apply a sigmoid) rather than a probability.
    #[serde(default)]
    pub logit: bool,
    /// What a high probability means, e.g. `synthetic`.
    #[serde(default = "default_label")]
    pub label: String,
    /// Known weakness, appended to every summary so the model weighs the score.
    #[serde(default)]
    pub caveat: String,
    /// For `residual`: residuals are clipped to ±truncate before energy (0 = off).
    #[serde(default)]
    pub truncate: f32,
    /// For `residual`: default block side of the energy statistics.
    #[serde(default = "default_block")]
    pub block: usize,
    /// For `residual`: the phrase that opens the summary (e.g. `SRM residual energy`).
    #[serde(default = "default_what")]
    pub what: String,
}

/// One manifest: `<name>.toml` beside the model.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Operator name (`snake_case`), what the model calls.
    pub name: String,
    /// What the operator shows and how to read it.
    pub description: String,
    /// Operator family (`learned`, `noise`, ...).
    #[serde(default = "default_category")]
    pub category: String,
    /// Model file, relative to the manifest's directory.
    pub model: String,
    /// Input description.
    pub input: InputSpec,
    /// Output description.
    pub output: OutputSpec,
    /// ONNX Runtime graph optimisation: `all` (default), `extended`, `basic` or
    /// `none`. Plain convolution graphs run faster at `basic`: `all` converts them
    /// to the blocked NCHWc layout, which costs more than it gains on 1-channel input.
    #[serde(default = "default_optimization")]
    pub optimization: String,
    /// Images per session run when scoring many images (batch inference).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Directory the manifest was read from (set after parsing).
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_layout() -> String { "nchw".into() }
fn default_channels() -> String { "rgb".into() }
fn default_resize() -> String { "none".into() }
fn default_crop() -> String { "none".into() }
fn default_label() -> String { "synthetic".into() }
fn default_category() -> String { "learned".into() }
fn default_what() -> String { "Residual energy".into() }
fn default_block() -> usize { 32 }
fn default_batch() -> usize { 8 }
fn default_optimization() -> String { "all".into() }
fn one() -> f32 { 1.0 }
fn yes() -> bool { true }

impl Manifest {
    /// Reads and checks a manifest file (not the model: see `model::Model::load`).
    pub fn read(path: &Path) -> Result<Self, OnnxError> {
        let text = std::fs::read_to_string(path).map_err(|e| OnnxError::Manifest(format!("cannot read manifest {}: {e}", path.display())))?;
        let mut m: Manifest =
            toml::from_str(&text).map_err(|e| OnnxError::Manifest(format!("manifest {} is invalid: {}", path.display(), one_line(&e.to_string()))))?;
        m.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        m.check().map_err(|e| OnnxError::Manifest(format!("manifest {}: {e}", path.display())))?;
        Ok(m)
    }

    /// Absolute path of the model file.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.model)
    }

    /// Number of input channels the manifest promises.
    pub fn channels(&self) -> usize {
        if self.input.channels == "luma" { 1 } else { 3 }
    }

    fn check(&self) -> Result<(), OnnxError> {
        let i = &self.input;
        let valid_name = !self.name.is_empty()
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let checks: [(bool, String); 10] = [
            (["all", "extended", "basic", "none"].contains(&self.optimization.as_str()), format!("optimization `{}` is not all, extended, basic or none", self.optimization)),
            (valid_name, format!("name `{}` must be snake_case", self.name)),
            (["nchw", "nhwc"].contains(&i.layout.as_str()), format!("input.layout `{}` is not nchw or nhwc", i.layout)),
            (["rgb", "luma"].contains(&i.channels.as_str()), format!("input.channels `{}` is not rgb or luma", i.channels)),
            (["none", "shorter_side", "stretch"].contains(&i.resize.as_str()), format!("input.resize `{}` is not none, shorter_side or stretch", i.resize)),
            (["none", "center", "five"].contains(&i.crop.as_str()), format!("input.crop `{}` is not none, center or five", i.crop)),
            (i.resize == "none" && i.crop == "none" || i.size.is_some(), "input.resize/crop need input.size".into()),
            (i.mean.len() == i.std.len() && (i.mean.is_empty() || i.mean.len() == self.channels()), "input.mean and input.std need one value per channel".into()),
            (["embedding_head", "score", "residual"].contains(&self.output.kind.as_str()), format!("output.kind `{}` is not embedding_head, score or residual", self.output.kind)),
            (self.output.kind != "embedding_head" || self.output.head.is_some(), "output.kind = embedding_head needs output.head".into()),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err(OnnxError::Manifest(why)),
            None if i.std.contains(&0.0) || i.scale == 0.0 => Err(OnnxError::Manifest("input.std and input.scale must be non-zero".to_string())),
            None => Ok(()),
        }
    }
}

/// Per-directory settings, `onnx.toml` (optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// ONNX Runtime shared library; `ORT_DYLIB_PATH` overrides it.
    pub runtime: Option<PathBuf>,
    /// Execution providers in order of preference: `cpu` (default), `cuda`, `tensorrt`.
    #[serde(default)]
    pub execution_providers: Vec<String>,
    /// Threads inside one operator (ONNX Runtime intra-op pool); 0 = ONNX Runtime's default.
    #[serde(default)]
    pub intra_threads: usize,
}

impl Settings {
    /// Reads `dir/onnx.toml`; a missing file gives the defaults.
    pub fn read(dir: &Path) -> Result<Self, OnnxError> {
        let path = dir.join("onnx.toml");
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| OnnxError::Manifest(format!("cannot read {}: {e}", path.display())))?;
        let mut s: Settings = toml::from_str(&text).map_err(|e| OnnxError::Manifest(format!("{} is invalid: {}", path.display(), one_line(&e.to_string()))))?;
        // A relative runtime path is relative to the config file, not the working directory.
        s.runtime = s.runtime.map(|p| if p.is_relative() { dir.join(p) } else { p });
        Ok(s)
    }
}

/// Collapses a multi-line parser message to one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

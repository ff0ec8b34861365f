//! Datasets: a JSONL manifest (like `bench/dev/manifest.jsonl`) or class-named
//! folders. Bad rows are skipped and kept with their location and reason.

use crate::EvalError;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use trutheye_core::{BBox, VerdictLabel};

/// One labelled image.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// Unique id.
    pub id: String,
    /// Image file (resolved).
    pub image: PathBuf,
    /// True label: three-class, or `real`/`fake` for binary datasets.
    pub label: VerdictLabel,
    /// Ground-truth mask file (255 = changed), if any.
    pub mask: Option<PathBuf>,
    /// Ground-truth box `[x1, y1, x2, y2]` (x2/y2 exclusive), if any.
    pub bbox: Option<BBox>,
    /// Every other manifest field, kept for breakdowns (`method`, `camera`, ...).
    pub extra: BTreeMap<String, Value>,
}

/// A row that was skipped, with where and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BadRow {
    /// `line N` of the manifest, or a file path for folder layouts.
    pub location: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A loaded dataset.
#[derive(Clone, Debug, Serialize)]
pub struct Dataset {
    /// What was loaded (manifest file or folder).
    pub path: PathBuf,
    /// `manifest` or `folders`.
    pub kind: &'static str,
    /// Valid samples in order.
    pub samples: Vec<Sample>,
    /// Skipped rows.
    pub bad_rows: Vec<BadRow>,
}

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "tif", "tiff", "bmp", "webp", "jfif"];

/// Parses a dataset label: `authentic|synthetic|tampered` or `real|fake` (and the
/// synonyms [`VerdictLabel::parse`] knows).
pub fn parse_label(s: &str) -> Option<VerdictLabel> {
    VerdictLabel::parse(s)
}

impl Dataset {
    /// Loads a manifest file, a folder holding `manifest.jsonl`, or a class-named folder layout.
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        if path.is_file() {
            return Self::from_manifest(path);
        }
        if !path.is_dir() {
            return Err(EvalError::Dataset(format!("{}: no such dataset file or directory", path.display())));
        }
        let manifest = path.join("manifest.jsonl");
        if manifest.is_file() {
            return Self::from_manifest(&manifest);
        }
        Self::from_folders(path)
    }

    /// True when any label is binary-only (`real`/`fake`): the set is evaluated in the real/fake view.
    pub fn is_binary(&self) -> bool {
        self.samples.iter().any(|s| s.label.three_class().is_none())
    }

    /// Keeps the first `n` samples.
    pub fn truncate(&mut self, n: usize) {
        self.samples.truncate(n);
    }

    /// Reads a JSONL manifest; paths are relative to the manifest's directory.
    pub fn from_manifest(path: &Path) -> Result<Self, EvalError> {
        let text = trutheye_core::input::read_text_bounded(path, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| EvalError::Dataset(format!("{}: cannot read manifest: {}", path.display(), e.detail())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let (mut samples, mut bad_rows, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_row(line, base) {
                Ok(s) if !seen.insert(s.id.clone()) => bad_rows.push(BadRow { location: format!("line {}", i + 1), reason: format!("duplicate id `{}`", s.id) }),
                Ok(s) => samples.push(s),
                Err(reason) => bad_rows.push(BadRow { location: format!("line {}", i + 1), reason: reason.to_string() }),
            }
        }
        for b in &bad_rows {
            tracing::debug!(manifest = %path.display(), "{}: {} (skipped)", b.location, b.reason);
        }
        Ok(Self { path: path.to_path_buf(), kind: "manifest", samples, bad_rows })
    }

    /// Reads class-named folders: `authentic|real|0_real`, `synthetic|fake|1_fake`,
    /// `tampered`, CASIA's `Au/` + `Tp/`, GenImage's `nature/` + `ai/`; masks found by
    /// name (`masks/`, `Gt/`, ... with the image's stem, or `<stem>_gt.png`).
    pub fn from_folders(root: &Path) -> Result<Self, EvalError> {
        let mut samples = Vec::new();
        let mut bad_rows = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|e| EvalError::Dataset(format!("{}: cannot read directory: {e}", root.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for dir in entries {
            let name = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
            let Some(label) = folder_label(&name) else { continue };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| EvalError::Dataset(format!("{}: cannot read directory: {e}", dir.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str())))
                .collect();
            files.sort();
            for f in files {
                let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let mask = find_mask(root, &dir, &stem);
                let id = format!("{name}/{stem}");
                match check_files(&f, mask.as_deref(), None) {
                    Ok(()) => {
                        let mut extra = BTreeMap::new();
                        extra.insert("folder".to_string(), Value::String(name.clone()));
                        samples.push(Sample { id, image: f, label, mask, bbox: None, extra });
                    }
                    Err(reason) => bad_rows.push(BadRow { location: f.display().to_string(), reason: reason.to_string() }),
                }
            }
        }
        if samples.is_empty() && bad_rows.is_empty() {
            return Err(EvalError::Dataset(format!(
                "{}: no manifest.jsonl and no class folders (authentic|real|0_real|nature|Au, synthetic|fake|1_fake|ai, tampered|Tp)",
                root.display()
            )));
        }
        Ok(Self { path: root.to_path_buf(), kind: "folders", samples, bad_rows })
    }
}

/// The label a class folder stands for: our names, the binary `real`/`fake`
/// (`0_real`/`1_fake` as in CNNDetection), CASIA's `Au`/`Tp` and GenImage's
/// `nature`/`ai` (GenImage is a real/fake set, so it is evaluated in that view).
fn folder_label(lower_name: &str) -> Option<VerdictLabel> {
    Some(match lower_name {
        "authentic" | "au" => VerdictLabel::Authentic,
        "synthetic" => VerdictLabel::Synthetic,
        "tampered" | "tp" => VerdictLabel::Tampered,
        "real" | "0_real" | "nature" => VerdictLabel::Real,
        "fake" | "1_fake" | "ai" => VerdictLabel::Fake,
        _ => return None,
    })
}

/// Folders that hold ground-truth masks: ours (`masks/`, per class or at the root)
/// and the names CASIA releases use (`Gt/`, `GT/`, `groundtruth/`).
const MASK_DIRS: [&str; 5] = ["masks", "Gt", "GT", "gt", "groundtruth"];

/// Finds the mask of image `stem`: `<dir>/<stem>.png` or CASIA's `<stem>_gt.png`,
/// in the class folder's mask folders first, then the root's.
fn find_mask(root: &Path, class_dir: &Path, stem: &str) -> Option<PathBuf> {
    let names = [format!("{stem}.png"), format!("{stem}_gt.png"), format!("{stem}_mask.png")];
    [class_dir, root]
        .iter()
        .flat_map(|base| MASK_DIRS.iter().map(move |m| base.join(m)))
        .filter(|d| d.is_dir())
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn parse_row(line: &str, base: &Path) -> Result<Sample, EvalError> {
    let v: Value = serde_json::from_str(line).map_err(|e| EvalError::Dataset(format!("not JSON: {e}")))?;
    let Value::Object(mut obj) = v else { return Err(EvalError::Dataset("not a JSON object".to_string())) };
    let id = match obj.remove("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(EvalError::Dataset("missing `id`".to_string())),
    };
    let image = match obj.remove("image") {
        Some(Value::String(s)) => base.join(s),
        _ => return Err(EvalError::Dataset("missing `image`".to_string())),
    };
    let label = match obj.remove("label") {
        Some(Value::String(s)) => parse_label(&s).ok_or_else(|| EvalError::Dataset(format!("unknown label `{s}` (expected authentic|synthetic|tampered or real|fake)")))?,
        _ => return Err(EvalError::Dataset("missing `label`".to_string())),
    };
    let mask = match obj.remove("mask") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(base.join(s)),
        Some(_) => return Err(EvalError::Dataset("`mask` must be a path or null".to_string())),
    };
    let bbox = match obj.remove("bbox") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_bbox(&v)?),
    };
    check_files(&image, mask.as_deref(), bbox)?;
    Ok(Sample { id, image, label, mask, bbox, extra: obj.into_iter().collect() })
}

fn parse_bbox(v: &Value) -> Result<BBox, EvalError> {
    let a = v.as_array().filter(|a| a.len() == 4).ok_or_else(|| EvalError::Dataset("`bbox` must be [x1, y1, x2, y2]".to_string()))?;
    let mut out = [0u32; 4];
    for (o, x) in out.iter_mut().zip(a) {
        let f = x.as_f64().filter(|f| f.is_finite() && *f >= 0.0).ok_or_else(|| EvalError::Dataset("`bbox` values must be non-negative numbers".to_string()))?;
        *o = f.round() as u32;
    }
    if out[2] <= out[0] || out[3] <= out[1] {
        return Err(EvalError::Dataset(format!("`bbox` {out:?} is empty (x2 <= x1 or y2 <= y1)")));
    }
    Ok(out)
}

/// Checks the image (and mask) exist and agree in size, and the box fits, reading headers only.
fn check_files(image: &Path, mask: Option<&Path>, bbox: Option<BBox>) -> Result<(), EvalError> {
    let dims = |p: &Path, what: &str| -> Result<(u32, u32), EvalError> {
        // A FIFO or device is refused without blocking on it or reading it.
        let (file, _) = trutheye_core::input::open_regular(p).map_err(|e| match e.io_kind() {
            Some(std::io::ErrorKind::NotFound) => EvalError::Dataset(format!("{what} {} not found", p.display())),
            _ => EvalError::Dataset(format!("{what} {e}")),
        })?;
        image::ImageReader::new(std::io::BufReader::new(file))
            .with_guessed_format()
            .map_err(|e| EvalError::Dataset(format!("{what} {}: {e}", p.display())))?
            .into_dimensions()
            .map_err(|e| EvalError::Dataset(format!("{what} {}: unreadable header: {e}", p.display())))
    };
    let (w, h) = dims(image, "image")?;
    if let Some(m) = mask {
        let (mw, mh) = dims(m, "mask")?;
        if (mw, mh) != (w, h) {
            return Err(EvalError::Dataset(format!("mask {} is {mw}x{mh} but the image is {w}x{h}", m.display())));
        }
    }
    if let Some(b) = bbox {
        if b[2] > w || b[3] > h {
            return Err(EvalError::Dataset(format!("`bbox` {b:?} lies outside the {w}x{h} image")));
        }
    }
    Ok(())
}

/// A ground-truth mask as booleans (pixel > 127 is "changed").
#[derive(Clone, Debug, PartialEq)]
pub struct GtMask {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Row-major flags.
    pub on: Vec<bool>,
}

impl GtMask {
    /// Number of changed pixels.
    pub fn area(&self) -> usize {
        self.on.iter().filter(|b| **b).count()
    }

    /// Reads a mask file; any format `image` decodes, converted to 8-bit luma,
    /// under the default input limits (regular file, file size, pixels).
    pub fn open(path: &Path) -> Result<Self, EvalError> {
        Self::open_with(path, trutheye_core::DecodeOptions::default())
    }

    /// [`GtMask::open`] under the given limits (`images.*` of the agent config).
    pub fn open_with(path: &Path, opts: trutheye_core::DecodeOptions) -> Result<Self, EvalError> {
        let img = trutheye_core::image::open_gray(path, opts).map_err(|e| EvalError::Dataset(format!("mask {e}")))?;
        Ok(Self { width: img.width(), height: img.height(), on: img.pixels().map(|p| p.0[0] > 127).collect() })
    }
}

/// Loads the ground-truth masks of every sample that has one (unreadable masks
/// are logged and left out, so their pixel metrics are missing, not zero).
pub fn load_masks(ds: &Dataset) -> HashMap<String, GtMask> {
    let mut out = HashMap::new();
    for s in &ds.samples {
        let Some(p) = &s.mask else { continue };
        match GtMask::open(p) {
            Ok(m) => {
                out.insert(s.id.clone(), m);
            }
            Err(e) => tracing::warn!("{e}; pixel metrics skip `{}`", s.id),
        }
    }
    out
}

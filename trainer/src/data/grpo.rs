//! `trutheye data grpo`: a dataset → ms-swift GRPO prompt set. Each sample carries
//! exactly the prompts `trutheye analyze` would show (the strategy's system prompt
//! with the registry's tools, the user prompt with the image description), so the
//! policy trains on what it will see at inference; `solution` and `bbox` are what
//! the reward functions compare against.

use crate::TrainError;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trutheye_core::agent::{system_prompt, user_prompt};
use trutheye_core::{AgentConfig, BBox, ImageBuf, Registry, Strategy};

use super::report::ConversionReport;
use super::swift::{SwiftMessage, IMAGE_TAG};
use super::{existing_absolute, path_string, write_jsonl};
use trutheye_eval::{Dataset, Sample};

/// The options of `trutheye data grpo`.
#[derive(Debug)]
pub struct GrpoArgs {
    /// The dataset (manifest or folder).
    pub data: PathBuf,
    /// Output JSONL.
    pub out: PathBuf,
    /// Strategy whose prompts to use.
    pub strategy: Strategy,
    /// Agent configuration (prompts, image limits); default: the built-in configs/default.toml.
    pub config: Option<PathBuf>,
}

/// One GRPO prompt (ms-swift passes the extra columns to the reward functions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrpoSample {
    /// `[system, user "<image>question"]`.
    pub messages: Vec<SwiftMessage>,
    /// The absolute image path.
    pub images: Vec<String>,
    /// The true label (`authentic`, `synthetic`, `tampered`, or `real`/`fake`).
    pub solution: String,
    /// The true box, or null.
    pub bbox: Option<BBox>,
    /// The dataset id.
    pub id: String,
}

/// The image file does not exist.
pub const DROP_NO_IMAGE: &str = "image not found";
/// The image does not decode (or exceeds the pixel cap).
pub const DROP_UNREADABLE: &str = "unreadable image";

/// Loads the config named by `--config`, or the built-in one.
pub fn load_config(path: Option<&std::path::Path>) -> Result<AgentConfig, TrainError> {
    match path {
        Some(p) => Ok(AgentConfig::load(p)?),
        None => Ok(AgentConfig::default_config()),
    }
}

/// Runs `trutheye data grpo`.
pub fn run(args: &GrpoArgs, registry: &Registry) -> Result<ConversionReport, TrainError> {
    let ds = Dataset::load(&args.data)?;
    let config = load_config(args.config.as_deref())?;
    let mut report = ConversionReport::new("grpo", &path_string(&args.out));
    // Manifest rows the loader skipped are reported too, so `read` covers the file.
    for b in &ds.bad_rows {
        report.read += 1;
        report.drop("bad manifest row", Some(format!("{}: {}", b.location, b.reason)));
    }
    let samples: Vec<&Sample> = ds.samples.iter().collect();
    let rows = build(&samples, args.strategy, &config, registry, &mut report);
    write_jsonl(&args.out, &rows)?;
    Ok(report)
}

/// Builds one prompt per sample; unreadable images are dropped and counted per class.
pub fn build(samples: &[&Sample], strategy: Strategy, config: &AgentConfig, registry: &Registry, report: &mut ConversionReport) -> Vec<GrpoSample> {
    let system = system_prompt(config, strategy, registry);
    let mut out = Vec::new();
    for s in samples {
        report.read += 1;
        let class = s.label.as_str();
        let Some(path) = existing_absolute(&s.image) else {
            report.drop(DROP_NO_IMAGE, Some(format!("{}: {}", s.id, s.image.display())));
            report.class(class, false);
            continue;
        };
        // The user prompt describes the image (size, format, JPEG quality) exactly
        // as the agent loop does, which needs the decoded image.
        let image = match ImageBuf::open_with(&path, config.images.decode_options()) {
            Ok(im) => Arc::new(im),
            Err(e) => {
                report.drop(DROP_UNREADABLE, Some(format!("{}: {e}", s.id)));
                report.class(class, false);
                continue;
            }
        };
        let user = format!("{IMAGE_TAG}{}", user_prompt(config, &[image]));
        out.push(GrpoSample {
            messages: vec![SwiftMessage::new("system", system.clone()), SwiftMessage::new("user", user)],
            images: vec![path_string(&path)],
            solution: class.to_string(),
            bbox: s.bbox,
            id: s.id.clone(),
        });
        report.class(class, true);
    }
    report.kept += out.len();
    out
}

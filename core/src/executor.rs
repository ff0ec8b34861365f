//! The executor seam: how a parsed action is carried out.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::evidence::Evidence;
use crate::image::ImageBuf;
use crate::registry::Registry;
use crate::verdict::BBox;

/// An image the episode can refer to by name (`image_clue_k`).
#[derive(Clone, Debug)]
pub struct NamedImage {
    /// `image_clue_k`.
    pub name: String,
    /// Pixels and metadata.
    pub image: Arc<ImageBuf>,
    /// Where this image sits inside `image_clue_0`, when it is a (chain of) crop(s);
    /// this is what turns a crop into a localization candidate.
    pub region_in_root: Option<BBox>,
}

/// Kind of tool, as the ForenAgent rewards distinguish them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Basic image processing (T_basic: crop, rotate, enhance, ...).
    Basic,
    /// A low-level forensic operator (T_low).
    Forensic,
}

/// One tool use inside an action (a code action may make several).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolUse {
    /// Tool or operator name (`crop`, `srm`, ...).
    pub name: String,
    /// Basic or forensic.
    pub kind: ToolKind,
    /// Name of the input image.
    pub input: Option<String>,
    /// Names of images it produced.
    pub outputs: Vec<String>,
    /// Whether it succeeded.
    pub ok: bool,
}

/// What an executor returns; becomes the next message the model sees.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Text shown to the model (printed output, operator summaries, errors).
    pub text: String,
    /// Images shown to the model, already added to the episode state.
    pub images: Vec<NamedImage>,
    /// A localization candidate in `image_clue_0` pixels (e.g. the last crop).
    pub bbox_candidate: Option<BBox>,
    /// The error, if the action failed (also included in `text`).
    pub error: Option<String>,
    /// Tools used, in order.
    pub tools: Vec<ToolUse>,
    /// Extra images to save as artifacts but not show (e.g. heat-maps).
    pub artifacts: Vec<NamedImage>,
    /// Every operator run of the action as data, in order; `text` shows them.
    pub evidence: Vec<Evidence>,
}

impl Observation {
    /// An observation that is only an error.
    pub fn error(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        Self { text: msg.clone(), error: Some(msg), ..Default::default() }
    }
}

/// Per-episode limits executors enforce.
#[derive(Clone, Copy, Debug)]
pub struct ExecLimits {
    /// Largest image side an action may create.
    pub max_side: u32,
    /// Cap on pixels of any created image.
    pub max_pixels: u64,
    /// Cap on images an episode may accumulate.
    pub max_images: usize,
}

impl Default for ExecLimits {
    fn default() -> Self {
        Self { max_side: 8192, max_pixels: 40_000_000, max_images: 64 }
    }
}

/// State an episode's actions share: the images and the operator registry.
pub struct EpisodeState {
    /// `image_clue_0..n`, then every image actions created.
    pub images: Vec<NamedImage>,
    /// Operators.
    pub registry: Arc<Registry>,
    /// Limits.
    pub limits: ExecLimits,
}

impl EpisodeState {
    /// Starts an episode with the input images as `image_clue_0..n`.
    pub fn new(inputs: Vec<Arc<ImageBuf>>, registry: Arc<Registry>, limits: ExecLimits) -> Self {
        let images = inputs
            .into_iter()
            .enumerate()
            .map(|(i, image)| NamedImage {
                name: format!("image_clue_{i}"),
                region_in_root: (i == 0).then(|| [0, 0, image.width(), image.height()]),
                image,
            })
            .collect();
        Self { images, registry, limits }
    }

    /// Adds an image created by an action and returns its entry. Fails when the
    /// episode already holds `max_images` images.
    pub fn add(&mut self, image: ImageBuf, region_in_root: Option<BBox>) -> Result<NamedImage, crate::CoreError> {
        if self.images.len() >= self.limits.max_images {
            return Err(crate::CoreError::Episode(format!("MemoryError: the episode already holds {} images (limit)", self.images.len())));
        }
        let named = NamedImage { name: format!("image_clue_{}", self.images.len()), image: Arc::new(image), region_in_root };
        self.images.push(named.clone());
        Ok(named)
    }

    /// Finds an image by index.
    pub fn by_index(&self, i: usize) -> Result<&NamedImage, crate::CoreError> {
        self.images.get(i).ok_or_else(|| {
            crate::CoreError::Episode(format!("IndexError: image index {i} out of range (images 0..{} exist)", self.images.len()))
        })
    }

    /// Finds an image by name (`image_clue_3`, `image`, `img`).
    pub fn by_name(&self, name: &str) -> Option<&NamedImage> {
        match name {
            "image" | "img" => self.images.first(),
            _ => self.images.iter().find(|n| n.name == name),
        }
    }
}

/// Carries out a parsed action (never an answer) and returns what the model sees.
pub trait Executor: Send {
    /// Strategy name (`pvr`, `registry`, `hybrid`, `none`).
    fn name(&self) -> &'static str;
    /// Executes one action. Failures are observations, not errors: the episode goes on.
    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation;
    /// What runs code actions (`interp` for the embedded interpreter, `python`
    /// for CPython in the jail); `None` when the executor runs no code. Recorded
    /// in each trajectory so results name the backend that produced them.
    fn backend(&self) -> Option<&'static str> {
        None
    }
    /// How model code is kept from the host: `worker` (a killable, OS-limited
    /// process), `jail` (CPython in the bubblewrap jail), `in-process (trusted)`
    /// (inside the host, allowed only with `--trusted-code`); `None` when the
    /// executor runs no code. Recorded in each trajectory as `code_isolation`.
    fn code_isolation(&self) -> Option<&'static str> {
        None
    }
    /// Called once when an episode starts, before the policy's first turn, so
    /// an executor can get ready while the model generates (the python backend
    /// forks the episode's interpreter and hands it the images). Failures are
    /// not reported here: the first action reports them.
    fn prepare(&mut self, _state: &EpisodeState) {}
}

/// A borrowed executor runs as the executor it borrows (so `run_episode` can
/// hand the episode stepper the caller's executor).
impl<E: Executor + ?Sized> Executor for &mut E {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        (**self).execute(action, state)
    }
    fn backend(&self) -> Option<&'static str> {
        (**self).backend()
    }
    fn code_isolation(&self) -> Option<&'static str> {
        (**self).code_isolation()
    }
    fn prepare(&mut self, state: &EpisodeState) {
        (**self).prepare(state)
    }
}

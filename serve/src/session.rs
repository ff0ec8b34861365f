//! One served episode: core's [`Episode`] stepper with the policy outside the
//! process. [`Session::execute`] is one `Episode::step`, the step every other
//! host takes too (the same parser, executor, budgets and feedback texts), so
//! what comes back is what the agent loop would feed the model; this file adds
//! only how the images travel (inline or by path) and the session bookkeeping.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use trutheye_core::{AgentConfig, Episode, Executor, HostLimits, ImageBuf, PolicyReply, Registry, Trajectory, TurnKind, Verdict};

use super::codec::png_bytes;
use super::protocol::RpcError;

/// How observation images travel in `execute` responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagesBy {
    /// Inline (`png_base64`) up to the inline limit, by path above it.
    Auto,
    /// Always inline.
    Inline,
    /// Always a PNG file in the session's directory (`path`).
    Path,
}

impl ImagesBy {
    /// Parses `auto`, `inline`, `path`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "inline" => Some(Self::Inline),
            "path" => Some(Self::Path),
            _ => None,
        }
    }
}

/// What one session may hold and show (the server's per-session limits).
#[derive(Clone, Debug)]
pub struct SessionQuota {
    /// Pixel and source-file bytes of all the session's images held in the server.
    pub max_image_bytes: u64,
    /// Pixels one turn may show.
    pub max_shown_pixels_per_turn: u64,
    /// Largest PNG sent inline under [`ImagesBy::Auto`].
    pub inline_image_bytes: usize,
    /// Most PNG bytes one turn sends inline under [`ImagesBy::Auto`] (half the
    /// response limit); the rest go by path.
    pub max_inline_total: usize,
    /// How images are sent.
    pub images_by: ImagesBy,
}

impl Default for SessionQuota {
    fn default() -> Self {
        let l = super::limits::ServeLimits::default();
        Self {
            max_image_bytes: l.max_session_image_bytes,
            max_shown_pixels_per_turn: l.max_shown_pixels_per_turn,
            inline_image_bytes: l.inline_image_bytes,
            max_inline_total: l.max_response_bytes / 2,
            images_by: ImagesBy::Auto,
        }
    }
}

/// Per-session state kept by the server between `execute` calls: the episode
/// (core's stepper, which decides what each turn is) and how its images travel.
pub struct Session {
    /// Session id (`s<n>`).
    pub id: String,
    /// Strategy name (`pvr`, `registry`, `hybrid`, `none`).
    pub strategy: &'static str,
    /// When the session was last used (idle sessions expire).
    pub last_used: Instant,
    /// Who opened it (`unix:pid<N>`, `tcp:<ip>`): per-client session limits.
    pub client: String,
    /// What it may hold and show.
    pub quota: SessionQuota,
    /// Where images sent by path are written (created on first use, removed
    /// with the session).
    image_dir: Option<PathBuf>,
    episode: Episode<'static>,
}

impl Session {
    /// Starts an episode on `images` with a fresh executor, within `quota`.
    pub fn new(id: String, executor: Box<dyn Executor>, images: Vec<Arc<ImageBuf>>, config: &AgentConfig, registry: Arc<Registry>, quota: SessionQuota) -> Self {
        let host = HostLimits { max_image_bytes: Some(quota.max_image_bytes), max_shown_pixels_per_turn: Some(quota.max_shown_pixels_per_turn) };
        let episode = Episode::new(id.clone(), config, executor, images, registry).with_host_limits(host);
        Self { id, strategy: episode.strategy(), last_used: Instant::now(), client: String::new(), quota, image_dir: None, episode }
    }

    /// Whether the episode is over (an answer, or a budget ran out).
    pub fn done(&self) -> bool {
        self.episode.done()
    }

    /// What `open` returns: the prompts the model starts from and the images.
    pub fn describe(&self) -> Value {
        let images: Vec<Value> = self.episode.images().iter().enumerate().map(|(i, im)| json!({"name": format!("image_clue_{i}"), "width": im.width(), "height": im.height()})).collect();
        json!({"session": self.id, "strategy": self.strategy, "system_prompt": self.episode.system_prompt(), "user_prompt": self.episode.user_prompt(), "images": images, "max_turns": self.episode.config().budget.max_turns})
    }

    /// Carries out one assistant message; returns the turn's result object.
    pub fn execute(&mut self, text: &str) -> Result<Value, RpcError> {
        if self.done() {
            return Err(RpcError::new("session_done", format!("session {} is finished ({}); open a new one", self.id, self.episode.end_reason())));
        }
        self.last_used = Instant::now();
        let step = self.episode.step(&PolicyReply::text(text), 0);
        let shown = self.send_images(&step.images, step.index);
        let kind = step.kind.as_str();
        let role = if kind == "tool_call" { "tool" } else { "user" };
        let observation = self.episode.turns().last().and_then(|t| t.observation.as_ref()).map(|o| {
            let content = trutheye_core::protocol::image_tags::with_images(&o.text, shown.len());
            json!({"role": role, "text": o.text, "content": content, "images": shown, "error": o.error, "bbox_candidate": o.bbox_candidate, "tools": o.tools})
        });
        let mut out = json!({
            "session": self.id, "turn": step.index, "kind": kind, "format_error": step.kind == TurnKind::FormatError, "final": step.kind == TurnKind::Answer,
            "done": step.done, "observation": observation,
        });
        if step.done {
            out["verdict"] = serde_json::to_value(self.episode.verdict()).unwrap_or(Value::Null);
        }
        Ok(out)
    }

    /// Bytes of the images this session holds in the server (see [`Episode::image_bytes`]).
    pub fn image_bytes(&self) -> u64 {
        self.episode.image_bytes()
    }

    /// Sets where images sent by path go (a directory this session owns).
    pub fn set_image_dir(&mut self, dir: PathBuf) {
        self.image_dir = Some(dir);
    }

    /// The directory images were written to, if any.
    pub fn image_dir(&self) -> Option<&std::path::Path> {
        self.image_dir.as_deref()
    }

    /// The response entries of the images a turn shows (the stepper already
    /// kept them within the per-turn pixel limit), each inline or by path as
    /// the quota says.
    fn send_images(&self, images: &[trutheye_core::NamedImage], turn: usize) -> Vec<Value> {
        let mut shown = Vec::new();
        let mut inline_total = 0usize;
        for n in images {
            let png = png_bytes(&n.image.rgb);
            let by_path = match self.quota.images_by {
                ImagesBy::Inline => false,
                ImagesBy::Path => true,
                ImagesBy::Auto => png.len() > self.quota.inline_image_bytes || inline_total + png.len() > self.quota.max_inline_total,
            };
            if !by_path {
                inline_total += png.len();
            }
            let mut entry = json!({"name": n.name, "width": n.image.width(), "height": n.image.height()});
            match (by_path, &self.image_dir) {
                (true, Some(dir)) => match write_png(dir, &format!("t{turn}-{}.png", n.name), &png) {
                    Ok(path) => {
                        entry["path"] = json!(path);
                        entry["bytes"] = json!(png.len());
                    }
                    Err(e) => {
                        tracing::error!("cannot write an observation image: {e}");
                        entry["png_base64"] = json!(base64_of(&png));
                    }
                },
                _ => entry["png_base64"] = json!(base64_of(&png)),
            }
            shown.push(entry);
        }
        shown
    }

    /// The verdict as `run_episode` would make it now (forced while unfinished).
    pub fn verdict(&self) -> Verdict {
        self.episode.verdict()
    }

    /// The episode so far as a trajectory (the format `trutheye reward` reads).
    pub fn trajectory(&self, policy: &str) -> Trajectory {
        self.episode.trajectory(policy)
    }

    /// Turns so far.
    pub fn turn_count(&self) -> usize {
        self.episode.turns().len()
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes `bytes` to `dir/name` (creating `dir`, private to this user) and
/// returns the path as text.
fn write_png(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path.display().to_string())
}

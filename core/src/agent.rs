//! The agent loop (a policy driving the [`Episode`] stepper) and the texts an
//! episode shows the model: system and user prompts, tool listings, observation
//! wording. Always produces a verdict; a forced one says why.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::config::{AgentConfig, ToolListing, ToolRender};
use crate::episode::Episode;
use crate::executor::Executor;
use crate::executors::tool_list;
use crate::image::ImageBuf;
use crate::policy::Policy;
use crate::registry::Registry;
use crate::strategy::Strategy;
use crate::trajectory::{ObservationRecord, Trajectory};

/// Where observation images and maps are saved.
pub trait ArtifactSink: Send {
    /// Saves an image; returns its path (as written in the trajectory) or `None`.
    fn save(&mut self, episode: &str, turn: usize, name: &str, image: &ImageBuf) -> Option<String>;

    /// Saves the verdict's mask: an 8-bit heat-map over `image_clue_0` (any
    /// size; read it stretched to the image) whose level 128 is the mask's
    /// edge. Returns its path for `Verdict::mask`. By default it is saved like
    /// any artifact, as `mask`.
    fn save_mask(&mut self, episode: &str, mask: &image::GrayImage) -> Option<String> {
        let rgb = image::DynamicImage::ImageLuma8(mask.clone()).into_rgb8();
        self.save(episode, usize::MAX, "mask", &ImageBuf::derived(rgb, "fused localization"))
    }
}

/// A borrowed sink saves through the sink it borrows (so a host can hand the
/// episode stepper its own).
impl<S: ArtifactSink + ?Sized> ArtifactSink for &mut S {
    fn save(&mut self, episode: &str, turn: usize, name: &str, image: &ImageBuf) -> Option<String> {
        (**self).save(episode, turn, name, image)
    }

    fn save_mask(&mut self, episode: &str, mask: &image::GrayImage) -> Option<String> {
        (**self).save_mask(episode, mask)
    }
}

/// Saves nothing.
pub struct NoArtifacts;

impl ArtifactSink for NoArtifacts {
    fn save(&mut self, _: &str, _: usize, _: &str, _: &ImageBuf) -> Option<String> {
        None
    }
}

/// A file-system-safe form of an id or name.
fn safe_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// Saves PNGs under `<dir>/<episode>/t<turn>_<name>.png`.
pub struct DirArtifacts(pub PathBuf);

impl ArtifactSink for DirArtifacts {
    fn save(&mut self, episode: &str, turn: usize, name: &str, image: &ImageBuf) -> Option<String> {
        let path = self.0.join(safe_name(episode)).join(format!("t{turn}_{}.png", safe_name(name)));
        let dir = path.parent().unwrap_or(&path);
        let result = std::fs::create_dir_all(dir).map_err(|e| e.to_string()).and_then(|_| image.rgb.save(&path).map_err(|e| e.to_string()));
        Self::report(&path, result)
    }

    /// `<dir>/<episode>/mask.png`, grey.
    fn save_mask(&mut self, episode: &str, mask: &image::GrayImage) -> Option<String> {
        Self::write(&self.0.join(safe_name(episode)).join("mask.png"), &image::DynamicImage::ImageLuma8(mask.clone()))
    }
}

impl DirArtifacts {
    fn write(path: &std::path::Path, image: &image::DynamicImage) -> Option<String> {
        let dir = path.parent().unwrap_or(path);
        let result = std::fs::create_dir_all(dir).map_err(|e| e.to_string()).and_then(|_| crate::image::save_png_fast(image, path).map_err(|e| e.to_string()));
        Self::report(path, result)
    }

    fn report(path: &std::path::Path, result: Result<(), String>) -> Option<String> {
        match result {
            Ok(()) => Some(path.display().to_string()),
            Err(e) => {
                tracing::warn!(path = %path.display(), "could not save artifact: {e}");
                None
            }
        }
    }
}

/// One episode to run.
pub struct EpisodeInput {
    /// Episode id (used in trajectories and artifact paths).
    pub id: String,
    /// The images, `image_clue_0..n`.
    pub images: Vec<Arc<ImageBuf>>,
}

/// Builds the system prompt of a strategy: the strategy's template with
/// `{tools}` replaced by the tool list `[tools]` asks for.
pub fn system_prompt(config: &AgentConfig, strategy: Strategy, registry: &Registry) -> String {
    let template = &strategy.prompts(&config.prompts).system;
    let tools = tool_text(config, strategy, registry);
    template.replace("{tools}", tools.trim_end()).trim().to_string()
}

/// The `{tools}` text: which tools (`tools.list`) written how (`tools.render`),
/// each defaulting to the strategy's; nothing for a strategy without tools.
fn tool_text(config: &AgentConfig, strategy: Strategy, registry: &Registry) -> String {
    let Some((list, render)) = strategy.default_tool_listing() else { return String::new() };
    let listing = config.tools.list.unwrap_or(list);
    let render = config.tools.render.unwrap_or(render);
    let tools: Vec<Value> = match listing {
        ToolListing::None => vec![],
        ToolListing::Operators => tool_list(registry, false),
        ToolListing::All => tool_list(registry, true).into_iter().chain(alias_tools(registry)).collect(),
        ToolListing::Aliases => alias_tools(registry),
    };
    tools.iter().filter_map(|t| t.get("function")).map(|f| render_tool(f, render)).collect()
}

/// The listed preset aliases as function objects, with the schema and
/// description the preset declared (else the target's).
fn alias_tools(registry: &Registry) -> Vec<Value> {
    let targets = tool_list(registry, true);
    let target = |name: &str| targets.iter().filter_map(|t| t.get("function")).find(|f| f.get("name").and_then(Value::as_str) == Some(name)).cloned();
    registry
        .aliases()
        .filter(|a| a.listed)
        .map(|a| {
            let t = target(&a.target);
            let field = |k: &str| t.as_ref().and_then(|t| t.get(k)).cloned();
            let description = a.description.clone().map(Value::String).or_else(|| field("description")).unwrap_or_default();
            let parameters = a.parameters.clone().or_else(|| field("parameters")).unwrap_or_else(|| serde_json::json!({"type": "object"}));
            serde_json::json!({"type": "function", "function": {"name": a.name, "description": description, "parameters": parameters}})
        })
        .collect()
}

/// One line for one function object.
fn render_tool(f: &Value, render: ToolRender) -> String {
    let name = f.get("name").and_then(Value::as_str).unwrap_or("");
    let desc = f.get("description").and_then(Value::as_str).unwrap_or("");
    match render {
        ToolRender::Json => format!("{}\n", serde_json::json!({"type": "function", "function": f})),
        ToolRender::Names => format!("- {name}: {desc}\n"),
        ToolRender::Functions => {
            let params: Vec<String> = f
                .get("parameters")
                .and_then(|p| p.get("properties"))
                .and_then(Value::as_object)
                .map(|o| o.iter().filter(|(k, _)| k.as_str() != "image_index").map(|(k, v)| match v.get("default") { Some(d) => format!("{k}={d}"), None => k.clone() }).collect())
                .unwrap_or_default();
            let sig = if params.is_empty() { "image".to_string() } else { format!("image, {}", params.join(", ")) };
            format!("- {name}({sig}): {desc}\n")
        }
    }
}

/// What the model reads for an observation: the executor's text in the
/// config's `[observation] template`, or as is.
pub fn observation_text(config: &AgentConfig, text: &str) -> String {
    match &config.observation.template {
        Some(t) => t.replace("{observation}", text),
        None => text.to_string(),
    }
}

/// Builds the user prompt: `{images}` becomes one line per image,
/// `{image_path}` and `{image_size}` the first image's file and `WxH` (Thyme's
/// prompt names the input file, which the sandbox resolves to its copy),
/// `{image_width}` and `{image_height}` its sides (PyVision's prompt).
pub fn user_prompt(config: &AgentConfig, images: &[Arc<ImageBuf>]) -> String {
    let lines: String = images.iter().enumerate().map(|(i, im)| format!("- image_clue_{i}: {}\n", im.describe())).collect();
    let first = images.first();
    let path = first.map(|im| im.meta.origin.clone()).unwrap_or_default();
    let (w, h) = first.map(|im| (im.width().to_string(), im.height().to_string())).unwrap_or_default();
    config.prompts.user
        .replace("{images}", lines.trim_end())
        .replace("{image_path}", &path)
        .replace("{image_size}", &format!("{w}x{h}"))
        .replace("{image_width}", &w)
        .replace("{image_height}", &h)
        .trim()
        .to_string()
}

/// Runs one episode: the policy writes each message, the [`Episode`] stepper
/// carries it out, until an answer or a budget runs out.
pub fn run_episode(
    policy: &mut dyn Policy,
    executor: &mut dyn Executor,
    input: EpisodeInput,
    config: &AgentConfig,
    registry: Arc<Registry>,
    sink: &mut dyn ArtifactSink,
) -> Trajectory {
    policy.reset();
    let mut episode = Episode::new(input.id, config, Box::new(executor), input.images, registry).with_sink(Box::new(sink));
    while episode.wants_turn() {
        let t0 = Instant::now();
        let reply = policy.next(episode.conversation(), episode.reply_limits());
        let policy_ms = t0.elapsed().as_millis() as u64;
        match reply {
            Ok(r) => {
                episode.step(&r, policy_ms);
            }
            Err(e) => episode.abort(format!("policy `{}` failed: {e}", policy.name())),
        }
    }
    let t = episode.into_trajectory(policy.name());
    tracing::info!(episode = %t.id, label = t.verdict.label.as_str(), forced = t.verdict.forced, turns = t.stats.turns, "episode done");
    t
}

/// The record of a text-only observation (an error when `is_error`).
pub fn text_record(text: &str, is_error: bool) -> ObservationRecord {
    ObservationRecord { text: text.into(), images: vec![], artifacts: vec![], bbox_candidate: None, error: is_error.then(|| text.to_string()), tools: vec![], evidence: vec![] }
}

//! The agent loop: policy → parser → executor → observation, until an answer or a
//! budget runs out. Always produces a verdict; a forced one says why.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::action::{Action, Answer};
use crate::config::{AgentConfig, ToolListing, ToolRender};
use crate::executor::{EpisodeState, ExecLimits, Executor, NamedImage, Observation};
use crate::executors::tool_list;
use crate::image::ImageBuf;
use crate::policy::{Conversation, Policy, ReplyLimits, Role};
use crate::protocol;
use crate::registry::Registry;
use crate::trajectory::{EpisodeStats, ImageRecord, ObservationRecord, Trajectory, Turn, TRAJECTORY_SCHEMA};
use crate::verdict::{BBox, Verdict, VerdictLabel};

/// Where observation images and maps are saved.
pub trait ArtifactSink {
    /// Saves an image; returns its path (as written in the trajectory) or `None`.
    fn save(&mut self, episode: &str, turn: usize, name: &str, image: &ImageBuf) -> Option<String>;
}

/// Saves nothing.
pub struct NoArtifacts;

impl ArtifactSink for NoArtifacts {
    fn save(&mut self, _: &str, _: usize, _: &str, _: &ImageBuf) -> Option<String> {
        None
    }
}

/// Saves PNGs under `<dir>/<episode>/t<turn>_<name>.png`.
pub struct DirArtifacts(pub PathBuf);

impl ArtifactSink for DirArtifacts {
    fn save(&mut self, episode: &str, turn: usize, name: &str, image: &ImageBuf) -> Option<String> {
        let safe = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect::<String>();
        let dir = self.0.join(safe(episode));
        let path = dir.join(format!("t{turn}_{}.png", safe(name)));
        let result = std::fs::create_dir_all(&dir).map_err(|e| e.to_string()).and_then(|_| image.rgb.save(&path).map_err(|e| e.to_string()));
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

/// Builds the system prompt of a strategy (by executor name): the strategy's
/// template with `{tools}` replaced by the tool list `[tools]` asks for.
pub fn system_prompt(config: &AgentConfig, strategy: &str, registry: &Registry) -> String {
    let p = &config.prompts;
    let template = match strategy {
        "pvr" => &p.pvr.system,
        "registry" => &p.registry.system,
        "hybrid" => &p.hybrid.system,
        _ => &p.none.system,
    };
    let tools = match strategy {
        "pvr" | "registry" | "hybrid" => tool_text(config, strategy, registry),
        _ => String::new(),
    };
    template.replace("{tools}", tools.trim_end()).trim().to_string()
}

/// The `{tools}` text: which tools (`tools.list`) written how (`tools.render`).
fn tool_text(config: &AgentConfig, strategy: &str, registry: &Registry) -> String {
    let pvr = strategy == "pvr";
    let listing = config.tools.list.unwrap_or(if pvr { ToolListing::Operators } else { ToolListing::All });
    let render = config.tools.render.unwrap_or(if pvr { ToolRender::Functions } else { ToolRender::Json });
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

/// Runs one episode.
pub fn run_episode(
    policy: &mut dyn Policy,
    executor: &mut dyn Executor,
    input: EpisodeInput,
    config: &AgentConfig,
    registry: Arc<Registry>,
    sink: &mut dyn ArtifactSink,
) -> Trajectory {
    let started = Instant::now();
    let started_unix_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let budget = &config.budget;
    let strategy = executor.name();
    let system = system_prompt(config, strategy, &registry);
    let user = user_prompt(config, &input.images);
    let mut conv = Conversation::default();
    conv.push(Role::System, system.clone(), vec![]);
    conv.push(Role::User, user.clone(), input.images.clone());
    let limits = ExecLimits { max_side: config.images.max_side, max_pixels: config.images.max_created_pixels, max_images: config.images.max_images };
    let root_size = input.images.first().map(|i| (i.width(), i.height()));
    let mut state = EpisodeState::new(input.images.clone(), registry, limits);
    executor.prepare(&state);
    policy.reset();

    let mut turns = Vec::new();
    let mut stats = EpisodeStats::default();
    let (mut consecutive_errors, mut crop_candidate, mut op_candidate): (usize, Option<BBox>, Option<BBox>) = (0, None, None);
    let mut answer: Option<Answer> = None;
    let mut forced_reason: Option<String> = None;

    for index in 0..budget.max_turns {
        if started.elapsed().as_secs_f64() > budget.wall_time_s {
            forced_reason = Some(format!("wall-time budget of {}s exhausted", budget.wall_time_s));
            break;
        }
        let t0 = Instant::now();
        let reply = policy.next(&conv, ReplyLimits { max_tokens: budget.max_output_tokens });
        let policy_ms = t0.elapsed().as_millis() as u64;
        stats.policy_ms += policy_ms;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                forced_reason = Some(format!("policy `{}` failed: {e}", policy.name()));
                break;
            }
        };
        stats.turns += 1;
        let text = String::from_utf8_lossy(&reply.raw).into_owned();
        conv.push(Role::Assistant, text.clone(), vec![]);
        let mut turn = Turn { index, assistant: text, think: None, action: None, format_error: None, observation: None, policy_ms, exec_ms: 0, tokens: reply.tokens };
        let parsed = match protocol::parse_with(&reply.raw, &config.answer) {
            Ok(p) => p,
            Err(fe) => {
                stats.format_errors += 1;
                consecutive_errors += 1;
                let feedback = observation_text(config, &fe.feedback());
                turn.format_error = Some(fe);
                turn.observation = Some(text_record(&feedback, true));
                turns.push(turn);
                if consecutive_errors >= budget.max_format_errors {
                    forced_reason = Some(format!("{consecutive_errors} consecutive format errors"));
                    break;
                }
                conv.push(Role::Tool, feedback, vec![]);
                continue;
            }
        };
        consecutive_errors = 0;
        turn.think = parsed.think.clone();
        turn.action = Some(parsed.action.clone());
        if let Action::Answer(a) = parsed.action {
            answer = Some(a);
            turns.push(turn);
            break;
        }
        if stats.tool_calls >= budget.max_tool_calls {
            let msg = observation_text(config, &format!("The tool budget of {} calls is exhausted. Give your final answer now in <answer></answer>.", budget.max_tool_calls));
            turn.observation = Some(text_record(&msg, true));
            turns.push(turn);
            conv.push(Role::Tool, msg, vec![]);
            continue;
        }
        stats.tool_calls += 1;
        let t1 = Instant::now();
        let mut obs = executor.execute(turn.action.as_ref().unwrap_or(&parsed.action), &mut state);
        // The trajectory keeps what the model read.
        obs.text = observation_text(config, &obs.text);
        turn.exec_ms = t1.elapsed().as_millis() as u64;
        stats.exec_ms += turn.exec_ms;
        if let Some(b) = obs.bbox_candidate {
            if obs.tools.iter().any(|t| t.name == "crop" && t.ok) {
                crop_candidate = Some(b);
            } else {
                op_candidate = Some(b);
            }
        }
        turn.observation = Some(record(&obs, &input.id, index, sink));
        conv.push(Role::Tool, obs.text.clone(), obs.images.iter().map(|n| n.image.clone()).collect());
        turns.push(turn);
    }

    if answer.is_none() && forced_reason.is_none() {
        forced_reason = Some(format!("turn budget of {} exhausted without an answer", budget.max_turns));
    }
    stats.wall_ms = started.elapsed().as_millis() as u64;
    let verdict = make_verdict(answer, forced_reason, config, root_size, crop_candidate.or(op_candidate));
    tracing::info!(episode = %input.id, label = verdict.label.as_str(), forced = verdict.forced, turns = stats.turns, "episode done");
    Trajectory {
        schema: TRAJECTORY_SCHEMA,
        id: input.id,
        images: input.images.iter().map(|i| i.meta.clone()).collect(),
        policy: policy.name().to_string(),
        strategy: strategy.to_string(),
        backend: executor.backend().map(str::to_string),
        code_isolation: executor.code_isolation().map(str::to_string),
        system_prompt: system,
        user_prompt: user,
        turns,
        verdict,
        stats,
        started_unix_ms,
    }
}

fn make_verdict(answer: Option<Answer>, forced_reason: Option<String>, config: &AgentConfig, root: Option<(u32, u32)>, candidate: Option<BBox>) -> Verdict {
    match answer {
        Some(a) => {
            let fake_local = matches!(a.label, VerdictLabel::Tampered | VerdictLabel::Fake);
            let bbox = a.bbox.and_then(|b| clamp_box(b, root)).or(if fake_local { candidate } else { None });
            Verdict { label: a.label, scores: a.scores, bbox, mask: None, explanation: a.explanation, forced: false, forced_reason: None }
        }
        None => Verdict {
            label: config.forced.label,
            scores: None,
            bbox: None,
            mask: None,
            explanation: None,
            forced: true,
            forced_reason: Some(forced_reason.unwrap_or_else(|| "no answer".into())),
        },
    }
}

/// Rounds and clamps a model's box to the image; `None` if nothing is left.
/// (Shared with hosts that run turns themselves, such as `trutheye serve`.)
pub fn clamp_box(b: [f64; 4], root: Option<(u32, u32)>) -> Option<BBox> {
    let (w, h) = root?;
    if b.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let c = |v: f64, m: u32| v.round().clamp(0.0, m as f64) as u32;
    let out = [c(b[0].min(b[2]), w), c(b[1].min(b[3]), h), c(b[0].max(b[2]), w), c(b[1].max(b[3]), h)];
    (out[2] > out[0] && out[3] > out[1]).then_some(out)
}

/// The record of a text-only observation (an error when `is_error`).
pub fn text_record(text: &str, is_error: bool) -> ObservationRecord {
    ObservationRecord { text: text.into(), images: vec![], artifacts: vec![], bbox_candidate: None, error: is_error.then(|| text.to_string()), tools: vec![] }
}

fn record(obs: &Observation, episode: &str, turn: usize, sink: &mut dyn ArtifactSink) -> ObservationRecord {
    let mut save = |n: &NamedImage| ImageRecord {
        name: n.name.clone(),
        width: n.image.width(),
        height: n.image.height(),
        path: sink.save(episode, turn, &n.name, &n.image),
    };
    ObservationRecord {
        text: obs.text.clone(),
        images: obs.images.iter().map(&mut save).collect(),
        artifacts: obs.artifacts.iter().map(&mut save).collect(),
        bbox_candidate: obs.bbox_candidate,
        error: obs.error.clone(),
        tools: obs.tools.clone(),
    }
}

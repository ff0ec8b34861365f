//! One served episode: the images, the executor and its state, and the turns so
//! far. [`Session::execute`] is one iteration of `trutheye_core::run_episode`'s
//! loop with the policy outside the process: the same parser, executor, budgets
//! and feedback texts, so what comes back is what the agent loop would feed the
//! model.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use trutheye_core::agent::{clamp_box, observation_text, system_prompt, text_record, user_prompt};
use trutheye_core::config::Budget;
use trutheye_core::trajectory::{EpisodeStats, ImageRecord, ObservationRecord, TRAJECTORY_SCHEMA};
use trutheye_core::{protocol, Action, AgentConfig, Answer, BBox, EpisodeState, ExecLimits, Executor, ImageBuf, Observation, Registry, Trajectory, Turn, Verdict, VerdictLabel};

use super::codec::png_bytes;
use super::limits::human_bytes;
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

/// Per-session state kept by the server between `execute` calls.
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
    executor: Box<dyn Executor>,
    state: EpisodeState,
    images: Vec<Arc<ImageBuf>>,
    system: String,
    user: String,
    budget: Budget,
    forced_label: VerdictLabel,
    turns: Vec<Turn>,
    stats: EpisodeStats,
    consecutive_errors: usize,
    crop_candidate: Option<BBox>,
    op_candidate: Option<BBox>,
    answer: Option<Answer>,
    forced_reason: Option<String>,
    /// The config's answer words and observation wording (a preset's dialect).
    dialect: AgentConfig,
    started: Instant,
    started_unix_ms: u64,
}

impl Session {
    /// Starts an episode on `images` with a fresh executor.
    pub fn new(id: String, executor: Box<dyn Executor>, images: Vec<Arc<ImageBuf>>, config: &AgentConfig, registry: Arc<Registry>) -> Self {
        let strategy = executor.name();
        let limits = ExecLimits { max_side: config.images.max_side, max_pixels: config.images.max_created_pixels, max_images: config.images.max_images };
        let system = system_prompt(config, strategy, &registry);
        let user = user_prompt(config, &images);
        let state = EpisodeState::new(images.clone(), registry, limits);
        let mut executor = executor;
        executor.prepare(&state);
        let started_unix_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        Self {
            id,
            strategy,
            last_used: Instant::now(),
            client: String::new(),
            quota: SessionQuota::default(),
            image_dir: None,
            executor,
            state,
            images,
            system,
            user,
            budget: config.budget.clone(),
            forced_label: config.forced.label,
            turns: Vec::new(),
            stats: EpisodeStats::default(),
            consecutive_errors: 0,
            crop_candidate: None,
            op_candidate: None,
            answer: None,
            forced_reason: None,
            dialect: config.clone(),
            started: Instant::now(),
            started_unix_ms,
        }
    }

    /// Whether the episode is over (an answer, or a budget ran out).
    pub fn done(&self) -> bool {
        self.answer.is_some() || self.forced_reason.is_some()
    }

    /// What `open` returns: the prompts the model starts from and the images.
    pub fn describe(&self) -> Value {
        let images: Vec<Value> = self.images.iter().enumerate().map(|(i, im)| json!({"name": format!("image_clue_{i}"), "width": im.width(), "height": im.height()})).collect();
        json!({"session": self.id, "strategy": self.strategy, "system_prompt": self.system, "user_prompt": self.user, "images": images, "max_turns": self.budget.max_turns})
    }

    /// Carries out one assistant message; returns the turn's result object.
    pub fn execute(&mut self, text: &str) -> Result<Value, RpcError> {
        if self.done() {
            return Err(RpcError::new("session_done", format!("session {} is finished ({}); open a new one", self.id, self.end_reason())));
        }
        self.last_used = Instant::now();
        let index = self.turns.len();
        self.stats.turns += 1;
        let mut turn = Turn { index, assistant: text.to_string(), think: None, action: None, format_error: None, observation: None, policy_ms: 0, exec_ms: 0, tokens: None };
        let (kind, shown): (&str, Vec<Value>) = match protocol::parse_with(text.as_bytes(), &self.dialect.answer) {
            Err(fe) => {
                self.stats.format_errors += 1;
                self.consecutive_errors += 1;
                turn.observation = Some(text_record(&fe.feedback(), true));
                turn.format_error = Some(fe);
                if self.consecutive_errors >= self.budget.max_format_errors {
                    self.forced_reason = Some(format!("{} consecutive format errors", self.consecutive_errors));
                }
                ("format_error", vec![])
            }
            Ok(parsed) => {
                self.consecutive_errors = 0;
                turn.think = parsed.think.clone();
                turn.action = Some(parsed.action.clone());
                match parsed.action {
                    Action::Answer(a) => {
                        self.answer = Some(a);
                        ("answer", vec![])
                    }
                    _ if self.stats.tool_calls >= self.budget.max_tool_calls => {
                        let msg = format!("The tool budget of {} calls is exhausted. Give your final answer now in <answer></answer>.", self.budget.max_tool_calls);
                        turn.observation = Some(text_record(&msg, true));
                        ("budget", vec![])
                    }
                    _ if self.image_bytes() > self.quota.max_image_bytes => {
                        let msg = format!(
                            "MemoryError: this session's images take {}, over its quota of {}; no more actions can run in it. Give your final answer now in <answer></answer>.",
                            human_bytes(self.image_bytes()),
                            human_bytes(self.quota.max_image_bytes)
                        );
                        turn.observation = Some(text_record(&msg, true));
                        ("quota", vec![])
                    }
                    action => {
                        self.stats.tool_calls += 1;
                        let t0 = Instant::now();
                        let obs = self.run_action(&action);
                        turn.exec_ms = t0.elapsed().as_millis() as u64;
                        self.stats.exec_ms += turn.exec_ms;
                        if let Some(b) = obs.bbox_candidate {
                            if obs.tools.iter().any(|t| t.name == "crop" && t.ok) {
                                self.crop_candidate = Some(b);
                            } else {
                                self.op_candidate = Some(b);
                            }
                        }
                        let (shown, withheld) = self.send_images(&obs.images, index);
                        let mut rec = record(&obs);
                        if !withheld.is_empty() {
                            rec.text.push_str(&format!(
                                "\n[not shown: {} — the images of one turn may total {} pixels; show smaller crops or resizes]",
                                withheld.join(", "),
                                self.quota.max_shown_pixels_per_turn
                            ));
                        }
                        turn.observation = Some(rec);
                        (action.kind(), shown)
                    }
                }
            }
        };
        let is_answer = kind == "answer";
        let role = if kind == "tool_call" { "tool" } else { "user" };
        let observation = turn.observation.as_ref().map(|o| {
            let text = observation_text(&self.dialect, &o.text);
            let content = crate::data::swift::with_images(&text, shown.len());
            json!({"role": role, "text": text, "content": content, "images": shown, "error": o.error, "bbox_candidate": o.bbox_candidate, "tools": o.tools})
        });
        self.turns.push(turn);
        if !self.done() && self.turns.len() >= self.budget.max_turns {
            self.forced_reason = Some(format!("turn budget of {} exhausted without an answer", self.budget.max_turns));
        }
        let mut out = json!({
            "session": self.id, "turn": index, "kind": kind, "format_error": kind == "format_error", "final": is_answer,
            "done": self.done(), "observation": observation,
        });
        if self.done() {
            out["verdict"] = serde_json::to_value(self.verdict()).unwrap_or(Value::Null);
        }
        Ok(out)
    }

    /// Bytes of the images this session holds in the server (pixels and the
    /// source files kept for JPEG-aware operators; shared buffers counted once).
    pub fn image_bytes(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        for n in &self.state.images {
            if seen.insert(Arc::as_ptr(&n.image.rgb) as usize) {
                total += n.image.rgb.as_raw().len() as u64;
            }
            if let Some(e) = &n.image.encoded {
                if seen.insert(Arc::as_ptr(e) as usize) {
                    total += e.len() as u64;
                }
            }
        }
        total
    }

    /// Sets where images sent by path go (a directory this session owns).
    pub fn set_image_dir(&mut self, dir: PathBuf) {
        self.image_dir = Some(dir);
    }

    /// The directory images were written to, if any.
    pub fn image_dir(&self) -> Option<&std::path::Path> {
        self.image_dir.as_deref()
    }

    /// The response entries of the images a turn shows, within the per-turn
    /// pixel limit (the names of the ones withheld are returned too), each
    /// inline or by path as the quota says.
    fn send_images(&self, images: &[trutheye_core::NamedImage], turn: usize) -> (Vec<Value>, Vec<String>) {
        let mut shown = Vec::new();
        let mut withheld = Vec::new();
        let mut pixels = 0u64;
        let mut inline_total = 0usize;
        for n in images {
            let (w, h) = (n.image.width(), n.image.height());
            let px = w as u64 * h as u64;
            if pixels + px > self.quota.max_shown_pixels_per_turn {
                withheld.push(format!("{} ({w}x{h})", n.name));
                continue;
            }
            pixels += px;
            let png = png_bytes(&n.image.rgb);
            let by_path = match self.quota.images_by {
                ImagesBy::Inline => false,
                ImagesBy::Path => true,
                ImagesBy::Auto => png.len() > self.quota.inline_image_bytes || inline_total + png.len() > self.quota.max_inline_total,
            };
            if !by_path {
                inline_total += png.len();
            }
            let mut entry = json!({"name": n.name, "width": w, "height": h});
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
        (shown, withheld)
    }

    fn run_action(&mut self, action: &Action) -> Observation {
        let (executor, state) = (&mut self.executor, &mut self.state);
        catch_unwind(AssertUnwindSafe(|| executor.execute(action, state))).unwrap_or_else(|_| {
            tracing::error!("executor panicked");
            Observation::error("SystemError: internal executor error (a trutheye bug, not your action)")
        })
    }

    fn end_reason(&self) -> String {
        match (&self.answer, &self.forced_reason) {
            (Some(_), _) => "the model answered".into(),
            (None, Some(r)) => r.clone(),
            (None, None) => "not finished".into(),
        }
    }

    /// The verdict as `run_episode` would make it now (forced while unfinished).
    pub fn verdict(&self) -> Verdict {
        let root = self.images.first().map(|i| (i.width(), i.height()));
        match &self.answer {
            Some(a) => {
                let fake_local = matches!(a.label, VerdictLabel::Tampered | VerdictLabel::Fake);
                let candidate = self.crop_candidate.or(self.op_candidate);
                let bbox = a.bbox.and_then(|b| clamp_box(b, root)).or(if fake_local { candidate } else { None });
                Verdict { label: a.label, scores: a.scores, bbox, mask: None, explanation: a.explanation.clone(), forced: false, forced_reason: None }
            }
            None => Verdict {
                label: self.forced_label,
                scores: None,
                bbox: None,
                mask: None,
                explanation: None,
                forced: true,
                forced_reason: Some(self.forced_reason.clone().unwrap_or_else(|| "the session ended without an answer".into())),
            },
        }
    }

    /// The episode so far as a trajectory (the format `trutheye reward` reads).
    pub fn trajectory(&self, policy: &str) -> Trajectory {
        let mut stats = self.stats.clone();
        stats.wall_ms = self.started.elapsed().as_millis() as u64;
        Trajectory {
            schema: TRAJECTORY_SCHEMA,
            id: self.id.clone(),
            images: self.images.iter().map(|i| i.meta.clone()).collect(),
            policy: policy.to_string(),
            strategy: self.strategy.to_string(),
            backend: self.executor.backend().map(str::to_string),
            code_isolation: self.executor.code_isolation().map(str::to_string),
            system_prompt: self.system.clone(),
            user_prompt: self.user.clone(),
            turns: self.turns.clone(),
            verdict: self.verdict(),
            stats,
            started_unix_ms: self.started_unix_ms,
        }
    }

    /// Turns so far.
    pub fn turn_count(&self) -> usize {
        self.turns.len()
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

fn record(obs: &Observation) -> ObservationRecord {
    let rec = |n: &trutheye_core::NamedImage| ImageRecord { name: n.name.clone(), width: n.image.width(), height: n.image.height(), path: None };
    ObservationRecord {
        text: obs.text.clone(),
        images: obs.images.iter().map(rec).collect(),
        artifacts: obs.artifacts.iter().map(rec).collect(),
        bbox_candidate: obs.bbox_candidate,
        error: obs.error.clone(),
        tools: obs.tools.clone(),
    }
}

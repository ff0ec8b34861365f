//! The episode stepper: the one place that decides what a turn is. Every host
//! drives it: `run_episode` (analyze, eval, GRPO rollouts) asks a [`Policy`]
//! for each message, `trutheye serve` receives them from ms-swift. The stepper
//! parses the message, enforces the turn, tool-call, format-error, wall-time
//! and image budgets, runs the action with panics contained, tracks the box
//! candidates, records the turn, and renders what the model reads next.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::fusion::FusedMap;
use crate::action::{Action, Answer};
use crate::agent::{observation_text, system_prompt, text_record, user_prompt, ArtifactSink, NoArtifacts};
use crate::config::AgentConfig;
use crate::executor::{EpisodeState, ExecLimits, Executor, NamedImage, Observation};
use crate::image::ImageBuf;
use crate::policy::{Conversation, PolicyReply, ReplyLimits, Role};
use crate::protocol;
use crate::registry::Registry;
use crate::strategy::Strategy;
use crate::trajectory::{EpisodeStats, ImageRecord, ObservationRecord, Trajectory, Turn, TRAJECTORY_SCHEMA};
use crate::verdict::{BBox, BoxGeometry, Verdict, VerdictLabel};

/// What one assistant message turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnKind {
    /// It did not parse; the model reads the format feedback.
    FormatError,
    /// The final answer: the episode is over.
    Answer,
    /// An action past the tool-call budget: not run, the model is told to answer.
    Budget,
    /// An action while the episode's images are over their byte quota: not run.
    Quota,
    /// An action that ran (`code` or `tool_call`).
    Action(&'static str),
}

impl TurnKind {
    /// `format_error`, `answer`, `budget`, `quota`, `code`, `tool_call`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TurnKind::FormatError => "format_error",
            TurnKind::Answer => "answer",
            TurnKind::Budget => "budget",
            TurnKind::Quota => "quota",
            TurnKind::Action(k) => k,
        }
    }
}

/// The outcome of one [`Episode::step`].
pub struct Step {
    /// Turn index (0-based).
    pub index: usize,
    /// What the message was.
    pub kind: TurnKind,
    /// What the model reads next, as the config's observation template renders
    /// it; `None` after an answer.
    pub text: Option<String>,
    /// Images shown with it (within the per-turn pixel limit).
    pub images: Vec<NamedImage>,
    /// Whether the episode is over (answered, or a budget ran out).
    pub done: bool,
}

/// Host limits beyond the agent config's budget (`trutheye serve` sets them per session).
#[derive(Clone, Debug, Default)]
pub struct HostLimits {
    /// Actions are refused once the episode's images take more bytes than this.
    pub max_image_bytes: Option<u64>,
    /// Images one turn may show, in pixels; the rest are withheld and named.
    pub max_shown_pixels_per_turn: Option<u64>,
}

/// One episode as a state machine over assistant messages.
pub struct Episode<'a> {
    id: String,
    config: AgentConfig,
    executor: Box<dyn Executor + 'a>,
    sink: Box<dyn ArtifactSink + 'a>,
    host: HostLimits,
    state: EpisodeState,
    images: Vec<Arc<ImageBuf>>,
    conversation: Conversation,
    system: String,
    user: String,
    turns: Vec<Turn>,
    stats: EpisodeStats,
    consecutive_errors: usize,
    crop_candidate: Option<BBox>,
    op_candidate: Option<BBox>,
    answer: Option<Answer>,
    forced_reason: Option<String>,
    started: Instant,
    started_unix_ms: u64,
}

impl<'a> Episode<'a> {
    /// Starts episode `id` on `images`: builds the prompts and the executor's
    /// state and lets the executor get ready ([`Executor::prepare`]).
    pub fn new(id: impl Into<String>, config: &AgentConfig, executor: Box<dyn Executor + 'a>, images: Vec<Arc<ImageBuf>>, registry: Arc<Registry>) -> Self {
        let started_unix_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let system = system_prompt(config, Strategy::of_executor(executor.name()), &registry);
        let user = user_prompt(config, &images);
        let mut conversation = Conversation::default();
        conversation.push(Role::System, system.clone(), vec![]);
        conversation.push(Role::User, user.clone(), images.clone());
        let limits = ExecLimits { max_side: config.images.max_side, max_pixels: config.images.max_created_pixels, max_images: config.images.max_images };
        let state = EpisodeState::new(images.clone(), registry, limits);
        let mut executor = executor;
        executor.prepare(&state);
        Self {
            id: id.into(),
            config: config.clone(),
            executor,
            sink: Box::new(NoArtifacts),
            host: HostLimits::default(),
            state,
            images,
            conversation,
            system,
            user,
            turns: Vec::new(),
            stats: EpisodeStats::default(),
            consecutive_errors: 0,
            crop_candidate: None,
            op_candidate: None,
            answer: None,
            forced_reason: None,
            started: Instant::now(),
            started_unix_ms,
        }
    }

    /// Saves observation images through `sink` (paths go in the trajectory).
    pub fn with_sink(mut self, sink: Box<dyn ArtifactSink + 'a>) -> Self {
        self.sink = sink;
        self
    }

    /// Adds host limits.
    pub fn with_host_limits(mut self, host: HostLimits) -> Self {
        self.host = host;
        self
    }

    /// Whether the episode is over.
    pub fn done(&self) -> bool {
        self.answer.is_some() || self.forced_reason.is_some()
    }

    /// Whether another model turn may start; ends the episode (forced) when the
    /// wall-time or turn budget has run out.
    pub fn wants_turn(&mut self) -> bool {
        if self.done() {
            return false;
        }
        let budget = &self.config.budget;
        if self.started.elapsed().as_secs_f64() > budget.wall_time_s {
            self.forced_reason = Some(format!("wall-time budget of {}s exhausted", budget.wall_time_s));
        } else if self.turns.len() >= budget.max_turns {
            self.forced_reason = Some(format!("turn budget of {} exhausted without an answer", budget.max_turns));
        }
        !self.done()
    }

    /// Ends the episode without an answer (the policy failed, the host gave up).
    pub fn abort(&mut self, reason: impl Into<String>) {
        if !self.done() {
            self.forced_reason = Some(reason.into());
        }
    }

    /// The conversation so far (what a policy reads).
    pub fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    /// The reply limits a policy gets.
    pub fn reply_limits(&self) -> ReplyLimits {
        ReplyLimits { max_tokens: self.config.budget.max_output_tokens }
    }

    /// Carries out one assistant message (`policy_ms`: how long the policy took, 0 when not known).
    pub fn step(&mut self, reply: &PolicyReply, policy_ms: u64) -> Step {
        let index = self.turns.len();
        self.stats.turns += 1;
        self.stats.policy_ms += policy_ms;
        let text = String::from_utf8_lossy(&reply.raw).into_owned();
        self.conversation.push(Role::Assistant, text.clone(), vec![]);
        let mut turn = Turn { index, assistant: text, think: None, action: None, format_error: None, observation: None, policy_ms, exec_ms: 0, tokens: reply.tokens };
        let (kind, images, withheld) = match protocol::parse_with(&reply.raw, &self.config.answer) {
            Err(fe) => {
                self.stats.format_errors += 1;
                self.consecutive_errors += 1;
                turn.observation = Some(text_record(&observation_text(&self.config, &fe.feedback()), true));
                turn.format_error = Some(fe);
                if self.consecutive_errors >= self.config.budget.max_format_errors {
                    self.forced_reason = Some(format!("{} consecutive format errors", self.consecutive_errors));
                }
                (TurnKind::FormatError, vec![], vec![])
            }
            Ok(parsed) => {
                self.consecutive_errors = 0;
                turn.think = parsed.think;
                turn.action = Some(parsed.action.clone());
                match parsed.action {
                    Action::Answer(a) => {
                        self.answer = Some(a);
                        (TurnKind::Answer, vec![], vec![])
                    }
                    _ if self.stats.tool_calls >= self.config.budget.max_tool_calls => {
                        let msg = format!("The tool budget of {} calls is exhausted. Give your final answer now in <answer></answer>.", self.config.budget.max_tool_calls);
                        turn.observation = Some(text_record(&observation_text(&self.config, &msg), true));
                        (TurnKind::Budget, vec![], vec![])
                    }
                    _ if self.host.max_image_bytes.is_some_and(|q| self.image_bytes() > q) => {
                        let quota = self.host.max_image_bytes.unwrap_or(0);
                        let msg = format!(
                            "MemoryError: this episode's images take {}, over its quota of {}; no more actions can run in it. Give your final answer now in <answer></answer>.",
                            crate::input::human_bytes(self.image_bytes()),
                            crate::input::human_bytes(quota)
                        );
                        turn.observation = Some(text_record(&observation_text(&self.config, &msg), true));
                        (TurnKind::Quota, vec![], vec![])
                    }
                    action => {
                        let (record, images, withheld) = self.run_action(&action, index, &mut turn.exec_ms);
                        turn.observation = Some(record);
                        (TurnKind::Action(action.kind()), images, withheld)
                    }
                }
            }
        };
        let text = turn.observation.as_ref().map(|o| o.text.clone());
        let data = crate::policy::ObservationData {
            images: images.clone(),
            withheld,
            evidence: turn.observation.as_ref().map(|o| o.evidence.clone()).unwrap_or_default(),
            // Only an action can fail; format, budget and quota notices are not tool failures.
            error: if matches!(kind, TurnKind::Action(_)) { turn.observation.as_ref().and_then(|o| o.error.clone()) } else { None },
        };
        self.turns.push(turn);
        // The last feedback of an episode that just ended goes to nobody.
        if let (Some(t), false) = (&text, self.done()) {
            self.conversation.push_observation(t.clone(), data);
        }
        if !self.done() && self.turns.len() >= self.config.budget.max_turns {
            self.forced_reason = Some(format!("turn budget of {} exhausted without an answer", self.config.budget.max_turns));
        }
        Step { index, kind, text, images, done: self.done() }
    }

    /// Runs an action (a panic in the executor becomes an error the model reads)
    /// and returns its record, the images it shows and the names of those the
    /// per-turn pixel limit withheld.
    fn run_action(&mut self, action: &Action, index: usize, exec_ms: &mut u64) -> (ObservationRecord, Vec<NamedImage>, Vec<String>) {
        self.stats.tool_calls += 1;
        let t0 = Instant::now();
        let (executor, state) = (&mut self.executor, &mut self.state);
        let mut obs = catch_unwind(AssertUnwindSafe(|| executor.execute(action, state))).unwrap_or_else(|_| {
            tracing::error!(episode = %self.id, "executor panicked");
            Observation::error("SystemError: internal executor error (a trutheye bug, not your action)")
        });
        *exec_ms = t0.elapsed().as_millis() as u64;
        self.stats.exec_ms += *exec_ms;
        if let Some(b) = obs.bbox_candidate {
            if obs.tools.iter().any(|t| t.name == "crop" && t.ok) {
                self.crop_candidate = Some(b);
            } else {
                self.op_candidate = Some(b);
            }
        }
        let withheld = self.withhold_over_pixel_limit(&mut obs.images);
        if !withheld.is_empty() {
            let limit = self.host.max_shown_pixels_per_turn.unwrap_or(0);
            obs.text.push_str(&format!("\n[not shown: {} — the images of one turn may total {limit} pixels; show smaller crops or resizes]", withheld.join(", ")));
        }
        // The trajectory keeps what the model read.
        obs.text = observation_text(&self.config, &obs.text);
        let (id, sink) = (&self.id, &mut self.sink);
        let mut save = |n: &NamedImage| ImageRecord { name: n.name.clone(), width: n.image.width(), height: n.image.height(), path: sink.save(id, index, &n.name, &n.image) };
        let record = ObservationRecord {
            text: obs.text.clone(),
            images: obs.images.iter().map(&mut save).collect(),
            artifacts: obs.artifacts.iter().map(&mut save).collect(),
            bbox_candidate: obs.bbox_candidate,
            error: obs.error.clone(),
            tools: obs.tools.clone(),
            evidence: std::mem::take(&mut obs.evidence),
        };
        (record, obs.images, withheld)
    }

    /// Keeps the images within the per-turn pixel limit; returns the names of the others.
    fn withhold_over_pixel_limit(&self, images: &mut Vec<NamedImage>) -> Vec<String> {
        let Some(limit) = self.host.max_shown_pixels_per_turn else { return vec![] };
        let mut pixels = 0u64;
        let mut withheld = Vec::new();
        images.retain(|n| {
            let (w, h) = (n.image.width(), n.image.height());
            let px = w as u64 * h as u64;
            if pixels + px > limit {
                withheld.push(format!("{} ({w}x{h})", n.name));
                return false;
            }
            pixels += px;
            true
        });
        withheld
    }

    /// Bytes of the images the episode holds (pixels and the source files kept
    /// for JPEG-aware operators; shared buffers counted once).
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

    /// Why the episode ended, or `not finished`.
    pub fn end_reason(&self) -> String {
        match (&self.answer, &self.forced_reason) {
            (Some(_), _) => "the model answered".into(),
            (None, Some(r)) => r.clone(),
            (None, None) => "not finished".into(),
        }
    }

    /// The verdict now: the answer, its box clamped to the image; for a
    /// tampered or fake answer without a box, the latest crop, else the fused
    /// localization's box, else the latest operator candidate. Otherwise the
    /// config's forced label with the reason. The mask is attached by
    /// [`Episode::into_trajectory`], which saves it.
    pub fn verdict(&self) -> Verdict {
        self.verdict_and_mask().0
    }

    /// The verdict and, for a tampered or fake answer, the fused localization
    /// ([`crate::fusion`]) of the operators the episode ran on the whole image,
    /// restricted to the verdict's box so the mask and the box name one region.
    fn verdict_and_mask(&self) -> (Verdict, Option<FusedMap>) {
        let root = self.images.first().map(|i| (i.width(), i.height()));
        match &self.answer {
            Some(a) => {
                let fake_local = matches!(a.label, VerdictLabel::Tampered | VerdictLabel::Fake);
                let fused = match (fake_local, root) {
                    (true, Some(r)) => crate::fusion::fuse(&self.evidence(), r, &self.config.localization),
                    _ => None,
                };
                let candidate = self.crop_candidate.or(fused.as_ref().and_then(|f| f.bbox)).or(self.op_candidate);
                let bbox = a.bbox.and_then(|b| BBox::clamped(b, root)).or(if fake_local { candidate } else { None });
                let mask = match (fused, bbox, root) {
                    (Some(f), Some(b), Some(r)) => f.restricted_to(b, r),
                    (Some(f), None, _) => Some(f).filter(|f| f.mask.iter().any(|&m| m)),
                    _ => None,
                };
                (Verdict { label: a.label, scores: a.scores, bbox, mask: None, explanation: a.explanation.clone(), forced: false, forced_reason: None }, mask)
            }
            None => (
                Verdict {
                    label: self.config.forced.label,
                    scores: None,
                    bbox: None,
                    mask: None,
                    explanation: None,
                    forced: true,
                    forced_reason: Some(self.forced_reason.clone().unwrap_or_else(|| "the episode ended without an answer".into())),
                },
                None,
            ),
        }
    }

    /// Every operator run so far, as data, in order.
    pub fn evidence(&self) -> Vec<crate::evidence::Evidence> {
        self.turns.iter().filter_map(|t| t.observation.as_ref()).flat_map(|o| o.evidence.iter().cloned()).collect()
    }

    /// The episode so far as a trajectory, under `policy`'s name.
    pub fn trajectory(&self, policy: &str) -> Trajectory {
        Trajectory { turns: self.turns.clone(), ..self.trajectory_head(policy) }
    }

    /// Everything of the trajectory but the turns.
    fn trajectory_head(&self, policy: &str) -> Trajectory {
        let mut stats = self.stats.clone();
        stats.wall_ms = self.started.elapsed().as_millis() as u64;
        Trajectory {
            schema: TRAJECTORY_SCHEMA,
            id: self.id.clone(),
            images: self.images.iter().map(|i| i.meta.clone()).collect(),
            policy: policy.to_string(),
            strategy: self.executor.name().to_string(),
            backend: self.executor.backend().map(str::to_string),
            code_isolation: self.executor.code_isolation().map(str::to_string),
            system_prompt: self.system.clone(),
            user_prompt: self.user.clone(),
            turns: Vec::new(),
            verdict: self.verdict(),
            stats,
            started_unix_ms: self.started_unix_ms,
        }
    }

    /// The finished episode as a trajectory (no copy of the turns).
    pub fn into_trajectory(mut self, policy: &str) -> Trajectory {
        let mut t = Trajectory { turns: Vec::new(), ..self.trajectory_head(policy) };
        if let (_, Some(fused)) = self.verdict_and_mask() {
            t.verdict.mask = self.sink.save_mask(&self.id, &fused.heat_image());
        }
        t.turns = std::mem::take(&mut self.turns);
        t
    }

    /// Strategy name (the executor's).
    pub fn strategy(&self) -> &'static str {
        self.executor.name()
    }

    /// The episode id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The system prompt.
    pub fn system_prompt(&self) -> &str {
        &self.system
    }

    /// The first user message.
    pub fn user_prompt(&self) -> &str {
        &self.user
    }

    /// The input images.
    pub fn images(&self) -> &[Arc<ImageBuf>] {
        &self.images
    }

    /// Turns so far.
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// The agent configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }
}

//! Where GRPO's rollouts come from: a prompt, a group of sampled completions,
//! a verifiable reward each.
//!
//! * [`ToyEvenEnv`]: one turn (an image and a question) with a dense
//!   verifiable reward, small enough to watch learning happen on a
//!   random-weight model in minutes: a check of the machinery, not of forensics.
//! * [`AgentEnv`]: the real agent loop (policy → registry tool calls →
//!   observations → answer), rewarded with ForenAgent's R; observation tokens
//!   are masked out of the loss.

use crate::TrainError;
use std::sync::{Arc, Mutex};

use image::{Rgb, RgbImage};
use trutheye_core::{run_episode, AgentConfig, Conversation, EpisodeInput, ImageBuf, NoArtifacts, Policy, PolicyError, PolicyReply, Registry, ReplyLimits, Role};
use trutheye_core::executors::tool_executor;
use trutheye_core::Strategy;
use trutheye_model::qwen25vl::{ChatMessage, ChatPart, GenerationConfig, Qwen25Vl, Qwen25VlPolicy, TrainSequence};

use trutheye_eval::Sample;
use trutheye_eval::rewards::{score, RewardTruth, RewardWeights};

/// One sampled completion with its reward.
pub struct Rollout {
    /// Prompt + completion, completion tokens trainable.
    pub seq: TrainSequence,
    /// The verifiable reward.
    pub reward: f64,
    /// Hit the token limit without finishing (overlong filtering drops these from the loss).
    pub truncated: bool,
}

/// A source of prompts and rewards.
pub trait RolloutEnv: Sync {
    /// Name for logs.
    fn name(&self) -> &str;
    /// How many distinct prompts there are.
    fn prompts(&self) -> usize;
    /// One rollout for prompt `i` with sampling settings `gen` (its seed set by the caller).
    fn rollout(&self, model: &Arc<Qwen25Vl>, i: usize, gen: &GenerationConfig) -> Result<Rollout, TrainError>;
}

/// The reward is the fraction of completion tokens with an even id: dense (a
/// random model scores about 0.5), verifiable, and reachable by the adapters
/// alone. (An image-conditioned variant, even ids for bright images and odd
/// for dark, barely moved in 40 steps on the tiny random model: its tower
/// hardly separates the images, so the signal is too weak for a smoke test.)
pub struct ToyEvenEnv {
    images: Vec<(Arc<RgbImage>, bool)>,
}

impl ToyEvenEnv {
    /// `n` prompts alternating bright and dark, with seeded texture.
    pub fn new(n: usize) -> Self {
        let images = (0..n.max(2))
            .map(|i| {
                let bright = i % 2 == 0;
                let mut state = 0x9E37_79B9u32.wrapping_mul(i as u32 + 1);
                let img = RgbImage::from_fn(56, 56, |_, _| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    let base = if bright { 200 } else { 40 };
                    let v = (base + (state % 40) as i32 - 20).clamp(0, 255) as u8;
                    Rgb([v, v, v])
                });
                (Arc::new(img), bright)
            })
            .collect();
        Self { images }
    }
}

impl RolloutEnv for ToyEvenEnv {
    fn name(&self) -> &str {
        "toy-even"
    }

    fn prompts(&self) -> usize {
        self.images.len()
    }

    fn rollout(&self, model: &Arc<Qwen25Vl>, i: usize, gen: &GenerationConfig) -> Result<Rollout, TrainError> {
        let (img, _bright) = self.images.get(i % self.images.len().max(1)).ok_or_else(|| TrainError::Run("no prompts".to_string()))?;
        let msgs = vec![ChatMessage { role: "user".into(), parts: vec![ChatPart::Image(img.clone()), ChatPart::Text("Is this image real or fake?".into())] }];
        let prompt = model.chat.prompt(&msgs, &model.preprocessor, true).map_err(|e| TrainError::Run(e.to_string()))?;
        let mut cfg = gen.clone();
        cfg.eos_ids = Some(vec![]);
        cfg.stop.clear();
        cfg.runaway_repeats = 0;
        let g = model.generate(&prompt, &cfg, &mut |_| {}).map_err(|e| TrainError::Run(e.to_string()))?;
        let reward = g.ids.iter().filter(|&&t| t % 2 == 0).count() as f64 / g.ids.len().max(1) as f64;
        let mut seq = TrainSequence { trainable: vec![false; prompt.ids.len()], prompt };
        seq.trainable.extend(std::iter::repeat_n(true, g.ids.len()));
        seq.prompt.ids.extend(&g.ids);
        Ok(Rollout { seq, reward, truncated: false })
    }
}

/// Episodes of the real agent loop on labelled images.
pub struct AgentEnv {
    /// Labelled images.
    pub samples: Vec<Sample>,
    /// Agent configuration (prompts, budget).
    pub config: AgentConfig,
    /// Operators.
    pub registry: Arc<Registry>,
    /// Reward weights.
    pub weights: RewardWeights,
}

/// Keeps the last conversation the policy saw and what it answered.
struct Recording {
    inner: Qwen25VlPolicy,
    last: Arc<Mutex<Option<(Conversation, String, bool)>>>,
}

impl Policy for Recording {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn next(&mut self, conversation: &Conversation, limits: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let r = self.inner.next(conversation, limits)?;
        let truncated = r.tokens.is_some_and(|t| t as usize >= self.inner.generation.max_new_tokens.min(limits.max_tokens as usize));
        if let Ok(mut l) = self.last.lock() {
            *l = Some((conversation.clone(), String::from_utf8_lossy(&r.raw).into_owned(), truncated));
        }
        Ok(r)
    }
}

impl RolloutEnv for AgentEnv {
    fn name(&self) -> &str {
        "agent"
    }

    fn prompts(&self) -> usize {
        self.samples.len()
    }

    fn rollout(&self, model: &Arc<Qwen25Vl>, i: usize, gen: &GenerationConfig) -> Result<Rollout, TrainError> {
        let s = self.samples.get(i % self.samples.len().max(1)).ok_or_else(|| TrainError::Run("no samples".to_string()))?;
        let image = ImageBuf::open_with(&s.image, self.config.images.decode_options()).map_err(|e| TrainError::Run(format!("{}: {e}", s.image.display())))?;
        let last = Arc::new(Mutex::new(None));
        let mut policy = Recording { inner: Qwen25VlPolicy::new(model.clone(), gen.clone()), last: last.clone() };
        let input = EpisodeInput { id: s.id.clone(), images: vec![Arc::new(image)] };
        // Rollouts call registry tools: no model code runs inside the trainer.
        let mut executor = tool_executor(Strategy::Registry).ok_or_else(|| TrainError::Run("the registry strategy has no tool executor".into()))?;
        let traj = run_episode(&mut policy, executor.as_mut(), input, &self.config, self.registry.clone(), &mut NoArtifacts);
        let reward = score(&traj, &RewardTruth { label: s.label, bbox: s.bbox }, &self.weights).forenagent;
        let (conv, reply, truncated) = last.lock().map_err(|_| TrainError::Run("poisoned".into()))?.take().ok_or_else(|| TrainError::Run("the episode made no model turn".to_string()))?;
        let mut msgs = policy.inner.messages(&conv)?;
        msgs.push(ChatMessage::text("assistant", reply));
        let seq = model.train_sequence(&msgs).map_err(|e| TrainError::Run(e.to_string()))?;
        // Every assistant turn of the episode is in `conv` plus the last reply: all trained on.
        debug_assert!(conv.messages.iter().any(|m| m.role == Role::User));
        Ok(Rollout { seq, reward, truncated })
    }
}

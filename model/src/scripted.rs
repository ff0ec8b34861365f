//! The scripted policy: a deterministic forensic agent that needs no weights. It
//! writes the same protocol a model writes (`<think>`, `<code>` / `<tool_call>`,
//! `<answer>`), which goes through the same parser and executors, and reads the
//! same observation text a model reads. It follows ForenAgent's four stages:
//! global perception (operators on the whole image), local focusing (crop the
//! most anomalous region), iterative probing (operators on the crop) and holistic
//! adjudication (a linear scorer over the numbers the operators reported).
//!
//! The scorer's weights live in `configs/scripted.toml`; how they were chosen is
//! documented there. Under the `none` strategy there is no evidence to gather, so
//! the policy answers the uniform prior (label `authentic`, the first class of a
//! tie) and says so.

use crate::ModelError;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use trutheye_core::fusion::{self, FusionConfig};
use trutheye_core::{Conversation, Policy, PolicyError, PolicyReply, ReplyLimits, Role, Strategy, Trajectory};

/// The built-in scripted configuration (`configs/scripted.toml`).
pub const DEFAULT_SCRIPTED_CONFIG: &str = include_str!("../../configs/scripted.toml");

/// Linear score of one class: `bias + Σ weight[f] * clamp(feature[f])`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassScore {
    /// Constant term.
    pub bias: f64,
    /// Feature name (`<operator>.<stat>` on the whole image, `probe.<operator>.<stat>` on the crop) → weight.
    pub weights: BTreeMap<String, f64>,
}

/// The adjudication scorer. Authentic is the reference class with score 0;
/// probabilities are the softmax of `[0, synthetic, tampered]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scorer {
    /// Features are clipped to ±this before weighting, so one extreme operator
    /// reading cannot decide alone.
    pub clip: f64,
    /// Synthetic score.
    pub synthetic: ClassScore,
    /// Tampered score.
    pub tampered: ClassScore,
}

impl Scorer {
    /// The linear class scores `(0, synthetic, tampered)` for a feature set:
    /// authentic is the reference at 0, features are clipped to ±clip first and
    /// missing ones are 0.
    pub fn logits(&self, features: &BTreeMap<String, f64>) -> [f64; 3] {
        let lin = |c: &ClassScore| c.bias + c.weights.iter().map(|(k, w)| w * features.get(k).copied().unwrap_or(0.0).clamp(-self.clip, self.clip)).sum::<f64>();
        [0.0, lin(&self.synthetic), lin(&self.tampered)]
    }
}

/// What the policy does, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// Operators run on the whole image (global perception), most useful
    /// first. Under `pvr` one code cell runs them all; a strategy that calls
    /// tools runs the first [`Stages::tool_globals`], one call each.
    pub global_operators: Vec<String>,
    /// How many global operators a tool-calling strategy (`registry`,
    /// `hybrid`) runs: one call each, inside ForenAgent's budget of 7 calls.
    pub tool_globals: usize,
    /// Scale at which `pvr` and `hybrid` look at the candidate region before
    /// probing it (a crop zoomed in code; `registry` has only the plain crop).
    pub zoom: f64,
    /// Operators whose top region picks the crop, in priority order (local focusing).
    pub localizers: Vec<String>,
    /// Operators run on the crop (iterative probing).
    pub probe_operators: Vec<String>,
    /// Margin added around the most anomalous region before cropping, as a fraction of its size.
    pub crop_margin: f64,
    /// Smallest crop side in pixels.
    pub min_crop: u32,
}

/// `configs/scripted.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedConfig {
    /// The plan.
    pub stages: Stages,
    /// The adjudication.
    pub scorer: Scorer,
}

impl ScriptedConfig {
    /// Parses TOML; unknown keys are errors naming the key.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ModelError> {
        toml::from_str(text).map_err(|e| ModelError::Scripted(trutheye_core::config::toml_error(text, origin, &e)))
    }

    /// Loads a file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = trutheye_core::input::read_text_bounded(path, trutheye_core::input::MAX_TEXT_BYTES).map_err(|e| ModelError::Scripted(format!("{}: cannot read: {}", path.display(), e.detail())))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The built-in configuration.
    pub fn builtin() -> Self {
        // Checked by a unit test; cannot fail at run time.
        Self::from_toml(DEFAULT_SCRIPTED_CONFIG, "configs/scripted.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// The scorer's logits for a feature set ([`Scorer::logits`]);
    /// [`ScriptedConfig::score`] is their softmax.
    pub fn logits(&self, features: &BTreeMap<String, f64>) -> [f64; 3] {
        self.scorer.logits(features)
    }

    /// Class probabilities `(authentic, synthetic, tampered)` for a feature set.
    pub fn score(&self, features: &BTreeMap<String, f64>) -> [f64; 3] {
        let s = self.logits(features);
        let m = s.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
        let z: f64 = e.iter().sum();
        [e[0] / z, e[1] / z, e[2] / z]
    }
}

/// The scripted policy for one strategy, which decides what it can express:
///
/// * `pvr`: one code cell runs every global operator; a second crops the
///   candidate region, zooms it and probes the zoomed crop (2 actions).
/// * `registry`: single tool calls only: the first `tool_globals` operators,
///   `crop`, then the probes on the plain crop (one call each).
/// * `hybrid`: operators as tool calls (as `registry`), the crop and zoom as
///   code, then the probes on the zoomed crop as tool calls.
///
/// The candidate region is the fused localization of the maps gathered so far
/// ([`trutheye_core::fusion`], the same computation that makes the verdict's
/// mask), so the box the answer names is the mask's largest component.
pub struct ScriptedPolicy {
    config: ScriptedConfig,
    strategy: Strategy,
    fusion: FusionConfig,
}

impl ScriptedPolicy {
    /// A scripted policy for `strategy`, localizing with the built-in fusion.
    pub fn new(config: ScriptedConfig, strategy: Strategy) -> Self {
        Self { config, strategy, fusion: FusionConfig::default() }
    }

    /// Localizes with `fusion` (pass the agent config's `[localization]`, which
    /// the episode uses for the verdict's mask, so both name one region).
    pub fn with_fusion(mut self, fusion: FusionConfig) -> Self {
        self.fusion = fusion;
        self
    }
}

/// What the policy has learnt from the observations so far.
#[derive(Default, Debug)]
pub(crate) struct Evidence {
    pub features: BTreeMap<String, f64>,
    /// (score, bbox in image_clue_0 pixels, operator) of global regions.
    pub regions: Vec<(f64, [u32; 4], String)>,
    /// The candidate region as an image to probe (`image_clue_k`): the first
    /// image shown (or withheld for size) by the newest action that ran no
    /// operator and showed an image (the `crop` tool's crop, or the zoom a
    /// code cell showed); a failed crop keeps the earlier one.
    pub focus_image: Option<String>,
    /// Errors of failed actions.
    pub failures: Vec<String>,
    /// Every whole-image operator run, as data (what fusion reads).
    pub global_runs: Vec<trutheye_core::Evidence>,
    /// The fused localization of `global_runs`.
    pub fused_box: Option<[u32; 4]>,
    /// Whether that box is the copy `copy_move` named, which replaces the
    /// fusion ([`FusionConfig::named_copy_as_mask`]).
    pub fused_is_named_copy: bool,
}

/// Reads the evidence so far, all of it from what the observations carry as
/// data: operator runs ([`trutheye_core::Evidence`]), the names of the images
/// actions showed, and errors. Nothing is read back from the text.
pub(crate) fn read_evidence(conv: &Conversation, fusion: &FusionConfig) -> Evidence {
    let mut ev = Evidence::default();
    for m in conv.messages.iter().filter(|m| m.role == Role::Tool) {
        for run in &m.evidence {
            add_operator_run(&mut ev, run);
        }
        if m.evidence.is_empty() {
            // A crop or zoom withheld by the per-turn pixel limit can still be probed by name.
            if let Some(name) = m.image_names.iter().chain(&m.withheld_images).next() {
                ev.focus_image = Some(name.clone());
            }
        }
        if let Some(e) = &m.error {
            ev.failures.push(e.chars().take(120).collect());
        }
    }
    let root = conv.images.first().map(|i| (i.width(), i.height()));
    add_fusion(&mut ev, root, fusion);
    ev
}

/// Adds the fused localization's region-versus-rest features and its box.
fn add_fusion(ev: &mut Evidence, root: Option<(u32, u32)>, fusion: &FusionConfig) {
    let Some(fused) = root.and_then(|r| fusion::fuse(&ev.global_runs, r, fusion)) else { return };
    ev.features.extend(fused.features);
    ev.fused_box = fused.bbox;
    ev.fused_is_named_copy = fusion.named_copy_as_mask && root.and_then(|r| fusion::named_copy(&ev.global_runs, r)).is_some();
}

/// Adds one operator run: its numeric stats as `<op>.<stat>` on `image_clue_0`
/// (`probe.<op>.<stat>` on anything else, later runs overriding earlier ones),
/// and, on `image_clue_0`, its regions in `image_clue_0` pixels.
fn add_operator_run(ev: &mut Evidence, run: &trutheye_core::Evidence) {
    let global = run.image == "image_clue_0";
    for (k, x) in run.numbers() {
        let key = if global { format!("{}.{k}", run.operator) } else { format!("probe.{}.{k}", run.operator) };
        ev.features.insert(key, x);
    }
    if global {
        ev.regions.extend(run.root_regions().iter().map(|r| (r.score, r.bbox, run.operator.clone())));
        ev.global_runs.push(run.clone());
    }
}

/// The features the scorer reads (`<op>.<stat>`, `probe.<op>.<stat>`, and the
/// fused localization's `fusion.*` / `region.<op>` under `fusion`), collected
/// from a recorded episode's observations exactly as the policy collects them
/// before answering. `trutheye train scorer` fits the scorer on these.
pub fn trajectory_features(t: &Trajectory, fusion: &FusionConfig) -> BTreeMap<String, f64> {
    let mut ev = Evidence::default();
    for run in &trutheye_core::evidence::trajectory_evidence(t) {
        add_operator_run(&mut ev, run);
    }
    add_fusion(&mut ev, t.images.first().map(|i| (i.width, i.height)), fusion);
    ev.features
}

impl ScriptedPolicy {
    fn root_size(conv: &Conversation) -> (u32, u32) {
        conv.images.first().map(|i| (i.width(), i.height())).unwrap_or((0, 0))
    }

    fn crop_box(&self, ev: &Evidence, (w, h): (u32, u32)) -> [u32; 4] {
        let [x1, y1, x2, y2] = self.focus(ev).map(|r| r.1).unwrap_or([w / 4, h / 4, 3 * w / 4, 3 * h / 4]);
        let m = self.config.stages.crop_margin;
        let (bw, bh) = ((x2 - x1) as f64, (y2 - y1) as f64);
        let half_w = (bw * (1.0 + 2.0 * m)).max(self.config.stages.min_crop as f64) / 2.0;
        let half_h = (bh * (1.0 + 2.0 * m)).max(self.config.stages.min_crop as f64) / 2.0;
        let (cx, cy) = ((x1 + x2) as f64 / 2.0, (y1 + y2) as f64 / 2.0);
        let c = |v: f64, max: u32| v.round().clamp(0.0, max as f64) as u32;
        [c(cx - half_w, w), c(cy - half_h, h), c(cx + half_w, w), c(cy + half_h, h)]
    }

    /// The region to focus on and who named it: the fused localization's
    /// largest component, else the top region of the first localizer that
    /// reported one, else the strongest region of any operator.
    fn focus(&self, ev: &Evidence) -> Option<(f64, [u32; 4], String)> {
        if let Some(b) = ev.fused_box {
            let who = if ev.fused_is_named_copy { "copy_move" } else { "the fused localization" };
            return Some((ev.features.get("fusion.contrast").copied().unwrap_or(0.0), b, who.into()));
        }
        self.config
            .stages
            .localizers
            .iter()
            .find_map(|op| ev.regions.iter().filter(|r| &r.2 == op).max_by(|a, b| a.0.total_cmp(&b.0)))
            .or_else(|| ev.regions.iter().max_by(|a, b| a.0.total_cmp(&b.0)))
            .cloned()
    }

    fn answer(&self, ev: &Evidence) -> String {
        let p = self.config.score(&ev.features);
        let labels = ["authentic", "synthetic", "tampered"];
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        let mut answer = serde_json::json!({
            "label": labels[best],
            "scores": {"authentic": round3(p[0]), "synthetic": round3(p[1]), "tampered": round3(p[2])},
        });
        let mut region = String::new();
        if best == 2 {
            if let Some((_, b, who)) = self.focus(ev) {
                answer["bbox"] = serde_json::json!(b);
                region = format!(" The edited region is {who}'s {b:?}.");
            }
        }
        let used: Vec<String> = ev.features.iter().filter(|(k, _)| self.weighted(k)).map(|(k, v)| format!("{k}={v:.2}")).collect();
        let mut think = format!(
            "Holistic adjudication. Evidence used: {}. Scores: authentic {:.2}, synthetic {:.2}, tampered {:.2}.",
            if used.is_empty() { "none".to_string() } else { used.join(", ") },
            p[0],
            p[1],
            p[2]
        );
        think += &region;
        if !ev.failures.is_empty() {
            think += &format!(" Some tools failed ({}), so their evidence is missing.", ev.failures.len());
        }
        format!("<think>{think}</think>\n<answer>{answer}</answer>")
    }

    fn weighted(&self, k: &str) -> bool {
        self.config.scorer.synthetic.weights.contains_key(k) || self.config.scorer.tampered.weights.contains_key(k)
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Policy for ScriptedPolicy {
    fn name(&self) -> &str {
        "scripted"
    }

    fn next(&mut self, conv: &Conversation, _: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let ev = read_evidence(conv, &self.fusion);
        if self.strategy == Strategy::None {
            // No evidence: equal scores, and the label a tie gives (the first
            // class). The scorer at all-zero features is no prior: its features
            // are never zero on real images (the upsampling parity sits near -6),
            // and there it said 0.99 synthetic next to this "authentic" label.
            return Ok(PolicyReply::text(format!(
                "<think>No tools are available and this scripted policy has no visual model, so it cannot gather evidence; it answers the uniform prior.</think>\n<answer>{{\"label\": \"authentic\", \"scores\": {{\"authentic\": {p:.3}, \"synthetic\": {p:.3}, \"tampered\": {p:.3}}}}}</answer>",
                p = 1.0 / 3.0
            )));
        }
        let plan = self.plan();
        let text = match plan.get(conv.assistant_turns()) {
            Some(step) => self.write(step, &ev, conv),
            None => self.answer(&ev),
        };
        Ok(PolicyReply::text(text))
    }
}

/// One action of the plan.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// Operators on the whole image: one tool call, or several in one code cell.
    Global(Vec<String>),
    /// Crop the candidate region with the `crop` tool.
    CropTool,
    /// Crop and zoom the candidate in code; with operators, probe the zoomed
    /// crop in the same cell.
    ZoomCode(Vec<String>),
    /// One operator as a tool call on the newest crop or zoom.
    Probe(String),
}

impl ScriptedPolicy {
    /// The actions this strategy can express, in order (then the answer).
    fn plan(&self) -> Vec<Step> {
        let st = &self.config.stages;
        let tool_globals = st.global_operators.iter().take(st.tool_globals).map(|op| Step::Global(vec![op.clone()]));
        let probes = st.probe_operators.iter().map(|op| Step::Probe(op.clone()));
        match self.strategy {
            Strategy::Pvr => vec![Step::Global(st.global_operators.clone()), Step::ZoomCode(st.probe_operators.clone())],
            Strategy::Registry => tool_globals.chain([Step::CropTool]).chain(probes).collect(),
            Strategy::Hybrid => tool_globals.chain([Step::ZoomCode(vec![])]).chain(probes).collect(),
            Strategy::None => vec![],
        }
    }

    fn write(&self, step: &Step, ev: &Evidence, conv: &Conversation) -> String {
        match step {
            Step::Global(ops) if ops.len() == 1 => {
                let op = &ops[0];
                let why = if ev.global_runs.is_empty() { "Global perception: start with low-level operators on the whole image." } else { "Global perception continues with another operator family." };
                format!("<think>{why} Running {op} on image_clue_0.</think>\n{}", tool_call(op, None))
            }
            Step::Global(ops) => {
                let calls: Vec<String> = ops.iter().map(|op| format!("{op}(image_clue_0)")).collect();
                format!("<think>Global perception: every operator family on the whole image at once, so their maps can be fused.</think>\n<code>\n{}\n</code>", calls.join("\n"))
            }
            Step::CropTool => {
                let b = self.crop_box(ev, Self::root_size(conv));
                format!(
                    "<think>Local focusing. {} Cropping it with a margin.</think>\n<tool_call>\n{{\"name\": \"crop\", \"arguments\": {{\"bbox\": [{}, {}, {}, {}]}}}}\n</tool_call>",
                    self.reason(ev),
                    b[0], b[1], b[2], b[3]
                )
            }
            Step::ZoomCode(probes) => {
                let b = self.crop_box(ev, Self::root_size(conv));
                let z = self.config.stages.zoom;
                let (w, h) = (((b[2] - b[0]) as f64 * z).round().max(1.0) as u32, ((b[3] - b[1]) as f64 * z).round().max(1.0) as u32);
                let mut code = format!("crop = image_clue_0.crop(({}, {}, {}, {}))\nzoomed = crop.resize(({w}, {h}))\n", b[0], b[1], b[2], b[3]);
                if probes.is_empty() {
                    code += "result = zoomed";
                } else {
                    code += &probes.iter().map(|op| format!("{op}(zoomed)")).collect::<Vec<_>>().join("\n");
                }
                format!("<think>Local focusing. {} Cropping it with a margin and zooming {z}x to probe it closely.</think>\n<code>\n{code}\n</code>", self.reason(ev))
            }
            Step::Probe(op) => {
                format!("<think>Iterative probing: {op} on the candidate region.</think>\n{}", tool_call(op, ev.focus_image.as_deref()))
            }
        }
    }

    fn reason(&self, ev: &Evidence) -> String {
        match self.focus(ev) {
            Some((z, r, who)) => format!("The most suspicious region is {who}'s {r:?} (score {z:.1})."),
            None => "No operator reported a region, so I look at the centre.".into(),
        }
    }
}

/// A registry tool call of `op`, on `image` (`image_clue_k`) or the default input.
fn tool_call(op: &str, image: Option<&str>) -> String {
    let args = match image {
        Some(name) => format!("{{\"image\": \"{name}\"}}"),
        None => "{}".to_string(),
    };
    format!("<tool_call>\n{{\"name\": \"{op}\", \"arguments\": {args}}}\n</tool_call>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use trutheye_core::ObservationData;

    #[test]
    fn builtin_config_parses_and_scores_are_a_distribution() {
        let c = ScriptedConfig::builtin();
        let p = c.score(&BTreeMap::new());
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for strategy in [Strategy::Registry, Strategy::Hybrid, Strategy::Pvr] {
            assert!(ScriptedPolicy::new(c.clone(), strategy).plan().len() <= 7, "{strategy:?}'s plan exceeds ForenAgent's 7-call budget");
        }
    }

    #[test]
    fn each_strategy_plans_what_it_can_express() {
        let c = ScriptedConfig::builtin();
        let n = c.stages.global_operators.len();
        let pvr = ScriptedPolicy::new(c.clone(), Strategy::Pvr).plan();
        assert_eq!(pvr, vec![Step::Global(c.stages.global_operators.clone()), Step::ZoomCode(c.stages.probe_operators.clone())], "pvr: two code cells");
        let registry = ScriptedPolicy::new(c.clone(), Strategy::Registry).plan();
        assert!(registry.iter().all(|s| matches!(s, Step::Global(ops) if ops.len() == 1) || matches!(s, Step::CropTool | Step::Probe(_))), "registry: single tool calls only");
        assert_eq!(registry.iter().filter(|s| matches!(s, Step::Global(_))).count(), c.stages.tool_globals.min(n));
        let hybrid = ScriptedPolicy::new(c.clone(), Strategy::Hybrid).plan();
        assert!(hybrid.contains(&Step::ZoomCode(vec![])) && !hybrid.contains(&Step::CropTool), "hybrid: crop and zoom in code, operators as tools");
        assert!(c.stages.tool_globals < n, "pvr fuses more maps than a tool-calling strategy can afford");
    }

    #[test]
    fn unknown_scorer_key_is_an_error() {
        let bad = DEFAULT_SCRIPTED_CONFIG.replacen("[scorer]", "[scorer]\nclipp = 1.0", 1);
        assert!(ScriptedConfig::from_toml(&bad, "x").unwrap_err().to_string().contains("clipp"));
    }

    /// One operator run as an executor reports it: the data, and the text rendered from it.
    fn run(op: &str, image: &str, stats: serde_json::Value, regions: &[([u32; 4], f64)]) -> (String, trutheye_core::Evidence) {
        let ev = trutheye_core::Evidence {
            operator: op.into(),
            image: image.into(),
            summary: "summary".into(),
            stats: stats.as_object().cloned().unwrap_or_default(),
            regions: regions.iter().map(|&(bbox, score)| trutheye_core::ScoredRegion { bbox, score }).collect(),
            frame: trutheye_core::RegionFrame::Root,
            maps: vec![],
            heat: None,
        };
        (trutheye_core::observe::render_evidence(&ev), ev)
    }

    /// Answers every operator call with fixed stats, so the episode's features are known.
    struct StatsExecutor;

    impl trutheye_core::Executor for StatsExecutor {
        fn name(&self) -> &'static str {
            "registry"
        }
        fn execute(&mut self, action: &trutheye_core::Action, state: &mut trutheye_core::EpisodeState) -> trutheye_core::Observation {
            let text = format!("{action:?}");
            if text.contains("\"crop\"") || text.contains("crop") && text.contains("bbox") {
                let crop = trutheye_core::ImageBuf::derived(image::RgbImage::new(32, 32), "crop");
                let shown = state.add(crop, Some([0, 0, 32, 32])).expect("room for one crop");
                let body = format!("cropped [0, 0, 32, 32] of image_clue_0: new image {} (32x32).", shown.name);
                return trutheye_core::Observation { text: body, images: vec![shown], ..Default::default() };
            }
            let op = ["copy_move", "fft_residual", "jpeg_ghost", "prnu", "laplacian", "ela", "srm", "resampling"]
                .into_iter()
                .find(|o| text.contains(o))
                .unwrap_or("srm");
            let on = if text.contains("image_clue_1") { "image_clue_1" } else { "image_clue_0" };
            let stats = serde_json::json!({"anomaly_z": op.len(), "residual_std": 3.5, "upsampling_parity": -5.25, "top_block_ghost_strength": 1.5});
            let (body, ev) = run(op, on, stats, &[]);
            trutheye_core::Observation { text: body, evidence: vec![ev], ..Default::default() }
        }
    }

    #[test]
    fn trajectory_features_are_the_features_the_policy_scored() {
        let config = ScriptedConfig::builtin();
        let mut policy = ScriptedPolicy::new(config.clone(), Strategy::Registry);
        let image = std::sync::Arc::new(trutheye_core::ImageBuf::derived(image::RgbImage::new(64, 64), "test"));
        let input = trutheye_core::EpisodeInput { id: "x".into(), images: vec![image] };
        let t = trutheye_core::run_episode(
            &mut policy,
            &mut StatsExecutor,
            input,
            &trutheye_core::AgentConfig::default_config(),
            std::sync::Arc::new(trutheye_core::Registry::new()),
            &mut trutheye_core::NoArtifacts,
        );
        let f = trajectory_features(&t, &FusionConfig::default());
        // The registry plan's five tool globals, each reporting its name's length.
        assert_eq!(f.get("copy_move.anomaly_z"), Some(&9.0));
        assert_eq!(f.get("fft_residual.upsampling_parity"), Some(&-5.25));
        assert_eq!(f.get("laplacian.anomaly_z"), Some(&9.0));
        assert_eq!(f.get("ela.anomaly_z"), None, "not among the registry's tool globals");
        assert_eq!(f.get("resampling.anomaly_z"), None, "not among the registry's tool globals");
        assert_eq!(f.get("probe.srm.anomaly_z"), Some(&3.0), "{f:?}");
        let s = t.verdict.scores.expect("scores");
        let p = config.score(&f);
        for (a, b) in [s.authentic, s.synthetic, s.tampered].into_iter().zip(p) {
            assert!((a - round3(b)).abs() < 1e-9, "verdict {s:?} vs rescored {p:?}");
        }
    }

    #[test]
    fn reads_stats_and_regions_from_observation_evidence() {
        let mut conv = Conversation::default();
        let (text, srm) = run("srm", "image_clue_0", serde_json::json!({"anomaly_z": 4.5, "residual_std": 2.0}), &[([1, 2, 30, 40], 4.5), ([5, 5, 9, 9], 3.1)]);
        conv.push_observation(text, ObservationData { evidence: vec![srm], ..Default::default() });
        // The crop tool's observation: no operator run, one new image.
        let crop = std::sync::Arc::new(trutheye_core::ImageBuf::derived(image::RgbImage::new(29, 38), "crop"));
        let shown = trutheye_core::NamedImage { name: "image_clue_2".into(), image: crop, region_in_root: Some([1, 2, 30, 40]) };
        conv.push_observation("cropped [1, 2, 30, 40] of image_clue_0: new image image_clue_1 (29x38).", ObservationData { images: vec![shown], ..Default::default() });
        let (text, prnu) = run("prnu", "image_clue_2", serde_json::json!({"anomaly_z": 1.5}), &[]);
        conv.push_observation(text, ObservationData { evidence: vec![prnu], error: Some("Error: a later failure".into()), ..Default::default() });
        let ev = read_evidence(&conv, &FusionConfig::default());
        assert_eq!(ev.features.get("srm.anomaly_z"), Some(&4.5));
        assert_eq!(ev.features.get("probe.prnu.anomaly_z"), Some(&1.5));
        assert_eq!(ev.regions.len(), 2);
        assert_eq!(ev.regions[0].1, [1, 2, 30, 40]);
        // The name comes from the observation's data, not its text (which names another image here).
        assert_eq!(ev.focus_image.as_deref(), Some("image_clue_2"));
        assert_eq!(ev.failures, vec!["Error: a later failure".to_string()]);
    }

    #[test]
    fn a_crop_withheld_for_size_is_still_probed_by_name() {
        // Under `serve`'s per-turn pixel limit a large zoom is withheld: no pixels, but a name.
        let mut conv = Conversation::default();
        conv.push_observation("[not shown: image_clue_4 — …]", ObservationData { withheld: vec!["image_clue_4".into()], ..Default::default() });
        assert_eq!(read_evidence(&conv, &FusionConfig::default()).focus_image.as_deref(), Some("image_clue_4"));
        // An action that showed nothing (a failed crop) keeps the earlier focus.
        conv.push_observation("Error: crop needs bbox", ObservationData { error: Some("Error: crop needs bbox".into()), ..Default::default() });
        let ev = read_evidence(&conv, &FusionConfig::default());
        assert_eq!(ev.focus_image.as_deref(), Some("image_clue_4"));
        assert_eq!(ev.failures.len(), 1);
    }

    #[test]
    fn operator_text_without_evidence_is_not_read() {
        // A tool message that only looks like operator output (code printing it) adds nothing.
        let mut conv = Conversation::default();
        conv.push(Role::Tool, "[srm on image_clue_0] summary\nstats: {\"anomaly_z\": 4.5}", vec![]);
        assert!(read_evidence(&conv, &FusionConfig::default()).features.is_empty());
    }
}

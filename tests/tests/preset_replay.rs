//! Each preset replays real recorded outputs of its agent
//! (`tests/fixtures/presets/<name>/recorded.jsonl`; sources in
//! `tests/fixtures/presets/SOURCES.md`) through the replay policy and the agent
//! loop configured by the preset, and every message must be read as the
//! agent's own harness read it (`harness_parse`): the same kind of action, the
//! same tool name and arguments, the same code, the same answer. Tool calls
//! must also reach a tool (no "unknown tool", no rejected argument).

use std::path::PathBuf;
use std::sync::Arc;

use image::{Rgb, RgbImage};
use serde_json::{Map, Value};
use trutheye_core::executors::{HybridExecutor, NoneExecutor, RegistryExecutor};
use trutheye_core::preset::Preset;
use trutheye_core::{run_episode, Action, AgentConfig, CodeSource, EpisodeInput, Executor, FormatError, ImageBuf, NoArtifacts, Registry, Trajectory};
use trutheye_model::ReplayPolicy;
use trutheye_plugin_std as std_ops;
use trutheye_sandbox::{PvrExecutor, PvrLimits};

/// One line of a `recorded.jsonl`.
struct Recorded {
    source: String,
    message: String,
    harness: Value,
}

fn fixtures(name: &str) -> Vec<Recorded> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/presets").join(name).join("recorded.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
            let field = |k: &str| v.get(k).cloned().unwrap_or_else(|| panic!("{}:{}: no `{k}`", path.display(), i + 1));
            Recorded {
                source: field("source").as_str().unwrap_or_default().to_string(),
                message: field("message").as_str().unwrap_or_else(|| panic!("{}:{}: message is not a string", path.display(), i + 1)).to_string(),
                harness: field("harness_parse"),
            }
        })
        .collect()
}

/// Every standard operator, in process, plus the preset's aliases.
fn registry(config: &AgentConfig) -> Arc<Registry> {
    let mut r = Registry::new();
    r.register_native::<std_ops::fft_residual::FftResidual>();
    r.register_native::<std_ops::dwt::DwtSubbands>();
    r.register_native::<std_ops::resampling::Resampling>();
    r.register_native::<std_ops::dct_highpass::DctHighpass>();
    r.register_native::<std_ops::srm::Srm>();
    r.register_native::<std_ops::bayar::Bayar>();
    r.register_native::<std_ops::prnu::Prnu>();
    r.register_native::<std_ops::sobel::Sobel>();
    r.register_native::<std_ops::laplacian::Laplacian>();
    r.register_native::<std_ops::jpeg_ghost::JpegGhost>();
    r.register_native::<std_ops::median_traces::MedianTraces>();
    r.register_native::<std_ops::local_correlation::LocalCorrelation>();
    r.register_native::<std_ops::ela::Ela>();
    r.register_native::<std_ops::jpeg_quality::JpegQuality>();
    r.add_aliases(&config.tools.aliases).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(r)
}

fn executor(strategy: &str) -> Box<dyn Executor> {
    match strategy {
        "pvr" => Box::new(PvrExecutor::new(PvrLimits::default())),
        "hybrid" => Box::new(HybridExecutor::new(PvrExecutor::new(PvrLimits::default()))),
        "registry" => Box::new(RegistryExecutor),
        _ => Box::new(NoneExecutor),
    }
}

/// A 2000x2000 photo-like image: recorded boxes of real outputs fall inside it.
fn photo() -> Arc<ImageBuf> {
    let mut s = 5u32;
    let img = RgbImage::from_fn(2000, 2000, |x, y| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        let v = ((x / 10 + y / 10) as i32 + ((s >> 28) as i32 - 8)).clamp(0, 255) as u8;
        Rgb([v, v / 2 + 40, 255 - v])
    });
    Arc::new(ImageBuf::derived(img, "photo.png"))
}

/// Why `action` is not what the harness read, if it is not.
fn mismatch(action: &Action, harness: &Value) -> Option<String> {
    let kind = harness.get("kind").and_then(Value::as_str).unwrap_or("");
    let same_code = |code: &str| {
        let want = harness.get("code").and_then(Value::as_str).or_else(|| harness.pointer("/arguments/code").and_then(Value::as_str));
        match want {
            Some(w) if w.trim() != code.trim() => Some(format!("code {code:?}, harness {w:?}")),
            _ => None,
        }
    };
    match (kind, action) {
        ("code", Action::Code { code, .. }) => same_code(code),
        // A code tool (`code_image_tool`) is a tool call to its harness and a code action here.
        ("tool_call", Action::Code { code, source: CodeSource::ToolCall { name }, .. }) => {
            let want = harness.get("name").and_then(Value::as_str).unwrap_or("");
            if want != name { Some(format!("code tool {name:?}, harness {want:?}")) } else { same_code(code) }
        }
        ("tool_call", Action::ToolCall { name, arguments }) => {
            let want = harness.get("name").and_then(Value::as_str).unwrap_or("");
            let want_args = harness.get("arguments").cloned().unwrap_or(Value::Object(Map::new()));
            if want != name {
                Some(format!("tool {name:?}, harness {want:?}"))
            } else if want_args != Value::Object(arguments.clone()) {
                Some(format!("arguments {arguments:?}, harness {want_args}"))
            } else {
                None
            }
        }
        ("answer", Action::Answer(a)) => match harness.get("label").and_then(Value::as_str) {
            Some(l) if l != a.label.as_str() => Some(format!("label {}, harness {l}", a.label.as_str())),
            _ => None,
        },
        (kind, other) => Some(format!("harness read {kind}, trutheye read {}", other.kind())),
    }
}

/// Replays a preset's recordings, episode by episode (consecutive lines of one
/// source), and returns (messages, read as the harness read them, failures).
fn replay(name: &str) -> (usize, usize, Vec<String>) {
    let preset = Preset::resolve(name, &AgentConfig::default_config()).unwrap_or_else(|e| panic!("{e}"));
    let registry = registry(&preset.config);
    let recorded = fixtures(name);
    let mut episodes: Vec<Vec<&Recorded>> = Vec::new();
    for r in &recorded {
        match episodes.last_mut() {
            Some(e) if e[0].source == r.source => e.push(r),
            _ => episodes.push(vec![r]),
        }
    }
    let (mut same, mut unlabelled, mut failures) = (0, 0, Vec::new());
    for episode in &episodes {
        let mut policy = ReplayPolicy::new(episode.iter().map(|r| r.message.clone().into_bytes()).collect());
        let mut exec = executor(&preset.meta.strategy);
        let input = EpisodeInput { id: name.into(), images: vec![photo()] };
        let t: Trajectory = run_episode(&mut policy, exec.as_mut(), input, &preset.config, registry.clone(), &mut NoArtifacts);
        for (i, r) in episode.iter().enumerate() {
            let why = match t.turns.get(i) {
                None => Some("the loop stopped before this message".to_string()),
                Some(turn) => match (&turn.action, &turn.format_error) {
                    // The harness took the answer's text as it is (a VQA answer);
                    // trutheye finds the same answer and refuses it only because
                    // it names no verdict label, which is a forensic run's rule.
                    (_, Some(FormatError::BadAnswer { text })) if same_answer_text(text, &r.harness) => {
                        unlabelled += 1;
                        None
                    }
                    (_, Some(fe)) => Some(format!("format error: {fe}")),
                    (Some(a), None) => mismatch(a, &r.harness).or_else(|| unreached_tool(a, turn)),
                    (None, None) => Some("no action".into()),
                },
            };
            match why {
                None => same += 1,
                Some(w) => failures.push(format!("{} turn {i}: {w}", r.source)),
            }
        }
    }
    if unlabelled > 0 {
        println!("{name}: {unlabelled} answers name no verdict label (answers to non-forensic questions)");
    }
    (recorded.len(), same, failures)
}

/// Whether a refused answer's text is the one the harness extracted (the
/// refusal keeps the first 80 characters).
fn same_answer_text(refused: &str, harness: &Value) -> bool {
    let want = harness.get("text").and_then(Value::as_str).unwrap_or("").trim();
    harness.get("kind").and_then(Value::as_str) == Some("answer") && !want.is_empty() && want.chars().take(80).collect::<String>().trim() == refused.trim()
}

/// A tool call whose name or arguments the registry refused.
fn unreached_tool(action: &Action, turn: &trutheye_core::Turn) -> Option<String> {
    let Action::ToolCall { .. } = action else { return None };
    let text = turn.observation.as_ref().map(|o| o.text.as_str()).unwrap_or("");
    (text.contains("unknown tool") || text.contains("invalid arguments")).then(|| format!("the call did not reach a tool: {text}"))
}

fn check(name: &str) {
    let (n, same, failures) = replay(name);
    println!("{name}: {same} of {n} recorded messages read as the harness read them");
    assert!(n > 0, "{name}: no recorded messages");
    assert!(failures.is_empty(), "{name}: {} of {n} differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn deepeyes_recordings_replay_as_deepeyes_read_them() {
    check("deepeyes");
}

#[test]
fn thyme_recordings_replay_as_thyme_read_them() {
    check("thyme");
}

#[test]
fn pyvision_recordings_replay_as_pyvision_read_them() {
    check("pyvision");
}

#[test]
fn trutheye2_recordings_replay_as_trutheye2_read_them() {
    check("trutheye2");
}

/// ForenAgent has no public recorded outputs (see SOURCES.md), so nothing is
/// replayed; instead every tool title of its paper (§3.2.1, and the short
/// names of §4.5-4.6) must reach trutheye's operator under the preset, and the
/// twelve forensic titles must be the tools listed to the model.
#[test]
fn forenagent_paper_tool_titles_reach_operators() {
    let preset = Preset::resolve("forenagent", &AgentConfig::default_config()).unwrap_or_else(|e| panic!("{e}"));
    let registry = registry(&preset.config);
    let titles = [
        ("FFT High-Frequency Residual", "fft_residual"),
        ("DWT High-Frequency Subbands", "dwt_subbands"),
        ("Resampling Periodicity", "resampling"),
        ("DCT-based High-Pass Filter", "dct_highpass"),
        ("SRM", "srm"),
        ("Bayar Constrained Convolution", "bayar"),
        ("PRNU (Photo-Response Non-Uniformity)", "prnu"),
        ("Sobel Edge Detector", "sobel"),
        ("Laplacian High-Pass", "laplacian"),
        ("JPEG Ghost", "jpeg_ghost"),
        ("Median Filtering Traces", "median_traces"),
        ("Local Correlation Map", "local_correlation"),
    ];
    let short = [("FFT", "fft_residual"), ("Bayar filter", "bayar"), ("DCT high-pass filtering", "dct_highpass"), ("PRNU residual", "prnu"), ("PRNU", "prnu"), ("Bayar", "bayar"), ("Cropping", "crop"), ("Enhancement", "enhance")];
    for (title, op) in titles.iter().chain(short.iter()) {
        let r = registry.resolve(title, &Map::new()).unwrap_or_else(|e| panic!("{title}: {e:?}"));
        assert_eq!(r.name, *op, "{title}");
    }
    let listed: Vec<&str> = preset.config.tools.aliases.iter().filter(|a| a.listed).map(|a| a.name.as_str()).collect();
    assert_eq!(listed, titles.iter().map(|(t, _)| *t).collect::<Vec<_>>());
}

/// CodeVision has no public model output to replay (its data are on Hugging
/// Face, its README shows cases as images), so this checks the harness format
/// its tool schema and SFT data define (configs/presets/research/codevision.md
/// §3): a hermes `<tool_call>` of `code_image_tool` with `code`, `description`
/// and `image_index` is code for image `image_index`, and the preset shows the
/// model that schema and CodeVision's tool-response text.
#[test]
fn codevision_preset_reads_its_code_tool_format() {
    let preset = Preset::resolve("codevision", &AgentConfig::default_config()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(preset.meta.strategy, "pvr");
    let system = &preset.config.prompts.pvr.system;
    assert!(system.starts_with("You are an advanced MLLM"), "sp.txt first");
    assert!(system.contains(r#""name": "code_image_tool""#) && system.contains(r#""required": ["code", "description", "image_index"]"#));
    let msg = "<think>The sign is small; zoom in.</think>\n<tool_call>\n{\"name\": \"code_image_tool\", \"arguments\": {\"code\": \"result = image.crop((10, 20, 110, 220))\", \"description\": \"Zoom in on the sign\", \"image_index\": 1}}\n</tool_call>";
    let parsed = trutheye_core::protocol::parse(msg.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
    match parsed.action {
        Action::Code { code, image_index, source } => {
            assert_eq!(code, "result = image.crop((10, 20, 110, 220))");
            assert_eq!(image_index, Some(1));
            assert!(matches!(source, CodeSource::ToolCall { ref name } if name == "code_image_tool"), "{source:?}");
        }
        other => panic!("expected code, got {other:?}"),
    }
    let template = preset.config.observation.template.as_deref().expect("observation template");
    assert!(template.starts_with("<tool_response>{observation}\nHere is the processed image."), "{template}");
    assert_eq!(preset.config.budget.max_turns, 12);
}

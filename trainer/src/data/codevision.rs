//! `trutheye data codevision`: CodeVision-style ShareGPT samples → ms-swift agent
//! SFT samples, deleting failure samples as TruthEYE2's stage 1 does: every code
//! action is re-executed in our sandbox and a sample with any failing action is
//! dropped, so the model never learns code our executor cannot run.
//!
//! Input (assumed CodeVision layout, one object per line):
//! `{"conversations": [{"from": "system|human|gpt|tool", "value": "..."}], "images": ["rel/path.jpg"]}`.
//! `gpt` turns call the code tool inside `<tool_call>{"name": "code_image_tool",
//! "arguments": {"code": "...", "image_index": 0}}</tool_call>`; `tool` turns hold
//! the result. `<image>` tags in `system`/`human` turns are the input images (loaded
//! as `image_clue_0..`); tags in `tool` turns are images the code produced. A sample
//! with no `<image>` tag at all gets one per image prepended to its first human turn.

use crate::TrainError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use trutheye_core::{Action, CodeSource, EpisodeState, ExecLimits, FormatError, ImageBuf, Registry};
use std::time::Duration;

use trutheye_sandbox::{Dialect, PvrBackend, PvrEngine};

use super::report::ConversionReport;
use super::swift::{code_arguments, code_tool_schema, count_image_tags, text_before_tool_call, tool_call_content, SwiftMessage, SwiftSample, IMAGE_TAG};
use super::{existing_absolute, path_string, write_jsonl};

/// The options of `trutheye data codevision`.
#[derive(Debug)]
pub struct CodeVisionArgs {
    /// CodeVision-style ShareGPT JSONL.
    pub input: PathBuf,
    /// Folder the samples' relative image paths are resolved against.
    pub images_root: PathBuf,
    /// Output JSONL (ms-swift `messages` / `images` / `tools`).
    pub out: PathBuf,
    /// Do not re-execute the code (only structural checks).
    pub no_exec: bool,
    /// Largest input image in pixels (decompression-bomb guard).
    pub max_pixels: u64,
    /// Which backend re-executes the code (the CLI's default: python when set
    /// up, as the model wrote it for CPython; else the interpreter in-process:
    /// the data is the user's own).
    pub backend: PvrBackend,
    /// The interpreter for the python backend (`None`: the discovered one).
    pub python: Option<PathBuf>,
    /// The python backend's harness rules.
    pub dialect: Dialect,
}

/// Conversion options.
#[derive(Clone, Debug)]
pub struct CodeVisionOptions {
    /// Where relative image paths are resolved.
    pub images_root: PathBuf,
    /// Re-execute every code action in the sandbox.
    pub exec: bool,
    /// Pixel cap for loading input images.
    pub max_pixels: u64,
    /// Where code is re-executed.
    pub engine: PvrEngine,
}

/// The line is not JSON or not the expected shape.
pub const DROP_UNPARSEABLE: &str = "unparseable line";
/// An image file does not exist.
pub const DROP_MISSING_IMAGE: &str = "missing image";
/// An input image exists but does not decode (or exceeds the pixel cap).
pub const DROP_UNREADABLE_IMAGE: &str = "unreadable image";
/// `<image>` tags and `images` disagree.
pub const DROP_TAG_MISMATCH: &str = "image tags do not match images";
/// A code action names an image that does not exist at that point.
pub const DROP_INDEX: &str = "image index out of range";
/// A gpt turn the protocol parser rejects, a non-code tool, or a tool turn without a call.
pub const DROP_MALFORMED: &str = "malformed tool call";
/// The sample does not end with an assistant turn (nothing to train on last).
pub const DROP_NO_FINAL: &str = "does not end with an assistant turn";
/// A code action fails in the sandbox.
pub const DROP_CODE_FAILS: &str = "code fails in the sandbox";

type Drop = (&'static str, String);

/// Runs `trutheye data codevision`.
pub fn run(args: &CodeVisionArgs, registry: Arc<Registry>) -> Result<ConversionReport, TrainError> {
    let text = trutheye_core::input::read_text_bounded(&args.input, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| TrainError::Data(format!("{}: cannot read: {}", args.input.display(), e.detail())))?;
    let engine = PvrEngine::build(args.backend, args.python.as_deref(), args.dialect, || Err(trutheye_sandbox::SandboxError::Worker("data codevision runs the interpreter in-process, not in a worker".to_string())), Duration::from_secs(10))?;
    if !args.no_exec {
        engine.warm_up()?;
    }
    tracing::info!(backend = %engine.describe(), "re-executing code");
    let opts = CodeVisionOptions { images_root: args.images_root.clone(), exec: !args.no_exec, max_pixels: args.max_pixels, engine };
    let mut report = ConversionReport::new("codevision", &path_string(&args.out));
    let samples = convert(&text, &opts, registry, &mut report);
    write_jsonl(&args.out, &samples)?;
    Ok(report)
}

/// Converts every non-empty line of `text`; drops are counted with `line N: ...` details.
pub fn convert(text: &str, opts: &CodeVisionOptions, registry: Arc<Registry>, report: &mut ConversionReport) -> Vec<SwiftSample> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        report.read += 1;
        match convert_line(line, opts, &registry) {
            Ok(s) => out.push(s),
            Err((reason, detail)) => report.drop(reason, Some(format!("line {}: {reason}: {detail}", i + 1))),
        }
    }
    report.kept += out.len();
    out
}

/// A code action to re-execute: (code, image_index).
type CodeAction = (String, Option<usize>);

fn convert_line(line: &str, opts: &CodeVisionOptions, registry: &Arc<Registry>) -> Result<SwiftSample, Drop> {
    let v: Value = serde_json::from_str(line).map_err(|e| (DROP_UNPARSEABLE, format!("not JSON: {e}")))?;
    let turns = read_turns(&v)?;
    let images = read_images(&v, &opts.images_root)?;
    let total_tags: usize = turns.iter().map(|(_, val)| count_image_tags(val)).sum();
    let input_tags: usize = turns.iter().filter(|(from, _)| matches!(from.as_str(), "system" | "human" | "user")).map(|(_, val)| count_image_tags(val)).sum();
    let (prepend, inputs) = match total_tags {
        0 => (images.len(), images.len()),
        n if n == images.len() => (0, input_tags),
        n => return Err((DROP_TAG_MISMATCH, format!("{n} <image> tag(s) for {} image(s)", images.len()))),
    };
    let mut messages = Vec::new();
    let mut code_actions: Vec<CodeAction> = Vec::new();
    let mut tool_names: Vec<String> = Vec::new();
    let (mut response_role, mut prepended) = (None::<&str>, prepend == 0);
    for (k, (from, value)) in turns.iter().enumerate() {
        match from.as_str() {
            "system" => messages.push(SwiftMessage::new("system", value.clone())),
            "human" | "user" => {
                let content = if prepended { value.clone() } else { format!("{}{value}", IMAGE_TAG.repeat(prepend)) };
                prepended = true;
                messages.push(SwiftMessage::new("user", content));
            }
            "gpt" | "assistant" => match trutheye_core::protocol::parse(value.as_bytes()) {
                Ok(p) => match p.action {
                    Action::Code { code, image_index, source: CodeSource::ToolCall { name } } => {
                        let before = text_before_tool_call(value);
                        if !before.is_empty() {
                            messages.push(SwiftMessage::new("assistant", before));
                        }
                        messages.push(SwiftMessage::new("tool_call", tool_call_content(&name, &code_arguments(&code, image_index))));
                        if !tool_names.contains(&name) {
                            tool_names.push(name);
                        }
                        code_actions.push((code, image_index));
                        response_role = Some("tool_response");
                    }
                    // PyVision-style `<code>`: kept whole, the result comes back as a user turn.
                    Action::Code { code, image_index, source: CodeSource::Tag } => {
                        messages.push(SwiftMessage::new("assistant", value.clone()));
                        code_actions.push((code, image_index));
                        response_role = Some("user");
                    }
                    Action::ToolCall { name, .. } => return Err((DROP_MALFORMED, format!("turn {k}: `{name}` is not a code tool"))),
                    Action::Answer(_) => messages.push(SwiftMessage::new("assistant", value.clone())),
                },
                // Plain prose, or an `<answer>` that is not a forensic label (CodeVision
                // answers general visual questions), is a valid assistant turn.
                Err(FormatError::NoAction | FormatError::BadAnswer { .. }) => messages.push(SwiftMessage::new("assistant", value.clone())),
                Err(e) => return Err((DROP_MALFORMED, format!("turn {k}: {e}"))),
            },
            "tool" | "observation" | "function" => match response_role.take() {
                Some(role) => messages.push(SwiftMessage::new(role, value.clone())),
                None => return Err((DROP_MALFORMED, format!("turn {k}: tool turn without a preceding tool call"))),
            },
            other => return Err((DROP_UNPARSEABLE, format!("turn {k}: unknown role `{other}`"))),
        }
    }
    if messages.last().map(|m| m.role.as_str()) != Some("assistant") {
        return Err((DROP_NO_FINAL, "last turn is not from gpt".into()));
    }
    if opts.exec {
        execute(&code_actions, images.get(..inputs).unwrap_or(&images), opts.max_pixels, registry, &opts.engine)?;
    } else if let Some((k, i)) = code_actions.iter().enumerate().find_map(|(k, (_, idx))| idx.filter(|&i| i >= inputs).map(|i| (k, i))) {
        return Err((DROP_INDEX, format!("code action {k}: image_index {i} but {inputs} input image(s)")));
    }
    let tools: Vec<Value> = tool_names.iter().map(|n| code_tool_schema(n)).collect();
    Ok(SwiftSample { messages, images: images.iter().map(|p| path_string(p)).collect(), tools: serde_json::to_string(&tools).unwrap_or_else(|_| "[]".into()) })
}

fn read_turns(v: &Value) -> Result<Vec<(String, String)>, Drop> {
    let conv = v.get("conversations").and_then(Value::as_array).ok_or((DROP_UNPARSEABLE, "no `conversations` list".to_string()))?;
    conv.iter()
        .enumerate()
        .map(|(k, t)| {
            let field = |f: &str| t.get(f).and_then(Value::as_str).map(str::to_string);
            match (field("from"), field("value")) {
                (Some(from), Some(value)) => Ok((from.to_ascii_lowercase(), value)),
                _ => Err((DROP_UNPARSEABLE, format!("turn {k}: needs string `from` and `value`"))),
            }
        })
        .collect()
}

fn read_images(v: &Value, root: &Path) -> Result<Vec<PathBuf>, Drop> {
    let list = match v.get("images") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err((DROP_UNPARSEABLE, "`images` must be a list of paths".into())),
    };
    list.iter()
        .map(|im| {
            let rel = im.as_str().ok_or((DROP_UNPARSEABLE, "`images` must be a list of paths".to_string()))?;
            let p = Path::new(rel);
            let joined = if p.is_absolute() { p.to_path_buf() } else { root.join(p) };
            existing_absolute(&joined).ok_or((DROP_MISSING_IMAGE, joined.display().to_string()))
        })
        .collect()
}

/// Runs the sample's code actions in order in one sandbox episode (variables and
/// created images carry over, as when the model ran); the first failure drops it.
fn execute(actions: &[CodeAction], inputs: &[PathBuf], max_pixels: u64, registry: &Arc<Registry>, engine: &PvrEngine) -> Result<(), Drop> {
    if actions.is_empty() {
        return Ok(());
    }
    let mut bufs = Vec::new();
    for p in inputs {
        let im = ImageBuf::open(p, max_pixels).map_err(|e| (DROP_UNREADABLE_IMAGE, e.to_string()))?;
        bufs.push(Arc::new(im));
    }
    let mut state = EpisodeState::new(bufs, registry.clone(), ExecLimits::default());
    let mut exec = engine.pvr();
    for (k, (code, idx)) in actions.iter().enumerate() {
        if let Some(i) = idx.filter(|&i| i >= state.images.len()) {
            return Err((DROP_INDEX, format!("code action {k}: image_index {i} but {} image(s)", state.images.len())));
        }
        let action = Action::Code { code: code.clone(), image_index: *idx, source: CodeSource::ToolCall { name: "code_image_tool".into() } };
        let obs = exec.execute(&action, &mut state);
        if let Some(err) = obs.error {
            let first = err.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string();
            return Err((DROP_CODE_FAILS, format!("code action {k}: {first}")));
        }
    }
    Ok(())
}

//! `trutheye data sft`: recorded trajectories → ms-swift agent SFT samples.
//!
//! Registry tool calls and code-tool calls (CodeVision/TruthEYE2 style) become
//! `assistant` (the text before `<tool_call>`, when any) + `tool_call` +
//! `tool_response`; `<code>` actions (PyVision/ForenAgent style) stay whole in the
//! `assistant` message and their observation comes back as a `user` message, as
//! those models were trained; format-error turns likewise (the feedback as `user`).

use crate::TrainError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use trutheye_core::executors::tool_list;
use trutheye_core::trajectory::ObservationRecord;
use trutheye_core::{Action, CodeSource, Label, Registry, Strategy, Trajectory};

use super::report::ConversionReport;
use super::swift::{code_arguments, code_tool_schema, text_before_tool_call, tool_call_content, with_images, SwiftMessage, SwiftSample, IMAGE_TAG};
use super::{existing_absolute, path_string, write_jsonl};
use trutheye_eval::{Dataset, Sample};
use trutheye_eval::rewards::label_correct;

/// Which episodes to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SftFilter {
    /// Every episode that ends with the model's answer.
    None,
    /// The answer's label matches the manifest truth and was not forced.
    Correct,
    /// ForenAgent's distillation filter: correct, no format errors, every action in
    /// proper `<code>`/`<tool_call>` tags, at least one tool action, and for tampered
    /// truths an answer that names a region (heuristic: a non-empty explanation or a box).
    Forenagent,
}

/// The options of `trutheye data sft`.
#[derive(Debug)]
pub struct SftArgs {
    /// `trajectories.jsonl` files (from `analyze --out` or eval runs).
    pub trajectories: Vec<PathBuf>,
    /// The dataset the episode ids come from (manifest or folder): the truth for the filters.
    pub data: PathBuf,
    /// Output JSONL (ms-swift `messages` / `images` / `tools`).
    pub out: PathBuf,
    /// Episode filter.
    pub filter: SftFilter,
}

/// Drop reasons (stable strings: tests and scripts match them).
pub const DROP_UNPARSEABLE: &str = "unparseable trajectory line";
/// The id is not in the dataset, so the filter cannot judge it.
pub const DROP_UNKNOWN_ID: &str = "id not in the dataset";
/// The loop decided, not the model.
pub const DROP_FORCED: &str = "forced verdict";
/// Label differs from the truth.
pub const DROP_WRONG: &str = "wrong label";
/// A turn did not parse.
pub const DROP_FORMAT: &str = "format errors";
/// A recorded action does not re-parse to the same action from the raw message.
pub const DROP_UNTAGGED: &str = "action outside <code>/<tool_call> tags";
/// No code or tool action at all.
pub const DROP_NO_TOOL: &str = "no tool use";
/// Tampered truth, answer with neither explanation nor box (heuristic).
pub const DROP_UNNAMED: &str = "tampered answer names no region (heuristic)";
/// The last turn is not an answer.
pub const DROP_NO_ANSWER: &str = "no final answer (ends on an observation)";
/// The input image file cannot be found.
pub const DROP_NO_IMAGE: &str = "input image not found";
/// Note: observation images without a saved file.
pub const NOTE_NOT_SAVED: &str = "observation images not saved (run with --out)";
/// Note: saved observation images whose file is gone.
pub const NOTE_MISSING: &str = "observation image files missing";

/// Runs `trutheye data sft`: reads, converts, writes, returns the report.
pub fn run(args: &SftArgs, registry: &Registry) -> Result<ConversionReport, TrainError> {
    let ds = Dataset::load(&args.data)?;
    let mut report = ConversionReport::new("sft", &path_string(&args.out));
    let mut trajectories = Vec::new();
    for file in &args.trajectories {
        let text = trutheye_core::input::read_text_bounded(file, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| TrainError::Data(format!("{}: cannot read: {}", file.display(), e.detail())))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str::<Trajectory>(line) {
                Ok(t) => trajectories.push(t),
                Err(e) => {
                    report.read += 1;
                    report.drop(DROP_UNPARSEABLE, Some(format!("{} line {}: {e}", file.display(), i + 1)));
                }
            }
        }
    }
    let samples = convert(&trajectories, &ds, args.filter, registry, &mut report);
    write_jsonl(&args.out, &samples)?;
    Ok(report)
}

/// Converts the episodes that pass `filter`; adds them to `read`, `kept` and the
/// drop reasons of `report`.
pub fn convert(trajectories: &[Trajectory], ds: &Dataset, filter: SftFilter, registry: &Registry, report: &mut ConversionReport) -> Vec<SwiftSample> {
    let truth: HashMap<&str, &Sample> = ds.samples.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut out = Vec::new();
    for t in trajectories {
        let sample = truth.get(t.id.as_str()).copied();
        let outcome = check_filter(t, sample, filter).and_then(|()| to_swift(t, sample, registry, report));
        match outcome {
            Ok(s) => out.push(s),
            Err(reason) => report.drop(reason, None),
        }
    }
    report.read += trajectories.len();
    report.kept += out.len();
    out
}

/// The filter decision: `Err(reason)` drops the episode.
pub fn check_filter(t: &Trajectory, sample: Option<&Sample>, filter: SftFilter) -> Result<(), &'static str> {
    if filter == SftFilter::None {
        return Ok(());
    }
    let sample = sample.ok_or(DROP_UNKNOWN_ID)?;
    if t.verdict.forced {
        return Err(DROP_FORCED);
    }
    if !label_correct(t.verdict.label, sample.label) {
        return Err(DROP_WRONG);
    }
    if filter == SftFilter::Correct {
        return Ok(());
    }
    if t.stats.format_errors > 0 || t.turns.iter().any(|turn| turn.format_error.is_some() || turn.action.is_none()) {
        return Err(DROP_FORMAT);
    }
    // Re-parse the raw text: a recorded action must come from its own tags, not
    // from a hand-edited or differently-parsed record.
    for turn in &t.turns {
        let reparsed = trutheye_core::protocol::parse(turn.assistant.as_bytes()).ok().map(|p| p.action);
        if reparsed.as_ref() != turn.action.as_ref() {
            return Err(DROP_UNTAGGED);
        }
    }
    if !t.turns.iter().any(|turn| matches!(turn.action, Some(Action::Code { .. } | Action::ToolCall { .. }))) {
        return Err(DROP_NO_TOOL);
    }
    if sample.label.three_class() == Some(Label::Tampered) {
        // ForenAgent keeps tampered answers that "explicitly name the forged object".
        // We cannot judge naming; a non-empty explanation or a box in the model's
        // own answer is the proxy (a heuristic, documented as such).
        let names = t.turns.iter().rev().find_map(|turn| match &turn.action {
            Some(Action::Answer(a)) => Some(a.bbox.is_some() || a.explanation.as_deref().is_some_and(|e| !e.trim().is_empty())),
            _ => None,
        });
        if names != Some(true) {
            return Err(DROP_UNNAMED);
        }
    }
    Ok(())
}

/// One trajectory in the ms-swift agent format (see the module docs).
pub fn to_swift(t: &Trajectory, sample: Option<&Sample>, registry: &Registry, report: &mut ConversionReport) -> Result<SwiftSample, &'static str> {
    if !matches!(t.turns.last().and_then(|turn| turn.action.as_ref()), Some(Action::Answer(_))) {
        return Err(DROP_NO_ANSWER);
    }
    let mut images = Vec::new();
    for (k, meta) in t.images.iter().enumerate() {
        // The origin is relative to where the episode ran; the manifest's own path
        // for image 0 is the fallback when that was another directory.
        let found = existing_absolute(Path::new(&meta.origin)).or_else(|| sample.filter(|_| k == 0).and_then(|s| existing_absolute(&s.image)));
        images.push(path_string(&found.ok_or(DROP_NO_IMAGE)?));
    }
    let user = format!("{}{}", IMAGE_TAG.repeat(t.images.len()), t.user_prompt);
    let mut messages = vec![SwiftMessage::new("system", t.system_prompt.clone()), SwiftMessage::new("user", user)];
    let (mut not_saved, mut missing) = (0, 0);
    let mut code_tools: Vec<String> = Vec::new();
    for turn in &t.turns {
        let mut observation = |role: &str, messages: &mut Vec<SwiftMessage>, images: &mut Vec<String>| {
            let obs = turn.observation.as_ref();
            let content = observation_content(obs, images, &mut not_saved, &mut missing);
            messages.push(SwiftMessage::new(role, content));
        };
        match &turn.action {
            Some(Action::Code { code, image_index, source: CodeSource::ToolCall { name } }) => {
                push_call(&mut messages, &turn.assistant, name, &code_arguments(code, *image_index));
                if !code_tools.contains(name) {
                    code_tools.push(name.clone());
                }
                observation("tool_response", &mut messages, &mut images);
            }
            Some(Action::ToolCall { name, arguments }) => {
                push_call(&mut messages, &turn.assistant, name, arguments);
                observation("tool_response", &mut messages, &mut images);
            }
            Some(Action::Answer(_)) => messages.push(SwiftMessage::new("assistant", turn.assistant.clone())),
            // `<code>` actions and format errors: the whole message, then what the
            // model read back as a user turn.
            Some(Action::Code { source: CodeSource::Tag, .. }) | None => {
                messages.push(SwiftMessage::new("assistant", turn.assistant.clone()));
                observation("user", &mut messages, &mut images);
            }
        }
    }
    report.note(NOTE_NOT_SAVED, not_saved);
    report.note(NOTE_MISSING, missing);
    let mut tools: Vec<Value> = if Strategy::of_executor(&t.strategy).calls_tools() { tool_list(registry, true) } else { Vec::new() };
    tools.extend(code_tools.iter().map(|n| code_tool_schema(n)));
    let tools = serde_json::to_string(&tools).unwrap_or_else(|_| "[]".into());
    Ok(SwiftSample { messages, images, tools })
}

fn push_call(messages: &mut Vec<SwiftMessage>, assistant: &str, name: &str, arguments: &serde_json::Map<String, Value>) {
    let before = text_before_tool_call(assistant);
    if !before.is_empty() {
        messages.push(SwiftMessage::new("assistant", before));
    }
    messages.push(SwiftMessage::new("tool_call", tool_call_content(name, arguments)));
}

/// Observation text plus one `<image>` per shown image whose saved file exists
/// (appended to `images`); counts the images left out.
fn observation_content(obs: Option<&ObservationRecord>, images: &mut Vec<String>, not_saved: &mut usize, missing: &mut usize) -> String {
    let Some(obs) = obs else { return String::new() };
    let mut shown = 0;
    for im in &obs.images {
        match im.path.as_deref().map(|p| existing_absolute(Path::new(p))) {
            Some(Some(abs)) => {
                images.push(path_string(&abs));
                shown += 1;
            }
            Some(None) => *missing += 1,
            None => *not_saved += 1,
        }
    }
    with_images(&obs.text, shown)
}

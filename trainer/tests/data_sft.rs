//! `data sft`: hand-written trajectories over a dataset the test makes, converted
//! under each filter; exact messages for two episodes and exact drop counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde_json::{json, Value};
use trutheye_core::executors::tool_list;
use trutheye_core::Registry;
use trutheye_trainer::data::sft::{run, SftArgs, SftFilter};
use trutheye_trainer::data::swift::code_tool_schema;
use trutheye_trainer::data::{SwiftMessage, SwiftSample};

/// A turn whose action is what the protocol parser makes of `assistant`.
fn turn(index: usize, assistant: &str, obs: Option<(&str, Vec<Value>)>) -> Value {
    let parsed = trutheye_core::protocol::parse(assistant.as_bytes());
    let (action, format_error) = match parsed {
        Ok(p) => (serde_json::to_value(p.action).expect("action"), Value::Null),
        Err(e) => (Value::Null, serde_json::to_value(e).expect("error")),
    };
    let observation = obs.map(|(text, images)| json!({"text": text, "images": images, "artifacts": [], "bbox_candidate": null, "error": null, "tools": []}));
    json!({"index": index, "assistant": assistant, "think": null, "action": action, "format_error": format_error,
           "observation": observation, "policy_ms": 0, "exec_ms": 0, "tokens": null})
}

fn trajectory(id: &str, origin: &str, strategy: &str, turns: Vec<Value>, label: &str, forced: bool) -> String {
    let format_errors = turns.iter().filter(|t| !t["format_error"].is_null()).count();
    json!({"schema": 1, "id": id, "policy": "replay", "strategy": strategy,
           "images": [{"origin": origin, "format": "png", "width": 16, "height": 12, "color": "rgb8", "file_bytes": 100, "jpeg_quality": null, "jpeg_subsampling": null}],
           "system_prompt": format!("SYS {strategy}"), "user_prompt": "Is this image authentic?",
           "turns": turns,
           "verdict": {"label": label, "scores": null, "bbox": null, "mask": null, "explanation": null, "forced": forced, "forced_reason": if forced { json!("budget") } else { Value::Null }},
           "stats": {"turns": 0, "tool_calls": 0, "format_errors": format_errors, "wall_ms": 0, "policy_ms": 0, "exec_ms": 0},
           "started_unix_ms": 0})
    .to_string()
}

fn saved(dir: &Path, name: &str) -> Value {
    json!({"name": "image_clue_1", "width": 16, "height": 12, "path": dir.join(name).to_string_lossy()})
}

struct Fixture {
    dir: tempfile::TempDir,
    trajectories: PathBuf,
}

fn abs(p: PathBuf) -> String {
    p.canonicalize().expect("exists").to_string_lossy().into_owned()
}

fn setup() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("images")).expect("mkdir");
    for id in ["a", "b", "c"] {
        RgbImage::from_pixel(16, 12, Rgb([90, 90, 90])).save(d.join(format!("images/{id}.png"))).expect("save");
    }
    RgbImage::from_pixel(16, 12, Rgb([9, 9, 9])).save(d.join("srm.png")).expect("save");
    std::fs::write(
        d.join("manifest.jsonl"),
        "{\"id\":\"a\",\"image\":\"images/a.png\",\"label\":\"tampered\",\"mask\":null,\"bbox\":[4,2,8,6]}\n\
         {\"id\":\"b\",\"image\":\"images/b.png\",\"label\":\"authentic\",\"mask\":null,\"bbox\":null}\n\
         {\"id\":\"c\",\"image\":\"images/c.png\",\"label\":\"synthetic\",\"mask\":null,\"bbox\":null}\n",
    )
    .expect("manifest");
    let a = d.join("images/a.png").to_string_lossy().into_owned();
    let srm_call = "<think>Check noise.</think>\n<tool_call>{\"name\": \"srm\", \"arguments\": {}}</tool_call>";
    let code_call = "<think>Crop.</think><tool_call>{\"name\":\"code_image_tool\",\"arguments\":{\"code\":\"print(1)\",\"image_index\":0}}</tool_call>";
    let unsaved = json!({"name": "image_clue_2", "width": 8, "height": 8, "path": null});
    let pvr_turns = || vec![turn(0, "<think>Look.</think><code>print(image.size)</code>", Some(("(16, 12)", vec![]))), turn(1, "<answer>authentic</answer>", None)];
    let mut untagged = pvr_turns();
    untagged[0]["action"]["code"] = json!("print(image.size)  # edited");
    let lines = [
        // 1. tampered, correct, registry + code tool, answer with a box: passes every filter.
        trajectory("a", &a, "registry", vec![
            turn(0, srm_call, Some(("srm says X", vec![saved(d, "srm.png")]))),
            turn(1, code_call, Some(("1", vec![unsaved]))),
            turn(2, "<answer>{\"label\": \"tampered\", \"bbox\": [4, 2, 8, 6]}</answer>", None),
        ], "tampered", false),
        // 2. authentic, correct, <code> (origin elsewhere: the manifest image is used).
        trajectory("b", "elsewhere/b.png", "pvr", pvr_turns(), "authentic", false),
        // 3. wrong label.
        trajectory("c", "elsewhere/c.png", "pvr", pvr_turns(), "authentic", false),
        // 4. forced: no answer turn.
        trajectory("a", &a, "pvr", vec![turn(0, "<code>print(1)</code>", Some(("1", vec![])))], "tampered", true),
        // 5. tampered, correct, but the answer names no region.
        trajectory("a", &a, "pvr", vec![turn(0, "<code>print(1)</code>", Some(("1", vec![]))), turn(1, "<answer>tampered</answer>", None)], "tampered", false),
        // 6. a format error, then a correct answer.
        trajectory("b", "elsewhere/b.png", "pvr", vec![
            turn(0, "I think it is fine", Some(("Format error: no action", vec![]))),
            turn(1, "<code>print(2)</code>", Some(("2", vec![]))),
            turn(2, "<answer>authentic</answer>", None),
        ], "authentic", false),
        // 7. id not in the dataset.
        trajectory("zzz", "elsewhere/zzz.png", "pvr", pvr_turns(), "authentic", false),
        // 8. recorded action differs from what its text parses to.
        trajectory("b", "elsewhere/b.png", "pvr", untagged, "authentic", false),
    ];
    let mut text = lines.join("\n");
    text.push_str("\n{\"schema\": 1, \"id\": \n");
    let trajectories = d.join("trajectories.jsonl");
    std::fs::write(&trajectories, text).expect("write");
    Fixture { dir, trajectories }
}

fn convert(f: &Fixture, filter: SftFilter) -> (Vec<SwiftSample>, trutheye_trainer::data::ConversionReport) {
    let out = f.dir.path().join(format!("out-{filter:?}.jsonl"));
    let args = SftArgs { trajectories: vec![f.trajectories.clone()], data: f.dir.path().join("manifest.jsonl"), out: out.clone(), filter };
    let report = run(&args, &Registry::new()).expect("run");
    let text = std::fs::read_to_string(&out).expect("out");
    (text.lines().map(|l| serde_json::from_str(l).expect("row")).collect(), report)
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn m(role: &str, content: &str) -> SwiftMessage {
    SwiftMessage::new(role, content)
}

fn expected_a(f: &Fixture) -> SwiftSample {
    let d = f.dir.path();
    let mut tools = tool_list(&Registry::new(), true);
    tools.push(code_tool_schema("code_image_tool"));
    SwiftSample {
        messages: vec![
            m("system", "SYS registry"),
            m("user", "<image>Is this image authentic?"),
            m("assistant", "<think>Check noise.</think>"),
            m("tool_call", r#"{"name":"srm","arguments":{}}"#),
            m("tool_response", "srm says X\n<image>"),
            m("assistant", "<think>Crop.</think>"),
            m("tool_call", r#"{"name":"code_image_tool","arguments":{"code":"print(1)","image_index":0}}"#),
            m("tool_response", "1"),
            m("assistant", "<answer>{\"label\": \"tampered\", \"bbox\": [4, 2, 8, 6]}</answer>"),
        ],
        images: vec![abs(d.join("images/a.png")), abs(d.join("srm.png"))],
        tools: serde_json::to_string(&tools).expect("json"),
    }
}

fn expected_b(f: &Fixture) -> SwiftSample {
    SwiftSample {
        messages: vec![
            m("system", "SYS pvr"),
            m("user", "<image>Is this image authentic?"),
            m("assistant", "<think>Look.</think><code>print(image.size)</code>"),
            m("user", "(16, 12)"),
            m("assistant", "<answer>authentic</answer>"),
        ],
        images: vec![abs(f.dir.path().join("images/b.png"))],
        tools: "[]".into(),
    }
}

#[test]
fn forenagent_filter() {
    let f = setup();
    let (out, r) = convert(&f, SftFilter::Forenagent);
    assert_eq!(out, vec![expected_a(&f), expected_b(&f)]);
    assert_eq!((r.read, r.kept), (9, 2));
    assert_eq!(
        r.dropped,
        counts(&[
            ("action outside <code>/<tool_call> tags", 1),
            ("forced verdict", 1),
            ("format errors", 1),
            ("id not in the dataset", 1),
            ("tampered answer names no region (heuristic)", 1),
            ("unparseable trajectory line", 1),
            ("wrong label", 1),
        ])
    );
    assert_eq!(r.notes, counts(&[("observation images not saved (run with --out)", 1)]));
    assert_eq!(r.details.len(), 1);
    assert!(r.details[0].ends_with("trajectories.jsonl line 9: EOF while parsing a value at line 1 column 20"), "{}", r.details[0]);
}

#[test]
fn correct_filter() {
    let f = setup();
    let (out, r) = convert(&f, SftFilter::Correct);
    assert_eq!((r.read, r.kept), (9, 5));
    assert_eq!(out[0], expected_a(&f));
    assert_eq!(out[1], expected_b(&f));
    // The format-error turn: the raw message, then the feedback as a user turn.
    assert_eq!(out[3].messages[2..4], [m("assistant", "I think it is fine"), m("user", "Format error: no action")]);
    assert_eq!(r.dropped, counts(&[("forced verdict", 1), ("id not in the dataset", 1), ("unparseable trajectory line", 1), ("wrong label", 1)]));
}

#[test]
fn no_filter_still_needs_an_answer_and_an_image() {
    let f = setup();
    let (out, r) = convert(&f, SftFilter::None);
    assert_eq!((r.read, r.kept), (9, 6));
    assert_eq!(out.iter().map(|s| s.messages.len()).collect::<Vec<_>>(), vec![9, 5, 5, 5, 7, 5]);
    assert_eq!(r.dropped, counts(&[("input image not found", 1), ("no final answer (ends on an observation)", 1), ("unparseable trajectory line", 1)]));
    let table = r.to_table();
    assert!(table.starts_with("data sft: 9 read, 6 kept, 3 dropped → "), "{table}");
    assert!(table.contains("| note: observation images not saved (run with --out) | 1 |"), "{table}");
}

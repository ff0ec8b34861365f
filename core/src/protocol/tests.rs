//! Parser unit tests: every rule of the grammar in the module documentation.

use super::*;
use crate::action::Answer;
use crate::verdict::VerdictLabel;

fn ok(s: &str) -> ParsedMessage {
    match parse(s.as_bytes()) {
        Ok(m) => m,
        Err(e) => panic!("{s:?} failed: {e:?}"),
    }
}

fn err(s: &str) -> FormatError {
    match parse(s.as_bytes()) {
        Ok(m) => panic!("{s:?} parsed: {m:?}"),
        Err(e) => e,
    }
}

fn label(s: &str) -> VerdictLabel {
    match ok(s).action {
        Action::Answer(a) => a.label,
        other => panic!("{s:?}: not an answer: {other:?}"),
    }
}

#[test]
fn protocol_basic_shapes() {
    let m = ok("<think> look </think><code>```python\nx = 1\n```</code>");
    assert_eq!(m.think.as_deref(), Some("look"));
    assert_eq!(m.action, Action::Code { code: "x = 1".into(), image_index: None, source: CodeSource::Tag });
    assert_eq!(label("<answer>Tampered.</answer>"), VerdictLabel::Tampered);
    assert_eq!(label("<ANSWER>fake, tampered</ANSWER>"), VerdictLabel::Tampered);
    assert_eq!(label("<answer>图像存在篡改痕迹</answer>"), VerdictLabel::Tampered);
    assert!(matches!(err("<answer>未篡改</answer>"), FormatError::BadAnswer { .. }));
    assert!(matches!(err("<answer>not tampered</answer>"), FormatError::BadAnswer { .. }));
    assert_eq!(
        err("<answer>x</answer><answer>y</answer>"),
        FormatError::MultipleActions { count: 2, kinds: "answer, answer".into() }
    );
    // Prefilled think.
    let m = ok("reasoning here</think>\n<answer>real</answer>");
    assert_eq!(m.think.as_deref(), Some("reasoning here"));
    // Forgotten </think>.
    let m = ok("<think>hmm <answer>synthetic</answer>");
    assert_eq!(m.think.as_deref(), Some("hmm"));
    assert_eq!(err("<think>hmm"), FormatError::UnclosedTag { tag: "think".into() });
    // Qwen2-VL box tokens.
    let m = ok("<answer>tampered <|box_start|>(12,30),(200,310)<|box_end|></answer>");
    match m.action {
        Action::Answer(a) => {
            assert_eq!(a.bbox, Some([12.0, 30.0, 200.0, 310.0]));
            assert_eq!(a.explanation, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn boxed_answers_are_read_inside_the_box() {
    assert_eq!(label("<answer>\n\\boxed{'C. tampered'}\n</answer>"), VerdictLabel::Tampered);
    assert_eq!(label("<answer>The answer is \\boxed{\\text{synthetic}}.</answer>"), VerdictLabel::Synthetic);
    assert_eq!(err("<answer>\\boxed{68\\%}</answer>"), FormatError::BadAnswer { text: "68\\%".into() });
}

#[test]
fn protocol_strip_fences() {
    assert_eq!(strip_fences("```python\na\nb\n```"), "a\nb");
    assert_eq!(strip_fences("```\na\n```"), "a");
    assert_eq!(strip_fences("```print(1)```"), "print(1)");
    assert_eq!(strip_fences("Here:\n```py\na\n```\nthanks"), "a");
    assert_eq!(strip_fences("```python\na"), "a");
    assert_eq!(strip_fences("a\n```"), "a");
    assert_eq!(strip_fences("```python\n```"), "");
    assert_eq!(strip_fences("plain"), "plain");
    assert_eq!(strip_outer_fence("```json\n{\"c\": \"```py\\nx\\n```\"}\n```"), "{\"c\": \"```py\\nx\\n```\"}");
    assert_eq!(strip_outer_fence("{\"a\": 1}"), "{\"a\": 1}");
    assert_eq!(strip_outer_fence("```{\"a\": 1}```"), "{\"a\": 1}");
}

/// Deterministic 64-bit LCG (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const PIECES: &[&str] = &[
    "<think>", "</think>", "<code>", "</code>", "<tool_call>", "</tool_call>", "<answer>", "</answer>", "```",
    "```python\n", "{", "}", "[", "]", "\"", "'", ":", ",", "name", "arguments", "code", "img_idx", "tampered",
    "real", "fake", "篡改", "未", "é", "🙂", "<", ">", "/", "\n", " ", "0", "-1", "1e999", "NaN", "[[[[",
];

fn corpus_texts() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in include_str!("../../tests/corpus/model_outputs.jsonl").lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            out.push(t.as_bytes().to_vec());
        }
    }
    out
}

#[test]
fn protocol_fuzz_never_panics() {
    let mut rng = Lcg(0x7275_7468_6579_6521);
    // Pure random bytes, and random splices of protocol pieces.
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse(&bytes);
        let mut s = Vec::new();
        for _ in 0..rng.below(24) {
            if rng.below(4) == 0 {
                s.push(rng.next() as u8);
            } else {
                s.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
            }
        }
        let _ = parse(&s);
    }
    // Mutations and truncations of the corpus.
    let corpus = corpus_texts();
    assert!(!corpus.is_empty());
    for _ in 0..4000 {
        let mut t = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(4) {
            let n = t.len();
            match rng.below(6) {
                0 => t.truncate(rng.below(n + 1)),
                1 if n > 0 => {
                    let i = rng.below(n);
                    t[i] = rng.next() as u8;
                }
                2 if n > 0 => {
                    t.remove(rng.below(n));
                }
                3 => {
                    let i = rng.below(n + 1);
                    let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                    t.splice(i..i, piece.iter().copied());
                }
                4 if n > 0 => {
                    let a = rng.below(n);
                    let b = a + rng.below(n - a + 1);
                    let chunk = t[a..b].to_vec();
                    t.extend_from_slice(&chunk);
                }
                _ => {
                    let i = rng.below(n + 1);
                    t.drain(..i);
                }
            }
        }
        if let Ok(m) = parse(&t) {
            // Whatever parses must serialize.
            assert!(serde_json::to_string(&m).is_ok());
        }
    }
    // Deep nesting must not overflow the stack.
    let deep = format!("<tool_call>{}</tool_call>", "[".repeat(100_000));
    assert!(matches!(parse(deep.as_bytes()), Err(FormatError::InvalidToolCall { .. })));
    let deep = format!("<answer>{}tampered</answer>", "{".repeat(100_000));
    assert!(parse(deep.as_bytes()).is_ok());
    // Pathological inputs stay fast (no quadratic scans).
    let start = std::time::Instant::now();
    for body in ["[".repeat(200_000), "(1,".repeat(60_000), "<".repeat(200_000), "<think>".repeat(30_000)] {
        let _ = parse(format!("<answer>{body}</answer>").as_bytes());
        let _ = parse(body.as_bytes());
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
}

#[test]
fn unclosed_last_tool_call_is_the_stop_string_case() {
    // DeepEyes: generation stops at `</tool_call>` and the stop string is dropped.
    let m = ok("<think>Too small to read.</think>\n<tool_call>\n{\"name\": \"image_zoom_in_tool\", \"arguments\": {\"bbox_2d\": [1, 2, 30, 40]}}\n");
    assert_eq!(m.think.as_deref(), Some("Too small to read."));
    match m.action {
        Action::ToolCall { name, arguments } => {
            assert_eq!(name, "image_zoom_in_tool");
            assert_eq!(arguments.get("bbox_2d"), Some(&serde_json::json!([1, 2, 30, 40])));
        }
        other => panic!("not a tool call: {other:?}"),
    }
    // A fenced body and a code tool work the same way.
    assert!(matches!(ok("<tool_call>```json\n{\"name\": \"python\", \"arguments\": {\"code\": \"print(1)\"}}\n```").action, Action::Code { .. }));
    // Truncated JSON (out of tokens), a tag after it, or other unclosed actions stay errors.
    let unclosed = |t: &str| FormatError::UnclosedTag { tag: t.into() };
    assert_eq!(err("<tool_call>{\"name\": \"srm\", \"argu"), unclosed("tool_call"));
    assert_eq!(err("<tool_call>{\"name\": \"srm\"}\n<answer>real</answer>"), unclosed("tool_call"));
    assert_eq!(err("<tool_call>{\"name\": \"srm\"} <think>more"), unclosed("tool_call"));
    assert_eq!(err("<tool_call>"), unclosed("tool_call"));
    assert_eq!(err("<code>print(1)"), unclosed("code"));
    assert_eq!(err("<answer>real"), unclosed("answer"));
    // Two actions are still two actions.
    assert!(matches!(err("<code>x=1</code><tool_call>{\"name\": \"srm\"}"), FormatError::MultipleActions { count: 2, .. }));
}

fn malformed(s: &str) -> String {
    match err(s) {
        FormatError::MalformedAnswer { detail } => detail,
        other => panic!("{s:?}: expected MalformedAnswer, got {other:?}"),
    }
}

fn answer(s: &str) -> Answer {
    match ok(s).action {
        Action::Answer(a) => a,
        other => panic!("{s:?}: not an answer: {other:?}"),
    }
}

#[test]
fn non_finite_or_out_of_range_scores_are_format_errors() {
    for body in [
        r#"{"label": "tampered", "scores": {"authentic": 0.1, "synthetic": 0.1, "tampered": NaN}}"#,
        r#"{"label": "tampered", "scores": {"tampered": Infinity}}"#,
        r#"{"label": "tampered", "scores": {"tampered": -Infinity}}"#,
        r#"{"label": "fake", "scores": {"fake": NaN}}"#,
        r#"{"label": "tampered", "scores": {"tampered": null}}"#,
        r#"{"label": "tampered", "scores": {"tampered": "high"}}"#,
        r#"{"scores": {"authentic": 0.2, "tampered": NaN}}"#,
        r#"[{"label": "tampered", "bbox_2d": [1, 2, 3, 4], "scores": {"tampered": NaN}}]"#,
    ] {
        let d = malformed(&format!("<answer>{body}</answer>"));
        assert!(d.starts_with("the score for `"), "{body}: {d}");
        assert!(d.contains("finite numbers between 0 and 1"), "{body}: {d}");
    }
    let d = malformed(r#"<answer>{"label": "tampered", "scores": {"tampered": NaN}}</answer>"#);
    assert_eq!(d, "the score for `tampered` is NaN, Infinity or null; scores must be finite numbers between 0 and 1");
    for (body, shown) in [(r#"{"label": "tampered", "scores": {"tampered": 85}}"#, "85"), (r#"{"label": "real", "scores": {"real": -0.5}}"#, "-0.5")] {
        let d = malformed(&format!("<answer>{body}</answer>"));
        assert!(d.contains(&format!("is {shown}; scores are probabilities between 0 and 1")), "{body}: {d}");
    }
    // The feedback the model gets names the problem.
    let fb = err(r#"<answer>{"label": "tampered", "scores": {"tampered": Infinity}}</answer>"#).feedback();
    assert!(fb.starts_with("Format error: the answer is malformed: the score for `tampered`"), "{fb}");
    // Valid scores still parse: the bounds are inclusive, strings hold numbers,
    // other keys and a single number are ignored.
    let a = answer(r#"<answer>{"label": "tampered", "scores": {"authentic": 0, "synthetic": "0.25", "tampered": 1, "confidence": 97}}</answer>"#);
    assert_eq!(a.scores, Some(crate::verdict::Scores { authentic: 0.0, synthetic: 0.25, tampered: 1.0 }));
    assert_eq!(answer(r#"<answer>{"label": "tampered", "score": 0.9}</answer>"#).scores, None);
}

#[test]
fn malformed_boxes_are_format_errors() {
    for (body, says) in [
        (r#"{"label": "tampered", "bbox_2d": [10, 20, 30]}"#, "`bbox_2d` must be [x1, y1, x2, y2]: four finite numbers, x1 <= x2 and y1 <= y2, in image_clue_0 pixels; it holds 3 numbers"),
        (r#"{"label": "tampered", "bbox": [10, 20, 30, 40, 50]}"#, "`bbox` must be [x1, y1, x2, y2]"),
        (r#"{"label": "tampered", "bbox": [10, 20, NaN, 40]}"#, "it holds NaN, Infinity or null"),
        (r#"{"label": "tampered", "bbox": [10, 20, Infinity, 40]}"#, "it holds NaN, Infinity or null"),
        (r#"{"label": "tampered", "bbox": [30, 20, 10, 40]}"#, "it is [30, 20, 10, 40]"),
        (r#"{"label": "tampered", "bbox": [10, 40, 30, 20]}"#, "it is [10, 40, 30, 20]"),
        (r#"{"label": "tampered", "box": [[10, 20], [30]]}"#, "`box` must be [x1, y1, x2, y2]: four finite numbers, x1 <= x2 and y1 <= y2, in image_clue_0 pixels; it holds 3 numbers"),
        (r#"{"label": "tampered", "bbox": {"x1": 1, "y1": 2, "x2": 3}}"#, "`y2` is missing"),
        (r#"{"label": "tampered", "bbox": "10, 20, 30"}"#, "it is the text \"10, 20, 30\""),
        (r#"{"label": "tampered", "bbox": true}"#, "it is true"),
        (r#"[{"label": "tampered", "bbox_2d": [1, 2, 3, 4]}, {"label": "tampered", "bbox_2d": [1, 2, 3]}]"#, "it holds 3 numbers"),
        ("tampered, bbox_2d: [10, 20, 30]", "`bbox_2d` must be [x1, y1, x2, y2]: four finite numbers, x1 <= x2 and y1 <= y2, in image_clue_0 pixels; it holds 3 numbers"),
        ("tampered [200, 30, 100, 310]", "it is [200, 30, 100, 310]"),
    ] {
        let d = malformed(&format!("<answer>{body}</answer>"));
        assert!(d.contains(says), "{body}: {d}");
    }
    let fb = err(r#"<answer>{"label": "tampered", "bbox_2d": [10, 20, 30]}</answer>"#).feedback();
    assert!(fb.contains("`bbox_2d` must be [x1, y1, x2, y2]") && fb.contains("it holds 3 numbers"), "{fb}");
    // No box is not a malformed box; a text that talks about a box is not one either.
    for body in [
        r#"{"label": "authentic", "bbox": null}"#,
        r#"{"label": "authentic", "bbox_2d": []}"#,
        r#"{"label": "authentic", "bbox": "none"}"#,
        "authentic, no box (all consistent)",
        "tampered, the box [x1, y1, x2, y2] is unknown",
    ] {
        assert_eq!(answer(&format!("<answer>{body}</answer>")).bbox, None, "{body}");
    }
    assert_eq!(answer(r#"<answer>{"label": "tampered", "bbox": [5, 5, 5, 9]}</answer>"#).bbox, Some([5.0, 5.0, 5.0, 9.0]));
    assert_eq!(answer("<answer>tampered, bbox_2d: [10, 20, 30, 40]</answer>").bbox, Some([10.0, 20.0, 30.0, 40.0]));
}

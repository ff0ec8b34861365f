//! Model code with `\r\n` or `\r`-only line endings runs as Python runs it
//! (universal newlines), in the embedded interpreter and in the CPython
//! backend (which is skipped without a Python environment, as in
//! `python_backend.rs`).

mod common;
mod python_support;

use std::sync::Arc;
use std::time::Duration;

use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, Registry};
use trutheye_sandbox::lexer::{normalize_newlines, tokenize};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

/// The same program with each line ending; it uses blocks, a continuation
/// line, a bracketed line break and a triple-quoted string spanning lines.
fn programs() -> Vec<(&'static str, String)> {
    let lines = [
        "x = 1",
        "if x:",
        "    y = x + \\",
        "        1",
        "else:",
        "    y = 0",
        "s = '''a",
        "b'''",
        "z = [1,",
        "     2]",
        "print(image_clue_0.size, y, repr(s), sum(z))",
    ];
    ["\n", "\r\n", "\r"].iter().map(|nl| (*nl, lines.join(nl) + nl)).collect()
}

const EXPECTED: &str = "(64, 48) 2 'a\\nb' 3";

#[test]
fn cr_and_crlf_line_endings_run_in_the_interpreter() {
    for (nl, code) in programs() {
        let mut st = EpisodeState::new(vec![Arc::new(ImageBuf::derived(common::gradient(), "test"))], Arc::new(Registry::new()), ExecLimits::default());
        let mut ex = PvrExecutor::new(PvrLimits::default());
        let o = ex.run_code(&code, None, &mut st);
        assert_eq!(o.error, None, "{nl:?}: {}", o.text);
        assert_eq!(o.text, EXPECTED, "{nl:?}");
    }
    // Line numbers count `\r` and `\r\n` line ends as one line each.
    let mut st = EpisodeState::new(vec![Arc::new(ImageBuf::derived(common::gradient(), "test"))], Arc::new(Registry::new()), ExecLimits::default());
    let o = PvrExecutor::new(PvrLimits::default()).run_code("x = 1\r\ry = 2\r\nundefined_name\r", None, &mut st);
    assert!(o.error.as_deref().is_some_and(|e| e.starts_with("NameError")), "{:?}", o.error);
    assert!(o.text.contains("line 4"), "{}", o.text);
}

#[test]
fn the_lexer_sees_one_newline_per_line_end() {
    assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    assert!(matches!(normalize_newlines("a\nb"), std::borrow::Cow::Borrowed(_)));
    let lf = tokenize("if x:\n    y = 1\n").expect("lf");
    let cr = tokenize("if x:\r    y = 1\r").expect("cr");
    let crlf = tokenize("if x:\r\n    y = 1\r\n").expect("crlf");
    assert_eq!(cr, lf);
    assert_eq!(crlf, lf);
}

#[test]
fn cr_and_crlf_line_endings_run_in_python() {
    let Some(py) = python_support::python() else { return };
    let b = python_support::backend(&py, Duration::from_secs(20));
    for (nl, code) in programs() {
        let mut st = python_support::state(ImageBuf::derived(common::gradient(), "test"), Registry::new());
        let o = python_support::run_once(&b, &mut st, &code);
        assert_eq!(o.error, None, "{nl:?}: {}", o.text);
        assert_eq!(o.text, EXPECTED, "{nl:?}");
    }
}

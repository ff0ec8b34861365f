//! Real model code (sandbox/tests/python_corpus: snippets that PyVision, Thyme,
//! CodeVision, TruthEYE2 and DeepEyes models wrote, each with its source)
//! through `trutheye pvr --backend python`, compared with real CPython under
//! each project's own harness conventions (reference.py), by compare.py.
//! Skipped without a Python environment, unless TRUTHEYE_PYTHON_REQUIRED is set (CI).

use std::path::PathBuf;
use std::process::Command;

fn python() -> Option<PathBuf> {
    let found = std::env::var_os("TRUTHEYE_PYTHON").map(PathBuf::from).or_else(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pvr-venv/bin/python3");
        p.is_file().then_some(p)
    });
    if found.is_none() {
        assert!(std::env::var_os("TRUTHEYE_PYTHON_REQUIRED").is_none(), "TRUTHEYE_PYTHON_REQUIRED is set but no Python environment was found");
        eprintln!("skipped: no Python environment");
    }
    found
}

#[test]
fn real_model_code_agrees_with_real_python() {
    let Some(py) = python() else { return };
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sandbox/tests/python_corpus");
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(&py)
        .arg(corpus.join("compare.py"))
        .args(["--bin", env!("CARGO_BIN_EXE_trutheye"), "--json", "--jobs", "2"])
        .arg("--python")
        .arg(&py)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run compare.py");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "compare.py failed: {}\n{}", String::from_utf8_lossy(&run.stderr), stdout);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("summary JSON");
    let n = summary["snippets"].as_u64().unwrap() as usize;
    let agree = summary["agree"].as_u64().unwrap() as usize;
    eprintln!("agreement {agree}/{n}; by project {}; disagreements: {}", summary["by_project"], summary["disagreements"]);
    assert!(n >= 40, "corpus has {n} snippets");
    // The bar: 95% (one Thyme snippet names its output file with uuid4(),
    // which differs between any two runs of real Python as well).
    assert!(agree * 100 >= n * 95, "{agree}/{n} agree: {}", summary["disagreements"]);
}

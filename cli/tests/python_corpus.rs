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

/// Where bubblewrap cannot make the namespaces (a fake `bwrap` that fails as the
/// real one does on such hosts) or is missing, the backend refuses in one line
/// and runs nothing.
#[test]
fn python_backend_refuses_to_run_unjailed() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    let bwrap = fake.join("bwrap");
    std::fs::write(&bwrap, "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&bwrap, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let marker = dir.path().join("ran");
    let code = dir.path().join("code.py");
    std::fs::write(&code, format!("open({:?}, 'w').write('model code ran')\n", marker.display().to_string())).unwrap();
    let image = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/tampered-dev-033.jpg");
    let path = std::env::var("PATH").unwrap_or_default();
    for (label, path) in [("namespaces refused", format!("{}:{path}", fake.display())), ("no bwrap", dir.path().join("empty").display().to_string())] {
        let o = Command::new(env!("CARGO_BIN_EXE_trutheye"))
            .arg("pvr")
            .arg(&image)
            .arg("--code")
            .arg(&code)
            .args(["--backend", "python", "--python"])
            .arg(&py)
            .env("PATH", path)
            .output()
            .expect("run trutheye");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{label}: {err}");
        assert!(err.contains("never runs") && err.contains("unjailed"), "{label}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{label}: one line: {err}");
        assert!(!marker.exists(), "{label}: the code ran");
    }
}

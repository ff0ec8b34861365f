//! Plugin files that would kill or hang the host (issue 15): a truncated copy of
//! a real plugin (dlopen maps segments past the end of the file: SIGBUS on first
//! touch) and a FIFO named like a plugin (opening it blocks). Both are refused
//! with a reason naming what is wrong, and the good plugin next to them loads.
//!
//! Needs the plugin dylibs from `cargo build --workspace` (the README's test
//! command builds them first).

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use trutheye_core::loader::{check_file, load_dirs, LoadReport};
use trutheye_core::{CoreError, Registry};

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

fn built_std_plugin() -> PathBuf {
    let p = target_dir().join("libtrutheye_plugin_std.so");
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` before the tests (the README's test command does)", p.display());
    p
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// Loads `dir` on a thread; fails if loading blocks (a FIFO) for 10 s.
fn load_within(dir: &Path) -> (LoadReport, Vec<String>) {
    let dir = dir.to_path_buf();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reg = Registry::new();
        let report = load_dirs(&[dir], &mut reg);
        let _ = tx.send((report, reg.names()));
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("plugin loading did not return within 10 s (blocked on a FIFO?)")
}

fn reason<'a>(report: &'a LoadReport, needle: &str) -> &'a str {
    report
        .refused
        .iter()
        .find(|r| r.path.to_string_lossy().contains(needle))
        .map(|r| r.reason.as_str())
        .unwrap_or_else(|| panic!("{needle} was not refused: {report:?}"))
}

#[test]
fn truncated_plugin_and_fifo_are_refused_and_the_rest_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = built_std_plugin();
    std::fs::copy(&good, dir.path().join("libtrutheye_plugin_std.so")).expect("copy plugin");
    let bytes = std::fs::read(&good).expect("read plugin");
    assert!(bytes.len() > 100_000, "plugin is unexpectedly small");
    // `head -c 100000 libtrutheye_plugin_std.so > libtrutheye_plugin_x.so`
    std::fs::write(dir.path().join("libtrutheye_plugin_x.so"), &bytes[..100_000]).expect("write truncated copy");
    mkfifo(&dir.path().join("libtrutheye_plugin_fifo.so"));
    std::fs::write(dir.path().join("libtrutheye_plugin_empty.so"), b"").expect("write empty");

    let (report, names) = load_within(dir.path());

    let loaded: Vec<&str> = report.loaded.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(loaded, ["trutheye-plugin-std"], "{report:?}");
    assert!(names.iter().any(|n| n == "srm"), "std operators registered: {names:?}");

    let truncated = reason(&report, "plugin_x");
    assert!(truncated.starts_with("truncated or corrupt ELF file: ") && truncated.ends_with("but the file has 100000 bytes"), "{truncated}");
    assert!(truncated.contains("segment ") || truncated.contains("section header table"), "{truncated}");
    assert_eq!(reason(&report, "plugin_fifo"), "not a regular file (a FIFO)");
    assert!(reason(&report, "plugin_empty").contains("the file has only 0 bytes"), "{}", reason(&report, "plugin_empty"));
    assert_eq!(report.refused.len(), 3, "{report:?}");
}

#[test]
fn elf_checks_accept_real_plugins_and_refuse_other_kinds() {
    check_file(&built_std_plugin()).expect("a real plugin passes");
    let dir = tempfile::tempdir().expect("tempdir");
    // An executable (this test binary) is ELF for this machine but not a shared library... unless
    // it is a PIE, which is ET_DYN too; either way it must not be refused as truncated.
    let exe = std::env::current_exe().expect("exe");
    if let Err(e) = check_file(&exe) {
        assert!(e.to_string().contains("not a shared library"), "{e}");
    }
    let text = dir.path().join("libtrutheye_plugin_text.so");
    std::fs::write(&text, b"#!/bin/sh\necho not a library\n").expect("write");
    assert_eq!(check_file(&text).unwrap_err(), CoreError::Plugin("not an ELF shared library (no ELF signature)".into()));
    // A header claiming a section table far past the end of the file.
    let mut bytes = std::fs::read(built_std_plugin()).expect("read plugin");
    bytes.truncate(4096);
    let cut = dir.path().join("libtrutheye_plugin_cut.so");
    std::fs::write(&cut, &bytes).expect("write");
    let e = check_file(&cut).unwrap_err().to_string();
    assert!(e.starts_with("truncated or corrupt ELF file") && e.ends_with("but the file has 4096 bytes"), "{e}");
}

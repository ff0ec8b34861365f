//! The `trutheye` binary against hostile inputs (issue 15): a FIFO named like an
//! image, a character device, a huge sparse file, and plugin directories with a
//! truncated plugin and a FIFO named like one. Each run ends quickly with a
//! clear line; nothing hangs, nothing dies of a signal.

#![cfg(target_os = "linux")]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn trutheye() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trutheye"));
    c.env_remove("TRUTHEYE_PLUGIN_PATH").env_remove("RUST_LOG");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the binary; kills it and fails the test if it has not exited within `secs`.
fn run_within(secs: u64, args: &[&str]) -> Output {
    let mut child = trutheye().args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn trutheye");
    let t = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!("trutheye {args:?} did not exit within {secs} s (hung on a FIFO?); stderr: {}", text(&o.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_clean_exit(o: &Output) {
    assert!(o.status.signal().is_none(), "killed by signal {:?}; stderr: {}", o.status.signal(), text(&o.stderr));
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!all.contains("panicked at"), "panic leaked:\n{all}");
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn fifo_image_is_refused_by_analyze_and_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("x.jpg");
    mkfifo(&fifo);
    let want = format!("{}: not a regular file (a FIFO)", fifo.display());

    let o = run_within(30, &["analyze", s(&fifo), "--strategy", "none"]);
    assert_clean_exit(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(&want), "{}", text(&o.stderr));

    let o = run_within(30, &["op", "srm", s(&fifo)]);
    assert_clean_exit(&o);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains(&want), "{}", text(&o.stderr));

    let o = run_within(30, &["analyze", s(&dir.path().join("missing.jpg")), "--config", s(&fifo)]);
    assert_clean_exit(&o);
    assert!(text(&o.stderr).contains("not a regular file (a FIFO)"), "{}", text(&o.stderr));
}

#[test]
fn device_and_oversized_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    // /dev/null first: without the check it is an empty file (a safe failure)
    // where /dev/zero would be read until memory runs out.
    let o = run_within(30, &["op", "srm", "/dev/null"]);
    assert_clean_exit(&o);
    assert!(text(&o.stderr).contains("/dev/null: not a regular file (a character device)"), "{}", text(&o.stderr));
    let o = run_within(30, &["analyze", "/dev/zero", "--strategy", "none"]);
    assert_clean_exit(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/dev/zero: not a regular file (a character device)"), "{}", text(&o.stderr));

    // `printf '\xff\xd8\xff\xe0' > big.jpg; truncate -s 1500M big.jpg`: sparse, no disk used.
    let big = dir.path().join("big.jpg");
    std::fs::write(&big, [0xFF, 0xD8, 0xFF, 0xE0]).expect("write");
    std::fs::OpenOptions::new().write(true).open(&big).expect("open").set_len(1500 << 20).expect("set_len");
    let o = run_within(30, &["op", "srm", s(&big)]);
    assert_clean_exit(&o);
    let e = text(&o.stderr);
    assert!(e.contains("big.jpg: 1.5 GiB (1572864000 bytes) is larger than the input limit of 256 MiB (images.max_file_bytes)"), "{e}");
}

fn built_std_plugin() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_trutheye"));
    let p = exe.parent().expect("bin dir").join("libtrutheye_plugin_std.so");
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` before the tests", p.display());
    p
}

#[test]
fn truncated_and_fifo_plugins_are_reported_and_the_host_lives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("mkdir");
    let bytes = std::fs::read(built_std_plugin()).expect("read plugin");
    // `head -c 100000 libtrutheye_plugin_std.so > dir/libtrutheye_plugin_x.so`
    std::fs::write(plugins.join("libtrutheye_plugin_x.so"), &bytes[..100_000]).expect("write");
    mkfifo(&plugins.join("libtrutheye_plugin_fifo.so"));

    let o = run_within(60, &["plugins", "list", "--plugin-dir", s(&plugins)]);
    assert_clean_exit(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("libtrutheye_plugin_x.so") && out.contains("truncated or corrupt ELF file") && out.contains("but the file has 100000 bytes"), "{out}");
    assert!(out.contains("libtrutheye_plugin_fifo.so") && out.contains("not a regular file (a FIFO)"), "{out}");
    // The plugins next to the binary still load.
    assert!(out.contains("srm"), "{out}");

    // analyze loads plugins too: it warns and goes on.
    let photo = dir.path().join("photo.png");
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90])).save(&photo).expect("write photo");
    let o = run_within(120, &["analyze", s(&photo), "--strategy", "registry", "--plugin-dir", s(&plugins), "--json"]);
    assert_clean_exit(&o);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(e.contains("libtrutheye_plugin_x.so refused: truncated or corrupt ELF file"), "{e}");
}

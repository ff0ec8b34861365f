//! Worker mode: the same observations as in-process, and a host that survives
//! hangs, crashes and a mismatched worker. Needs the built `trutheye` binary
//! (`cargo build --workspace` or `cargo build -p trutheye`).

mod common;

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, Observation, Registry};
use trutheye_sandbox::worker::protocol::{self, Msg};
use trutheye_sandbox::worker::{TEST_HOOKS_ENV, TEST_VERSION_ENV};
use trutheye_sandbox::{PvrExecutor, PvrLimits, WorkerConfig, WorkerExecutor};

/// `target/<profile>/trutheye`, next to this test's `deps` directory.
fn trutheye_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps layout");
    let bin = profile_dir.join(if cfg!(windows) { "trutheye.exe" } else { "trutheye" });
    assert!(bin.is_file(), "{} is missing: run `cargo build --workspace` (or `cargo build -p trutheye`) before these tests", bin.display());
    bin
}

fn config() -> WorkerConfig {
    WorkerConfig::new(trutheye_bin())
}

fn hooks(timeout: Duration) -> WorkerConfig {
    let mut cfg = config();
    cfg.action_timeout = timeout;
    cfg.env.push((TEST_HOOKS_ENV.into(), "1".into()));
    cfg
}

fn gradient() -> RgbImage {
    RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, (x + y) as u8]))
}

fn state() -> EpisodeState {
    EpisodeState::new(vec![Arc::new(ImageBuf::derived(gradient(), "test"))], Arc::new(Registry::new()), ExecLimits::default())
}

fn ok(obs: &Observation) {
    assert!(obs.error.is_none(), "unexpected error: {}", obs.text);
}

#[test]
fn crop_round_trip_matches_in_process() {
    let actions = [
        "c = image.crop((5, 7, 37, 29))\nprint(c.size, c.getpixel((1, 2)))\nresult = c.rotate(90, expand=True)",
        // Variables persist in the same worker; the new image is visible by name.
        "print(c.width, image_clue_1.size)\nresult = None",
        "d = ImageEnhance.Contrast(image_clue_1.crop((2, 3, 12, 20))).enhance(1.7)\nplt.imshow(d)\nplt.show()",
    ];
    let (mut s1, mut s2) = (state(), state());
    let mut local = PvrExecutor::new(PvrLimits::default());
    let mut worker = WorkerExecutor::new(config());
    for (k, code) in actions.iter().enumerate() {
        let l = local.run_code(code, None, &mut s1);
        let r = worker.run_code(code, None, &mut s2);
        ok(&l);
        ok(&r);
        assert_eq!(r.text, l.text, "action {k}");
        assert_eq!(r.bbox_candidate, l.bbox_candidate, "action {k}");
        assert_eq!(r.tools, l.tools, "action {k}");
        assert_eq!(r.images.len(), l.images.len(), "action {k}");
        for (ri, li) in r.images.iter().zip(&l.images) {
            assert_eq!(ri.name, li.name);
            assert_eq!((ri.image.width(), ri.image.height()), (li.image.width(), li.image.height()));
            assert_eq!(ri.image.rgb.as_raw(), li.image.rgb.as_raw(), "pixels differ in action {k}");
            assert_eq!(ri.region_in_root, li.region_in_root);
        }
    }
    assert_eq!(s2.images.len(), 3);
    assert_eq!(s2.images.len(), s1.images.len());
    assert_eq!((s2.images[1].image.width(), s2.images[1].image.height()), (22, 32));
    assert_eq!((s2.images[2].image.width(), s2.images[2].image.height()), (10, 17));
}

#[test]
fn host_added_images_are_synced() {
    let mut s = state();
    let mut worker = WorkerExecutor::new(config());
    ok(&worker.run_code("print(1)", None, &mut s));
    // Another executor (hybrid's registry) adds an image between actions.
    s.add(ImageBuf::derived(RgbImage::from_pixel(3, 5, Rgb([9, 8, 7])), "host"), None).expect("add");
    let obs = worker.run_code("print(image_clue_1.size, image_clue_1.getpixel((2, 4)))", None, &mut s);
    ok(&obs);
    assert_eq!(obs.text, "(3, 5) (9, 8, 7)");
    let obs = worker.run_code("print(img.size)", Some(1), &mut s);
    assert_eq!(obs.text, "(3, 5)");
}

#[test]
fn step_budget_timeout_keeps_the_worker() {
    let mut s = state();
    let mut worker = WorkerExecutor::new(config());
    ok(&worker.run_code("x = 41", None, &mut s));
    let pid = worker.worker_pid();
    let obs = worker.run_code("for i in range(10**9):\n    y = i", None, &mut s);
    let err = obs.error.unwrap_or_default();
    assert!(err.starts_with("TimeoutError: step budget"), "{err}");
    assert_eq!(worker.worker_pid(), pid, "the worker must survive an interpreter timeout");
    let obs = worker.run_code("print(x + 1)", None, &mut s);
    assert_eq!(obs.text, "42");
}

#[test]
fn wall_time_kill_restarts_the_worker() {
    let mut s = state();
    let mut worker = WorkerExecutor::new(hooks(Duration::from_millis(800)));
    ok(&worker.run_code("x = 1\nresult = image.crop((0, 0, 8, 8))", None, &mut s));
    let pid = worker.worker_pid();
    let t = Instant::now();
    let obs = worker.run_code("__hang__", None, &mut s);
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    let err = obs.error.unwrap_or_default();
    assert!(err.starts_with("TimeoutError: the code action exceeded 0.8 s and its worker was restarted"), "{err}");
    assert!(err.contains("variables from earlier actions are lost"), "{err}");
    assert_eq!(worker.worker_pid(), None);
    // The next action runs on a fresh worker that has the images but not the variables.
    let obs = worker.run_code("print(image_clue_1.size)", None, &mut s);
    ok(&obs);
    assert_eq!(obs.text, "(8, 8)");
    assert_ne!(worker.worker_pid(), pid);
    let obs = worker.run_code("print(x)", None, &mut s);
    assert!(obs.error.unwrap_or_default().starts_with("NameError"));
}

#[test]
fn crash_is_reported_and_recovered() {
    let mut s = state();
    let mut worker = WorkerExecutor::new(hooks(Duration::from_secs(10)));
    ok(&worker.run_code("result = image.crop((1, 1, 5, 9))", None, &mut s));
    let obs = worker.run_code("__abort__", None, &mut s);
    let err = obs.error.unwrap_or_default();
    assert!(err.starts_with("SystemError: the sandbox worker died ("), "{err}");
    #[cfg(unix)]
    assert!(err.contains("SIGABRT"), "{err}");
    assert!(err.contains("it was restarted"), "{err}");
    let obs = worker.run_code("print(image_clue_1.size, image.size)", None, &mut s);
    ok(&obs);
    assert_eq!(obs.text, "(4, 8) (64, 48)");
}

#[test]
fn hooks_are_off_without_the_env_var() {
    let mut s = state();
    let mut worker = WorkerExecutor::new(config());
    let obs = worker.run_code("__abort__", None, &mut s);
    let err = obs.error.unwrap_or_default();
    assert!(err.starts_with("NameError"), "{err}");
}

#[test]
fn version_mismatch_is_a_clear_error() {
    let mut cfg = hooks(Duration::from_secs(10));
    cfg.env.push((TEST_VERSION_ENV.into(), "99".into()));
    let mut worker = WorkerExecutor::new(cfg);
    let err = worker.start().expect_err("a version-99 worker must be refused").to_string();
    assert!(err.contains("protocol mismatch") && err.contains("version 99") && err.contains("version 1"), "{err}");
    let obs = worker.run_code("print(1)", None, &mut state());
    let err = obs.error.unwrap_or_default();
    assert!(err.starts_with("SystemError: the sandbox worker could not start: protocol mismatch"), "{err}");
}

#[test]
fn worker_refuses_a_mismatched_host() {
    let mut child = Command::new(trutheye_bin())
        .arg("pvr-worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (hello, _) = protocol::recv(&mut stdout).expect("read").expect("hello");
    assert!(matches!(hello, Msg::Hello { version: 1, .. }), "{hello:?}");
    let bad = Msg::Hello { protocol: protocol::PROTOCOL.into(), version: 2, operators: vec![], limits: None };
    protocol::send(&mut stdin, &bad, &[]).expect("send");
    let (reply, _) = protocol::recv(&mut stdout).expect("read").expect("reply");
    match reply {
        Msg::Error { message } => assert!(message.contains("protocol mismatch") && message.contains("version 2"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let _ = stdin.flush();
    let status = child.wait().expect("wait");
    assert!(!status.success());
}

#[test]
fn missing_executable_is_a_clear_error() {
    let mut worker = WorkerExecutor::new(WorkerConfig::new("/nonexistent/trutheye"));
    let obs = worker.run_code("print(1)", None, &mut state());
    let err = obs.error.unwrap_or_default();
    assert!(err.starts_with("SystemError: the sandbox worker could not start: cannot run /nonexistent/trutheye"), "{err}");
}

#[test]
fn evidence_crosses_the_wire() {
    // What the worker's in-process run recorded reaches the host unchanged.
    let mut st = common::state();
    let obs = PvrExecutor::new(PvrLimits::default()).run_code("r = blocky(image)", None, &mut st);
    ok(&obs);
    assert_eq!(obs.evidence.len(), 1);
    let msg = Msg::Result { text: obs.text, error: None, bbox_candidate: None, tools: vec![], images: vec![], artifacts: vec![], evidence: obs.evidence.clone() };
    let bytes = protocol::encode(&msg, &[]).expect("encode");
    let (back, _) = protocol::recv(&mut bytes.as_slice()).expect("decode").expect("a message");
    let Msg::Result { evidence, .. } = back else { panic!("not a result") };
    assert_eq!(evidence, obs.evidence);
}

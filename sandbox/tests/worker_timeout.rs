//! One wall-time limit in every mode: an engine's worker stops code after the
//! host's timeout (not the interpreter's own 5 s default), and the interpreter
//! stops it before the host kills the worker, so variables survive. Needs the
//! built `trutheye` binary (`cargo build -p trutheye`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use trutheye_core::{Action, CodeSource, EpisodeState, ExecLimits, ImageBuf, Registry};
use trutheye_sandbox::worker::kill_grace;
use trutheye_sandbox::{Dialect, PvrBackend, PvrEngine, WorkerConfig};

fn trutheye_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps layout");
    let bin = profile_dir.join(if cfg!(windows) { "trutheye.exe" } else { "trutheye" });
    assert!(bin.is_file(), "{} is missing: run `cargo build -p trutheye` before these tests", bin.display());
    bin
}

fn code(c: &str) -> Action {
    Action::Code { code: c.into(), image_index: None, source: CodeSource::Tag }
}

#[test]
fn the_worker_interpreter_uses_the_hosts_timeout() {
    for (mode, secs) in [(PvrBackend::InterpWorker, 1.0), (PvrBackend::InterpWorker, 6.0), (PvrBackend::InterpInProcess, 1.0)] {
        let timeout = Duration::from_secs_f64(secs);
        // No step budget: only the wall time can stop the loop.
        let worker = || {
            let mut cfg = WorkerConfig::new(trutheye_bin());
            cfg.limits.max_steps = u64::MAX;
            Ok(cfg)
        };
        let mut engine = PvrEngine::build(mode, None, Dialect::Union, worker, timeout).expect("engine");
        if let PvrEngine::InProcess(limits) = &mut engine {
            limits.max_steps = u64::MAX;
        }
        assert_eq!(engine.code_isolation(), if mode == PvrBackend::InterpWorker { "worker" } else { "in-process (trusted)" });
        let mut ex = engine.pvr();
        assert_eq!(ex.code_isolation(), Some(engine.code_isolation()));
        let img = ImageBuf::derived(RgbImage::from_pixel(8, 8, Rgb([1, 2, 3])), "test");
        let mut st = EpisodeState::new(vec![Arc::new(img)], Arc::new(Registry::new()), ExecLimits::default());
        assert_eq!(ex.execute(&code("x = 41"), &mut st).error, None);
        let started = Instant::now();
        let o = ex.execute(&code("while True:\n    pass"), &mut st);
        let took = started.elapsed();
        let err = o.error.unwrap_or_default();
        assert!(err.starts_with(&format!("TimeoutError: wall-time limit of {secs:.1} s exceeded")), "{mode:?} {secs}: {err}");
        assert!(took >= timeout && took < timeout + Duration::from_millis(1500), "{mode:?} {secs}: took {took:?}");
        // The interpreter stopped the code: the worker and its variables are still there.
        assert_eq!(ex.execute(&code("print(x + 1)"), &mut st).text, "42", "{mode:?} {secs}");
    }
}

#[test]
fn the_kill_comes_a_little_after_the_timeout() {
    assert_eq!(kill_grace(Duration::from_millis(800)), Duration::from_millis(250));
    assert_eq!(kill_grace(Duration::from_secs(2)), Duration::from_millis(500));
    assert_eq!(kill_grace(Duration::from_secs(10)), Duration::from_secs(2));
    assert_eq!(kill_grace(Duration::from_secs(600)), Duration::from_secs(2));
}

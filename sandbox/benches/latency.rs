//! Per-action latency of the PVR sandbox, next to starting a Python process.
//!
//! `cargo bench -p trutheye-sandbox --bench latency` (needs the `trutheye`
//! binary of the same profile, `cargo build --release -p trutheye`; falls back
//! to the other profile's and says so). The action is
//! `result = image.crop((0, 0, 32, 32))` on a 64x64 image, so the numbers are
//! parse + dispatch + (for the worker) protocol overhead, not pixel work.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, Registry};
use trutheye_sandbox::{PvrExecutor, PvrLimits, WorkerConfig, WorkerExecutor};

const CODE: &str = "result = image.crop((0, 0, 32, 32))";
const PY: &str = "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]); r = im.crop((0, 0, 32, 32)); r.load()";

fn main() {
    let Some(exe) = trutheye_bin() else {
        eprintln!("trutheye binary not found next to the bench: run `cargo build --release -p trutheye` first");
        std::process::exit(2);
    };
    let image = Arc::new(ImageBuf::derived(RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8 * 4, y as u8 * 4, 7])), "bench"));
    let limits = ExecLimits { max_images: 100_000, ..ExecLimits::default() };
    let state = || EpisodeState::new(vec![image.clone()], Arc::new(Registry::new()), limits);
    println!("worker binary: {}", exe.display());

    let n_fast = 300;
    let n_slow = 25;
    let mut rows: Vec<(String, usize, Duration)> = Vec::new();

    let mut s = state();
    let mut local = PvrExecutor::new(PvrLimits::default());
    let in_process = median(n_fast, || {
        let obs = local.run_code(CODE, None, &mut s);
        assert!(obs.error.is_none(), "{}", obs.text);
    });
    rows.push(("pvr in-process".into(), n_fast, in_process));

    let mut s = state();
    let mut worker = WorkerExecutor::new(WorkerConfig::new(&exe));
    if let Err(e) = worker.start() {
        eprintln!("worker did not start: {e}");
        std::process::exit(2);
    }
    let first = worker.run_code(CODE, None, &mut s); // sends image_clue_0 once
    assert!(first.error.is_none(), "{}", first.text);
    let warm = median(n_fast, || {
        let obs = worker.run_code(CODE, None, &mut s);
        assert!(obs.error.is_none(), "{}", obs.text);
    });
    drop(worker);
    rows.push(("pvr worker, warm".into(), n_fast, warm));

    let cold = median(n_slow, || {
        let mut s = state();
        let mut w = WorkerExecutor::new(WorkerConfig::new(&exe));
        let obs = w.run_code(CODE, None, &mut s);
        assert!(obs.error.is_none(), "{}", obs.text);
    });
    rows.push(("pvr worker, cold (spawn + plugins + action)".into(), n_slow, cold));

    let dir = std::env::temp_dir().join(format!("trutheye-bench-{}", std::process::id()));
    let png = dir.join("tiny.png");
    let python = python();
    let py_ok = std::fs::create_dir_all(&dir).is_ok() && image.rgb.save(&png).is_ok() && run_python(&python, &png);
    if py_ok {
        let py = median(n_slow, || {
            assert!(run_python(&python, &png));
        });
        rows.push((format!("python3 + Pillow process ({})", python.display()), n_slow, py));
    } else {
        println!("python: {} cannot run Pillow; row skipped", python.display());
    }
    let _ = std::fs::remove_dir_all(&dir);

    let py = rows.iter().find(|r| r.0.starts_with("python")).map(|r| r.2);
    println!("\n{:<70} {:>5} {:>12} {:>14} {:>12}", "per action: result = image.crop((0,0,32,32)) on 64x64", "runs", "median", "x in-process", "python / x");
    for (name, n, d) in &rows {
        let vs_py = py.map(|p| format!("{:.1}", p.as_secs_f64() / d.as_secs_f64())).unwrap_or_else(|| "-".into());
        println!("{:<70} {:>5} {:>12} {:>14.1} {:>12}", name, n, fmt(*d), d.as_secs_f64() / in_process.as_secs_f64(), vs_py);
    }
}

fn median(n: usize, mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[n / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

/// `target/<profile>/trutheye` for this bench's profile, else the other profile's.
fn trutheye_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile = exe.parent()?.parent()?;
    let target = profile.parent()?;
    [profile.to_path_buf(), target.join("release"), target.join("debug")].into_iter().map(|d| d.join("trutheye")).find(|p| p.is_file())
}

fn python() -> PathBuf {
    let venv = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent()?.parent().map(|t| t.join("bench-venv/bin/python")))
        .filter(|p| p.is_file());
    venv.unwrap_or_else(|| PathBuf::from("python3"))
}

fn run_python(python: &Path, png: &Path) -> bool {
    Command::new(python).arg("-c").arg(PY).arg(png).output().is_ok_and(|o| o.status.success())
}

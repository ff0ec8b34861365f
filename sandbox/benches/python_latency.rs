//! Latency of PVR actions on the python backend (CPython in the bubblewrap
//! jail) next to the embedded interpreter and to plain CPython without a jail,
//! in the same run: `cargo bench -p trutheye-sandbox --bench python_latency`
//! (needs the environment `.ci/run` or `trutheye pvr setup` installs; set
//! TRUTHEYE_PYTHON to use another).
//!
//! Two images (1 MP and 12 MP JPEGs, as an episode gets them: encoded bytes
//! plus decoded pixels) and two actions: crop + contrast enhance (returns an
//! image) and a NumPy statistic (prints two numbers). For each: the first
//! action of an episode (a new interpreter forked from the warm template, the
//! image sent over and decoded by Pillow), the first action when the episode
//! was prepared while the model generated (what the agent loop does: the fork
//! and the decode happen during a simulated 300 ms generation, not timed), and
//! warm actions (same episode);
//! plain `python3 -c` (a new process per action: interpreter start, imports,
//! decode, action, as a subprocess-per-call harness pays) and the action timed
//! inside one warm CPython process (the floor: no jail, no protocol).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use trutheye_core::{EpisodeState, ExecLimits, ImageBuf, Registry};
use trutheye_sandbox::python::{env, PythonBackend, PythonConfig};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

const CROP_ENHANCE: &str = "c = image_clue_0.crop((100, 100, 612, 612))\nresult = ImageEnhance.Contrast(c).enhance(1.8)";
const STATISTIC: &str = "a = np.array(image_clue_0)\nprint(round(float(a.mean()), 3), round(float(a[:, :, 0].std()), 3))";

fn main() {
    let python = std::env::var_os("TRUTHEYE_PYTHON").map(PathBuf::from).or_else(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pvr-venv/bin/python3");
        p.is_file().then_some(p)
    }).or_else(|| env::find_python(None));
    let Some(python) = python else {
        eprintln!("no Python environment: run `trutheye pvr setup` or set TRUTHEYE_PYTHON");
        std::process::exit(2);
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = PythonConfig::new(&python);
    cfg.action_timeout = Duration::from_secs(60);
    let backend = PythonBackend::new(cfg).expect("python backend");
    let t = Instant::now();
    backend.start().expect("jail");
    println!("python: {}; jail start (imports numpy, Pillow, cv2, matplotlib, scipy, skimage once): {:.0} ms", python.display(), t.elapsed().as_secs_f64() * 1e3);
    println!("{:<8} {:<13} {:<44} {:>6} {:>9} {:>9}", "image", "action", "how", "n", "p50 ms", "p95 ms");
    let limits = ExecLimits { max_images: 100_000, ..ExecLimits::default() };
    for (label, w, h) in [("1 MP", 1152u32, 864u32), ("12 MP", 4000, 3000)] {
        let path = dir.path().join(format!("bench_{w}x{h}.jpg"));
        RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7 + y) as u8, (y * 3) as u8, ((x ^ y) & 0xff) as u8])).save(&path).expect("jpeg");
        let image = Arc::new(ImageBuf::open(&path, 1 << 26).expect("open"));
        let state = || EpisodeState::new(vec![image.clone()], Arc::new(Registry::new()), limits);
        for (name, code) in [("crop+enhance", CROP_ENHANCE), ("numpy stat", STATISTIC)] {
            let (n_first, n_warm, n_cold) = if w > 2000 { (8, 20, 3) } else { (15, 50, 5) };
            let mut rows: Vec<(&str, usize, Vec<Duration>)> = Vec::new();
            // First action of an episode: fork + image transfer + Pillow decode + action.
            let first = time(n_first, || {
                let mut s = state();
                let mut ex = backend.executor();
                let o = ex.run_code(code, None, &mut s);
                assert!(o.error.is_none(), "{}", o.text);
            });
            rows.push(("python backend, first action of an episode", n_first, first));
            // As in the agent loop: the episode starts (prepare: fork + images sent),
            // the model generates its first turn (here 300 ms), then the first action.
            let prepared: Vec<Duration> = (0..n_first)
                .map(|_| {
                    let mut s = state();
                    let mut ex = backend.executor();
                    trutheye_core::Executor::prepare(&mut ex, &s);
                    std::thread::sleep(Duration::from_millis(300));
                    let t = Instant::now();
                    let o = ex.run_code(code, None, &mut s);
                    assert!(o.error.is_none(), "{}", o.text);
                    t.elapsed()
                })
                .collect();
            rows.push(("python backend, first action after prepare", n_first, prepared));
            let mut s = state();
            let mut ex = backend.executor();
            ex.run_code("pass", None, &mut s);
            let warm = time(n_warm, || {
                let o = ex.run_code(code, None, &mut s);
                assert!(o.error.is_none(), "{}", o.text);
            });
            rows.push(("python backend, warm action", n_warm, warm));
            drop(ex);
            let mut s = state();
            let mut interp = PvrExecutor::new(PvrLimits { max_wall: Duration::from_secs(60), ..PvrLimits::default() });
            let first_interp = time(1, || {
                let o = interp.run_code(code, None, &mut s);
                assert!(o.error.is_none(), "{}", o.text);
            });
            rows.push(("interpreter (embedded), first action", 1, first_interp));
            let warm_interp = time(n_warm.min(20), || {
                let o = interp.run_code(code, None, &mut s);
                assert!(o.error.is_none(), "{}", o.text);
            });
            rows.push(("interpreter (embedded), warm action", n_warm.min(20), warm_interp));
            let cold = time(n_cold, || plain_python(&python, &path, code, 1));
            rows.push(("plain python3 -c (no jail), new process", n_cold, cold));
            rows.push(("CPython in one process (no jail), warm", n_warm, in_process_python(&python, &path, code, n_warm)));
            let base = p(&rows[5].2, 50);
            for (how, n, d) in &rows {
                println!("{label:<8} {name:<13} {how:<44} {n:>6} {:>9.2} {:>9.2}   ({:.2}x plain python3 -c)", p(d, 50), p(d, 95), base / p(d, 50).max(1e-9));
            }
        }
    }
}

fn time(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    (0..n).map(|_| {
        let t = Instant::now();
        f();
        t.elapsed()
    }).collect()
}

fn p(d: &[Duration], q: usize) -> f64 {
    let mut ms: Vec<f64> = d.iter().map(|x| x.as_secs_f64() * 1e3).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    ms[((ms.len() - 1) * q + 50) / 100]
}

/// The action as a subprocess-per-call harness runs it: a new interpreter that
/// imports what the backend pre-imports, opens the file with Pillow and runs the code.
fn plain_python(python: &Path, image: &Path, code: &str, reps: usize) {
    let script = format!(
        "import sys, numpy as np, cv2, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt, scipy.ndimage, skimage\n\
         from PIL import Image, ImageEnhance\nimage_clue_0 = Image.open(sys.argv[1]).convert('RGB')\nfor _ in range({reps}):\n{}",
        indent(code)
    );
    let out = Command::new(python).args(["-c", &script]).arg(image).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The floor: the action timed inside one warm CPython (image already decoded).
fn in_process_python(python: &Path, image: &Path, code: &str, n: usize) -> Vec<Duration> {
    let script = format!(
        "import sys, time, json, numpy as np\nfrom PIL import Image, ImageEnhance\nimage_clue_0 = Image.open(sys.argv[1]).convert('RGB')\n\
         import io, contextlib\nts = []\nfor _ in range({n}):\n    t = time.perf_counter()\n    with contextlib.redirect_stdout(io.StringIO()):\n{}\n    ts.append(time.perf_counter() - t)\nprint(json.dumps(ts))",
        indent(&indent(code))
    );
    let out = Command::new(python).args(["-c", &script]).arg(image).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ts: Vec<f64> = serde_json::from_slice(out.stdout.trim_ascii()).expect("timings");
    ts.into_iter().map(Duration::from_secs_f64).collect()
}

fn indent(code: &str) -> String {
    code.lines().map(|l| format!("    {l}\n")).collect()
}

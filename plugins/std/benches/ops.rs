//! Times every std operator through its ABI entry point (what the host calls) on a
//! 1-megapixel and a 12-megapixel JPEG, then times the Python counterparts
//! (`py_ops_a.py`, `py_ops_b.py`, `py_ops_c.py`, via `run_python.py`) on the same files, and
//! prints a markdown table. See `README.md` beside this file.
//!
//! ```text
//! cargo bench -p trutheye-plugin-std --bench ops                 # everything
//! cargo bench -p trutheye-plugin-std --bench ops -- --quick      # 1 MP only
//! cargo bench -p trutheye-plugin-std --bench ops -- sobel ela    # some operators
//! cargo bench -p trutheye-plugin-std --bench ops -- --no-python  # Rust column only
//! ```
//!
//! Environment: `TRUTHEYE_BENCH_IMAGE` (source photo), `TRUTHEYE_BENCH_PYTHON`
//! (an interpreter to use instead of the `target/bench-venv` venv).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use image::RgbImage;
use trutheye_plugin_api::abi_stable::std_types::{RStr, RString};
use trutheye_plugin_api::{ImageRef, MapRoles};

const MIN_RUNS: usize = 3;
const MAX_RUNS: usize = 10;
const MIN_TOTAL: Duration = Duration::from_secs(1);
const SMALL: (u32, u32) = (1155, 866);
const LARGE: (u32, u32) = (4000, 3000);
const JPEG_QUALITY: u8 = 90;
/// Modules `run_python.py` needs; the venv is (re)filled when one is missing.
const PY_IMPORTS: &str = "import numpy, scipy, cv2, pywt, PIL, threadpoolctl";

/// One benchmark input: a JPEG file and its decoded pixels.
struct Input {
    label: &'static str,
    path: PathBuf,
    jpeg: Vec<u8>,
    rgb: RgbImage,
}

/// A timing result: median ms, not implemented, or an error message.
#[derive(Clone, Debug)]
enum Cell {
    Ms(f64),
    NotAvailable,
    Error(String),
}

/// Whether the JPEG-bound operators (jpeg_ghost, ela) and every decode ran
/// libjpeg-turbo's SIMD paths: without them they take about twice as long, and
/// the table should not be read as the operators' own cost.
fn jpeg_simd_note() -> String {
    format!("libjpeg-turbo SIMD {}", trutheye_imaging::jpeg::simd_status())
}

fn main() {
    let started = Instant::now();
    let mut quick = false;
    let mut no_python = false;
    let mut filter: Vec<String> = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--no-python" => no_python = true,
            a if a.starts_with('-') => {} // --bench and anything else cargo passes
            a => filter.push(a.to_string()),
        }
    }

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bench_dir = manifest.join("benches");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"));
    let target_dir = target_dir.canonicalize().unwrap_or(target_dir);

    // ---------------------------------------------------------------- inputs
    let (source, source_desc) = load_source(manifest);
    println!("source photo: {source_desc} ({}x{})", source.width(), source.height());
    let work = std::env::temp_dir().join(format!("trutheye-bench-ops-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create temp dir");
    let mut sizes = vec![("1MP", SMALL)];
    if !quick {
        sizes.push(("12MP", LARGE));
    }
    let inputs: Vec<Input> = sizes
        .into_iter()
        .map(|(label, size)| make_input(&source, label, size, &work))
        .collect();
    for i in &inputs {
        println!(
            "input {}: {}x{} JPEG q{JPEG_QUALITY} 4:2:0, {} bytes, {}",
            i.label,
            i.rgb.width(),
            i.rgb.height(),
            i.jpeg.len(),
            i.path.display()
        );
    }
    println!("rayon threads: {}; {}", rayon::current_num_threads(), jpeg_simd_note());

    // ------------------------------------------------------------------ Rust
    let root = trutheye_plugin_std::trutheye_plugin_root();
    let operators: Vec<_> = root.operators()()
        .into_iter()
        .filter(|op| filter.is_empty() || filter.iter().any(|f| f == op.name.as_str()))
        .collect();
    if operators.is_empty() {
        eprintln!("no operator matches {filter:?}");
        std::process::exit(2);
    }
    let names: Vec<String> = operators.iter().map(|op| op.name.to_string()).collect();
    let mut rust: BTreeMap<(String, &str), Cell> = BTreeMap::new();
    for input in &inputs {
        let image = ImageRef {
            width: input.rgb.width() as usize,
            height: input.rgb.height() as usize,
            rgb: input.rgb.as_raw(),
            encoded: Some(&input.jpeg),
            format: Some("jpeg"),
            // Every map, visuals included: the operator as an agent runs it (the
            // twins compute only the heat-map, so this is the harder comparison).
            wanted: MapRoles::ALL,
        };
        for op in &operators {
            let call = || (op.run)(image.to_abi(), RStr::from("{}")).into_result().map(drop);
            let cell = match time_rust(call) {
                Ok((ms, n)) => {
                    println!("[rust]   {} {:<18} {:10.2} ms  ({n} runs)", input.label, op.name, ms);
                    Cell::Ms(ms)
                }
                Err(e) if is_not_implemented(&e) => {
                    println!("[rust]   {} {:<18}        n/a  (not implemented)", input.label, op.name);
                    Cell::NotAvailable
                }
                Err(e) => {
                    println!("[rust]   {} {:<18}      error  {e}", input.label, op.name);
                    Cell::Error(e)
                }
            };
            rust.insert((op.name.to_string(), input.label), cell);
        }
    }
    // The floor: one pass over the image, reading the RGB8 pixels once and
    // writing the f32 luma plane every operator starts from. An operator's
    // in-process time in units of this pass says how far from memory-bound it is.
    for input in &inputs {
        let image = ImageRef { width: input.rgb.width() as usize, height: input.rgb.height() as usize, rgb: input.rgb.as_raw(), encoded: None, format: None, wanted: MapRoles::ALL };
        let floor = time_rust(|| {
            std::hint::black_box(image.luma());
            Ok(())
        });
        if let Ok((floor_ms, n)) = floor {
            println!("[floor]  {} one pass RGB8 -> f32 luma {:10.2} ms  ({n} runs)", input.label, floor_ms);
            for op in &names {
                if let Some(Cell::Ms(ms)) = rust.get(&(op.clone(), input.label)) {
                    println!("[floor]  {} {:<18} {:8.1} passes", input.label, op, ms / floor_ms.max(1e-9));
                }
            }
        }
    }
    let rust_done = started.elapsed();

    // ---------------------------------------------------------------- Python
    let mut python: BTreeMap<(String, &str), Cell> = BTreeMap::new();
    let mut py_env: Option<serde_json::Value> = None;
    let mut py_note: Option<String> = None;
    if no_python {
        py_note = Some("Python skipped (--no-python)".into());
    } else {
        match python_interpreter(&bench_dir, &target_dir) {
            Err(e) => py_note = Some(format!("Python column unavailable: {e}")),
            Ok(py) => match run_python(&py, &bench_dir, &inputs, &names) {
                Err(e) => py_note = Some(format!("Python column unavailable: {e}")),
                Ok(json) => {
                    for name in &names {
                        for input in &inputs {
                            let key = input.path.to_string_lossy();
                            let ms = json["results"][name.as_str()][key.as_ref()].as_f64();
                            let err = json["errors"][name.as_str()][key.as_ref()].as_str();
                            let cell = match (ms, err) {
                                (Some(ms), _) => Cell::Ms(ms),
                                (None, Some(e)) if !is_missing_or_placeholder(e) => {
                                    Cell::Error(e.to_string())
                                }
                                _ => Cell::NotAvailable,
                            };
                            python.insert((name.clone(), input.label), cell);
                        }
                    }
                    py_env = Some(json["env"].clone());
                }
            },
        }
    }

    // ----------------------------------------------------------------- table
    println!();
    let mut header = String::from("| operator |");
    let mut rule = String::from("|---|");
    for i in &inputs {
        header += &format!(" Rust {0} ms | Python {0} ms | ratio (Python/Rust) |", i.label);
        rule += "---:|---:|---:|";
    }
    println!("{header}");
    println!("{rule}");
    let mut errors = Vec::new();
    for name in &names {
        let mut row = format!("| {name} |");
        for i in &inputs {
            let r = rust.get(&(name.clone(), i.label)).cloned().unwrap_or(Cell::NotAvailable);
            let p = python.get(&(name.clone(), i.label)).cloned().unwrap_or(Cell::NotAvailable);
            for (side, c) in [("Rust", &r), ("Python", &p)] {
                if let Cell::Error(e) = c {
                    errors.push(format!("{side} {name} {}: {e}", i.label));
                }
            }
            let ratio = match (&r, &p) {
                (Cell::Ms(r), Cell::Ms(p)) if *r > 0.0 => format!("{:.1}x", p / r),
                _ => "n/a".into(),
            };
            row += &format!(" {} | {} | {ratio} |", fmt_cell(&r), fmt_cell(&p));
        }
        println!("{row}");
    }
    println!();
    println!(
        "Medians of {MIN_RUNS}..{MAX_RUNS} runs (>= {} s per cell) after 1 warm-up; decoding excluded on both sides.",
        MIN_TOTAL.as_secs()
    );
    println!("Rust: ABI call path (`AbiOperator::run`, params `{{}}`), rayon threads: {}, {}.", rayon::current_num_threads(), jpeg_simd_note());
    if let Some(note) = &py_note {
        println!("{note}");
    }
    if let Some(env) = &py_env {
        println!("Python: {}", python_summary(env));
    }
    for e in &errors {
        println!("error: {e}");
    }
    println!(
        "wall time: {:.1} s total (Rust {:.1} s, inputs included)",
        started.elapsed().as_secs_f64(),
        rust_done.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&work);
}

// -------------------------------------------------------------------- inputs

/// The source photo: `TRUTHEYE_BENCH_IMAGE`, else the dev set's first image,
/// else a synthetic textured image with a fixed seed.
fn load_source(manifest: &Path) -> (RgbImage, String) {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("TRUTHEYE_BENCH_IMAGE") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(manifest.join("../../../shared/bench/dev/images/dev-000.jpg"));
    for path in candidates {
        match image::open(&path) {
            Ok(img) => {
                let shown = path.canonicalize().unwrap_or(path);
                return (img.to_rgb8(), shown.display().to_string());
            }
            Err(e) if path.exists() => eprintln!("cannot read {}: {e}", path.display()),
            Err(_) => {}
        }
    }
    (synthetic(2000, 1500, 0x5eed_2024), "synthetic textured image (seed 0x5eed2024)".into())
}

/// A photo-like test image: smooth gradients, a few shapes, periodic texture and
/// sensor-like noise from a fixed-seed generator.
fn synthetic(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut state = seed;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
    };
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let mut c = [
            60.0 + 120.0 * fx + 30.0 * (fy * 7.0).sin(),
            80.0 + 90.0 * fy + 25.0 * (fx * 11.0 + fy * 3.0).cos(),
            140.0 - 70.0 * fx * fy + 20.0 * ((fx * 40.0).sin() * (fy * 30.0).sin()),
        ];
        let (dx, dy) = (fx - 0.6, fy - 0.45);
        if dx * dx + dy * dy < 0.04 {
            c = [c[0] * 0.5 + 100.0, c[1] * 0.6, c[2] * 0.4 + 30.0];
        }
        if (0.1..0.35).contains(&fx) && (0.55..0.85).contains(&fy) {
            let stripes = if ((x / 6) + (y / 6)) % 2 == 0 { 35.0 } else { -35.0 };
            c = [c[0] + stripes, c[1] + stripes, c[2] + stripes];
        }
        let n = (next() - 0.5) * 16.0;
        image::Rgb(c.map(|v| (v + n + (next() - 0.5) * 4.0).clamp(0.0, 255.0) as u8))
    })
}

/// Center-crops `src` to the aspect of `size`, Lanczos-resizes it, encodes it as
/// JPEG q90 4:2:0 into `dir`, and decodes that file back (what both sides time on).
fn make_input(src: &RgbImage, label: &'static str, size: (u32, u32), dir: &Path) -> Input {
    let (w, h) = size;
    let (sw, sh) = src.dimensions();
    let (cw, ch) = if (sw as u64) * (h as u64) > (sh as u64) * (w as u64) {
        (((sh as u64 * w as u64) / h as u64) as u32, sh)
    } else {
        (sw, ((sw as u64 * h as u64) / w as u64) as u32)
    };
    let cropped = image::imageops::crop_imm(src, (sw - cw) / 2, (sh - ch) / 2, cw, ch).to_image();
    let resized = image::imageops::resize(&cropped, w, h, FilterType::Lanczos3);
    let mut jpeg = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut jpeg, JPEG_QUALITY);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.encode(resized.as_raw(), w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .expect("encode JPEG");
    let path = dir.join(format!("bench-{label}.jpg"));
    std::fs::write(&path, &jpeg).expect("write JPEG");
    // libjpeg-turbo as Pillow: both columns then start from the same pixels.
    let (px, dw, dh, _) = trutheye_imaging::jpeg_to_rgb(&jpeg, u64::MAX, false).expect("decode JPEG");
    let rgb = RgbImage::from_raw(dw, dh, px).expect("decoded size");
    Input { label, path, jpeg, rgb }
}

// ---------------------------------------------------------------------- Rust

/// One warm-up, then runs until >= MIN_RUNS and >= MIN_TOTAL (at most MAX_RUNS);
/// returns the median in ms and the run count.
fn time_rust(mut call: impl FnMut() -> Result<(), RString>) -> Result<(f64, usize), String> {
    call().map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let mut total = Duration::ZERO;
    while times.len() < MAX_RUNS && (times.len() < MIN_RUNS || total < MIN_TOTAL) {
        let t = Instant::now();
        call().map_err(|e| e.to_string())?;
        let dt = t.elapsed();
        total += dt;
        times.push(dt.as_secs_f64() * 1e3);
    }
    Ok((median(&mut times), times.len()))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn is_not_implemented(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("not implemented") || e.contains("not yet implemented") || e.contains("unimplemented")
}

fn is_missing_or_placeholder(e: &str) -> bool {
    is_not_implemented(e) || e.contains("not found") || e.contains("not defined") || e.contains("no Python counterpart")
}

fn fmt_cell(c: &Cell) -> String {
    match c {
        Cell::Ms(ms) if *ms >= 100.0 => format!("{ms:.0}"),
        Cell::Ms(ms) if *ms >= 10.0 => format!("{ms:.1}"),
        Cell::Ms(ms) => format!("{ms:.2}"),
        Cell::NotAvailable => "n/a".into(),
        Cell::Error(_) => "error".into(),
    }
}

// -------------------------------------------------------------------- Python

/// `TRUTHEYE_BENCH_PYTHON`, else `target/bench-venv` (created and filled from
/// `requirements.txt` when it lacks a needed module).
fn python_interpreter(bench_dir: &Path, target_dir: &Path) -> Result<PathBuf, String> {
    if let Some(py) = std::env::var_os("TRUTHEYE_BENCH_PYTHON") {
        return Ok(PathBuf::from(py));
    }
    let venv = target_dir.join("bench-venv");
    let py = venv.join("bin").join("python");
    let has_modules = |py: &Path| {
        Command::new(py)
            .args(["-c", PY_IMPORTS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if py.exists() && has_modules(&py) {
        return Ok(py);
    }
    if !py.exists() {
        println!("creating venv: python3 -m venv {}", venv.display());
        let out = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !out.status.success() {
            return Err(format!("python3 -m venv failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    let req = bench_dir.join("requirements.txt");
    println!("installing Python deps: {} -m pip install -r {}", py.display(), req.display());
    let out = Command::new(&py)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(&req)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        return Err(format!("pip install failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    if !has_modules(&py) {
        return Err(format!("{} still cannot `{PY_IMPORTS}`", py.display()));
    }
    Ok(py)
}

/// Runs `run_python.py --json` on the inputs; its progress goes to our stderr.
fn run_python(py: &Path, bench_dir: &Path, inputs: &[Input], ops: &[String]) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(py);
    cmd.arg(bench_dir.join("run_python.py")).arg("--json").arg("--images");
    for i in inputs {
        cmd.arg(&i.path);
    }
    cmd.arg("--ops").args(ops);
    // Machine-specific OpenBLAS overrides would skew numpy; let it detect the CPU.
    cmd.env_remove("OPENBLAS_CORETYPE").env_remove("OPENBLAS_L2_SIZE");
    println!("running: {} run_python.py --json ... (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset)", py.display());
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
    if !out.status.success() {
        return Err(format!("run_python.py exited with {}", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON from run_python.py: {e}"))
}

/// One line on the Python side: versions and the BLAS threadpoolctl reports.
fn python_summary(env: &serde_json::Value) -> String {
    let s = |k: &str| env[k].as_str().unwrap_or("?").to_string();
    let mut line = format!(
        "python {}, numpy {}, opencv {} ({} threads), scipy {}, pywt {}, pillow {}",
        s("python"),
        s("numpy"),
        s("opencv"),
        env["opencv_threads"].as_i64().map_or("?".into(), |n| n.to_string()),
        s("scipy"),
        s("pywt"),
        s("pillow")
    );
    match &env["threadpoolctl"] {
        serde_json::Value::Array(pools) => {
            let desc: Vec<String> = pools
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {} (kernel {}, {} threads)",
                        p["user_api"].as_str().unwrap_or("?"),
                        p["internal_api"].as_str().unwrap_or("?"),
                        p["version"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?"),
                        p["num_threads"]
                    )
                })
                .collect();
            line += &format!("; threadpoolctl: {}", if desc.is_empty() { "no pools".into() } else { desc.join(", ") });
        }
        other => line += &format!("; threadpoolctl: {}", other.as_str().unwrap_or("?")),
    }
    if let Some(blas) = env["blas_env"].as_object().filter(|m| !m.is_empty()) {
        line += &format!("; BLAS env: {}", serde_json::Value::Object(blas.clone()));
    }
    line
}

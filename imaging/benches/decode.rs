//! JPEG decode speed: libjpeg-turbo through this crate vs zune-jpeg (the `image`
//! crate's decoder, used before) vs Pillow (when a Python with Pillow is given in
//! `TRUTHEYE_PYTHON`), same files, same machine, same run. Reports ms per decode
//! and the ratios. `cargo bench -p trutheye-imaging --bench decode`.

use std::path::Path;
use std::time::Instant;

fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    // Best of 3 batches: the machine is shared and noisy.
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e3 / reps as f64);
    }
    best
}

fn pillow_ms(path: &Path, reps: usize) -> Option<f64> {
    let py = std::env::var("TRUTHEYE_PYTHON").ok()?;
    let code = format!(
        "import io,time\nfrom PIL import Image\nb=open({:?},'rb').read()\nbest=1e9\nfor _ in range(3):\n t=time.perf_counter()\n for _ in range({reps}): Image.open(io.BytesIO(b)).convert('RGB')\n best=min(best,(time.perf_counter()-t)*1e3/{reps})\nprint(best)",
        path.display().to_string()
    );
    let out = std::process::Command::new(py).arg("-c").arg(code).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    println!("{:<42} {:>10} {:>10} {:>10} {:>12} {:>12}", "file", "ours ms", "zune ms", "pillow ms", "zune/ours", "pillow/ours");
    for rel in ["samples/tampered-dev-033.jpg", "samples/authentic-dev-000.jpg", "imaging/tests/jpeg_corpus/progressive_420.jpg"] {
        let path = root.join(rel);
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let reps = 40;
        let ours = time_ms(reps, || {
            std::hint::black_box(trutheye_imaging::jpeg_to_rgb(&bytes, u64::MAX, false).expect("decode"));
        });
        let zune = time_ms(reps, || {
            std::hint::black_box(image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("zune").to_rgb8());
        });
        let pil = pillow_ms(&path, reps);
        println!(
            "{:<42} {:>10.3} {:>10.3} {:>10} {:>12.2} {:>12}",
            rel,
            ours,
            zune,
            pil.map(|p| format!("{p:.3}")).unwrap_or("-".into()),
            zune / ours,
            pil.map(|p| format!("{:.2}", p / ours)).unwrap_or("-".into())
        );
    }
}

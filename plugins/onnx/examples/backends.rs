//! Native vs ONNX Runtime backends of `srm` and `bayar` on a 12-megapixel photo:
//! agreement and timing, printed as a Markdown table.
//!
//! ```text
//! python3 plugins/onnx/scripts/make_graphs.py target/onnx-models
//! ORT_DYLIB_PATH=.../libonnxruntime.so.1.31.1 \
//!   cargo run --release -p trutheye-plugin-onnx --example backends -- target/onnx-models [IMAGE] [RUNS]
//! ```
//! IMAGE defaults to `TRUTHEYE_BENCH_IMAGE`, else `../shared/bench/dev/images/dev-000.jpg`
//! (the photo `plugins/std/benches` uses); it is centre-cropped to 4:3 and resized
//! (Lanczos3) to 4000x3000 as that bench does.

use std::path::PathBuf;
use std::time::Instant;

use image::imageops::FilterType;
use serde_json::json;
use trutheye_plugin_api::{ImageRef, MapData, RawOperator, Output};
use trutheye_plugin_onnx::catalog;

/// Operator name, native run, ONNX model.
type Row<'a> = (&'static str, Box<dyn Fn() -> Output + 'a>, &'a trutheye_plugin_onnx::model::Model);

fn heat(o: &Output) -> Vec<f32> {
    o.maps.iter().find(|m| m.name == "energy_abs_z").map(|m| match &m.data {
        MapData::F32(v) => v.clone(),
        MapData::U8(_) => Vec::new(),
    }).unwrap_or_default()
}

fn median_ms<F: FnMut() -> Output>(runs: usize, mut f: F) -> (f64, Output) {
    let mut last = f(); // warm-up: session first-run allocation, page faults
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            last = f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    (t[t.len() / 2], last)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let models = PathBuf::from(args.first().ok_or("usage: backends MODEL_DIR [IMAGE] [RUNS]")?);
    let src = args.get(1).map(PathBuf::from).or_else(|| std::env::var_os("TRUTHEYE_BENCH_IMAGE").map(PathBuf::from)).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/dev/images/dev-000.jpg")
    });
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let img = image::open(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?.to_rgb8();
    let (sw, sh) = img.dimensions();
    let (cw, ch) = if sw * 3 > sh * 4 { (sh * 4 / 3, sh) } else { (sw, sw * 3 / 4) };
    let crop = image::imageops::crop_imm(&img, (sw - cw) / 2, (sh - ch) / 2, cw, ch).to_image();
    let big = image::imageops::resize(&crop, 4000, 3000, FilterType::Lanczos3);
    let im = ImageRef::from_rgb(4000, 3000, big.as_raw()).ok_or("bad buffer")?;

    let cat = catalog::load(&[models]);
    for (p, why) in &cat.refused {
        eprintln!("refused {}: {why}", p.display());
    }
    let find = |n: &str| cat.models.iter().find(|m| m.manifest.name == n).ok_or(format!("{n} not loaded"));
    let (osrm, obayar) = (find("onnx_srm")?, find("onnx_bayar")?);
    let rt = trutheye_plugin_onnx::runtime::current().ok_or("runtime not initialised")?;
    println!("image: {} -> 4000x3000 (12 MP); {runs} timed runs after one warm-up, median; ONNX Runtime {} ({}), rayon threads {}",
        src.display(), rt.version, osrm.backend(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("\n| operator | native ms | onnx ms (operator) | onnx ms (session.run only, no copies) | max abs Δ heat-map z | anomaly_z native / onnx | residual_std native / onnx |");
    println!("|---|---|---|---|---|---|---|");
    let p = json!({});
    let rows: [Row<'_>; 2] = [
        ("srm", Box::new(|| trutheye_plugin_std::srm::Srm.run(&im, &p).expect("native srm")), osrm),
        ("bayar", Box::new(|| trutheye_plugin_std::bayar::Bayar.run(&im, &p).expect("native bayar")), obayar),
    ];
    for (name, native, onnx) in rows {
        let (tn, on) = median_ms(runs, native);
        let (to, oo) = median_ms(runs, || onnx.run(&im, &p).expect("onnx op"));
        let input = trutheye_plugin_onnx::preprocess::prepare(&im, &onnx.manifest.input)?;
        let (ti, _) = median_ms(runs, || {
            onnx.infer_with(input.view(), |_, _| ()).expect("infer");
            Output::default()
        });
        let (hn, ho) = (heat(&on), heat(&oo));
        let d = hn.iter().zip(&ho).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let s = |o: &Output, k: &str| o.stats[k].as_f64().unwrap_or(f64::NAN);
        println!("| {name} | {tn:.0} | {to:.0} | {ti:.0} | {d:.2e} | {:.4} / {:.4} | {:.4} / {:.4} |",
            s(&on, "anomaly_z"), s(&oo, "anomaly_z"), s(&on, "residual_std"), s(&oo, "residual_std"));
    }
    Ok(())
}

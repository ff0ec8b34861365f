//! What `analyze` prints and saves: the human report, the JSON line, the
//! localization mask and overlay, and the progress bar.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use image::{GrayImage, Luma, Rgb};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trutheye_core::protocol::escape_controls;
use trutheye_core::{Action, ImageBuf, Trajectory};

/// A progress bar on stderr for batches (hidden for one image or when stderr is not a terminal).
pub fn progress(n: usize, quiet: bool) -> ProgressBar {
    if n < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(n as u64);
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} eta {eta} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar
}

/// One JSON object per image: the fields scripts rely on.
pub fn json_line(path: &Path, t: &Trajectory) -> String {
    let v = &t.verdict;
    serde_json::json!({
        "image": path,
        "id": t.id,
        "label": v.label.as_str(),
        "binary": match v.label.binary() { trutheye_core::BinaryLabel::Real => "real", trutheye_core::BinaryLabel::Fake => "fake" },
        "scores": v.scores,
        "bbox": v.bbox,
        "mask": v.mask,
        "forced": v.forced,
        "forced_reason": v.forced_reason,
        "turns": t.stats.turns,
        "tool_calls": t.stats.tool_calls,
        "format_errors": t.stats.format_errors,
        "strategy": t.strategy,
        "policy": t.policy,
        "timings": {"wall_ms": t.stats.wall_ms, "policy_ms": t.stats.policy_ms, "exec_ms": t.stats.exec_ms},
        "error": null,
    })
    .to_string()
}

fn clip(s: &str, max_lines: usize, max_chars: usize) -> String {
    let mut out: Vec<String> = s.lines().take(max_lines).map(|l| if l.chars().count() > max_chars { format!("{}…", l.chars().take(max_chars).collect::<String>()) } else { l.to_string() }).collect();
    if s.lines().count() > max_lines {
        out.push("…".into());
    }
    out.join("\n")
}

fn indent(s: &str, pad: &str) -> String {
    s.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

/// The human-readable report of one episode. Most of it is model-produced
/// (reasoning, code, tool arguments, observations, the answer), so control
/// characters are escaped ([`escape_controls`]) before it reaches a terminal.
pub fn human(path: &Path, t: &Trajectory, saved: &[String]) -> String {
    let v = &t.verdict;
    let mut s = String::new();
    let meta = t.images.first().map(|m| {
        let mut d = format!("{}x{}", m.width, m.height);
        if let Some(f) = &m.format { d += &format!(" {f}"); }
        if let Some(q) = m.jpeg_quality { d += &format!(", quality≈{q}"); }
        if let Some(ss) = &m.jpeg_subsampling { d += &format!(", {ss}"); }
        d
    }).unwrap_or_default();
    s += &format!("{}  ({meta})\n", path.display());
    s += &format!("verdict: {}{}\n", v.label.as_str().to_uppercase(), if v.forced { "  [FORCED]" } else { "" });
    if let Some(sc) = &v.scores {
        s += &format!("scores:  authentic {:.2} · synthetic {:.2} · tampered {:.2}\n", sc.authentic, sc.synthetic, sc.tampered);
    }
    if let Some(b) = v.bbox {
        s += &format!("region:  [{}, {}, {}, {}]\n", b[0], b[1], b[2], b[3]);
    }
    if let Some(r) = &v.forced_reason {
        s += &format!("forced:  {r}\n");
    }
    s += &format!(
        "run:     {} turns, {} tool calls, {} format errors, {:.2} s ({} policy, {} strategy)\n",
        t.stats.turns, t.stats.tool_calls, t.stats.format_errors, t.stats.wall_ms as f64 / 1000.0, t.policy, t.strategy
    );
    s += "trace:\n";
    for turn in &t.turns {
        s += &format!("  {}.", turn.index + 1);
        if let Some(th) = &turn.think {
            s += &format!(" think: {}\n", clip(th, 3, 160).replace('\n', "\n            "));
        } else {
            s += "\n";
        }
        match (&turn.action, &turn.format_error) {
            (Some(Action::Code { code, .. }), _) => s += &format!("     code:\n{}\n", indent(&clip(code, 8, 120), "       ")),
            (Some(Action::ToolCall { name, arguments }), _) => s += &format!("     tool: {name} {}\n", serde_json::Value::Object(arguments.clone())),
            (Some(Action::Answer(a)), _) => s += &format!("     answer: {}{}\n", a.label.as_str(), a.bbox.map(|b| format!(" {b:?}")).unwrap_or_default()),
            (None, Some(fe)) => s += &format!("     format error: {fe}\n       model wrote: {}\n", clip(&turn.assistant, 2, 100)),
            (None, None) => {}
        }
        if let Some(o) = &turn.observation {
            if !matches!(turn.action, Some(Action::Answer(_))) && turn.format_error.is_none() {
                s += &format!("     → {}\n", clip(&o.text, 4, 160).replace('\n', "\n       "));
            }
            for img in o.images.iter().chain(&o.artifacts) {
                if let Some(p) = &img.path {
                    s += &format!("       saved {} → {p}\n", img.name);
                }
            }
        }
    }
    for p in saved {
        s += &format!("saved: {p}\n");
    }
    escape_controls(&s).into_owned()
}

/// Writes the verdict's localization at the image's size: a 0/255 mask (the
/// fused heat-map `heat` read at its 0.5 level and stretched to the image, or
/// the box when there is none) and an overlay (mask tinted red, box outlined).
/// Returns (mask path, overlay path).
pub fn write_localization(dir: &Path, image: &ImageBuf, b: [u32; 4], heat: Option<&GrayImage>) -> Result<(String, String)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (w, h) = (image.width(), image.height());
    let inside = |x: u32, y: u32| x >= b[0] && x < b[2] && y >= b[1] && y < b[3];
    let mask = match heat {
        Some(g) => {
            let big = image::imageops::resize(g, w, h, image::imageops::FilterType::Triangle);
            GrayImage::from_fn(w, h, |x, y| Luma([if big.get_pixel(x, y).0[0] >= 128 { 255 } else { 0 }]))
        }
        None => GrayImage::from_fn(w, h, |x, y| Luma([if inside(x, y) { 255 } else { 0 }])),
    };
    let mut overlay = (*image.rgb).clone();
    for (p, m) in overlay.pixels_mut().zip(mask.pixels()) {
        if m.0[0] > 0 {
            p.0 = [((p.0[0] as u16 + 255) / 2) as u8, p.0[1] / 2, p.0[2] / 2];
        }
    }
    trutheye_core::imageops::outline_box(&mut overlay, b, Rgb([255, 32, 32]), (w.max(h) / 300).max(2));
    let mp = dir.join("mask.png");
    let op = dir.join("overlay.png");
    trutheye_core::image::save_png_fast(&image::DynamicImage::ImageLuma8(mask), &mp).with_context(|| format!("cannot write {}", mp.display()))?;
    overlay.save(&op).with_context(|| format!("cannot write {}", op.display()))?;
    Ok((mp.display().to_string(), op.display().to_string()))
}

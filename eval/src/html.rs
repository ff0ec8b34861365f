//! `report.html`: the report's tables, plots drawn with `plotters` (SVG backend,
//! embedded inline: confusion matrices, tool usage, accuracy by method) and a few
//! example trajectories.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::dataset::BadRow;
use super::metrics::{GroupMetrics, Metrics};
use super::prediction::Prediction;
use super::examples::{examples, ExampleMedia};
use super::report::{markdown, row_name};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;max-width:1400px;color:#222}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}\
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f2f2f2}\
.plots{display:flex;flex-wrap:wrap;gap:12px}.traj{border:1px solid #ddd;padding:8px 12px;margin:10px 0}\
figure{margin:0}figcaption{font-size:12px;color:#555}pre{white-space:pre-wrap;background:#f7f7f7;padding:6px;font-size:12px;margin:4px 0}pre.obs{background:#eef5ff}code{background:#f2f2f2}";

/// Renders the HTML report.
pub fn render(m: &Metrics, dataset: &str, bad: &[BadRow], preds: &[Prediction], trajectories: &str, media: &ExampleMedia) -> String {
    let md = markdown(m, dataset, bad);
    // The confusion matrices are drawn as plots; leave their text tables out.
    let md = match (md.find("\n## Confusion matrices"), md.find("\n## Skipped manifest rows")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &md[..a], &md[b..]),
        _ => md,
    };
    let mut h = format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>trutheye evaluation</title><style>{STYLE}</style></head><body>\n");
    h.push_str(&md_to_html(&md));
    h.push_str("<h2>Confusion matrices</h2><div class=\"plots\">");
    for g in &m.groups {
        h.push_str(&confusion_svg(g));
    }
    h.push_str("</div>\n");
    let agents: Vec<&GroupMetrics> = m.groups.iter().filter(|g| g.strategy != "baseline").collect();
    let ops: Vec<String> = agents.iter().flat_map(|g| g.process.operator_frequency.keys().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
    if !ops.is_empty() {
        let series: Vec<(String, Vec<f64>)> = agents.iter().map(|g| (row_name(g), ops.iter().map(|o| g.process.operator_frequency.get(o).copied().unwrap_or(0.0)).collect())).collect();
        h.push_str("<h2>Tool usage</h2>");
        h.push_str(&bars("Tool calls per episode", &ops, &series, None));
    }
    method_plot(&mut h, m, &agents);
    examples(&mut h, preds, trajectories, media);
    h.push_str("</body></html>\n");
    h
}

fn method_plot(h: &mut String, m: &Metrics, agents: &[&GroupMetrics]) {
    let Some(field) = m.groups.iter().flat_map(|g| g.breakdown.keys()).find(|k| *k == "method").or_else(|| m.groups.iter().flat_map(|g| g.breakdown.keys()).next()) else { return };
    let values: Vec<String> = m.groups.iter().filter_map(|g| g.breakdown.get(field)).flat_map(|b| b.keys().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
    // The agent rows plus the three best baselines.
    let mut baselines: Vec<&GroupMetrics> = m.groups.iter().filter(|g| g.strategy == "baseline").collect();
    baselines.sort_by(|a, b| b.binary.accuracy.total_cmp(&a.binary.accuracy));
    let rows: Vec<&GroupMetrics> = agents.iter().copied().chain(baselines.into_iter().take(3)).collect();
    let series: Vec<(String, Vec<f64>)> = rows.iter().map(|g| (row_name(g), values.iter().map(|v| g.breakdown.get(field).and_then(|b| b.get(v)).map(|x| x.accuracy).unwrap_or(0.0)).collect())).collect();
    h.push_str(&format!("<h2>Accuracy by <code>{}</code></h2>", esc(field)));
    h.push_str(&bars(&format!("Accuracy by {field}"), &values, &series, Some(1.0)));
}

/// Draws into an SVG string; a drawing error becomes a one-line note.
fn svg(w: u32, h: u32, draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string()).and_then(|_| draw(&root)).and_then(|_| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => buf,
        Err(e) => format!("<p>(plot failed: {})</p>", esc(&e)),
    }
}

fn confusion_svg(g: &GroupMetrics) -> String {
    let c = &g.confusion;
    let (cell, left, top) = (64i32, 84i32, 52i32);
    let (w, h) = (left + cell * c.predicted.len() as i32 + 12, top + cell * c.truth.len() as i32 + 26);
    svg(w.max(200) as u32, h as u32, |root| {
        let e = |r: Result<(), DrawingAreaErrorKind<std::io::Error>>| r.map_err(|e| e.to_string());
        let max = c.counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let font = ("sans-serif", 12).into_font();
        e(root.draw(&Text::new(row_name(g), (4, 4), ("sans-serif", 14).into_font().style(FontStyle::Bold))))?;
        e(root.draw(&Text::new("prediction →", (left, 22), font.clone())))?;
        e(root.draw(&Text::new("truth ↓", (4, 22), font.clone())))?;
        for (j, p) in c.predicted.iter().enumerate() {
            e(root.draw(&Text::new(p.clone(), (left + j as i32 * cell + 3, top - 14), font.clone())))?;
        }
        for (i, (t, row)) in c.truth.iter().zip(&c.counts).enumerate() {
            let y = top + i as i32 * cell;
            e(root.draw(&Text::new(t.clone(), (4, y + cell / 2 - 6), font.clone())))?;
            for (j, n) in row.iter().enumerate() {
                let x = left + j as i32 * cell;
                let f = *n as f64 / max;
                let color = RGBColor((255.0 - 200.0 * f) as u8, (255.0 - 130.0 * f) as u8, 255);
                e(root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], color.filled())))?;
                e(root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], BLACK.mix(0.3).stroke_width(1))))?;
                let text_color = if f > 0.6 { WHITE } else { BLACK };
                e(root.draw(&Text::new(n.to_string(), (x + cell / 2 - 8, y + cell / 2 - 7), ("sans-serif", 15).into_font().color(&text_color))))?;
            }
        }
        Ok(())
    })
}

/// Horizontal grouped bars: one band per category, one bar per series.
fn bars(title: &str, categories: &[String], series: &[(String, Vec<f64>)], xmax: Option<f64>) -> String {
    let n = categories.len().max(1);
    let k = series.len().max(1);
    let band = (k as u32 * 11 + 10).max(24);
    let height = 90 + band * n as u32 + 18 * k as u32;
    let max = xmax.unwrap_or_else(|| series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0, f64::max).max(1e-9) * 1.1);
    svg(980, height, |root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(230)
            .build_cartesian_2d(0f64..max, 0f64..n as f64)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().disable_y_mesh().light_line_style(WHITE).y_labels(0).x_labels(8).draw().map_err(|e| err(&e))?;
        let bh = 0.8 / k as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let _ = name;
            let color = Palette99::pick(s).to_rgba();
            let rects = values.iter().enumerate().map(move |(i, v)| {
                let y0 = n as f64 - i as f64 - 0.1 - (s + 1) as f64 * bh;
                Rectangle::new([(0.0, y0 + bh * 0.1), (*v, y0 + bh)], color.filled())
            });
            chart.draw_series(rects).map_err(|e| err(&e))?;
        }
        for (i, c) in categories.iter().enumerate() {
            let (_, py) = chart.backend_coord(&(0.0, n as f64 - i as f64 - 0.5));
            let label: String = if c.chars().count() > 32 { format!("{}…", c.chars().take(31).collect::<String>()) } else { c.clone() };
            root.draw(&Text::new(label, (14, py - 7), ("sans-serif", 12).into_font())).map_err(|e| err(&e))?;
        }
        Ok(())
    }) + &legend(series)
}

/// An HTML legend in the plots' palette (kept out of the SVG so it never covers bars).
fn legend(series: &[(String, Vec<f64>)]) -> String {
    let items: String = series
        .iter()
        .enumerate()
        .map(|(s, (name, _))| {
            let c = Palette99::pick(s).to_rgba();
            format!("<span style=\"margin-right:14px\"><span style=\"display:inline-block;width:12px;height:12px;background:rgb({},{},{});margin-right:4px\"></span>{}</span>", c.0, c.1, c.2, esc(name))
        })
        .collect();
    format!("<div style=\"font-size:13px;margin:2px 0 14px 240px\">{items}</div>")
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s.to_string()
    }
}

fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else {
            out.push_str(&part.replace("**", ""));
        }
    }
    out
}

/// The subset of markdown `report.md` uses: headings, tables, bullets, paragraphs.
fn md_to_html(md: &str) -> String {
    let mut h = String::new();
    let mut in_table = false;
    let mut header = true;
    for line in md.lines() {
        let t = line.trim();
        if t.starts_with('|') {
            if !in_table {
                h.push_str("<table>");
                in_table = true;
                header = true;
            }
            if t.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = t.trim_matches('|').split(" | ").map(str::trim).collect();
            let tag = if header { "th" } else { "td" };
            h.push_str("<tr>");
            for c in cells {
                h.push_str(&format!("<{tag}>{}</{tag}>", inline(c)));
            }
            h.push_str("</tr>\n");
            header = false;
            continue;
        }
        if in_table {
            h.push_str("</table>\n");
            in_table = false;
        }
        if let Some(x) = t.strip_prefix("# ") {
            h.push_str(&format!("<h1>{}</h1>\n", inline(x)));
        } else if let Some(x) = t.strip_prefix("## ") {
            h.push_str(&format!("<h2>{}</h2>\n", inline(x)));
        } else if let Some(x) = t.strip_prefix("- ") {
            h.push_str(&format!("<li>{}</li>\n", inline(x)));
        } else if !t.is_empty() {
            h.push_str(&format!("<p>{}</p>\n", inline(t)));
        }
    }
    if in_table {
        h.push_str("</table>\n");
    }
    h
}

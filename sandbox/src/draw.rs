//! `ImageDraw.Draw(img)`: `rectangle`, `line`, `text`.
//!
//! Python draws in place. Values here are copy-on-write, so a `Draw` remembers
//! the *variable* it was made from and every drawing call replaces that
//! variable's image with the drawn one (`draw = ImageDraw.Draw(crop)` then
//! `draw.rectangle(...)` changes `crop`). `Draw` of anything but a variable
//! holding an image is refused. Work per call is bounded by the image area.
//!
//! Text: there are no fonts in the sandbox, so `text(xy, s)` draws a filled
//! placeholder box the size of `s` in Pillow's default bitmap font (6 px per
//! character, 11 px high) at `xy`.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::ImageBuf;

use crate::builtins::{num, Args};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::imaging::check_size;
use crate::values::{ImgVal, Value};

/// Methods of a `Draw` object.
pub const METHODS: [&str; 3] = ["rectangle", "line", "text"];

/// Pillow's colour names (the common ones; note `green` is 0,128,0).
const COLORS: [(&str, [u8; 3]); 14] = [
    ("red", [255, 0, 0]), ("green", [0, 128, 0]), ("lime", [0, 255, 0]), ("blue", [0, 0, 255]), ("yellow", [255, 255, 0]),
    ("white", [255, 255, 255]), ("black", [0, 0, 0]), ("cyan", [0, 255, 255]), ("magenta", [255, 0, 255]),
    ("orange", [255, 165, 0]), ("purple", [128, 0, 128]), ("gray", [128, 128, 128]), ("grey", [128, 128, 128]),
    ("pink", [255, 192, 203]),
];

/// A colour argument: `(r, g, b)`, an int (grey), a name or `#rrggbb`.
pub fn color(v: &Value, grey: bool) -> PyResult<Rgb<u8>> {
    let c = match v {
        Value::Str(s) => {
            let s = s.to_ascii_lowercase();
            if let Some(hex) = s.strip_prefix('#').filter(|h| h.len() == 6) {
                let ch = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16);
                match (ch(0), ch(2), ch(4)) {
                    (Ok(r), Ok(g), Ok(b)) => [r, g, b],
                    _ => return err("ValueError", format!("unknown color specifier: '{s}'")),
                }
            } else {
                COLORS.iter().find(|(n, _)| *n == s).map(|(_, c)| *c).ok_or_else(|| PyErr::new("ValueError", format!("unknown color specifier: '{s}'")))?
            }
        }
        _ => match v.as_seq() {
            Some(cs) if cs.len() == 3 || cs.len() == 4 => {
                let mut out = [0u8; 3];
                for (o, c) in out.iter_mut().zip(cs) {
                    *o = c.as_int().ok_or_else(|| PyErr::new("TypeError", "color must be a tuple of integers"))?.clamp(0, 255) as u8;
                }
                out
            }
            _ => [v.as_int().ok_or_else(|| PyErr::new("TypeError", format!("color must be a tuple, an int or a name, not '{}'", v.type_name())))?.clamp(0, 255) as u8; 3],
        },
    };
    if grey {
        return Ok(Rgb([trutheye_core::imageops::luma(&Rgb(c)); 3]));
    }
    Ok(Rgb(c))
}

/// The points of an `xy` argument: `[(x0, y0), (x1, y1), ...]` or `[x0, y0, x1, y1, ...]`.
fn points(v: &Value) -> PyResult<Vec<(f64, f64)>> {
    let items = v.as_seq().ok_or_else(|| PyErr::new("TypeError", format!("xy must be a sequence of coordinates, not '{}'", v.type_name())))?;
    let mut out = Vec::new();
    if items.iter().all(|p| p.as_seq().is_some()) {
        for p in items {
            match p.as_seq() {
                Some([x, y]) => out.push((num(x, "x")?, num(y, "y")?)),
                _ => return err("ValueError", "each point must be an (x, y) pair"),
            }
        }
    } else {
        if items.len() % 2 != 0 {
            return err("ValueError", "xy must hold an even number of coordinates");
        }
        for p in items.chunks(2) {
            out.push((num(&p[0], "x")?, num(&p[1], "y")?));
        }
    }
    if out.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return err("ValueError", "coordinates must be finite numbers");
    }
    Ok(out)
}

/// Fills the inclusive box `[x0, x1] x [y0, y1]`, clipped to the image.
fn fill_box(img: &mut RgbImage, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb<u8>) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let (x0, x1) = (x0.max(0.0).round(), x1.min(w - 1.0).round());
    let (y0, y1) = (y0.max(0.0).round(), y1.min(h - 1.0).round());
    if x0 > x1 || y0 > y1 {
        return;
    }
    for y in y0 as u32..=y1 as u32 {
        for x in x0 as u32..=x1 as u32 {
            img.put_pixel(x, y, c);
        }
    }
}

/// Clips the segment to `[-1, w] x [-1, h]` (Liang–Barsky); `None` when outside.
fn clip(a: (f64, f64), b: (f64, f64), w: f64, h: f64) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 + 1.0), (dx, w - a.0), (-dy, a.1 + 1.0), (dy, h - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

/// A line: 1-pixel lines step along the major axis (like Bresenham); wider
/// ones set every pixel whose centre lies within `width / 2` of the segment.
fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), width: f64, c: Rgb<u8>) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    if width <= 1.0 {
        let Some(((ax, ay), (bx, by))) = clip(a, b, w, h) else { return };
        let steps = (bx - ax).abs().max((by - ay).abs()).round().max(1.0);
        for i in 0..=steps as u64 {
            let t = i as f64 / steps;
            let (x, y) = ((ax + t * (bx - ax)).round(), (ay + t * (by - ay)).round());
            if x >= 0.0 && y >= 0.0 && x < w && y < h {
                img.put_pixel(x as u32, y as u32, c);
            }
        }
        return;
    }
    let ((ax, ay), (bx, by)) = (a, b);
    let half = width / 2.0;
    let x0 = (ax.min(bx) - half).floor().max(0.0);
    let x1 = (ax.max(bx) + half).ceil().min(w - 1.0);
    let y0 = (ay.min(by) - half).floor().max(0.0);
    let y1 = (ay.max(by) + half).ceil().min(h - 1.0);
    if x0 > x1 || y0 > y1 {
        return;
    }
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    for y in y0 as u32..=y1 as u32 {
        for x in x0 as u32..=x1 as u32 {
            let (px, py) = (x as f64, y as f64);
            let t = if len2 > 0.0 { (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
            if qx * qx + qy * qy <= half * half {
                img.put_pixel(x, y, c);
            }
        }
    }
}

/// `ImageDraw.Draw(var)`: a `Draw` bound to the variable.
pub fn new_draw(it: &mut Interp, var: Option<&str>, img: &Value) -> PyResult<Value> {
    match (var, img) {
        (Some(v), Value::Image(_)) => Ok(Value::Draw(v.into())),
        (_, Value::Image(_)) => err("NotImplementedError", "ImageDraw.Draw() needs an image variable in this sandbox: crop = image.crop(box); draw = ImageDraw.Draw(crop)"),
        (_, other) => {
            let _ = it;
            err("TypeError", format!("ImageDraw.Draw() expects a PIL image, got '{}'", other.type_name()))
        }
    }
}

/// `draw.<m>(...)`: draws on the variable's image and stores the result back.
pub fn call(it: &mut Interp, var: &str, m: &str, mut a: Args) -> PyResult<Value> {
    let img = match it.lookup(var)? {
        Value::Image(i) => i,
        other => return err("TypeError", format!("the image drawn on ('{var}') is now a '{}'", other.type_name())),
    };
    check_size(it, img.w() as u64, img.h() as u64)?;
    let mut rgb = (*img.buf.rgb).clone();
    let g = img.grey;
    let opt_color = |v: Option<Value>| -> PyResult<Option<Rgb<u8>>> { v.filter(|v| !matches!(v, Value::None)).map(|v| color(&v, g)).transpose() };
    let width = |v: Option<Value>, default: f64| -> PyResult<f64> {
        let w = v.map(|v| num(&v, "width")).transpose()?.unwrap_or(default);
        if !w.is_finite() || w < 0.0 {
            return err("ValueError", "width must be a finite number >= 0");
        }
        Ok(w)
    };
    match m {
        "rectangle" => {
            let pts = points(&a.req(0, "xy")?)?;
            let fill = opt_color(a.get(1, "fill"))?;
            let outline = opt_color(a.get(2, "outline"))?;
            let wd = width(a.get(3, "width"), 1.0)?;
            a.done(4)?;
            let [(x0, y0), (x1, y1)] = pts[..] else { return err("ValueError", "rectangle() needs two corner points") };
            if x1 < x0 || y1 < y0 {
                return err("ValueError", "x1 must be greater than or equal to x0 and y1 greater than or equal to y0");
            }
            let outline = if fill.is_none() && outline.is_none() { Some(Rgb([255; 3])) } else { outline };
            if let Some(f) = fill {
                fill_box(&mut rgb, x0, y0, x1, y1, f);
            }
            if let Some(o) = outline.filter(|_| wd >= 1.0) {
                let t = wd.round() - 1.0;
                fill_box(&mut rgb, x0, y0, x1, y0 + t, o);
                fill_box(&mut rgb, x0, y1 - t, x1, y1, o);
                fill_box(&mut rgb, x0, y0, x0 + t, y1, o);
                fill_box(&mut rgb, x1 - t, y0, x1, y1, o);
            }
        }
        "line" => {
            let pts = points(&a.req(0, "xy")?)?;
            let fill = opt_color(a.get(1, "fill"))?.unwrap_or(Rgb([255; 3]));
            let wd = width(a.get(2, "width"), 0.0)?;
            a.kw("joint");
            a.done(3)?;
            for pair in pts.windows(2) {
                line(&mut rgb, pair[0], pair[1], wd, fill);
                it.check_time()?;
            }
        }
        "text" => {
            let pts = points(&a.req(0, "xy")?)?;
            let text = match a.req(1, "text")? {
                Value::Str(s) => s,
                other => return err("TypeError", format!("text must be a str, not '{}'", other.type_name())),
            };
            it.meter.bytes(text.len())?;
            let fill = opt_color(a.get(2, "fill"))?.unwrap_or(Rgb([255; 3]));
            a.kw("font");
            a.kw("anchor");
            a.done(3)?;
            let &[(x, y)] = &pts[..] else { return err("ValueError", "text() needs one (x, y) point") };
            let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
            let lines = text.lines().count().max(1) as f64;
            if longest > 0.0 {
                fill_box(&mut rgb, x, y, x + 6.0 * longest - 1.0, y + 11.0 * lines - 1.0, fill);
            }
        }
        other => return err("AttributeError", format!("'ImageDraw' object has no attribute '{other}'")),
    }
    it.check_time()?;
    let origin = format!("ImageDraw.{m} on {}", img.label());
    let drawn = ImgVal { buf: Arc::new(ImageBuf::derived(rgb, origin)), region: img.region, name: None, grey: g, serial: it.next_serial() };
    it.rebind(var, Value::Image(Arc::new(drawn)))?;
    Ok(Value::None)
}

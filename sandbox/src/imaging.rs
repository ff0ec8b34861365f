//! PIL surface: image attributes and methods, `ImageEnhance`, `ImageOps`,
//! `ImageFilter`, showing images, and the size/budget checks on every new image.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use trutheye_core::imageops::{self, Filter, OpError, Rotation, Sampler};
use trutheye_core::observe::to_root;
use trutheye_core::{ImageBuf, ToolKind, ToolUse};

use crate::builtins::{int, num, Args};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::{ImgVal, Value};

pub use crate::modules::{call_module_func, call_operator, implicit_module, import_module};

const IMAGE_METHODS: [&str; 18] = [
    "crop", "resize", "rotate", "transpose", "convert", "copy", "filter", "show", "getpixel", "save", "thumbnail",
    "split", "point", "load", "getdata", "histogram", "paste", "putpixel",
];

/// Turns a core `OpError` (`"ValueError: ..."`) into a Python error.
pub fn op_err(e: OpError) -> PyErr {
    let (kind, msg) = e.0.split_once(": ").unwrap_or(("ValueError", &e.0));
    let kind = match kind {
        "MemoryError" => "MemoryError",
        "IndexError" => "IndexError",
        "TypeError" => "TypeError",
        _ => "ValueError",
    };
    PyErr::new(kind, msg)
}

/// Fails when a `w x h` image would break the episode's size limits, this
/// action's pixel budget or its memory budget; otherwise charges them (and
/// the clock, for the work of filling it). Called before the pixels are
/// allocated.
pub fn check_size(it: &mut Interp, w: u64, h: u64) -> PyResult<()> {
    let l = it.state.limits;
    if w > l.max_side as u64 || h > l.max_side as u64 || w.saturating_mul(h) > l.max_pixels {
        return err(
            "MemoryError",
            format!("a {w}x{h} image exceeds the sandbox image size limit (max side {}, max {} pixels)", l.max_side, l.max_pixels),
        );
    }
    if w * h > it.limits.max_created_pixels {
        return err("MemoryError", format!("a {w}x{h} image exceeds the image memory budget of {} pixels per action", it.limits.max_created_pixels));
    }
    it.pixels_created = it.pixels_created.saturating_add(w * h);
    if it.pixels_created > it.limits.max_created_pixels {
        return err("MemoryError", format!("image memory budget of {} pixels per action exhausted", it.limits.max_created_pixels));
    }
    it.meter.alloc(w * h * 3)?;
    it.meter.charge_native(w * h)
}

/// Wraps new pixels as an image value and records the basic tool use.
pub fn new_image(it: &mut Interp, rgb: RgbImage, region: Option<[u32; 4]>, grey: bool, tool: &str, input: &ImgVal) -> PyResult<Value> {
    it.check_time()?;
    let origin = format!("{tool} of {}", input.label());
    let serial = it.next_serial();
    let out = ImgVal { buf: Arc::new(ImageBuf::derived(rgb, origin)), region, name: None, grey, serial };
    it.obs.tools.push(ToolUse { name: tool.into(), kind: ToolKind::Basic, input: Some(input.provenance()), outputs: vec![out.provenance()], ok: true });
    Ok(Value::Image(Arc::new(out)))
}

/// Adds an image to the episode (what the model will see) unless this action
/// already showed the same pixels.
pub fn show(it: &mut Interp, img: &ImgVal) -> PyResult<()> {
    if img.w() == 0 || img.h() == 0 {
        return err("ValueError", format!("cannot show an empty {}x{} image (the crop box selected no pixels)", img.w(), img.h()));
    }
    if it.obs.images.iter().any(|n| Arc::ptr_eq(&n.image.rgb, &img.buf.rgb)) {
        return Ok(());
    }
    let named = it.state.add((*img.buf).clone(), img.region).map_err(|e| {
        let e = e.to_string();
        let msg = e.strip_prefix("MemoryError: ").unwrap_or(&e).to_string();
        PyErr::new("MemoryError", msg)
    })?;
    it.write(&format!("[shown as {}: {}x{}]\n", named.name, img.w(), img.h()));
    it.obs.images.push(named);
    Ok(())
}

/// `display(x)`: shows images, prints anything else.
pub fn display(it: &mut Interp, v: &Value) -> PyResult<()> {
    match v {
        Value::Image(img) => show(it, img),
        Value::Array(a) => {
            let img = array_image(it, a, true)?;
            show(it, &img)
        }
        other => {
            let s = crate::values::render(other, true, it.limits.max_str_bytes, &mut it.meter)?;
            it.write(&format!("{s}\n"));
            Ok(())
        }
    }
}

/// An array as an image: `Image.fromarray` rules, or what `imshow` shows when `display`.
pub fn array_image(it: &mut Interp, a: &crate::ndarray::NdArr, display: bool) -> PyResult<Arc<ImgVal>> {
    // The conversion reads every element (twice for min-max scaling); its
    // result is no bigger than the array, which was paid for.
    it.meter.charge_native(2 * a.data.len() as u64)?;
    let (rgb, is_grey) = if display { a.to_display()? } else { a.to_image()? };
    check_size(it, rgb.width() as u64, rgb.height() as u64)?;
    match new_image(it, rgb, None, is_grey, "Image.fromarray", &ImgVal::placeholder("array"))? {
        Value::Image(i) => Ok(i),
        _ => err("SystemError", "fromarray did not make an image"),
    }
}

/// The image argument of a function.
pub fn image_arg(v: Option<Value>, f: &str) -> PyResult<Arc<ImgVal>> {
    match v {
        Some(Value::Image(i)) => Ok(i),
        Some(other) => err("TypeError", format!("{f}() expects a PIL image, got '{}'", other.type_name())),
        None => err("TypeError", format!("{f}() missing required argument: 'image'")),
    }
}

/// Attributes of images, arrays, enhancers and modules.
pub fn get_attr(_it: &mut Interp, o: &Value, name: &str) -> PyResult<Value> {
    match o {
        Value::Image(img) => match name {
            "size" => Value::tuple(vec![Value::Int(img.w() as i64), Value::Int(img.h() as i64)]),
            "width" => Ok(Value::Int(img.w() as i64)),
            "height" => Ok(Value::Int(img.h() as i64)),
            "mode" => Ok(Value::str(if img.grey { "L" } else { "RGB" })),
            "format" => Ok(Value::None),
            "info" => Ok(Value::Dict(crate::values::Seq::new(vec![])?)),
            m if IMAGE_METHODS.contains(&m) => Ok(Value::Method(Box::new(o.clone()), m.into())),
            _ => err("AttributeError", format!("'Image' object has no attribute '{name}'")),
        },
        Value::Array(a) => match name {
            "shape" => Value::tuple(a.shape.iter().map(|&d| Value::Int(d as i64)).collect()),
            "ndim" => Ok(Value::Int(a.shape.len() as i64)),
            "size" => Ok(Value::Int(a.data.len() as i64)),
            "dtype" => Ok(Value::str(a.dtype.name())),
            m if crate::numpy::METHODS.contains(&m) => Ok(Value::Method(Box::new(o.clone()), name.into())),
            _ => err(
                "NotImplementedError",
                format!("ndarray.{name} is not supported by the embedded interpreter (use --backend python); available: .shape .ndim .size .dtype .{}()", crate::numpy::METHODS.join("() .")),
            ),
        },
        Value::Draw(_) if crate::draw::METHODS.contains(&name) => Ok(Value::Method(Box::new(o.clone()), name.into())),
        Value::Enhancer(..) if name == "enhance" => Ok(Value::Method(Box::new(o.clone()), name.into())),
        Value::Module(m) => crate::modules::module_attr(m, name),
        _ => err("AttributeError", format!("'{}' object has no attribute '{name}'", o.type_name())),
    }
}

/// `ImageOps.grayscale` / `convert("L")`: PIL's luma, replicated into RGB.
pub use trutheye_core::imageops::grey;

/// `ImageOps.autocontrast(img, cutoff)`: per-band histogram stretch, as PIL does.
pub fn autocontrast(img: &RgbImage, cutoff: f64, grey: bool) -> RgbImage {
    let bands = if grey { 1 } else { 3 };
    let mut luts = [[0u8; 256]; 3];
    for (b, lut) in luts.iter_mut().enumerate().take(bands) {
        let mut h = [0u64; 256];
        for p in img.pixels() {
            h[p[b] as usize] += 1;
        }
        let total: u64 = h.iter().sum();
        let cut_n = (total as f64 * cutoff / 100.0) as u64;
        let (mut lo_cut, mut hi_cut) = (cut_n, cut_n);
        for v in h.iter_mut() {
            if lo_cut == 0 { break; }
            let d = (*v).min(lo_cut);
            *v -= d;
            lo_cut -= d;
        }
        for v in h.iter_mut().rev() {
            if hi_cut == 0 { break; }
            let d = (*v).min(hi_cut);
            *v -= d;
            hi_cut -= d;
        }
        let lo = h.iter().position(|&v| v > 0).unwrap_or(0);
        let hi = h.iter().rposition(|&v| v > 0).unwrap_or(255);
        for (i, out) in lut.iter_mut().enumerate() {
            *out = if hi <= lo {
                i as u8
            } else {
                let scale = 255.0 / (hi - lo) as f64;
                let offset = -(lo as f64) * scale;
                (i as f64 * scale + offset).clamp(0.0, 255.0) as u8
            };
        }
    }
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in 0..3 {
            p[c] = luts[if grey { 0 } else { c }][p[c] as usize];
        }
    }
    out
}

/// The `resample` argument of `resize`; Pillow's default is BICUBIC.
fn resample(v: Option<Value>) -> PyResult<Filter> {
    match v.filter(|v| !matches!(v, Value::None)).map(|v| int(&v, "resample")).transpose()? {
        None => Ok(Filter::Bicubic),
        Some(n) => Filter::from_pillow(n).ok_or_else(|| PyErr::new("ValueError", format!("Unknown resampling filter ({n})."))),
    }
}

/// `img.resize(size, resample)`, bit-exact with Pillow (core's `imageops::resize`).
fn resize(it: &mut Interp, img: &Arc<ImgVal>, w: u32, h: u32, f: Filter) -> PyResult<Value> {
    let max = it.state.limits.max_side;
    // The side limit is refused before the pixel budget is charged.
    if w > max || h > max {
        return err("MemoryError", format!("resize to ({w}, {h}) exceeds the {max}px side limit"));
    }
    check_size(it, w as u64, h as u64)?;
    // Resampling reads every source pixel and writes every output pixel,
    // each through the filter's support (a few taps per axis).
    it.meter.charge_native(8 * (img.w() as u64 * img.h() as u64 + w as u64 * h as u64))?;
    let out = imageops::resize(&img.buf.rgb, w, h, f, max).map_err(op_err)?;
    new_image(it, out, None, img.grey, "resize", img)
}

/// A `fillcolor` as Pillow's `Image.new` reads it: a name, an int (for RGB
/// packed as 0xBBGGRR, as Pillow's `getink` does), or a tuple.
fn fill_color(v: Option<Value>, grey: bool) -> PyResult<Rgb<u8>> {
    let clip = |i: i64| i.clamp(0, 255) as u8;
    let v = match v {
        None | Some(Value::None) => return Ok(Rgb([0; 3])),
        Some(s @ Value::Str(_)) => return crate::draw::color(&s, grey),
        Some(v) => v,
    };
    // A one-element tuple is its element.
    let v = match v.as_seq() {
        Some([one]) => one.clone(),
        _ => v,
    };
    if let Some(i) = v.as_int() {
        return Ok(if grey { Rgb([clip(i); 3]) } else { Rgb([i as u8, (i >> 8) as u8, (i >> 16) as u8]) });
    }
    match v.as_seq() {
        Some(cs) if !grey && (cs.len() == 3 || cs.len() == 4) => {
            let c = |i: usize| cs[i].as_int().map(clip).ok_or_else(|| PyErr::new("TypeError", "color must be a tuple of integers"));
            Ok(Rgb([c(0)?, c(1)?, c(2)?]))
        }
        _ if grey => err("TypeError", "color must be int or single-element tuple"),
        _ => err("TypeError", "color must be int, or tuple of one, three or four elements"),
    }
}

/// An optional `(x, y)` argument (`center`, `translate`).
fn point_arg(v: Option<Value>, what: &str) -> PyResult<Option<(f64, f64)>> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(v) => match v.as_seq() {
            Some([]) => Ok(None),
            Some([x, y]) => Ok(Some((num(x, what)?, num(y, what)?))),
            _ => err("TypeError", format!("{what} must be an (x, y) tuple")),
        },
    }
}

/// `img.rotate(angle, resample, expand, center, translate, fillcolor)` as
/// Pillow computes it (core's `imageops::Rotation`): exact transposes for
/// 0/90/180/270 without center or translate, otherwise an affine transform
/// with Pillow's inverse matrix.
fn rotate(it: &mut Interp, img: &Arc<ImgVal>, mut a: Args) -> PyResult<Value> {
    let angle = num(&a.req(0, "angle")?, "angle")?;
    let resample = a.get(1, "resample").filter(|v| !matches!(v, Value::None)).map(|v| int(&v, "resample")).transpose()?;
    let expand = a.get(2, "expand").is_some_and(|v| v.truthy());
    let center = point_arg(a.get(3, "center"), "center")?;
    let translate = point_arg(a.get(4, "translate"), "translate")?;
    let fill = fill_color(a.get(5, "fillcolor"), img.grey)?;
    a.done(6)?;
    if !angle.is_finite() {
        return err("ValueError", "rotation angle must be finite");
    }
    let rgb = &img.buf.rgb;
    let rotation = Rotation::new(rgb.width(), rgb.height(), angle, expand, center, translate);
    let (w, h) = rotation.size();
    let sampler = if rotation.is_transpose() {
        // Pillow takes its transpose shortcuts before it looks at the filter.
        Sampler::Nearest
    } else {
        let sampler = Sampler::from_pillow(resample.unwrap_or(0)).map_err(op_err)?;
        let max = it.state.limits.max_side as i64;
        if !(0..=max).contains(&w) || !(0..=max).contains(&h) {
            return err("MemoryError", format!("a {w}x{h} rotated image exceeds the sandbox image size limit (max side {max})"));
        }
        sampler
    };
    check_size(it, w as u64, h as u64)?;
    it.meter.charge_native(8 * w as u64 * h as u64)?;
    let out = rotation.apply(rgb, sampler, fill).map_err(op_err)?;
    new_image(it, out, None, img.grey, "rotate", img)
}

fn box4(v: &Value) -> PyResult<[Value; 4]> {
    let items = v.as_seq().ok_or_else(|| PyErr::new("TypeError", format!("crop box must be a 4-tuple, not '{}'", v.type_name())))?;
    for x in items {
        num(x, "crop box coordinate")?;
    }
    items.to_vec().try_into().map_err(|_| PyErr::new("ValueError", "crop box must have 4 elements (left, upper, right, lower)"))
}

/// Python's `int(round(x))` for a crop coordinate (ties to even, as `round`).
fn round_coord(v: &Value) -> PyResult<i64> {
    match v {
        Value::Float(f) if f.is_nan() => err("ValueError", "cannot convert float NaN to integer"),
        Value::Float(f) if f.is_infinite() => err("OverflowError", "cannot convert float infinity to integer"),
        Value::Float(f) if f.abs() >= 9.2e18 => err("OverflowError", "int too large (64-bit integers only)"),
        Value::Float(f) => Ok(f.round_ties_even() as i64),
        other => int(other, "crop box coordinate"),
    }
}

/// `img.crop(box)` with Pillow's semantics: the result is exactly
/// `(right - left) x (lower - upper)` (coordinates rounded like Pillow's
/// `map(int, map(round, box))`), parts outside the source are black (zeros),
/// an empty box gives an empty image, and `right < left` / `lower < upper`
/// is Pillow's `ValueError`. The region recorded in `image_clue_0` is the part
/// of the box inside the source (none when the box lies entirely outside).
fn crop(it: &mut Interp, img: &Arc<ImgVal>, b: &Value) -> PyResult<Value> {
    let [x0, y0, x1, y1] = box4(b)?;
    // Pillow compares the coordinates as given, before rounding.
    if crate::values::compare(&x1, &x0, &mut it.meter)? == std::cmp::Ordering::Less {
        return err("ValueError", "Coordinate 'right' is less than 'left'");
    }
    if crate::values::compare(&y1, &y0, &mut it.meter)? == std::cmp::Ordering::Less {
        return err("ValueError", "Coordinate 'lower' is less than 'upper'");
    }
    let [x0, y0, x1, y1] = [round_coord(&x0)?, round_coord(&y0)?, round_coord(&x1)?, round_coord(&y1)?];
    // Rounding is monotone, so these are >= 0; i128 keeps huge boxes exact.
    let w = (x1 as i128 - x0 as i128).clamp(0, u64::MAX as i128) as u64;
    let h = (y1 as i128 - y0 as i128).clamp(0, u64::MAX as i128) as u64;
    check_size(it, w, h)?;
    let (sw, sh) = (img.w() as i64, img.h() as i64);
    let (ix0, ix1) = (x0.clamp(0, sw), x1.clamp(0, sw));
    let (iy0, iy1) = (y0.clamp(0, sh), y1.clamp(0, sh));
    let mut out = RgbImage::new(w as u32, h as u32);
    let inside = ix1 > ix0 && iy1 > iy0;
    if inside {
        let src = img.buf.rgb.as_raw();
        let (n, dst_x) = (3 * (ix1 - ix0) as usize, 3 * (ix0 - x0) as usize);
        let dst = &mut *out;
        for y in iy0..iy1 {
            let s = 3 * (y as usize * sw as usize + ix0 as usize);
            let d = 3 * (y - y0) as usize * w as usize + dst_x;
            dst[d..d + n].copy_from_slice(&src[s..s + n]);
        }
    }
    let region = if inside { to_root(img.region, [ix0 as u32, iy0 as u32, ix1 as u32, iy1 as u32]) } else { None };
    if region.is_some() {
        it.obs.bbox_candidate = region;
    }
    new_image(it, out, region, img.grey, "crop", img)
}

fn size2(v: &Value, f: &str) -> PyResult<(u32, u32)> {
    let items = v.as_seq().ok_or_else(|| PyErr::new("TypeError", format!("{f}() size must be a (width, height) tuple")))?;
    let [w, h] = items else { return err("ValueError", format!("{f}() size must be a (width, height) tuple")) };
    let (w, h) = (int(w, "width")?, int(h, "height")?);
    if w <= 0 || h <= 0 {
        return err("ValueError", format!("height and width must be > 0, got ({w}, {h})"));
    }
    if w > u32::MAX as i64 || h > u32::MAX as i64 {
        return err("MemoryError", format!("a {w}x{h} image exceeds the sandbox image size limit"));
    }
    Ok((w as u32, h as u32))
}

/// Methods of images, arrays and enhancers.
pub fn call_method(it: &mut Interp, recv: Value, m: &str, pos: Vec<Value>, kw: Vec<(String, Value)>) -> PyResult<Value> {
    let mut a = Args::new(m, pos, kw);
    let img = match &recv {
        Value::Image(img) => img.clone(),
        Value::Array(arr) => return crate::numpy::array_method(it, arr, m, a),
        Value::Draw(var) => return crate::draw::call(it, var, m, a),
        Value::Enhancer(kind, img) => {
            let f = num(&a.req(0, "factor")?, "enhance factor")?;
            a.done(1)?;
            if !f.is_finite() {
                return err("ValueError", format!("enhance factor {f} is not finite"));
            }
            check_size(it, img.w() as u64, img.h() as u64)?;
            // Sharpness smooths with a 3x3 kernel first; the others are pointwise
            // (Contrast also reads the image once for its mean).
            it.meter.charge_native(10 * img.w() as u64 * img.h() as u64)?;
            let out = imageops::enhance(&img.buf.rgb, *kind, f);
            return new_image(it, out, img.region, img.grey, "enhance", img);
        }
        other => return err("AttributeError", format!("'{}' object has no attribute '{m}'", other.type_name())),
    };
    let rgb = img.buf.rgb.clone();
    match m {
        "crop" => {
            let b = a.get(0, "box");
            a.done(1)?;
            let Some(b) = b.filter(|b| !matches!(b, Value::None)) else { return Ok(Value::Image(img)) };
            crop(it, &img, &b)
        }
        "resize" => {
            let (w, h) = size2(&a.req(0, "size")?, m)?;
            let f = resample(a.get(1, "resample"))?;
            a.kw("reducing_gap");
            a.done(2)?;
            resize(it, &img, w, h, f)
        }
        "rotate" => rotate(it, &img, a),
        "transpose" => {
            let method = int(&a.req(0, "method")?, "method")?;
            a.done(1)?;
            check_size(it, img.w() as u64, img.h() as u64)?;
            let out = match method {
                0 => imageops::flip_horizontal(&rgb),
                1 => imageops::flip_vertical(&rgb),
                2 => imageops::rotate(&rgb, 90.0, true).map_err(op_err)?,
                3 => imageops::rotate(&rgb, 180.0, true).map_err(op_err)?,
                4 => imageops::rotate(&rgb, 270.0, true).map_err(op_err)?,
                5 => image::imageops::flip_horizontal(&image::imageops::rotate90(&*rgb)),
                6 => image::imageops::flip_vertical(&image::imageops::rotate90(&*rgb)),
                _ => return err("ValueError", "Unknown transpose method (use Image.FLIP_LEFT_RIGHT, Image.ROTATE_90, ...)"),
            };
            new_image(it, out, None, img.grey, "transpose", &img)
        }
        "convert" => {
            let mode = match a.req(0, "mode")? { Value::Str(s) => s.to_string(), v => return err("TypeError", format!("convert() mode must be str, not {}", v.type_name())) };
            a.kw("dither");
            a.done(1)?;
            match mode.as_str() {
                "RGB" => Ok(Value::Image(Arc::new(ImgVal { grey: false, ..(*img).clone() }))),
                "L" if img.grey => Ok(Value::Image(img)),
                "L" => {
                    check_size(it, img.w() as u64, img.h() as u64)?;
                    new_image(it, grey(&rgb), img.region, true, "convert", &img)
                }
                other => err("NotImplementedError", format!("convert('{other}') is not supported in this sandbox (only 'RGB' and 'L')")),
            }
        }
        "copy" => {
            a.done(0)?;
            Ok(Value::Image(Arc::new((*img).clone())))
        }
        "filter" => {
            let f = a.req(0, "filter")?;
            a.done(1)?;
            check_size(it, img.w() as u64, img.h() as u64)?;
            // The filters charge their kernel work per row as they go.
            let m = &mut it.meter;
            let out = match f {
                Value::Opaque("ImageFilter.SMOOTH") => {
                    m.charge_native(9 * 3 * img.w() as u64 * img.h() as u64)?;
                    imageops::smooth(&rgb)
                }
                Value::Opaque(name) if crate::filters::FIXED.contains(&name) => crate::filters::fixed(&rgb, name, m)?,
                Value::FilterSpec("GaussianBlur", r) => crate::filters::gaussian(&rgb, r, m)?,
                Value::FilterSpec("BoxBlur", r) => crate::filters::box_blur(&rgb, r, m)?,
                Value::FilterSpec(_, size) => crate::filters::median(&rgb, size as i64, m)?,
                other => return err("TypeError", format!("filter() expects an ImageFilter, got '{}'", other.type_name())),
            };
            new_image(it, out, img.region, img.grey, "filter", &img)
        }
        "show" => {
            show(it, &img)?;
            Ok(Value::None)
        }
        "getpixel" => {
            let xy = a.req(0, "xy")?;
            a.done(1)?;
            let (x, y) = match xy.as_seq() {
                Some([x, y]) => (int(x, "x")?, int(y, "y")?),
                _ => return err("TypeError", "getpixel() expects an (x, y) tuple"),
            };
            let (w, h) = (img.w() as i64, img.h() as i64);
            let x = if x < 0 { x + w } else { x };
            let y = if y < 0 { y + h } else { y };
            if !(0..w).contains(&x) || !(0..h).contains(&y) {
                return err("IndexError", "image index out of range");
            }
            let p = rgb.get_pixel(x as u32, y as u32);
            if img.grey {
                return Ok(Value::Int(p[0] as i64));
            }
            Value::tuple(p.0.iter().map(|&c| Value::Int(c as i64)).collect())
        }
        "save" => err("PermissionError", "no file system in this sandbox: save() is not available; assign the image to `result` or call plt.show() to show it"),
        other => err("NotImplementedError", format!("Image.{other}() is not supported in this sandbox")),
    }
}

//! Importable modules (PIL, numpy, math, matplotlib.pyplot), their attributes
//! and functions, and calls to forensic operators from the registry.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use serde_json::Value as Json;
use trutheye_core::imageops;
use trutheye_core::observe::{operator_observation, to_root};
use trutheye_core::registry::CallError;
use trutheye_core::{ImageBuf, NamedImage, ToolKind, ToolUse};

use crate::builtins::{int, num, Args};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::imaging::{autocontrast, check_size, grey, image_arg, new_image, show};
use crate::values::{ImgVal, Seq, Value};

const MODULES: [&str; 10] = [
    "PIL", "PIL.Image", "PIL.ImageEnhance", "PIL.ImageOps", "PIL.ImageFilter", "PIL.ImageDraw", "numpy", "math",
    "matplotlib", "matplotlib.pyplot",
];

/// What failed lookups of real but unimplemented names add to their message.
pub const NOT_EMBEDDED: &str = ": not available in the embedded interpreter; run with --backend python (real CPython in a jail)";

/// `import name`: allowed modules only.
pub fn import_module(name: &str) -> PyResult<Value> {
    match MODULES.iter().find(|m| **m == name) {
        Some(m) => Ok(Value::Module(m)),
        None => err("ImportError", format!("import of '{name}' is not available in the embedded interpreter; run with --backend python (real CPython in a jail)")),
    }
}

/// `NotImplementedError: numpy.random is not supported by the embedded interpreter (use --backend python)`.
pub fn not_embedded<T>(module: &str, name: &str) -> PyResult<T> {
    err("NotImplementedError", format!("{module}.{name} is not supported by the embedded interpreter (use --backend python)"))
}

/// The module path of a function's qualified name (`np.mean` -> `numpy.mean`).
pub fn qualified(q: &str) -> String {
    let (m, f) = q.split_once('.').unwrap_or(("", q));
    let m = match m {
        "np" => "numpy",
        "plt" => "matplotlib.pyplot",
        "Image" | "ImageOps" | "ImageEnhance" | "ImageFilter" | "ImageDraw" => return format!("PIL.{q}"),
        other => other,
    };
    format!("{m}.{f}")
}

/// numpy's dtype names (`np.uint8`): supported ones work as `dtype=`, the
/// others are named in the `TypeError` of the call that uses them.
const NP_DTYPES: [&str; 16] = [
    "numpy.uint8", "numpy.float32", "numpy.float64", "numpy.int32", "numpy.int64", "numpy.bool", "numpy.int8",
    "numpy.int16", "numpy.uint16", "numpy.uint32", "numpy.uint64", "numpy.float16", "numpy.complex64",
    "numpy.complex128", "numpy.intp", "numpy.uintp",
];

/// Names that resolve to modules without an import (models often forget it).
pub fn implicit_module(n: &str) -> Option<Value> {
    let m = match n {
        "Image" | "ImageEnhance" | "ImageOps" | "ImageFilter" | "ImageDraw" => return import_module(&format!("PIL.{n}")).ok(),
        "np" | "numpy" => "numpy",
        "plt" => "matplotlib.pyplot",
        "math" | "PIL" => return import_module(n).ok(),
        _ => return None,
    };
    import_module(m).ok()
}

const IMAGE_CONSTS: [(&str, i64); 14] = [
    ("FLIP_LEFT_RIGHT", 0), ("FLIP_TOP_BOTTOM", 1), ("ROTATE_90", 2), ("ROTATE_180", 3), ("ROTATE_270", 4),
    ("TRANSPOSE", 5), ("TRANSVERSE", 6), ("NEAREST", 0), ("LANCZOS", 1), ("ANTIALIAS", 1), ("BILINEAR", 2),
    ("BICUBIC", 3), ("BOX", 4), ("HAMMING", 5),
];
const MATH_FUNCS: [&str; 24] = [
    "sqrt", "floor", "ceil", "log", "log2", "log10", "exp", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "degrees", "radians", "hypot", "fabs", "isfinite", "isnan", "isinf", "pow", "trunc", "gcd",
];

fn func(q: &str) -> PyResult<Value> {
    Ok(Value::Func(q.into()))
}

/// `module.name`.
pub fn module_attr(m: &str, name: &str) -> PyResult<Value> {
    let missing = || not_embedded(m, name);
    match m {
        "PIL" => import_module(&format!("PIL.{name}")).or_else(|_| missing()),
        "matplotlib" if name == "pyplot" => import_module("matplotlib.pyplot"),
        "PIL.Image" => match name {
            "Resampling" | "Transpose" => Ok(Value::Module(if name == "Resampling" { "PIL.Image.Resampling" } else { "PIL.Image.Transpose" })),
            "open" | "new" | "fromarray" | "blend" | "merge" | "Image" => func(&format!("Image.{name}")),
            _ => IMAGE_CONSTS.iter().find(|(k, _)| *k == name).map(|(_, v)| Value::Int(*v)).map_or_else(missing, Ok),
        },
        "PIL.Image.Resampling" | "PIL.Image.Transpose" => IMAGE_CONSTS.iter().find(|(k, _)| *k == name).map(|(_, v)| Value::Int(*v)).map_or_else(missing, Ok),
        "PIL.ImageEnhance" if matches!(name, "Contrast" | "Brightness" | "Sharpness" | "Color") => func(&format!("ImageEnhance.{name}")),
        "PIL.ImageOps" => func(&format!("ImageOps.{name}")),
        "PIL.ImageFilter" => match crate::filters::FIXED.iter().find(|f| f.strip_prefix("ImageFilter.") == Some(name)) {
            Some(f) => Ok(Value::Opaque(f)),
            None => func(&format!("ImageFilter.{name}")),
        },
        "PIL.ImageDraw" => func(&format!("ImageDraw.{name}")),
        "numpy" => match name {
            "bool_" => Ok(Value::Opaque("numpy.bool")),
            "pi" => Ok(Value::Float(std::f64::consts::PI)),
            "e" => Ok(Value::Float(std::f64::consts::E)),
            "inf" => Ok(Value::Float(f64::INFINITY)),
            "nan" => Ok(Value::Float(f64::NAN)),
            f if crate::numpy::FUNCS.contains(&f) => func(&format!("np.{f}")),
            _ => match NP_DTYPES.iter().find(|d| d.strip_prefix("numpy.") == Some(name)) {
                Some(d) => Ok(Value::Opaque(d)),
                None => not_embedded("numpy", name),
            },
        },
        "math" => match name {
            "pi" => Ok(Value::Float(std::f64::consts::PI)),
            "e" => Ok(Value::Float(std::f64::consts::E)),
            "tau" => Ok(Value::Float(std::f64::consts::TAU)),
            "inf" => Ok(Value::Float(f64::INFINITY)),
            "nan" => Ok(Value::Float(f64::NAN)),
            f if MATH_FUNCS.contains(&f) => func(&format!("math.{f}")),
            _ => missing(),
        },
        "matplotlib.pyplot" => func(&format!("plt.{name}")),
        _ => missing(),
    }
}

fn math(f: &str, mut a: Args) -> PyResult<Value> {
    let x = num(&a.req(0, "x")?, &format!("math.{f}() argument"))?;
    let y = a.get(1, "y").map(|v| num(&v, &format!("math.{f}() argument"))).transpose()?;
    a.done(2)?;
    let domain = || err("ValueError", "math domain error");
    let to_int = |v: f64| -> PyResult<Value> {
        if v.is_nan() {
            return err("ValueError", "cannot convert float NaN to integer");
        }
        if v.is_infinite() || v.abs() >= 9.2e18 {
            return err("OverflowError", "cannot convert float infinity to integer (64-bit integers only)");
        }
        Ok(Value::Int(v as i64))
    };
    let r = match f {
        "sqrt" if x < 0.0 => return domain(),
        "sqrt" => x.sqrt(),
        "floor" => return to_int(x.floor()),
        "ceil" => return to_int(x.ceil()),
        "trunc" => return to_int(x.trunc()),
        "log" | "log2" | "log10" if x <= 0.0 => return domain(),
        "log" => match y { Some(b) if b > 0.0 && b != 1.0 => x.ln() / b.ln(), Some(_) => return domain(), None => x.ln() },
        "log2" => x.log2(),
        "log10" => x.log10(),
        "exp" => x.exp(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "asin" | "acos" if !(-1.0..=1.0).contains(&x) => return domain(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "atan2" => x.atan2(y.ok_or_else(|| PyErr::new("TypeError", "atan2 expected 2 arguments"))?),
        "degrees" => x.to_degrees(),
        "radians" => x.to_radians(),
        "hypot" => x.hypot(y.unwrap_or(0.0)),
        "fabs" => x.abs(),
        "pow" => x.powf(y.ok_or_else(|| PyErr::new("TypeError", "pow expected 2 arguments"))?),
        "isfinite" => return Ok(Value::Bool(x.is_finite())),
        "isnan" => return Ok(Value::Bool(x.is_nan())),
        "isinf" => return Ok(Value::Bool(x.is_infinite())),
        "gcd" => {
            let (mut p, mut q) = ((x as i64).unsigned_abs(), (y.unwrap_or(0.0) as i64).unsigned_abs());
            while q != 0 {
                (p, q) = (q, p % q);
            }
            return Ok(Value::Int(p as i64));
        }
        _ => return err("AttributeError", format!("module 'math' has no attribute '{f}'")),
    };
    if r.is_infinite() && x.is_finite() {
        return err("OverflowError", "math range error");
    }
    Ok(Value::Float(r))
}

/// Calls a module function by qualified name (`Image.open`, `np.mean`, ...).
pub fn call_module_func(it: &mut Interp, q: &str, pos: Vec<Value>, kw: Vec<(String, Value)>) -> PyResult<Value> {
    let (module, f) = q.split_once('.').unwrap_or(("", q));
    let mut a = Args::new(q, pos, kw);
    match module {
        "math" => math(f, a),
        "Image" => match f {
            "open" => err("PermissionError", "no file system in this sandbox: use the provided images (image, image_clue_0, ...)"),
            "new" => {
                let mode = a.req(0, "mode")?;
                let (w, h) = match a.req(1, "size")?.as_seq() {
                    Some([w, h]) => (int(w, "width")?, int(h, "height")?),
                    _ => return err("TypeError", "Image.new() size must be a (width, height) tuple"),
                };
                let color = a.get(2, "color").unwrap_or(Value::Int(0));
                a.done(3)?;
                if w <= 0 || h <= 0 {
                    return err("ValueError", "width and height must be > 0");
                }
                check_size(it, w as u64, h as u64)?;
                let c = match color.as_seq() {
                    Some(cs) => {
                        let v: Vec<i64> = cs.iter().map(|c| int(c, "color")).collect::<PyResult<_>>()?;
                        let g = |i: usize| v.get(i).copied().unwrap_or(0).clamp(0, 255) as u8;
                        [g(0), g(1), g(2)]
                    }
                    None => [int(&color, "color")?.clamp(0, 255) as u8; 3],
                };
                let is_grey = matches!(&mode, Value::Str(m) if &**m == "L");
                let rgb = RgbImage::from_pixel(w as u32, h as u32, Rgb(c));
                let blank = ImgVal { buf: Arc::new(ImageBuf::derived(RgbImage::new(1, 1), "new")), region: None, name: Some("Image.new".into()), grey: false, serial: 0 };
                new_image(it, rgb, None, is_grey, "new", &blank)
            }
            "fromarray" => {
                let arr = match a.req(0, "obj")? {
                    Value::Array(arr) => arr,
                    other => return err("TypeError", format!("Image.fromarray() expects a numpy array, got '{}'", other.type_name())),
                };
                a.get(1, "mode");
                a.done(2)?;
                Ok(Value::Image(crate::imaging::array_image(it, &arr, false)?))
            }
            _ => err("NotImplementedError", format!("Image.{f}() is not supported in this sandbox")),
        },
        "ImageEnhance" => {
            let img = image_arg(a.get(0, "image"), q)?;
            a.done(1)?;
            let kind = match f {
                "Contrast" => imageops::Enhance::Contrast,
                "Brightness" => imageops::Enhance::Brightness,
                "Color" => imageops::Enhance::Color,
                _ => imageops::Enhance::Sharpness,
            };
            Ok(Value::Enhancer(kind, img))
        }
        "ImageOps" => {
            let img = image_arg(a.get(0, "image"), q)?;
            let rgb = img.buf.rgb.clone();
            if matches!(f, "grayscale" | "mirror" | "flip" | "invert" | "autocontrast") {
                // Paid for before the new pixels exist (autocontrast reads the image twice).
                check_size(it, img.w() as u64, img.h() as u64)?;
                it.meter.charge_native(2 * img.w() as u64 * img.h() as u64)?;
            }
            let (out, is_grey, region) = match f {
                "grayscale" => (grey(&rgb), true, img.region),
                "mirror" => (imageops::flip_horizontal(&rgb), img.grey, None),
                "flip" => (imageops::flip_vertical(&rgb), img.grey, None),
                "invert" => {
                    let mut o = (*rgb).clone();
                    o.iter_mut().for_each(|v| *v = 255 - *v);
                    (o, img.grey, img.region)
                }
                "autocontrast" => {
                    let cutoff = a.get(1, "cutoff").map(|v| num(&v, "cutoff")).transpose()?.unwrap_or(0.0);
                    if !(0.0..50.0).contains(&cutoff) {
                        return err("ValueError", "cutoff must be in [0, 50)");
                    }
                    a.kw("ignore");
                    a.kw("preserve_tone");
                    (autocontrast(&rgb, cutoff, img.grey), img.grey, img.region)
                }
                _ => return err("NotImplementedError", format!("ImageOps.{f}() is not supported in this sandbox (supported: grayscale, mirror, flip, invert, autocontrast)")),
            };
            a.done(2)?;
            new_image(it, out, region, is_grey, &format!("ImageOps.{f}"), &img)
        }
        "ImageFilter" => {
            let (kind, name, default) = match f {
                "GaussianBlur" => ("GaussianBlur", "radius", 2.0),
                "BoxBlur" => ("BoxBlur", "radius", 2.0),
                "MedianFilter" => ("MedianFilter", "size", 3.0),
                _ => return err("NotImplementedError", format!("ImageFilter.{f} is not available in this sandbox (fixed filters, GaussianBlur, BoxBlur, MedianFilter)")),
            };
            let p = a.get(0, name).map(|v| num(&v, name)).transpose()?.unwrap_or(default);
            a.done(1)?;
            Ok(Value::FilterSpec(kind, p))
        }
        "ImageDraw" => err("NotImplementedError", format!("ImageDraw.{f} is not supported in this sandbox; crop the region instead")),
        "np" => crate::numpy::call(it, f, a),
        "plt" => match f {
            "imshow" => {
                let v = a.req(0, "X")?;
                match v {
                    Value::Image(img) => it.pending_plot.push(img),
                    Value::Array(arr) => {
                        let img = crate::imaging::array_image(it, &arr, true)?;
                        it.pending_plot.push(img);
                    }
                    other => return err("TypeError", format!("imshow() expects an image, got '{}'", other.type_name())),
                }
                Ok(Value::None)
            }
            "show" => {
                for img in std::mem::take(&mut it.pending_plot) {
                    show(it, &img)?;
                }
                Ok(Value::None)
            }
            "savefig" => err("PermissionError", "no file system in this sandbox: use plt.show() to show the figure"),
            "subplots" => err("NotImplementedError", "plt.subplots() is not supported in this sandbox; use plt.figure(), plt.imshow() and plt.show()"),
            "figure" | "title" | "axis" | "xlabel" | "ylabel" | "tight_layout" | "colorbar" | "subplot" | "close" | "suptitle"
            | "grid" | "xticks" | "yticks" | "legend" | "clf" | "text" => Ok(Value::None),
            _ => err("NotImplementedError", format!("plt.{f}() is not supported in this sandbox")),
        },
        _ => err("NameError", format!("name '{q}' is not defined")),
    }
}

/// An operator parameter as JSON, charged per element and byte copied (a
/// parameter can be a list of shared lists).
fn to_json(v: &Value, m: &mut crate::values::Meter) -> PyResult<Json> {
    // A JSON value is about as big as a value slot.
    m.alloc(crate::eval::meter::VALUE_BYTES)?;
    m.elems(1)?;
    Ok(match v {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number).ok_or_else(|| PyErr::new("ValueError", "parameters must be finite numbers"))?,
        Value::Str(s) => {
            m.new_str(s.len())?;
            Json::String(s.to_string())
        }
        Value::List(s) | Value::Tuple(s) => Json::Array(s.items.iter().map(|x| to_json(x, m)).collect::<PyResult<_>>()?),
        Value::Dict(s) => {
            let meter = m;
            let mut m = serde_json::Map::new();
            for p in s.items.iter().filter_map(|kv| kv.as_seq()) {
                if let [Value::Str(k), x] = p {
                    m.insert(k.to_string(), to_json(x, meter)?);
                } else {
                    return err("TypeError", "parameter dict keys must be strings");
                }
            }
            Json::Object(m)
        }
        other => return err("TypeError", format!("a '{}' cannot be passed as an operator parameter", other.type_name())),
    })
}

fn from_json(j: &Json) -> PyResult<Value> {
    Ok(match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Value::str(s.as_str()),
        Json::Array(a) => Value::list(a.iter().map(from_json).collect::<PyResult<_>>()?)?,
        Json::Object(o) => Value::Dict(Seq::new(o.iter().map(|(k, x)| Value::tuple(vec![Value::str(k.as_str()), from_json(x)?])).collect::<PyResult<_>>()?)?),
    })
}

/// `op(image, **params)`: runs a registry operator and merges its observation.
pub fn call_operator(it: &mut Interp, name: &str, pos: Vec<Value>, kw: Vec<(String, Value)>) -> PyResult<Value> {
    let mut a = Args::new(name, pos, kw);
    let img = match a.get(0, "image").or_else(|| a.kw("img")) {
        Some(Value::Array(arr)) => crate::imaging::array_image(it, &arr, false)?,
        v => image_arg(v, name)?,
    };
    if a.pos.len() > 1 {
        return err("TypeError", format!("{name}() takes 1 positional argument (the image); pass parameters by keyword"));
    }
    if img.w() == 0 || img.h() == 0 {
        return err("ValueError", format!("{name}() needs a non-empty image, got {}x{}", img.w(), img.h()));
    }
    let mut params = serde_json::Map::new();
    for (k, v) in std::mem::take(&mut a.kw) {
        params.insert(k, to_json(&v, &mut it.meter)?);
    }
    let input = NamedImage { name: img.label(), image: img.buf.clone(), region_in_root: img.region };
    let registry = it.state.registry.clone();
    let result = registry.call(name, &img.buf, &Json::Object(params));
    it.check_time()?;
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            it.obs.tools.push(ToolUse { name: name.into(), kind: ToolKind::Forensic, input: Some(img.provenance()), outputs: vec![], ok: false });
            let kind = match e {
                CallError::BadArguments { .. } => "TypeError",
                CallError::Unknown { .. } => "NameError",
                CallError::Failed { .. } => "RuntimeError",
            };
            return err(kind, e.to_string());
        }
    };
    let regions = out.regions.iter().map(|r| {
        let b = to_root(img.region, r.bbox).unwrap_or(r.bbox);
        Value::list(b.iter().map(|&c| Value::Int(c as i64)).collect())
    });
    let regions = Value::list(regions.collect::<PyResult<_>>()?)?;
    let (summary, stats) = (Value::str(out.summary.trim()), from_json(&out.stats)?);
    let obs = operator_observation(it.state, name, &input, out);
    it.write(&format!("{}\n", obs.text));
    let map = obs.images.first().map(|n| {
        Value::Image(Arc::new(ImgVal { buf: n.image.clone(), region: None, name: Some(n.name.clone()), grey: false, serial: 0 }))
    });
    it.obs.images.extend(obs.images);
    it.obs.artifacts.extend(obs.artifacts);
    it.obs.evidence.extend(obs.evidence);
    // The observation names the input for the model; tool records use its identity.
    it.obs.tools.extend(obs.tools.into_iter().map(|t| ToolUse { input: Some(img.provenance()), ..t }));
    if obs.bbox_candidate.is_some() {
        it.obs.bbox_candidate = obs.bbox_candidate;
    }
    let mut pairs = vec![
        Value::tuple(vec![Value::str("summary"), summary])?,
        Value::tuple(vec![Value::str("stats"), stats])?,
        Value::tuple(vec![Value::str("regions"), regions])?,
    ];
    if let Some(m) = map {
        pairs.push(Value::tuple(vec![Value::str("map"), m])?);
    }
    Ok(Value::Dict(Seq::new(pairs)?))
}

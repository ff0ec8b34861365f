//! Runtime values, Python `str`/`repr` rendering, truthiness and comparison.
//!
//! Containers are copy-on-write (`Arc` + `make_mut`): cheap to pass around and
//! `Send`, and they can never form reference cycles. Unlike Python, two names
//! bound to the same list do not see each other's mutations.

use std::cmp::Ordering;
use std::sync::Arc;

use trutheye_core::{BBox, ImageBuf};

use crate::error::{err, PyErr, PyResult};
pub use crate::eval::Meter;
use crate::eval::meter::SLICE_BYTES;

/// Maximum nesting depth of container values.
pub const MAX_VALUE_DEPTH: usize = 100;

/// An image value: pixels plus where it sits in `image_clue_0`.
#[derive(Clone, Debug)]
pub struct ImgVal {
    /// The pixels (RGB8; `L` images are grey replicated into three channels).
    pub buf: Arc<ImageBuf>,
    /// Region in `image_clue_0` when known (an episode image, or crops of one).
    pub region: Option<BBox>,
    /// The episode name (`image_clue_k`) when this is an episode image.
    pub name: Option<String>,
    /// True for mode `L`.
    pub grey: bool,
    /// Serial number of an image an action made (crop, resize, draw, ...), unique
    /// within the episode; 0 for episode images and operator maps, which have names.
    pub serial: u64,
}

impl ImgVal {
    /// Width.
    pub fn w(&self) -> u32 {
        self.buf.width()
    }
    /// Height.
    pub fn h(&self) -> u32 {
        self.buf.height()
    }
    /// A 1x1 stand-in input for tool records of images made from nothing.
    pub fn placeholder(name: &str) -> ImgVal {
        ImgVal { buf: Arc::new(ImageBuf::derived(image::RgbImage::new(1, 1), name)), region: None, name: Some(name.into()), grey: false, serial: 0 }
    }
    /// A name for messages to the model.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("derived {}x{} image", self.w(), self.h()))
    }
    /// The identity tool records use (`image_clue_k`, or `derived#N`), so rewards
    /// can follow an image from the crop that made it to the operator that reads it.
    pub fn provenance(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("derived#{}", self.serial))
    }
}

/// A list or tuple body with its nesting depth.
#[derive(Clone, Debug, Default)]
pub struct Seq {
    /// Elements.
    pub items: Vec<Value>,
    /// 1 + the deepest element's depth.
    pub depth: usize,
}

impl Seq {
    /// Builds a sequence, checking the nesting depth.
    pub fn new(items: Vec<Value>) -> PyResult<Arc<Seq>> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_VALUE_DEPTH {
            return err("RecursionError", format!("containers nested deeper than {MAX_VALUE_DEPTH} levels"));
        }
        Ok(Arc::new(Seq { items, depth }))
    }
}

/// Runtime values.
#[derive(Clone, Debug)]
pub enum Value {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` (64-bit, overflow is an error).
    Int(i64),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(Arc<str>),
    /// `list`.
    List(Arc<Seq>),
    /// `tuple`.
    Tuple(Arc<Seq>),
    /// `dict` (insertion ordered): a `Seq` of `(key, value)` tuples.
    Dict(Arc<Seq>),
    /// A lazy `range(start, stop, step)`.
    Range(i64, i64, i64),
    /// A PIL-like image.
    Image(Arc<ImgVal>),
    /// A numpy array (`np.array(img)`, `np.zeros(...)`, arithmetic results).
    Array(Arc<crate::ndarray::NdArr>),
    /// `ImageDraw.Draw(var)`: draws on the image held by variable `var`.
    Draw(Arc<str>),
    /// A parametrised filter: `ImageFilter.GaussianBlur(radius)` / `MedianFilter(size)`.
    FilterSpec(&'static str, f64),
    /// A module (`math`, `PIL.Image`, ...), by canonical name.
    Module(&'static str),
    /// A builtin or module function, by qualified name (`len`, `math.sqrt`).
    Func(Arc<str>),
    /// A method bound to a receiver.
    Method(Box<Value>, Arc<str>),
    /// A forensic operator from the registry.
    Operator(Arc<str>),
    /// An `ImageEnhance.<Kind>(img)` enhancer.
    Enhancer(trutheye_core::imageops::Enhance, Arc<ImgVal>),
    /// An opaque named constant (`ImageFilter.SMOOTH`).
    Opaque(&'static str),
    /// A user function (`def` or `lambda`).
    Function(Arc<crate::eval::Closure>),
    /// An exception class (`ValueError`), by name.
    ExcType(&'static str),
    /// An exception instance: its class and message (`ValueError('bad box')`).
    Exception(&'static str, Arc<str>),
}

impl Value {
    /// A `str` value.
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::Str(s.into())
    }
    /// A tuple.
    pub fn tuple(items: Vec<Value>) -> PyResult<Value> {
        Ok(Value::Tuple(Seq::new(items)?))
    }
    /// A list.
    pub fn list(items: Vec<Value>) -> PyResult<Value> {
        Ok(Value::List(Seq::new(items)?))
    }
    /// Nesting depth (0 for scalars).
    pub fn depth(&self) -> usize {
        match self {
            Value::List(s) | Value::Tuple(s) | Value::Dict(s) => s.depth,
            Value::Function(c) => c.depth,
            _ => 0,
        }
    }

    /// The Python type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Range(..) => "range",
            Value::Image(_) => "Image",
            Value::Array(_) => "numpy.ndarray",
            Value::Module(_) => "module",
            Value::Func(_) | Value::Operator(_) => "builtin_function_or_method",
            Value::Method(..) => "method",
            Value::Enhancer(..) => "ImageEnhance",
            Value::Draw(_) => "ImageDraw",
            Value::FilterSpec(..) => "ImageFilter",
            Value::Opaque(_) => "object",
            Value::Function(_) => "function",
            Value::ExcType(_) => "type",
            Value::Exception(kind, _) => kind,
        }
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(s) | Value::Tuple(s) | Value::Dict(s) => !s.items.is_empty(),
            Value::Range(a, b, s) => range_len(*a, *b, *s) > 0,
            _ => true,
        }
    }

    /// The number as f64 (bool and int included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(*b as i64 as f64),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The integer (bool included; not float).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(*b as i64),
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements of a list or tuple.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(s) | Value::Tuple(s) => Some(&s.items),
            _ => None,
        }
    }
}

/// Formats a float like Python's `repr`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let e = format!("{f:e}"); // shortest round-trip digits, e.g. "-1.2345e-7"
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{s}")
    } else {
        let (a, b) = digits.split_at(1.min(digits.len()));
        let m = if b.is_empty() { a.to_string() } else { format!("{a}.{b}") };
        format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// Quotes a string like Python's `repr`.
pub fn str_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Renders `str(v)` (or `repr(v)` when `repr`), failing with `MemoryError`
/// when the text would exceed `cap` bytes. Charged per element visited and
/// per byte written.
pub fn render(v: &Value, repr: bool, cap: usize, m: &mut Meter) -> PyResult<String> {
    let mut out = String::new();
    render_into(v, repr, cap, &mut out, m)?;
    m.new_str(out.len())?;
    Ok(out)
}

fn render_into(v: &Value, repr: bool, cap: usize, out: &mut String, m: &mut Meter) -> PyResult<()> {
    if out.len() > cap {
        return err("MemoryError", format!("string representation longer than {cap} bytes"));
    }
    m.elems(1)?;
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float_repr(*f)),
        Value::Str(s) => {
            // A string longer than what is left of the cap fails before it is copied.
            if s.len() > cap.saturating_sub(out.len()) {
                return err("MemoryError", format!("string representation longer than {cap} bytes"));
            }
            m.bytes(s.len())?;
            if repr { out.push_str(&str_repr(s)) } else { out.push_str(s) }
        }
        Value::List(s) | Value::Tuple(s) => {
            let list = matches!(v, Value::List(_));
            out.push(if list { '[' } else { '(' });
            for (i, x) in s.items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(x, true, cap, out, m)?;
            }
            if !list && s.items.len() == 1 {
                out.push(',');
            }
            out.push(if list { ']' } else { ')' });
        }
        Value::Dict(s) => {
            out.push('{');
            for (i, kv) in s.items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Value::Tuple(p) = kv {
                    if let [k, x] = p.items.as_slice() {
                        render_into(k, true, cap, out, m)?;
                        out.push_str(": ");
                        render_into(x, true, cap, out, m)?;
                    }
                }
            }
            out.push('}');
        }
        Value::Image(img) => {
            let mode = if img.grey { "L" } else { "RGB" };
            out.push_str(&format!("<PIL.Image.Image image mode={mode} size={}x{}>", img.w(), img.h()));
        }
        Value::Array(a) => out.push_str(&crate::ndarray::render(a)),
        Value::Draw(v) => out.push_str(&format!("<PIL.ImageDraw.ImageDraw object on '{v}'>")),
        Value::FilterSpec(k, p) => out.push_str(&format!("<PIL.ImageFilter.{k}({})>", float_repr(*p))),
        Value::Range(a, b, 1) => out.push_str(&format!("range({a}, {b})")),
        Value::Range(a, b, s) => out.push_str(&format!("range({a}, {b}, {s})")),
        Value::Module(m) => out.push_str(&format!("<module '{m}'>")),
        Value::Func(f) => out.push_str(&format!("<built-in function {f}>")),
        Value::Method(_, m) => out.push_str(&format!("<built-in method {m}>")),
        Value::Operator(o) => out.push_str(&format!("<forensic operator {o}>")),
        Value::Enhancer(k, _) => out.push_str(&format!("<PIL.ImageEnhance.{} object>", k.pil_name())),
        Value::Opaque(n) => out.push_str(&format!("<{n}>")),
        Value::Function(c) => out.push_str(&format!("<function {}>", c.def.name)),
        Value::ExcType(k) => out.push_str(&format!("<class '{k}'>")),
        Value::Exception(k, m) if repr => {
            out.push_str(k);
            out.push('(');
            if !m.is_empty() {
                out.push_str(&str_repr(m));
            }
            out.push(')');
        }
        Value::Exception(_, m) => out.push_str(m),
    }
    if out.len() > cap {
        return err("MemoryError", format!("string representation longer than {cap} bytes"));
    }
    Ok(())
}

/// `x == y` on strings, charged per byte compared, in slices so a limit can
/// stop a long comparison.
pub fn str_eq(x: &Arc<str>, y: &Arc<str>, m: &mut Meter) -> PyResult<bool> {
    if Arc::ptr_eq(x, y) {
        return Ok(true);
    }
    bytes_eq(x.as_bytes(), y.as_bytes(), m)
}

/// Byte slices compared in [`SLICE_BYTES`] pieces, each charged.
fn bytes_eq(x: &[u8], y: &[u8], m: &mut Meter) -> PyResult<bool> {
    if x.len() != y.len() {
        return Ok(false);
    }
    for (p, q) in x.chunks(SLICE_BYTES).zip(y.chunks(SLICE_BYTES)) {
        m.bytes(p.len())?;
        if p != q {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Python ordering of strings (code points, which is UTF-8 byte order),
/// charged like [`str_eq`].
fn str_cmp(x: &str, y: &str, m: &mut Meter) -> PyResult<Ordering> {
    for (p, q) in x.as_bytes().chunks(SLICE_BYTES).zip(y.as_bytes().chunks(SLICE_BYTES)) {
        m.bytes(p.len().min(q.len()))?;
        match p.cmp(q) {
            Ordering::Equal => {}
            // Slices of equal length differ here only where the strings do;
            // a shorter (last) slice orders like the rest of its string.
            o => return Ok(o),
        }
    }
    Ok(x.len().cmp(&y.len()))
}

/// Python `==`, charged per element and byte visited: comparing nested
/// containers or long strings can be stopped by the step or time limit
/// midway. The same allocation is equal to itself without a look inside, as
/// CPython's identity shortcut does.
pub fn equal(a: &Value, b: &Value, m: &mut Meter) -> PyResult<bool> {
    m.elems(1)?;
    Ok(match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => str_eq(x, y, m)?,
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) | (Value::Dict(x), Value::Dict(y)) => {
            if Arc::ptr_eq(x, y) {
                return Ok(true);
            }
            if x.items.len() != y.items.len() {
                return Ok(false);
            }
            for (p, q) in x.items.iter().zip(&y.items) {
                if !equal(p, q, m)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Image(x), Value::Image(y)) => {
            let (p, q) = (&x.buf.rgb, &y.buf.rgb);
            Arc::ptr_eq(p, q) || (p.dimensions() == q.dimensions() && bytes_eq(p.as_raw(), q.as_raw(), m)?)
        }
        (Value::Range(a, b, c), Value::Range(x, y, z)) => (a, b, c) == (x, y, z),
        (Value::Module(x), Value::Module(y)) | (Value::Opaque(x), Value::Opaque(y)) => x == y,
        // `arr.dtype == np.uint8` (a dtype is shown as its name).
        (Value::Str(s), Value::Opaque(o)) | (Value::Opaque(o), Value::Str(s)) => o.strip_prefix("numpy.") == Some(&**s),
        // `mask.dtype == bool`.
        (Value::Str(s), Value::Func(f)) | (Value::Func(f), Value::Str(s)) => &**s == "bool" && &**f == "bool",
        (Value::Func(x), Value::Func(y)) | (Value::Operator(x), Value::Operator(y)) => x == y,
        (Value::Function(x), Value::Function(y)) => Arc::ptr_eq(x, y),
        (Value::ExcType(x), Value::ExcType(y)) => x == y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => match (a.as_int(), b.as_int()) {
                (Some(i), Some(j)) => i == j,
                _ => x == y,
            },
            _ => false,
        },
    })
}

/// Python ordering (`<` etc.); `TypeError` for unorderable types.
pub fn compare(a: &Value, b: &Value, m: &mut Meter) -> PyResult<Ordering> {
    compare_op(a, b, "<", m)
}

/// [`compare`] for the operator `sym` (named in the `TypeError`), charged
/// like [`equal`].
pub fn compare_op(a: &Value, b: &Value, sym: &str, m: &mut Meter) -> PyResult<Ordering> {
    m.elems(1)?;
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => str_cmp(x, y, m),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            if Arc::ptr_eq(x, y) {
                return Ok(Ordering::Equal);
            }
            for (p, q) in x.items.iter().zip(&y.items) {
                if !equal(p, q, m)? {
                    return compare_op(p, q, sym, m);
                }
            }
            Ok(x.items.len().cmp(&y.items.len()))
        }
        _ => match (a.as_int(), b.as_int(), a.as_f64(), b.as_f64()) {
            (Some(i), Some(j), _, _) => Ok(i.cmp(&j)),
            (_, _, Some(x), Some(y)) => Ok(x.partial_cmp(&y).unwrap_or(Ordering::Equal)),
            _ => Err(PyErr::new(
                "TypeError",
                format!("'{sym}' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()),
            )),
        },
    }
}

/// Number of elements of `range(a, b, s)` (`s != 0`).
pub fn range_len(a: i64, b: i64, s: i64) -> u64 {
    let (a, b, s) = (a as i128, b as i128, s as i128);
    let n = if s > 0 && a < b {
        (b - a + s - 1) / s
    } else if s < 0 && a > b {
        (a - b - s - 1) / -s
    } else {
        0
    };
    n.clamp(0, u64::MAX as i128) as u64
}

//! A small numpy array: 1–3 dimensions, `f32` storage, a `bool`, `uint8`,
//! `int32` or `float32` dtype. Enough for what PVR snippets do with
//! `np.array(img)`: slicing regions and channels, elementwise arithmetic and
//! comparisons with broadcasting ([`elementwise`]), boolean masks
//! (`arr[mask]`, `arr[mask] = v`), `np.abs`/`np.clip`/`np.where`, statistics
//! over the whole array or along axes ([`reduce`]), `astype`, `Image.fromarray`.
//!
//! Every array created is charged against the action's pixel budget (one
//! element = one pixel) and may hold at most `3 * ExecLimits::max_pixels`
//! elements, so arrays are no bigger than the largest image allowed.

use std::sync::Arc;

use image::RgbImage;

use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::{ImgVal, Value};

mod elementwise;
mod reduce;
pub use elementwise::{binop, compare, logical, unary, where_};
pub use reduce::reduce_axes;

/// Element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// `np.bool_`: comparison results and masks, stored as 0.0 / 1.0.
    Bool,
    /// `np.uint8`: integers wrapping modulo 256, like numpy.
    U8,
    /// `np.int32` / `np.int64` (values kept in `f32`, exact below 2^24).
    I32,
    /// `np.float32` / `np.float64` (computed in `f32`).
    F32,
}

impl DType {
    /// numpy's name.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::F32 => "float32",
        }
    }

    /// Parses `np.uint8`, `'float32'`, `float`, ...
    pub fn parse(v: &Value) -> PyResult<DType> {
        let s = match v {
            Value::Opaque(s) => s.strip_prefix("numpy.").unwrap_or(s),
            Value::Str(s) => s,
            Value::Func(f) if matches!(&**f, "int" | "float" | "bool") => f,
            other => return err("TypeError", format!("data type not understood: '{}'", other.type_name())),
        };
        match s {
            "bool" | "bool_" => Ok(DType::Bool),
            "uint8" => Ok(DType::U8),
            "int32" | "int64" | "int" => Ok(DType::I32),
            "float32" | "float64" | "float" => Ok(DType::F32),
            other => err("TypeError", format!("data type '{other}' is not supported in this sandbox (bool, uint8, int32, float32)")),
        }
    }

    /// A value converted to this type (`bool(nan)` is true, as in numpy).
    pub fn cast(self, v: f32) -> f32 {
        match self {
            DType::F32 => v,
            DType::Bool => (v != 0.0) as u8 as f32,
            _ if !v.is_finite() => 0.0,
            DType::U8 => (v.trunc() as i64).rem_euclid(256) as f32,
            DType::I32 => v.trunc(),
        }
    }
}

/// An n-d array.
#[derive(Clone, Debug)]
pub struct NdArr {
    /// Dimensions (1 to 3).
    pub shape: Vec<usize>,
    /// Row-major elements.
    pub data: Vec<f32>,
    /// Element type.
    pub dtype: DType,
}

/// Fails unless an array of `n` elements fits the limits; charges the pixel
/// and memory budgets (4 bytes an element) and the clock (the work of
/// filling it). Called before the elements are allocated.
pub fn check_elems(it: &mut Interp, n: u128) -> PyResult<usize> {
    let cap = (it.state.limits.max_pixels as u128).saturating_mul(3);
    if n > cap {
        return err("MemoryError", format!("an array of {n} elements exceeds the sandbox limit of {cap}"));
    }
    it.pixels_created = it.pixels_created.saturating_add(n as u64);
    if it.pixels_created > it.limits.max_created_pixels {
        return err("MemoryError", format!("image memory budget of {} pixels per action exhausted", it.limits.max_created_pixels));
    }
    it.meter.alloc(4 * n as u64)?;
    it.meter.charge_native(n as u64)?;
    it.check_time()?;
    Ok(n as usize)
}

/// Shape as numpy prints it: `(3,)`, `(48, 64)`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// Parses a shape argument (`5` or `(h, w)` or `(h, w, c)`).
pub fn shape_arg(v: &Value) -> PyResult<Vec<usize>> {
    let dims: Vec<i64> = match v {
        Value::Int(n) => vec![*n],
        _ => match v.as_seq() {
            Some(s) => s.iter().map(|d| d.as_int().ok_or_else(|| PyErr::new("TypeError", "shape must be integers"))).collect::<PyResult<_>>()?,
            None => return err("TypeError", format!("shape must be an int or a tuple, not '{}'", v.type_name())),
        },
    };
    if dims.is_empty() || dims.len() > 3 {
        return err("NotImplementedError", "only 1-, 2- and 3-dimensional arrays are supported in this sandbox");
    }
    dims.iter().map(|&d| usize::try_from(d).map_err(|_| PyErr::new("ValueError", "negative dimensions are not allowed"))).collect()
}

/// Number of elements of a shape (saturating).
pub fn count(shape: &[usize]) -> u128 {
    shape.iter().fold(1u128, |a, &d| a.saturating_mul(d as u128))
}

impl NdArr {
    /// A filled array (budget checked).
    pub fn full(it: &mut Interp, shape: Vec<usize>, v: f32, dtype: DType) -> PyResult<NdArr> {
        let n = check_elems(it, count(&shape))?;
        Ok(NdArr { shape, data: vec![v; n], dtype })
    }

    /// `np.array(img)`: `(h, w)` for `L` images, `(h, w, 3)` otherwise, uint8.
    pub fn from_image(it: &mut Interp, img: &ImgVal) -> PyResult<NdArr> {
        let (w, h) = (img.w() as usize, img.h() as usize);
        let c = if img.grey { 1 } else { 3 };
        check_elems(it, (w * h * c) as u128)?;
        let raw = img.buf.rgb.as_raw();
        let data = if img.grey { raw.iter().step_by(3).map(|&v| v as f32).collect() } else { raw.iter().map(|&v| v as f32).collect() };
        let shape = if img.grey { vec![h, w] } else { vec![h, w, 3] };
        Ok(NdArr { shape, data, dtype: DType::U8 })
    }

    /// `np.array([[...], ...])` of numbers (nested lists, up to 3 levels).
    /// The walk is charged per element and stops at the array size limit: a
    /// list of shared lists can name far more elements than it holds.
    pub fn from_list(it: &mut Interp, v: &Value) -> PyResult<NdArr> {
        let cap = (it.state.limits.max_pixels as usize).saturating_mul(3).min(it.limits.max_created_pixels as usize);
        let walk_cap = (cap, &mut it.meter);
        fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f32>, kind: &mut (bool, bool), lim: &mut (usize, &mut crate::values::Meter)) -> PyResult<()> {
            lim.1.elems(1)?;
            match v.as_seq() {
                Some(items) => {
                    if depth >= 3 {
                        return err("NotImplementedError", "only 1-, 2- and 3-dimensional arrays are supported in this sandbox");
                    }
                    match shape.get(depth) {
                        None => shape.push(items.len()),
                        Some(&n) if n != items.len() => return err("ValueError", "setting an array element with a sequence (inhomogeneous shape)"),
                        _ => {}
                    }
                    items.iter().try_for_each(|x| walk(x, depth + 1, shape, out, kind, lim))
                }
                None if out.len() >= lim.0 => err("MemoryError", format!("an array of more than {} elements exceeds the sandbox limit", lim.0)),
                None if depth == shape.len() || shape.is_empty() => {
                    lim.1.alloc(4)?;
                    kind.0 |= matches!(v, Value::Float(_));
                    kind.1 &= matches!(v, Value::Bool(_));
                    out.push(v.as_f64().ok_or_else(|| PyErr::new("TypeError", format!("array elements must be numbers, not '{}'", v.type_name())))? as f32);
                    Ok(())
                }
                None => err("ValueError", "setting an array element with a sequence (inhomogeneous shape)"),
            }
        }
        // (any float, all bool)
        let (mut shape, mut data, mut kind) = (vec![], vec![], (false, true));
        let mut lim = walk_cap;
        walk(v, 0, &mut shape, &mut data, &mut kind, &mut lim)?;
        if shape.is_empty() || data.len() as u128 != count(&shape) {
            return err("ValueError", "np.array() needs a (nested) list of numbers");
        }
        check_elems(it, data.len() as u128)?;
        let dtype = match kind {
            (true, _) => DType::F32,
            (_, true) => DType::Bool,
            _ => DType::I32,
        };
        Ok(NdArr { shape, data, dtype })
    }

    /// `.astype(dtype)`.
    pub fn astype(&self, it: &mut Interp, dtype: DType) -> PyResult<NdArr> {
        check_elems(it, self.data.len() as u128)?;
        Ok(NdArr { shape: self.shape.clone(), data: self.data.iter().map(|&v| dtype.cast(v)).collect(), dtype })
    }

    /// A Python scalar of this dtype.
    pub fn scalar(&self, v: f32) -> Value {
        match self.dtype {
            DType::F32 => Value::Float(f32_to_f64(v)),
            DType::Bool => Value::Bool(v != 0.0),
            _ => Value::Int(v as i64),
        }
    }

    /// `Image.fromarray(arr)`: uint8 `(h, w)` or `(h, w, 3)` only, as PIL.
    pub fn to_image(&self) -> PyResult<(RgbImage, bool)> {
        if self.dtype == DType::Bool {
            return err(
                "NotImplementedError",
                "Image.fromarray() of a bool array (mode '1') is not supported in this sandbox; use Image.fromarray(mask.astype(np.uint8) * 255)",
            );
        }
        if self.dtype != DType::U8 {
            return err("TypeError", format!("Cannot handle this data type: {} (use arr.astype(np.uint8))", self.dtype.name()));
        }
        self.pixels(|v| v as u8)
    }

    /// What `plt.imshow(arr)` / `display(arr)` shows: uint8 as is; float
    /// `(h, w, 3)` clipped to [0, 1] and scaled by 255 (matplotlib); other
    /// 2-D arrays min–max normalised to grey (`cmap='gray'`).
    pub fn to_display(&self) -> PyResult<(RgbImage, bool)> {
        if self.dtype == DType::U8 {
            return self.to_image();
        }
        if self.shape.len() == 3 && self.dtype == DType::F32 {
            return self.pixels(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        let lo = self.data.iter().copied().filter(|v| v.is_finite()).fold(f32::MAX, f32::min);
        let hi = self.data.iter().copied().filter(|v| v.is_finite()).fold(f32::MIN, f32::max);
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        self.pixels(|v| if v.is_finite() { ((v - lo) * scale).round().clamp(0.0, 255.0) as u8 } else { 0 })
    }

    fn pixels(&self, f: impl Fn(f32) -> u8) -> PyResult<(RgbImage, bool)> {
        let (h, w, c) = match self.shape.as_slice() {
            [h, w] => (*h, *w, 1),
            [h, w, 3] => (*h, *w, 3),
            s => return err("TypeError", format!("Cannot handle this data type: shape {s:?} (need (h, w) or (h, w, 3))")),
        };
        if h == 0 || w == 0 || h > u32::MAX as usize || w > u32::MAX as usize {
            return err("ValueError", "an image needs a non-empty (h, w) array");
        }
        let mut raw = Vec::with_capacity(h * w * 3);
        for p in self.data.chunks(c) {
            let v: Vec<u8> = p.iter().map(|&x| f(x)).collect();
            if c == 1 {
                raw.extend([v[0]; 3]);
            } else {
                raw.extend(v);
            }
        }
        let img = RgbImage::from_raw(w as u32, h as u32, raw).ok_or_else(|| PyErr::new("ValueError", "array does not match its shape"))?;
        Ok((img, c == 1))
    }
}

/// Shortest-repr conversion, so a float32 `0.1` prints as `0.1`.
pub fn f32_to_f64(v: f32) -> f64 {
    format!("{v}").parse::<f64>().unwrap_or(v as f64)
}

/// One index of `arr[...]`.
pub enum Ix {
    /// An integer (drops the dimension).
    At(i64),
    /// A slice.
    Range(Option<i64>, Option<i64>, Option<i64>),
}

/// `arr[ix, ...]`: integers and slices per dimension.
pub fn index(it: &mut Interp, a: &NdArr, ixs: &[Ix]) -> PyResult<Value> {
    if ixs.len() > a.shape.len() {
        return err("IndexError", format!("too many indices for array: array is {}-dimensional, but {} were indexed", a.shape.len(), ixs.len()));
    }
    let mut picks: Vec<Vec<usize>> = Vec::new();
    let mut shape = Vec::new();
    for (d, &len) in a.shape.iter().enumerate() {
        match ixs.get(d) {
            Some(Ix::At(i)) => {
                let j = if *i < 0 { i.saturating_add(len as i64) } else { *i };
                if j < 0 || j >= len as i64 {
                    return err("IndexError", format!("index {i} is out of bounds for axis {d} with size {len}"));
                }
                picks.push(vec![j as usize]);
            }
            Some(Ix::Range(s, e, st)) => {
                let v = crate::ops::slice_indices(len, *s, *e, *st)?;
                shape.push(v.len());
                picks.push(v);
            }
            None => {
                shape.push(len);
                picks.push((0..len).collect());
            }
        }
    }
    let strides: Vec<usize> = (0..a.shape.len()).map(|d| a.shape[d + 1..].iter().product()).collect();
    let n = check_elems(it, count(&shape))?;
    let mut data = Vec::with_capacity(n);
    fn walk(picks: &[Vec<usize>], strides: &[usize], src: &[f32], off: usize, d: usize, out: &mut Vec<f32>) {
        match picks.get(d) {
            None => out.extend(src.get(off).copied()),
            Some(p) => p.iter().for_each(|&i| walk(picks, strides, src, off + i * strides[d], d + 1, out)),
        }
    }
    walk(&picks, &strides, &a.data, 0, 0, &mut data);
    if shape.is_empty() {
        return Ok(a.scalar(data.first().copied().unwrap_or(0.0)));
    }
    Ok(Value::Array(Arc::new(NdArr { shape, data, dtype: a.dtype })))
}

/// `np.abs(a)` / `np.clip(a, lo, hi)` / `np.sqrt(a)`: elementwise maps.
pub fn map(it: &mut Interp, a: &NdArr, f: impl Fn(f32) -> f32, float: bool) -> PyResult<Value> {
    check_elems(it, a.data.len() as u128)?;
    let dtype = if float { DType::F32 } else { a.dtype };
    Ok(Value::Array(Arc::new(NdArr { shape: a.shape.clone(), data: a.data.iter().map(|&v| dtype.cast(f(v))).collect(), dtype })))
}

/// `str(arr)`: numpy's text for small 1-D integer and bool arrays
/// (`[ 1 20 300]`, `[ True False]`), a summary otherwise.
pub fn render(a: &NdArr) -> String {
    if a.shape.len() == 1 && a.data.len() <= 32 && a.dtype != DType::F32 {
        let items: Vec<String> = match a.dtype {
            DType::Bool => a.data.iter().map(|&v| if v != 0.0 { " True".to_string() } else { "False".to_string() }).collect(),
            _ => a.data.iter().map(|v| (*v as i64).to_string()).collect(),
        };
        let w = items.iter().map(String::len).max().unwrap_or(0);
        let items: Vec<String> = items.iter().map(|s| format!("{s:>w$}")).collect();
        return format!("[{}]", items.join(" "));
    }
    format!("<numpy.ndarray shape={} dtype={}>", shape_str(&a.shape), a.dtype.name())
}

/// numpy's `bool(arr)`: only a one-element array has a truth value.
pub fn truth(v: &Value) -> PyResult<bool> {
    match v {
        Value::Array(a) => array_truth(a),
        other => Ok(other.truthy()),
    }
}

fn array_truth(a: &NdArr) -> PyResult<bool> {
    match a.data.as_slice() {
        [x] => Ok(*x != 0.0),
        [] => err("ValueError", "The truth value of an empty array is ambiguous. Use `array.size > 0` to check that an array is not empty."),
        _ => err("ValueError", "The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()"),
    }
}

/// Checks that a boolean mask fits the leading axes of `a`; returns the
/// number of elements each selected position covers (the trailing axes).
fn mask_fit(a: &NdArr, mask: &NdArr) -> PyResult<usize> {
    if mask.dtype != DType::Bool {
        return err(
            "NotImplementedError",
            format!("integer-array indexing (an index array of dtype {}) is not supported in this sandbox; use a boolean mask or slices", mask.dtype.name()),
        );
    }
    if mask.shape.len() > a.shape.len() {
        return err("IndexError", format!("too many indices for array: array is {}-dimensional, but {} were indexed", a.shape.len(), mask.shape.len()));
    }
    for (d, (&m, &s)) in mask.shape.iter().zip(&a.shape).enumerate() {
        if m != s {
            return err("IndexError", format!("boolean index did not match indexed array along axis {d}; size of axis is {s} but size of corresponding boolean axis is {m}"));
        }
    }
    Ok(a.shape[mask.shape.len()..].iter().product())
}

/// `arr[mask]`: the selected elements (rows, for a mask over the leading
/// axes), as a new array whose first axis counts the `True`s.
pub fn mask_index(it: &mut Interp, a: &NdArr, mask: &NdArr) -> PyResult<Value> {
    let inner = mask_fit(a, mask)?;
    it.meter.charge_native(mask.data.len() as u64)?;
    let picked = mask.data.iter().filter(|&&m| m != 0.0).count();
    let n = check_elems(it, (picked as u128).saturating_mul(inner as u128))?;
    let mut data = Vec::with_capacity(n);
    for (i, _) in mask.data.iter().enumerate().filter(|(_, &m)| m != 0.0) {
        data.extend_from_slice(&a.data[i * inner..(i + 1) * inner]);
    }
    let mut shape = vec![picked];
    shape.extend_from_slice(&a.shape[mask.shape.len()..]);
    Ok(Value::Array(Arc::new(NdArr { shape, data, dtype: a.dtype })))
}

/// `arr[mask] = v`: a number, one value per selected element, or one row
/// (the trailing axes) repeated for every selected position.
pub fn mask_assign(it: &mut Interp, a: &mut NdArr, mask: &NdArr, v: &Value) -> PyResult<()> {
    let inner = mask_fit(a, mask)?;
    let vals = crate::numpy::to_array(it, v)?;
    let picked = mask.data.iter().filter(|&&m| m != 0.0).count();
    let total = picked * inner;
    let src_len = vals.data.len();
    if !(src_len == 1 || src_len == total || (src_len == inner && vals.shape == a.shape[mask.shape.len()..])) {
        return err(
            "ValueError",
            format!("NumPy boolean array indexing assignment cannot assign {src_len} input values to the {total} output values where the mask is true"),
        );
    }
    check_elems(it, a.data.len() as u128)?;
    let mut k = 0;
    for (i, _) in mask.data.iter().enumerate().filter(|(_, &m)| m != 0.0) {
        for j in 0..inner {
            let x = if src_len == total { vals.data[k] } else { vals.data[k % src_len] };
            a.data[i * inner + j] = a.dtype.cast(x);
            k += 1;
        }
    }
    Ok(())
}

/// `np.nonzero(a)` / `np.where(a)`: one int array of indices per axis.
pub fn nonzero(it: &mut Interp, a: &NdArr) -> PyResult<Value> {
    it.meter.charge_native(a.data.len() as u64)?;
    let hits: Vec<usize> = a.data.iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(i, _)| i).collect();
    check_elems(it, (hits.len() as u128).saturating_mul(a.shape.len() as u128))?;
    let mut out = Vec::with_capacity(a.shape.len());
    for d in 0..a.shape.len() {
        let (stride, len) = (a.shape[d + 1..].iter().product::<usize>(), a.shape[d]);
        let data = hits.iter().map(|&i| ((i / stride.max(1)) % len.max(1)) as f32).collect();
        out.push(Value::Array(Arc::new(NdArr { shape: vec![hits.len()], data, dtype: DType::I32 })));
    }
    Value::tuple(out)
}

/// `arr.tolist()`: nested lists of Python numbers.
pub fn tolist(it: &mut Interp, a: &NdArr) -> PyResult<Value> {
    if a.data.len() > it.limits.max_seq_len {
        return err("MemoryError", format!("tolist() of {} elements exceeds the sandbox limit of {}", a.data.len(), it.limits.max_seq_len));
    }
    it.meter.new_seq(a.data.len() + a.data.len() / a.shape.last().copied().unwrap_or(1).max(1))?;
    fn build(a: &NdArr, d: usize, off: usize) -> PyResult<Value> {
        let Some(&len) = a.shape.get(d) else { return Ok(a.scalar(a.data.get(off).copied().unwrap_or(0.0))) };
        let stride: usize = a.shape[d + 1..].iter().product();
        Value::list((0..len).map(|i| build(a, d + 1, off + i * stride)).collect::<PyResult<_>>()?)
    }
    build(a, 0, 0)
}

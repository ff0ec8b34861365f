//! A small numpy array: 1–3 dimensions, `f32` storage, a `uint8`, `int32` or
//! `float32` dtype. Enough for what PVR snippets do with `np.array(img)`:
//! slicing regions and channels, elementwise arithmetic with broadcasting,
//! `np.abs`/`np.clip`, whole-array statistics, `astype`, `Image.fromarray`.
//!
//! Every array created is charged against the action's pixel budget (one
//! element = one pixel) and may hold at most `3 * ExecLimits::max_pixels`
//! elements, so arrays are no bigger than the largest image allowed.

use std::sync::Arc;

use image::RgbImage;

use crate::ast::BinOp;
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::{ImgVal, Value};

/// Element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
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
            Value::Func(f) if matches!(&**f, "int" | "float") => f,
            other => return err("TypeError", format!("data type not understood: '{}'", other.type_name())),
        };
        match s {
            "uint8" => Ok(DType::U8),
            "int32" | "int64" | "int" => Ok(DType::I32),
            "float32" | "float64" | "float" => Ok(DType::F32),
            other => err("TypeError", format!("data type '{other}' is not supported in this sandbox (uint8, int32, float32)")),
        }
    }

    fn cast(self, v: f32) -> f32 {
        match self {
            DType::F32 => v,
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

/// Fails unless an array of `n` elements fits the limits; charges the budget.
pub fn check_elems(it: &mut Interp, n: u128) -> PyResult<usize> {
    let cap = (it.state.limits.max_pixels as u128).saturating_mul(3);
    if n > cap {
        return err("MemoryError", format!("an array of {n} elements exceeds the sandbox limit of {cap}"));
    }
    it.pixels_created = it.pixels_created.saturating_add(n as u64);
    if it.pixels_created > it.limits.max_created_pixels {
        return err("MemoryError", format!("image memory budget of {} pixels per action exhausted", it.limits.max_created_pixels));
    }
    it.check_time()?;
    Ok(n as usize)
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

fn count(shape: &[usize]) -> u128 {
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
    pub fn from_list(it: &mut Interp, v: &Value) -> PyResult<NdArr> {
        fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f32>, float: &mut bool) -> PyResult<()> {
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
                    items.iter().try_for_each(|x| walk(x, depth + 1, shape, out, float))
                }
                None if depth == shape.len() || shape.is_empty() => {
                    *float |= matches!(v, Value::Float(_));
                    out.push(v.as_f64().ok_or_else(|| PyErr::new("TypeError", format!("array elements must be numbers, not '{}'", v.type_name())))? as f32);
                    Ok(())
                }
                None => err("ValueError", "setting an array element with a sequence (inhomogeneous shape)"),
            }
        }
        let (mut shape, mut data, mut float) = (vec![], vec![], false);
        walk(v, 0, &mut shape, &mut data, &mut float)?;
        if shape.is_empty() || data.len() as u128 != count(&shape) {
            return err("ValueError", "np.array() needs a (nested) list of numbers");
        }
        check_elems(it, data.len() as u128)?;
        Ok(NdArr { shape, data, dtype: if float { DType::F32 } else { DType::I32 } })
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
            _ => Value::Int(v as i64),
        }
    }

    /// `Image.fromarray(arr)`: uint8 `(h, w)` or `(h, w, 3)` only, as PIL.
    pub fn to_image(&self) -> PyResult<(RgbImage, bool)> {
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

/// Whole-array statistics (`axis=None`).
pub fn reduce(a: &NdArr, f: &str) -> PyResult<Value> {
    if a.data.is_empty() {
        return err("ValueError", format!("zero-size array to reduction operation {f}"));
    }
    let n = a.data.len() as f64;
    let sum: f64 = a.data.iter().map(|&v| v as f64).sum();
    Ok(match f {
        "max" | "amax" => a.scalar(a.data.iter().copied().fold(f32::MIN, f32::max)),
        "min" | "amin" => a.scalar(a.data.iter().copied().fold(f32::MAX, f32::min)),
        "sum" if a.dtype == DType::F32 => Value::Float(sum),
        "sum" => Value::Int(sum as i64),
        "mean" => Value::Float(sum / n),
        "std" => {
            let mean = sum / n;
            Value::Float((a.data.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt())
        }
        _ => return err("NotImplementedError", format!("numpy.{f} is not supported in this sandbox")),
    })
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

/// An operand: an array or a Python number.
fn operand(v: &Value) -> PyResult<(Arc<NdArr>, bool)> {
    match v {
        Value::Array(a) => Ok((a.clone(), false)),
        other => {
            let x = other.as_f64().ok_or_else(|| PyErr::new("TypeError", format!("unsupported operand type for numpy arithmetic: '{}'", other.type_name())))?;
            let dtype = if matches!(other, Value::Float(_)) { DType::F32 } else { DType::I32 };
            Ok((Arc::new(NdArr { shape: vec![], data: vec![x as f32], dtype }), true))
        }
    }
}

/// Elementwise `a op b` with numpy broadcasting and dtype promotion
/// (uint8 with uint8 or a Python int stays uint8 and wraps; `/` gives float).
pub fn binop(it: &mut Interp, op: BinOp, a: &Value, b: &Value) -> PyResult<Value> {
    let ((x, xs), (y, ys)) = (operand(a)?, operand(b)?);
    let f: fn(f32, f32) -> f32 = match op {
        BinOp::Add => |p, q| p + q,
        BinOp::Sub => |p, q| p - q,
        BinOp::Mul => |p, q| p * q,
        BinOp::Div => |p, q| p / q,
        BinOp::Pow => f32::powf,
        _ => return err("NotImplementedError", "only + - * / ** are supported on numpy arrays in this sandbox"),
    };
    let dtype = match (x.dtype, y.dtype) {
        _ if op == BinOp::Div => DType::F32,
        (DType::F32, _) | (_, DType::F32) => DType::F32,
        (DType::U8, _) if ys => DType::U8,
        (_, DType::U8) if xs => DType::U8,
        (DType::U8, DType::U8) => DType::U8,
        _ => DType::I32,
    };
    let nd = x.shape.len().max(y.shape.len());
    let dim = |s: &[usize], d: usize| if d + s.len() < nd { 1 } else { s[d + s.len() - nd] };
    let mut shape = Vec::with_capacity(nd);
    for d in 0..nd {
        let (p, q) = (dim(&x.shape, d), dim(&y.shape, d));
        shape.push(match (p, q) {
            _ if p == q => p,
            (1, q) => q,
            (p, 1) => p,
            _ => return err("ValueError", format!("operands could not be broadcast together with shapes {:?} {:?}", x.shape, y.shape)),
        });
    }
    let n = check_elems(it, count(&shape))?;
    let strides = |s: &[usize]| -> Vec<usize> {
        (0..nd).map(|d| if dim(s, d) == 1 { 0 } else { (d + 1..nd).map(|e| dim(s, e)).product() }).collect()
    };
    let (sx, sy) = (strides(&x.shape), strides(&y.shape));
    let mut data = Vec::with_capacity(n);
    if x.shape == y.shape || xs || ys {
        // Fast paths: same shape, or one side a scalar.
        let (px, py) = (if xs { 0 } else { 1 }, if ys { 0 } else { 1 });
        for k in 0..n {
            let v = f(x.data.get(k * px).copied().unwrap_or(0.0), y.data.get(k * py).copied().unwrap_or(0.0));
            data.push(dtype.cast(v));
        }
        return Ok(Value::Array(Arc::new(NdArr { shape, data, dtype })));
    }
    let mut idx = vec![0usize; nd];
    for k in 0..n {
        if k % 65536 == 65535 {
            it.check_time()?;
        }
        let (mut ox, mut oy) = (0, 0);
        for d in 0..nd {
            ox += idx[d] * sx[d];
            oy += idx[d] * sy[d];
        }
        let v = f(x.data.get(ox).copied().unwrap_or(0.0), y.data.get(oy).copied().unwrap_or(0.0));
        data.push(dtype.cast(v));
        for d in (0..nd).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    if shape.is_empty() {
        return Ok(NdArr { shape, data: data.clone(), dtype }.scalar(data.first().copied().unwrap_or(0.0)));
    }
    Ok(Value::Array(Arc::new(NdArr { shape, data, dtype })))
}

/// `np.abs(a)` / `np.clip(a, lo, hi)` / `np.sqrt(a)`: elementwise maps.
pub fn map(it: &mut Interp, a: &NdArr, f: impl Fn(f32) -> f32, float: bool) -> PyResult<Value> {
    check_elems(it, a.data.len() as u128)?;
    let dtype = if float { DType::F32 } else { a.dtype };
    Ok(Value::Array(Arc::new(NdArr { shape: a.shape.clone(), data: a.data.iter().map(|&v| dtype.cast(f(v))).collect(), dtype })))
}

/// `str(arr)`: numpy's text for small 1-D arrays, a summary otherwise.
pub fn render(a: &NdArr) -> String {
    if a.shape.len() == 1 && a.data.len() <= 32 && a.dtype != DType::F32 {
        let items: Vec<String> = a.data.iter().map(|v| (*v as i64).to_string()).collect();
        return format!("[{}]", items.join(" "));
    }
    let dims: Vec<String> = a.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    format!("<numpy.ndarray shape={shape} dtype={}>", a.dtype.name())
}

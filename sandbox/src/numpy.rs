//! `np.*` functions over [`crate::ndarray::NdArr`]: construction (`array`,
//! `asarray`, `zeros`, `ones`, `zeros_like`, `ones_like`), elementwise maps
//! (`abs`, `clip`, `sqrt`, `where`, `logical_*`), statistics (`mean`, `std`,
//! `max`, `min`, `sum`, `amax`, `amin`, `median`, `any`, `all`,
//! `count_nonzero`, whole-array or with `axis=`), `nonzero`, `shape`; and the
//! methods of arrays.

use std::sync::Arc;

use crate::builtins::{num, Args};
use crate::error::{err, PyResult};
use crate::eval::Interp;
use crate::ndarray::{reduce_axes, shape_arg, DType, NdArr};
use crate::values::Value;

/// The array behind an argument: arrays as they are, images and (nested)
/// lists of numbers converted.
pub fn to_array(it: &mut Interp, v: &Value) -> PyResult<Arc<NdArr>> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::Image(img) => Ok(Arc::new(NdArr::from_image(it, img)?)),
        Value::List(_) | Value::Tuple(_) => Ok(Arc::new(NdArr::from_list(it, v)?)),
        other if other.as_f64().is_some() => Ok(Arc::new(NdArr::from_list(it, &Value::list(vec![other.clone()])?)?)),
        other => err("TypeError", format!("cannot make a numpy array from a '{}'", other.type_name())),
    }
}

fn dtype_kw(a: &mut Args, default: DType) -> PyResult<DType> {
    match a.kw("dtype") {
        Some(Value::None) | None => Ok(default),
        Some(d) => DType::parse(&d),
    }
}

/// The `np.*` functions this module implements (other names are
/// `NotImplementedError` when looked up).
pub const FUNCS: [&str; 28] = [
    "array", "asarray", "zeros", "ones", "zeros_like", "ones_like", "abs", "absolute", "sqrt", "clip", "mean", "std",
    "max", "min", "sum", "amax", "amin", "median", "any", "all", "count_nonzero", "where", "nonzero", "logical_and",
    "logical_or", "logical_xor", "logical_not", "shape",
];

/// The methods of arrays.
pub const METHODS: [&str; 15] =
    ["mean", "std", "max", "min", "sum", "any", "all", "astype", "copy", "clip", "tolist", "nonzero", "flatten", "ravel", "item"];

/// A reduction's `axis` / `keepdims` / `dtype` / `out` arguments (`axis` may
/// be positional at `axis_pos`).
fn reduction(it: &mut Interp, f: &str, arr: &NdArr, mut a: Args, axis_pos: usize) -> PyResult<Value> {
    let axis = a.get(axis_pos, "axis");
    let keepdims = a.kw("keepdims").is_some_and(|v| v.truthy());
    a.kw("dtype");
    if a.kw("out").is_some_and(|v| !matches!(v, Value::None)) {
        return err("NotImplementedError", format!("{f}(out=...) is not supported in this sandbox; assign the result"));
    }
    a.done(axis_pos + 1)?;
    reduce_axes(it, arr, f, axis.as_ref(), keepdims)
}

/// `arr.<m>(...)`.
pub fn array_method(it: &mut Interp, arr: &Arc<NdArr>, m: &str, mut a: Args) -> PyResult<Value> {
    match m {
        "astype" => {
            let d = DType::parse(&a.req(0, "dtype")?)?;
            a.done(1)?;
            Ok(Value::Array(Arc::new(arr.astype(it, d)?)))
        }
        "copy" => {
            a.done(0)?;
            Ok(Value::Array(arr.clone()))
        }
        "clip" => {
            let (lo, hi) = (a.get(0, "a_min"), a.get(1, "a_max"));
            a.done(2)?;
            np_clip(it, arr, lo, hi)
        }
        "tolist" => {
            a.done(0)?;
            crate::ndarray::tolist(it, arr)
        }
        "nonzero" => {
            a.done(0)?;
            crate::ndarray::nonzero(it, arr)
        }
        "flatten" | "ravel" => {
            a.done(0)?;
            crate::ndarray::check_elems(it, arr.data.len() as u128)?;
            Ok(Value::Array(Arc::new(NdArr { shape: vec![arr.data.len()], data: arr.data.clone(), dtype: arr.dtype })))
        }
        "item" => {
            a.done(0)?;
            match arr.data.as_slice() {
                [v] => Ok(arr.scalar(*v)),
                _ => err("ValueError", "can only convert an array of size 1 to a Python scalar"),
            }
        }
        _ => reduction(it, m, arr, a, 0),
    }
}

/// `np.clip(a, lo, hi)` (either bound may be `None`).
pub fn np_clip(it: &mut Interp, a: &NdArr, lo: Option<Value>, hi: Option<Value>) -> PyResult<Value> {
    let bound = |v: Option<Value>| -> PyResult<Option<f32>> {
        match v {
            None | Some(Value::None) => Ok(None),
            Some(v) => Ok(Some(num(&v, "clip bound")? as f32)),
        }
    };
    let (lo, hi) = (bound(lo)?, bound(hi)?);
    crate::ndarray::map(it, a, |v| {
        let v = lo.map_or(v, |l| v.max(l));
        hi.map_or(v, |h| v.min(h))
    }, false)
}

/// Calls `np.<f>`.
pub fn call(it: &mut Interp, f: &str, mut a: Args) -> PyResult<Value> {
    match f {
        "array" | "asarray" => {
            let v = a.req(0, "object")?;
            let dtype = a.get(1, "dtype");
            a.done(2)?;
            let arr = to_array(it, &v)?;
            match dtype.filter(|d| !matches!(d, Value::None)) {
                Some(d) => {
                    let d = DType::parse(&d)?;
                    Ok(Value::Array(Arc::new(arr.astype(it, d)?)))
                }
                None => Ok(Value::Array(arr)),
            }
        }
        "zeros" | "ones" => {
            let shape = shape_arg(&a.req(0, "shape")?)?;
            let dtype = match a.get(1, "dtype") {
                Some(Value::None) | None => DType::F32,
                Some(d) => DType::parse(&d)?,
            };
            a.done(2)?;
            let fill = if f == "ones" { 1.0 } else { 0.0 };
            Ok(Value::Array(Arc::new(NdArr::full(it, shape, fill, dtype)?)))
        }
        "zeros_like" | "ones_like" => {
            let src = to_array(it, &a.req(0, "a")?)?;
            let dtype = dtype_kw(&mut a, src.dtype)?;
            a.done(1)?;
            let fill = if f == "ones_like" { 1.0 } else { 0.0 };
            Ok(Value::Array(Arc::new(NdArr::full(it, src.shape.clone(), fill, dtype)?)))
        }
        "abs" | "absolute" | "sqrt" => {
            let v = a.req(0, "x")?;
            a.done(1)?;
            if !matches!(v, Value::Array(_) | Value::Image(_)) {
                let x = num(&v, "x")?;
                return match (f, &v) {
                    ("sqrt", _) => Ok(Value::Float(x.sqrt())),
                    (_, Value::Int(i)) => Ok(Value::Int(i.saturating_abs())),
                    _ => Ok(Value::Float(x.abs())),
                };
            }
            let arr = to_array(it, &v)?;
            if f == "sqrt" {
                crate::ndarray::map(it, &arr, f32::sqrt, true)
            } else {
                crate::ndarray::map(it, &arr, f32::abs, false)
            }
        }
        "clip" => {
            let arr = to_array(it, &a.req(0, "a")?)?;
            let (lo, hi) = (a.get(1, "a_min"), a.get(2, "a_max"));
            a.done(3)?;
            np_clip(it, &arr, lo, hi)
        }
        "mean" | "std" | "max" | "min" | "sum" | "amax" | "amin" | "median" | "any" | "all" | "count_nonzero" => {
            let arr = to_array(it, &a.req(0, "a")?)?;
            reduction(it, f, &arr, a, 1)
        }
        "where" => {
            let cond = a.req(0, "condition")?;
            let (x, y) = (a.get(1, "x"), a.get(2, "y"));
            a.done(3)?;
            match (x, y) {
                (None, None) => {
                    let arr = to_array(it, &cond)?;
                    crate::ndarray::nonzero(it, &arr)
                }
                (Some(x), Some(y)) => crate::ndarray::where_(it, &cond, &x, &y),
                _ => err("ValueError", "either both or neither of x and y should be given"),
            }
        }
        "nonzero" => {
            let arr = to_array(it, &a.req(0, "a")?)?;
            a.done(1)?;
            crate::ndarray::nonzero(it, &arr)
        }
        "logical_and" | "logical_or" | "logical_xor" => {
            let (x, y) = (a.req(0, "x1")?, a.req(1, "x2")?);
            a.done(2)?;
            crate::ndarray::logical(it, f, &x, Some(&y))
        }
        "logical_not" => {
            let x = a.req(0, "x")?;
            a.done(1)?;
            crate::ndarray::logical(it, f, &x, None)
        }
        "shape" => {
            let v = a.req(0, "a")?;
            a.done(1)?;
            match v {
                Value::Image(img) => {
                    let (w, h) = (img.w() as i64, img.h() as i64);
                    Value::tuple(if img.grey { vec![Value::Int(h), Value::Int(w)] } else { vec![Value::Int(h), Value::Int(w), Value::Int(3)] })
                }
                v => {
                    let arr = to_array(it, &v)?;
                    Value::tuple(arr.shape.iter().map(|&d| Value::Int(d as i64)).collect())
                }
            }
        }
        _ => err("NotImplementedError", format!("numpy.{f} is not supported by the embedded interpreter (use --backend python)")),
    }
}

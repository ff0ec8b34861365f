//! `np.*` functions over [`crate::ndarray::NdArr`]: construction (`array`,
//! `asarray`, `zeros`, `ones`, `zeros_like`, `ones_like`), elementwise maps
//! (`abs`, `clip`, `sqrt`) and whole-array statistics (`mean`, `std`, `max`,
//! `min`, `sum`, `amax`, `amin`, `median` with `axis=None`).

use std::sync::Arc;

use crate::builtins::{num, Args};
use crate::error::{err, PyResult};
use crate::eval::Interp;
use crate::ndarray::{reduce, shape_arg, DType, NdArr};
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

fn no_axis(a: &mut Args) -> PyResult<()> {
    if a.kw("axis").is_some_and(|v| !matches!(v, Value::None)) {
        return err("NotImplementedError", "axis= is not supported in this sandbox (whole-array statistics only)");
    }
    Ok(())
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
        "mean" | "std" | "max" | "min" | "sum" | "amax" | "amin" | "median" => {
            let v = a.req(0, "a")?;
            no_axis(&mut a)?;
            a.kw("dtype");
            a.done(1)?;
            let arr = to_array(it, &v)?;
            if f == "median" {
                let mut xs = arr.data.clone();
                if xs.is_empty() {
                    return err("ValueError", "zero-size array");
                }
                xs.sort_unstable_by(f32::total_cmp);
                let n = xs.len();
                let m = if n % 2 == 1 { xs[n / 2] as f64 } else { (xs[n / 2 - 1] as f64 + xs[n / 2] as f64) / 2.0 };
                return Ok(Value::Float(m));
            }
            reduce(&arr, f)
        }
        _ => err(
            "NotImplementedError",
            format!("numpy.{f} is not supported in this sandbox (array, zeros, ones, abs, clip, sqrt, mean, std, min, max, sum, median)"),
        ),
    }
}

//! Reductions: `sum mean std max min median any all count_nonzero` over the
//! whole array (a Python number) or along axes (`axis=1`, `axis=(0, 1)`,
//! `keepdims=True`; an array).

use std::sync::Arc;

use super::{check_elems, DType, NdArr};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::Value;

const REDUCTIONS: [&str; 11] = ["max", "amax", "min", "amin", "sum", "mean", "std", "median", "any", "all", "count_nonzero"];

/// The median by selection (linear time; a full sort of 40M elements took seconds).
fn median(xs: &mut [f32]) -> f64 {
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    let (below, mid, _) = xs.select_nth_unstable_by(n / 2, f32::total_cmp);
    let mid = *mid as f64;
    if n % 2 == 1 {
        return mid;
    }
    // The element just below the middle is the largest of the lower part.
    let lower = below.iter().copied().max_by(f32::total_cmp).unwrap_or(mid as f32);
    (lower as f64 + mid) / 2.0
}

fn unsupported<T>(f: &str) -> PyResult<T> {
    err("NotImplementedError", format!("numpy.{f} is not supported by the embedded interpreter (use --backend python)"))
}

/// Whole-array statistics (`axis=None`), as Python numbers.
fn reduce(it: &mut Interp, a: &NdArr, f: &str) -> PyResult<Value> {
    // At most three passes over the data (std), or a copy and a selection (median).
    it.meter.charge_native(3 * a.data.len() as u64)?;
    if f == "median" {
        it.meter.alloc(4 * a.data.len() as u64)?;
    }
    let nonzero = || a.data.iter().filter(|&&v| v != 0.0).count();
    match f {
        "any" => return Ok(Value::Bool(nonzero() > 0)),
        "all" => return Ok(Value::Bool(nonzero() == a.data.len())),
        "count_nonzero" => return Ok(Value::Int(nonzero() as i64)),
        _ if !REDUCTIONS.contains(&f) => return unsupported(f),
        _ => {}
    }
    if a.data.is_empty() {
        // numpy: an empty sum is 0, an empty mean/std/median nan (with a
        // warning), and max/min have no identity.
        return match f {
            "sum" if a.dtype == DType::F32 => Ok(Value::Float(0.0)),
            "sum" => Ok(Value::Int(0)),
            "mean" | "std" | "median" => Ok(Value::Float(f64::NAN)),
            _ => err("ValueError", format!("zero-size array to reduction operation {} which has no identity", if f.ends_with("max") { "maximum" } else { "minimum" })),
        };
    }
    let n = a.data.len() as f64;
    let sum: f64 = a.data.iter().map(|&v| v as f64).sum();
    Ok(match f {
        "max" | "amax" => a.scalar(a.data.iter().copied().fold(f32::MIN, f32::max)),
        "min" | "amin" => a.scalar(a.data.iter().copied().fold(f32::MAX, f32::min)),
        "sum" if a.dtype == DType::F32 => Value::Float(sum),
        "sum" => Value::Int(sum as i64),
        "mean" => Value::Float(sum / n),
        "median" => Value::Float(median(&mut a.data.clone())),
        _ => {
            let mean = sum / n;
            Value::Float((a.data.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt())
        }
    })
}

/// Which axes an `axis=` argument selects (`None`: all of them).
fn axes(axis: Option<&Value>, nd: usize) -> PyResult<Vec<bool>> {
    let list: Vec<i64> = match axis {
        None | Some(Value::None) => return Ok(vec![true; nd]),
        Some(v) => match (v.as_int(), v.as_seq()) {
            (Some(i), _) => vec![i],
            (_, Some(items)) => items
                .iter()
                .map(|x| x.as_int().ok_or_else(|| PyErr::new("TypeError", format!("'{}' object cannot be interpreted as an integer", x.type_name()))))
                .collect::<PyResult<_>>()?,
            _ => return err("TypeError", format!("'{}' object cannot be interpreted as an integer", v.type_name())),
        },
    };
    let mut picked = vec![false; nd];
    for i in list {
        let j = if i < 0 { i + nd as i64 } else { i };
        if j < 0 || j >= nd as i64 {
            return err("ValueError", format!("axis {i} is out of bounds for array of dimension {nd}"));
        }
        if std::mem::replace(&mut picked[j as usize], true) {
            return err("ValueError", "duplicate value in 'axis'");
        }
    }
    Ok(picked)
}

/// `np.<f>(a, axis=..., keepdims=...)`: a Python number when every axis is
/// reduced (and `keepdims` is false), else an array over the remaining axes.
/// Sums of integer arrays are int32 here (numpy: int64/uint64), exact below
/// 2^24 like every integer this sandbox stores; means, stds and medians are
/// computed in f64 and stored as float32.
pub fn reduce_axes(it: &mut Interp, a: &NdArr, f: &str, axis: Option<&Value>, keepdims: bool) -> PyResult<Value> {
    if !REDUCTIONS.contains(&f) {
        return unsupported(f);
    }
    let nd = a.shape.len();
    let picked = axes(axis, nd)?;
    if !keepdims && picked.iter().all(|&p| p) {
        return reduce(it, a, f);
    }
    let shape: Vec<usize> = (0..nd).filter_map(|d| if picked[d] { keepdims.then_some(1) } else { Some(a.shape[d]) }).collect();
    let group: usize = (0..nd).filter(|&d| picked[d]).map(|d| a.shape[d]).product();
    let groups = check_elems(it, super::count(&shape))?;
    if group == 0 && matches!(f, "max" | "amax" | "min" | "amin") {
        let name = if f.ends_with("max") { "maximum" } else { "minimum" };
        return err("ValueError", format!("zero-size array to reduction operation {name} which has no identity"));
    }
    // Output stride of each input axis (0 for reduced axes).
    let ostride: Vec<usize> = (0..nd)
        .map(|d| if picked[d] { 0 } else { (d + 1..nd).filter(|&e| !picked[e]).map(|e| a.shape[e]).product() })
        .collect();
    // Calls `g(output index, value)` for every element, in order.
    let each = |g: &mut dyn FnMut(usize, f32)| {
        let mut idx = vec![0usize; nd];
        let mut o = 0usize;
        for &v in &a.data {
            g(o, v);
            for d in (0..nd).rev() {
                idx[d] += 1;
                o += ostride[d];
                if idx[d] < a.shape[d] {
                    break;
                }
                o -= idx[d] * ostride[d];
                idx[d] = 0;
            }
        }
    };
    // At most two passes over the data; a median copies it into groups first.
    it.meter.charge_native(2 * (nd as u64 + 1) * a.data.len() as u64)?;
    if f == "median" {
        it.meter.alloc(4 * a.data.len() as u64)?;
    }
    let (data, dtype): (Vec<f64>, DType) = match f {
        "max" | "amax" | "min" | "amin" => {
            let max = f.ends_with("max");
            let mut acc = vec![if max { f32::MIN } else { f32::MAX }; groups];
            each(&mut |g, v| acc[g] = if max { acc[g].max(v) } else { acc[g].min(v) });
            (acc.into_iter().map(f64::from).collect(), a.dtype)
        }
        "median" => {
            let mut buckets: Vec<Vec<f32>> = vec![Vec::with_capacity(group); groups];
            each(&mut |g, v| buckets[g].push(v));
            (buckets.iter_mut().map(|b| median(b)).collect(), DType::F32)
        }
        "any" | "all" | "count_nonzero" => {
            let mut acc = vec![0f64; groups];
            each(&mut |g, v| acc[g] += (v != 0.0) as u8 as f64);
            match f {
                "any" => (acc.into_iter().map(|c| (c > 0.0) as u8 as f64).collect(), DType::Bool),
                "all" => (acc.into_iter().map(|c| (c == group as f64) as u8 as f64).collect(), DType::Bool),
                _ => (acc, DType::I32),
            }
        }
        _ => {
            let mut sum = vec![0f64; groups];
            each(&mut |g, v| sum[g] += v as f64);
            match f {
                "sum" => (sum, if a.dtype == DType::F32 { DType::F32 } else { DType::I32 }),
                "mean" => (sum.into_iter().map(|s| s / group as f64).collect(), DType::F32),
                _ => {
                    let mean: Vec<f64> = sum.iter().map(|s| s / group as f64).collect();
                    let mut var = vec![0f64; groups];
                    each(&mut |g, v| var[g] += (v as f64 - mean[g]).powi(2));
                    (var.into_iter().map(|s| (s / group as f64).sqrt()).collect(), DType::F32)
                }
            }
        }
    };
    let data = data.into_iter().map(|v| dtype.cast(v as f32)).collect();
    Ok(Value::Array(Arc::new(NdArr { shape, data, dtype })))
}

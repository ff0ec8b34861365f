//! Elementwise operations with numpy broadcasting and type promotion:
//! arithmetic, bit operators, comparisons (boolean masks), unary operators,
//! `np.where` and the `np.logical_*` functions.

use std::sync::Arc;

use super::{check_elems, count, shape_str, DType, NdArr};
use crate::ast::{BinOp, CmpOp, UnOp};
use crate::error::{err, PyErr, PyResult};
use crate::eval::Interp;
use crate::values::Value;

/// An operand: an array, or a Python number as a one-element array (`true`:
/// a "weak" scalar that does not widen the array's type, as in numpy 2).
pub(super) fn operand(v: &Value) -> PyResult<(Arc<NdArr>, bool)> {
    match v {
        Value::Array(a) => Ok((a.clone(), false)),
        other => {
            let x = other.as_f64().ok_or_else(|| PyErr::new("TypeError", format!("unsupported operand type for numpy arithmetic: '{}'", other.type_name())))?;
            let dtype = match other {
                Value::Float(_) => DType::F32,
                Value::Bool(_) => DType::Bool,
                _ => DType::I32,
            };
            Ok((Arc::new(NdArr { shape: vec![], data: vec![x as f32], dtype }), true))
        }
    }
}

fn kind(d: DType) -> u8 {
    match d {
        DType::Bool => 0,
        DType::U8 | DType::I32 => 1,
        DType::F32 => 2,
    }
}

fn rank(d: DType) -> u8 {
    match d {
        DType::Bool => 0,
        DType::U8 => 1,
        DType::I32 => 2,
        DType::F32 => 3,
    }
}

/// numpy's result type: a Python scalar only decides the type when it is of
/// a higher kind (bool < int < float) than the array.
fn result_type(x: DType, xs: bool, y: DType, ys: bool) -> DType {
    match (xs, ys) {
        (true, false) => if kind(x) > kind(y) { x } else { y },
        (false, true) => if kind(y) > kind(x) { y } else { x },
        _ => if rank(x) >= rank(y) { x } else { y },
    }
}

/// The broadcast shape of several operands.
fn broadcast(ops: &[&NdArr]) -> PyResult<Vec<usize>> {
    let nd = ops.iter().map(|a| a.shape.len()).max().unwrap_or(0);
    let mut shape = vec![1usize; nd];
    for a in ops {
        for (k, &d) in a.shape.iter().enumerate() {
            let o = nd - a.shape.len() + k;
            if shape[o] == 1 {
                shape[o] = d;
            } else if d != 1 && d != shape[o] {
                let shapes: Vec<String> = ops.iter().map(|a| shape_str(&a.shape).replace(", ", ",")).collect();
                return err("ValueError", format!("operands could not be broadcast together with shapes {}", shapes.join(" ")));
            }
        }
    }
    Ok(shape)
}

/// `f` over the broadcast operands (at most 3), results cast to `dtype`;
/// the result is charged against the budget before it is allocated.
pub(super) fn elementwise(it: &mut Interp, ops: &[&NdArr], dtype: DType, f: impl Fn(&[f32]) -> f32) -> PyResult<NdArr> {
    let shape = broadcast(ops)?;
    let n = check_elems(it, count(&shape))?;
    let nd = shape.len();
    let mut data = Vec::with_capacity(n);
    let mut vals = [0f32; 3];
    let k = ops.len().min(3);
    if ops.iter().all(|a| a.shape == shape || a.data.len() == 1) {
        // Fast path: same shape, or a single value.
        for i in 0..n {
            if i % 65536 == 0 {
                it.meter.charge_native(65536 * k as u64)?;
            }
            for (v, a) in vals.iter_mut().zip(ops) {
                *v = if a.data.len() == 1 { a.data[0] } else { a.data.get(i).copied().unwrap_or(0.0) };
            }
            data.push(dtype.cast(f(&vals[..k])));
        }
        return Ok(NdArr { shape, data, dtype });
    }
    // Per operand and output axis: the operand's stride (0 where it broadcasts).
    let strides: Vec<Vec<usize>> = ops
        .iter()
        .map(|a| {
            let lead = nd - a.shape.len();
            let dim = |d: usize| if d < lead { 1 } else { a.shape[d - lead] };
            (0..nd).map(|d| if dim(d) == 1 { 0 } else { (d + 1..nd).map(dim).product() }).collect()
        })
        .collect();
    let mut idx = vec![0usize; nd];
    for i in 0..n {
        if i % 65536 == 0 {
            it.meter.charge_native(65536 * (k as u64) * (nd as u64 + 1))?;
        }
        for ((v, a), st) in vals.iter_mut().zip(ops).zip(&strides) {
            let off: usize = idx.iter().zip(st).map(|(i, s)| i * s).sum();
            *v = a.data.get(off).copied().unwrap_or(0.0);
        }
        data.push(dtype.cast(f(&vals[..k])));
        for d in (0..nd).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(NdArr { shape, data, dtype })
}

fn wrap(a: NdArr) -> Value {
    if a.shape.is_empty() {
        return a.scalar(a.data.first().copied().unwrap_or(0.0));
    }
    Value::Array(Arc::new(a))
}

fn not_for_float(ufunc: &str) -> PyResult<Value> {
    err(
        "TypeError",
        format!("ufunc '{ufunc}' not supported for the input types, and the inputs could not be safely coerced to any supported types according to the casting rule ''safe''"),
    )
}

/// Elementwise `a op b` with numpy broadcasting and dtype promotion (uint8
/// with uint8 or an int stays uint8 and wraps; `/` gives float; `bool + bool`
/// is logical or, `bool * bool` logical and; `& | ^` on bool and int arrays).
pub fn binop(it: &mut Interp, op: BinOp, a: &Value, b: &Value) -> PyResult<Value> {
    let ((x, xs), (y, ys)) = (operand(a)?, operand(b)?);
    let t = result_type(x.dtype, xs, y.dtype, ys);
    let int = |t: DType| if t == DType::Bool { DType::I32 } else { t };
    let (dtype, f): (DType, fn(f32, f32) -> f32) = match op {
        BinOp::Add => (t, |p, q| p + q),
        BinOp::Sub if t == DType::Bool => {
            return err(
                "TypeError",
                "numpy boolean subtract, the `-` operator, is not supported, use the bitwise_xor, the `^` operator, or the logical_xor function instead.",
            )
        }
        BinOp::Sub => (t, |p, q| p - q),
        BinOp::Mul => (t, |p, q| p * q),
        BinOp::Div => (DType::F32, |p, q| p / q),
        BinOp::Pow => (int(t), f32::powf),
        BinOp::FloorDiv if t == DType::F32 => (t, |p, q| (p / q).floor()),
        BinOp::FloorDiv => (int(t), |p, q| if q == 0.0 { 0.0 } else { (p as f64 / q as f64).floor() as f32 }),
        BinOp::Mod if t == DType::F32 => (t, |p, q| {
            let r = p % q;
            if r != 0.0 && (r < 0.0) != (q < 0.0) { r + q } else { r }
        }),
        BinOp::Mod => (int(t), |p, q| if q == 0.0 { 0.0 } else { (p as f64 - (p as f64 / q as f64).floor() * q as f64) as f32 }),
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor if t == DType::F32 => {
            return not_for_float(match op {
                BinOp::BitAnd => "bitwise_and",
                BinOp::BitOr => "bitwise_or",
                _ => "bitwise_xor",
            })
        }
        BinOp::BitAnd => (t, |p, q| ((p as i64) & (q as i64)) as f32),
        BinOp::BitOr => (t, |p, q| ((p as i64) | (q as i64)) as f32),
        BinOp::BitXor => (t, |p, q| ((p as i64) ^ (q as i64)) as f32),
        BinOp::Shl | BinOp::Shr => {
            return err("NotImplementedError", "only + - * / // % ** & | ^ are supported on numpy arrays in this sandbox")
        }
    };
    Ok(wrap(elementwise(it, &[&x, &y], dtype, |v| f(v[0], v[1]))?))
}

/// `a <op> b` when either side is an array: a bool array (numpy's elementwise
/// comparison). `None` when neither side is an array or for `in`/`is`.
pub fn compare(it: &mut Interp, op: CmpOp, a: &Value, b: &Value) -> PyResult<Option<Value>> {
    if !matches!(a, Value::Array(_)) && !matches!(b, Value::Array(_)) {
        return Ok(None);
    }
    let (sym, f): (&str, fn(f32, f32) -> bool) = match op {
        CmpOp::Eq => ("==", |p, q| p == q),
        CmpOp::Ne => ("!=", |p, q| p != q),
        CmpOp::Lt => ("<", |p, q| p < q),
        CmpOp::Le => ("<=", |p, q| p <= q),
        CmpOp::Gt => (">", |p, q| p > q),
        CmpOp::Ge => (">=", |p, q| p >= q),
        _ => return Ok(None),
    };
    let numeric = |v: &Value| matches!(v, Value::Array(_)) || v.as_f64().is_some();
    if !numeric(a) || !numeric(b) {
        // `arr == None` / `arr != 'x'`: every element differs, as in numpy.
        let arr = match (a, b) {
            (Value::Array(x), _) | (_, Value::Array(x)) => x,
            _ => return Ok(None),
        };
        if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            let fill = (op == CmpOp::Ne) as u8 as f32;
            return Ok(Some(Value::Array(Arc::new(NdArr::full(it, arr.shape.clone(), fill, DType::Bool)?))));
        }
        return err("TypeError", format!("'{sym}' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
    }
    let ((x, _), (y, _)) = (operand(a)?, operand(b)?);
    Ok(Some(wrap(elementwise(it, &[&x, &y], DType::Bool, |v| f(v[0], v[1]) as u8 as f32)?)))
}

/// `-arr`, `+arr`, `~arr` (`~` is logical not on bool arrays, bitwise not on
/// integer ones).
pub fn unary(it: &mut Interp, op: UnOp, a: &NdArr) -> PyResult<Value> {
    let f: fn(f32) -> f32 = match (op, a.dtype) {
        (UnOp::Not, _) => return Ok(Value::Bool(!super::array_truth(a)?)),
        (UnOp::Neg, DType::Bool) => {
            return err(
                "TypeError",
                "The numpy boolean negative, the `-` operator, is not supported, use the `~` operator or the logical_not function instead.",
            )
        }
        (UnOp::Neg, _) => |v| -v,
        (UnOp::Pos, _) => |v| v,
        (UnOp::Invert, DType::F32) => return not_for_float("invert"),
        (UnOp::Invert, DType::Bool) => |v| 1.0 - v,
        (UnOp::Invert, DType::U8) => |v| 255.0 - v,
        (UnOp::Invert, DType::I32) => |v| -v - 1.0,
    };
    super::map(it, a, f, false)
}

/// `np.where(cond, x, y)`: `x` where `cond` is true, else `y` (broadcast).
pub fn where_(it: &mut Interp, cond: &Value, x: &Value, y: &Value) -> PyResult<Value> {
    let c = match cond {
        Value::Array(_) => operand(cond)?.0,
        v if v.as_f64().is_some() => operand(v)?.0,
        v => crate::numpy::to_array(it, v)?,
    };
    let ((p, ps), (q, qs)) = (operand_or_list(it, x)?, operand_or_list(it, y)?);
    let dtype = result_type(p.dtype, ps, q.dtype, qs);
    Ok(wrap(elementwise(it, &[&c, &p, &q], dtype, |v| if v[0] != 0.0 { v[1] } else { v[2] })?))
}

fn operand_or_list(it: &mut Interp, v: &Value) -> PyResult<(Arc<NdArr>, bool)> {
    match v {
        Value::List(_) | Value::Tuple(_) | Value::Image(_) => Ok((crate::numpy::to_array(it, v)?, false)),
        _ => operand(v),
    }
}

/// `np.logical_and/or/xor(a, b)` and `np.logical_not(a)` (`b` is `None`).
pub fn logical(it: &mut Interp, f: &str, a: &Value, b: Option<&Value>) -> PyResult<Value> {
    let x = operand_or_list(it, a)?.0;
    let Some(b) = b else {
        return Ok(wrap(elementwise(it, &[&x], DType::Bool, |v| (v[0] == 0.0) as u8 as f32)?));
    };
    let y = operand_or_list(it, b)?.0;
    let g: fn(bool, bool) -> bool = match f {
        "logical_and" => |p, q| p && q,
        "logical_or" => |p, q| p || q,
        _ => |p, q| p != q,
    };
    Ok(wrap(elementwise(it, &[&x, &y], DType::Bool, |v| g(v[0] != 0.0, v[1] != 0.0) as u8 as f32)?))
}

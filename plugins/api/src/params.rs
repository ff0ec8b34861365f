//! Typed operator parameters: one declaration per parameter gives the Rust field,
//! its default, its JSON schema entry (type, bounds, description) and its checks.
//!
//! Write the parameters with [`params!`](crate::params); the macro derives
//! `serde::Deserialize`, `schemars::JsonSchema` and [`Params`] from the same
//! lines, so the schema the model sees and the checks the operator runs cannot
//! disagree. [`Operator`](crate::Operator) then reports the derived
//! schema and hands `run` a parsed, checked value.

use crate::OperatorError;
use serde_json::{Map, Value};

/// A parameters object: parsed from the JSON the host passes, checked against the
/// bounds declared with it, and described by a derived JSON schema. Implemented by
/// [`params!`](crate::params); hand implementations must keep `from_json` and the
/// schema in step themselves.
pub trait Params: Default + Clone + PartialEq + std::fmt::Debug + schemars::JsonSchema + serde::de::DeserializeOwned + 'static {
    /// Reads `value` (an object, or null/empty for all defaults) over `base`:
    /// absent or null keys keep `base`'s value. Fails with one line naming the
    /// parameter on an unknown key, a wrong type or a value out of its bounds.
    fn from_json_over(base: Self, value: &Value) -> Result<Self, OperatorError>;

    /// [`Params::from_json_over`] the declared defaults.
    fn from_json(value: &Value) -> Result<Self, OperatorError> {
        Self::from_json_over(Self::default(), value)
    }
}

/// The JSON type a parameter field has, in words for error messages
/// (`"a non-negative integer"`).
pub trait ParamType {
    /// What a value of this type looks like in JSON.
    fn expected() -> String;
}

macro_rules! param_type {
    ($what:literal: $($t:ty),*) => {
        $(impl ParamType for $t {
            fn expected() -> String {
                $what.into()
            }
        })*
    };
}
param_type!("a non-negative integer": u8, u16, u32, u64, usize);
param_type!("an integer": i8, i16, i32, i64, isize);
param_type!("a number": f32, f64);
param_type!("true or false": bool);
param_type!("a string": String);

impl<T: ParamType> ParamType for Vec<T> {
    fn expected() -> String {
        format!("an array of {}", plural(&T::expected()))
    }
}

/// `"a number"` -> `"numbers"`, for `"an array of numbers"`.
fn plural(s: &str) -> String {
    let s = s.strip_prefix("a ").or_else(|| s.strip_prefix("an ")).unwrap_or(s);
    match s {
        "true or false" => "booleans".into(),
        _ => format!("{s}s"),
    }
}

/// The parameters as an object: null or absent means no parameters; anything
/// else that is not an object is refused. Unknown keys are refused, listing
/// the allowed ones, so a misspelt name is not silently ignored.
pub fn object<'a>(value: &'a Value, allowed: &[&str]) -> Result<Option<&'a Map<String, Value>>, OperatorError> {
    let obj = match value {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        other => return Err(OperatorError::Params(format!("parameters must be a JSON object, got {other}"))),
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(OperatorError::Params(if allowed.is_empty() {
            format!("unknown parameter `{k}`; this operator takes no parameters")
        } else {
            format!("unknown parameter `{k}`; allowed: {}", allowed.join(", "))
        }));
    }
    Ok(Some(obj))
}

/// Reads one field: `None` when absent or null (the default stays).
pub fn field<T: serde::de::DeserializeOwned + ParamType>(
    obj: Option<&Map<String, Value>>,
    key: &str,
) -> Result<Option<T>, OperatorError> {
    match obj.and_then(|o| o.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(|_| OperatorError::Params(format!("parameter `{key}` must be {}, got {v}", T::expected()))),
    }
}

/// Anything a bound applies to, as `f64` for the comparison.
pub trait Bounded: Copy + std::fmt::Display {
    /// The value as `f64` (exact for every integer a JSON parameter can hold in practice).
    fn as_f64(self) -> f64;
}

macro_rules! bounded {
    ($($t:ty),*) => {
        $(impl Bounded for $t {
            fn as_f64(self) -> f64 {
                self as f64
            }
        })*
    };
}
bounded!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

/// Checks `min <= v <= max` (NaN fails). `bounds` is the declaration as written
/// (`"8..=256"`), so the message quotes what the schema says.
pub fn check_range<T: Bounded>(key: &str, v: T, min: f64, max: f64, bounds: &str) -> Result<(), OperatorError> {
    let x = v.as_f64();
    if x >= min && x <= max {
        Ok(())
    } else {
        Err(OperatorError::Params(format!("parameter `{key}` = {v} is outside {bounds}")))
    }
}

/// Checks one array entry against `min..=max`.
pub fn check_item<T: Bounded>(key: &str, v: T, min: f64, max: f64, bounds: &str) -> Result<(), OperatorError> {
    let x = v.as_f64();
    if x >= min && x <= max {
        Ok(())
    } else {
        Err(OperatorError::Params(format!("parameter `{key}` holds {v}, outside {bounds}")))
    }
}

/// Checks that `v` is one of `allowed` (written as in the declaration).
pub fn check_one_of<T: Bounded>(key: &str, v: T, allowed: &[f64], listed: &str) -> Result<(), OperatorError> {
    if allowed.contains(&v.as_f64()) {
        Ok(())
    } else {
        Err(OperatorError::Params(format!("parameter `{key}` must be one of {listed}, got {v}")))
    }
}

/// Checks an array's length against `min..=max`.
pub fn check_len(key: &str, len: usize, min: usize, max: usize) -> Result<(), OperatorError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(OperatorError::Params(format!("parameter `{key}` must hold {min}..={max} entries, got {len}")))
    }
}

/// The JSON schema of `P` as the host shows it to the model: the derived schema
/// without what only Rust needs (`$schema`, the struct's `title` and doc text,
/// `format` hints such as `uint`), and with integral defaults written as
/// integers (`3`, not `3.0`), as the hand-written schemas did.
pub fn schema<P: Params>() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.meta_schema = None;
        s.inline_subschemas = true;
    });
    let mut v = settings.into_generator().into_root_schema_for::<P>().to_value();
    if let Some(obj) = v.as_object_mut() {
        for k in ["$schema", "title", "description"] {
            obj.remove(k);
        }
        // An empty struct derives no `properties`; the host expects the key.
        obj.entry("properties").or_insert_with(|| Value::Object(Map::new()));
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            props.values_mut().for_each(tidy_property);
        }
    }
    v
}

/// Drops `format` hints (here and in `items`) and writes integral defaults as integers.
fn tidy_property(p: &mut Value) {
    let Some(obj) = p.as_object_mut() else { return };
    obj.remove("format");
    if let Some(items) = obj.get_mut("items") {
        tidy_property(items);
    }
    if let Some(d) = obj.get_mut("default") {
        integral(d);
    }
}

fn integral(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral),
        _ => {}
    }
}

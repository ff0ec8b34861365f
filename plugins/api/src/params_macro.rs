//! [`params!`](crate::params): the one place an operator's parameters are declared.

/// Declares an operator's parameters: each field once, with its doc comment (the
/// description the model reads), its default and its bounds. The struct derives
/// `serde::{Serialize, Deserialize}` (unknown keys refused, missing keys default),
/// `schemars::JsonSchema` (bounds and defaults in the schema) and
/// [`Params`](crate::params::Params) (the same bounds checked at run time, errors
/// naming the parameter).
///
/// After `= default`, optional clauses in this order:
/// * `range(min, max)`: inclusive numeric bounds (`minimum` / `maximum`);
/// * `one_of(a, b, ...)`: the allowed values (`enum`);
/// * `len(min, max)`: array length (`minItems` / `maxItems`);
/// * `items(min, max)`: inclusive bounds of every array entry.
///
/// ```
/// trutheye_plugin_api::params! {
///     /// Parameters of `my_op`.
///     pub struct MyParams {
///         /// block side in pixels
///         pub block: usize = 16, range(4, 256);
///         /// re-compression qualities to sweep
///         pub qualities: Vec<u8> = vec![70, 90], len(2, 20), items(1, 100);
///     }
/// }
/// use trutheye_plugin_api::params::Params;
/// assert_eq!(MyParams::from_json(&serde_json::json!({"block": 32})).unwrap().block, 32);
/// let e = MyParams::from_json(&serde_json::json!({"block": 2})).unwrap_err();
/// assert_eq!(e, trutheye_plugin_api::OperatorError::Params("parameter `block` = 2 is outside 4..=256".into()));
/// ```
///
/// The derives name the crates as `trutheye_plugin_api::serde` and
/// `trutheye_plugin_api::schemars`, so the plugin needs no direct dependency on
/// either, but must not rename its `trutheye-plugin-api` dependency.
#[macro_export]
macro_rules! params {
    (
        $(#[$smeta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $ty:ty = $default:expr
                $(, range($min:literal, $max:literal))?
                $(, one_of($($one:literal),+ $(,)?))?
                $(, len($lmin:literal, $lmax:literal))?
                $(, items($imin:literal, $imax:literal))?
            );* $(;)?
        }
    ) => {
        $(#[$smeta])*
        #[derive(
            Clone, Debug, PartialEq,
            $crate::serde::Serialize, $crate::serde::Deserialize, $crate::schemars::JsonSchema
        )]
        #[serde(crate = "trutheye_plugin_api::serde", deny_unknown_fields, default)]
        #[schemars(crate = "trutheye_plugin_api::schemars")]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                $(#[schemars(range(min = $min, max = $max))])?
                $(#[schemars(extend("enum" = [$($one),+]))])?
                $(#[schemars(length(min = $lmin, max = $lmax))])?
                $(#[schemars(inner(range(min = $imin, max = $imax)))])?
                $fvis $field: $ty,
            )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self { $($field: $default),* }
            }
        }

        impl $crate::params::Params for $name {
            fn from_json_over(base: Self, value: &$crate::serde_json::Value) -> ::core::result::Result<Self, $crate::OperatorError> {
                #[allow(unused_variables)] // no fields: nothing reads it
                let obj = $crate::params::object(value, &[$(stringify!($field)),*])?;
                #[allow(unused_mut)]
                let mut p = base;
                $(
                    // Only given values are checked: the base (the declared defaults, or
                    // a caller's own, e.g. from a manifest) is trusted as it is.
                    if let Some(v) = $crate::params::field::<$ty>(obj, stringify!($field))? {
                        p.$field = v;
                        $($crate::params::check_range(
                            stringify!($field), p.$field, $min as f64, $max as f64,
                            concat!(stringify!($min), "..=", stringify!($max)),
                        )?;)?
                        $($crate::params::check_one_of(
                            stringify!($field), p.$field, &[$($one as f64),+], stringify!($($one),+),
                        )?;)?
                        $($crate::params::check_len(stringify!($field), p.$field.len(), $lmin, $lmax)?;)?
                        $(for x in p.$field.iter().copied() {
                            $crate::params::check_item(
                                stringify!($field), x, $imin as f64, $imax as f64,
                                concat!(stringify!($imin), "..=", stringify!($imax)),
                            )?;
                        })?
                    }
                )*
                Ok(p)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::params::Params;

    crate::params! {
        /// Every clause once.
        pub struct All {
            /// block side in pixels
            pub block: usize = 32, range(8, 256);
            /// clip level; 0 disables clipping
            pub truncate: f64 = 3.0, range(0, 255);
            /// kernel aperture
            pub ksize: i32 = 1, one_of(1, 3);
            /// qualities to sweep
            pub qualities: Vec<u8> = vec![50, 90], len(2, 20), items(1, 100);
        }
    }

    crate::params! {
        /// No parameters at all.
        pub struct Empty {}
    }

    #[test]
    fn defaults_parse_and_bounds_are_checked() {
        assert_eq!(All::from_json(&json!({})).unwrap(), All::default());
        assert_eq!(All::from_json(&json!(null)).unwrap(), All::default());
        let p = All::from_json(&json!({"block": 64, "truncate": 0, "ksize": 3, "qualities": [60, 80]})).unwrap();
        assert_eq!((p.block, p.truncate, p.ksize, p.qualities), (64, 0.0, 3, vec![60, 80]));
        let err = |v| All::from_json(&v).unwrap_err().to_string();
        assert_eq!(err(json!({"block": 1000})), "parameter `block` = 1000 is outside 8..=256");
        assert_eq!(err(json!({"block": -4})), "parameter `block` must be a non-negative integer, got -4");
        assert_eq!(err(json!({"block": 2.5})), "parameter `block` must be a non-negative integer, got 2.5");
        assert_eq!(err(json!({"truncate": "big"})), "parameter `truncate` must be a number, got \"big\"");
        assert_eq!(err(json!({"truncate": -1})), "parameter `truncate` = -1 is outside 0..=255");
        assert_eq!(err(json!({"ksize": 2})), "parameter `ksize` must be one of 1, 3, got 2");
        assert_eq!(err(json!({"qualities": [5]})), "parameter `qualities` must hold 2..=20 entries, got 1");
        assert_eq!(err(json!({"qualities": [5, 0]})), "parameter `qualities` holds 0, outside 1..=100");
        assert_eq!(err(json!({"qualities": 7})), "parameter `qualities` must be an array of non-negative integers, got 7");
        assert_eq!(err(json!({"bogus": 1})), "unknown parameter `bogus`; allowed: block, truncate, ksize, qualities");
        assert_eq!(err(json!([1])), "parameters must be a JSON object, got [1]");
        assert_eq!(Empty::from_json(&json!({"x": 1})).unwrap_err().to_string(), "unknown parameter `x`; this operator takes no parameters");
    }

    #[test]
    fn schema_carries_the_declaration() {
        let s = crate::params::schema::<All>();
        assert_eq!(
            s,
            json!({
                "type": "object", "additionalProperties": false,
                "properties": {
                    "block": {"type": "integer", "minimum": 8, "maximum": 256, "default": 32,
                              "description": "block side in pixels"},
                    "truncate": {"type": "number", "minimum": 0, "maximum": 255, "default": 3,
                                 "description": "clip level; 0 disables clipping"},
                    "ksize": {"type": "integer", "enum": [1, 3], "default": 1, "description": "kernel aperture"},
                    "qualities": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100},
                                  "minItems": 2, "maxItems": 20, "default": [50, 90],
                                  "description": "qualities to sweep"}
                }
            })
        );
        assert_eq!(
            crate::params::schema::<Empty>(),
            json!({"type": "object", "properties": {}, "additionalProperties": false})
        );
    }
}

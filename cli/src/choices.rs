//! Value parsers for the library enums the flags take (`--strategy`,
//! `--dialect`). The libraries do not depend on clap, so the CLI cannot derive
//! `ValueEnum` for their types; it lists their values with help here instead.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use trutheye_core::Strategy;
use trutheye_sandbox::Dialect;

/// A parser that accepts exactly `values`' names (with their help in
/// `--help`) and yields the value.
fn choice<T: Copy + Send + Sync + 'static>(values: Vec<(T, &'static str, &'static str)>) -> impl TypedValueParser<Value = T> {
    let possible: Vec<PossibleValue> = values.iter().map(|(_, name, help)| PossibleValue::new(*name).help(*help)).collect();
    PossibleValuesParser::new(possible).try_map(move |name: String| {
        // PossibleValuesParser already refused every other name.
        values.iter().find(|(_, n, _)| *n == name).map(|(v, _, _)| *v).ok_or_else(|| format!("unknown value `{name}`"))
    })
}

/// `--strategy pvr|registry|hybrid|none`.
pub fn strategy() -> impl TypedValueParser<Value = Strategy> {
    choice(Strategy::ALL.iter().map(|s| (*s, s.as_str(), s.summary())).collect())
}

/// `--dialect union|thyme|trutheye2`.
pub fn dialect() -> impl TypedValueParser<Value = Dialect> {
    let help = |d: Dialect| match d {
        Dialect::Union => "Every peer's names and image channels at once (the default)",
        Dialect::Thyme => "Thyme: its sandbox's code rewrites (crop boxes clamped to >= 64 px, `image_path`, 8-decimal floats)",
        Dialect::TruthEye2 => "TruthEYE2: its executor's narrower namespace (no ImageEnhance, numpy or cv2 predefined)",
    };
    choice(Dialect::ALL.iter().map(|d| (*d, d.as_str(), help(*d))).collect())
}

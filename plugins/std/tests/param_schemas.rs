//! Pins the parameter schemas the model is shown. They are derived from the
//! `params!` declarations now; `fixtures/param_schemas.json` is what the
//! hand-written schemas reported before (taken from `trutheye plugins list
//! --json`), so a change to a name, type, default, bound, enum or description
//! fails here instead of drifting silently into the tool list.

use serde_json::{json, Value};
use trutheye_plugin_api::{testing, Operator, OperatorError, RawOperator};
use trutheye_plugin_std::{
    bayar::Bayar, copy_move::CopyMove, dct_highpass::DctHighpass, dwt::DwtSubbands, ela::Ela, fft_residual::FftResidual,
    jpeg_ghost::JpegGhost, jpeg_quality::JpegQuality, laplacian::Laplacian, local_correlation::LocalCorrelation,
    median_traces::MedianTraces, prnu::Prnu, resampling::Resampling, sobel::Sobel, srm::Srm,
};

fn pinned() -> Value {
    serde_json::from_str(include_str!("fixtures/param_schemas.json")).expect("fixture is JSON")
}

/// `(name, schema, schema check)` of every operator the plugin exports.
fn all() -> Vec<(&'static str, Value, Result<(), OperatorError>)> {
    fn one<O: Operator>() -> (&'static str, Value, Result<(), OperatorError>) {
        (<O as RawOperator>::NAME, <O as RawOperator>::params_schema(), testing::check_schema::<O>())
    }
    vec![
        one::<FftResidual>(), one::<DwtSubbands>(), one::<Resampling>(), one::<DctHighpass>(), one::<Srm>(),
        one::<Bayar>(), one::<Prnu>(), one::<Sobel>(), one::<Laplacian>(), one::<JpegGhost>(),
        one::<MedianTraces>(), one::<LocalCorrelation>(), one::<Ela>(), one::<JpegQuality>(), one::<CopyMove>(),
    ]
}

#[test]
fn derived_schemas_equal_the_pinned_ones() {
    let pinned = pinned();
    let ops = all();
    assert_eq!(ops.len(), pinned.as_object().map_or(0, |o| o.len()), "operator set changed");
    for (name, schema, _) in &ops {
        // Exact JSON equality: `3` and `3.0` differ here, as they do in the text the model reads.
        assert_eq!(schema, &pinned[*name], "{name}: derived schema differs from the pinned one");
    }
}

#[test]
fn every_schema_documents_its_parameters() {
    for (name, _, check) in all() {
        check.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn bad_parameters_come_back_as_one_line_naming_the_parameter() {
    let cases = [
        ("srm", json!({"block": 3}), "parameter `block` = 3 is outside 8..=256"),
        ("srm", json!({"truncate": "x"}), "parameter `truncate` must be a number, got \"x\""),
        ("ela", json!({"quality": 0}), "parameter `quality` = 0 is outside 1..=100"),
        ("laplacian", json!({"ksize": 2}), "parameter `ksize` must be one of 1, 3, got 2"),
        ("jpeg_ghost", json!({"qualities": [50, 101]}), "parameter `qualities` holds 101, outside 1..=100"),
        ("jpeg_quality", json!({"x": 1}), "unknown parameter `x`; this operator takes no parameters"),
    ];
    for (name, params, want) in cases {
        let got = match name {
            "srm" => testing::run_on_noise::<Srm>(64, 64, &params),
            "ela" => testing::run_on_noise::<Ela>(64, 64, &params),
            "laplacian" => testing::run_on_noise::<Laplacian>(64, 64, &params),
            "jpeg_ghost" => testing::run_on_noise::<JpegGhost>(64, 64, &params),
            _ => testing::run_on_noise::<JpegQuality>(64, 64, &params),
        };
        assert_eq!(got.map(|_| ()).unwrap_err().to_string(), want, "{name} {params}");
    }
}

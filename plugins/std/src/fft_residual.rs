//! TODO(helper): implement `fft_residual`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct FftResidual;

impl Operator for FftResidual {
    const NAME: &'static str = "fft_residual";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "frequency";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

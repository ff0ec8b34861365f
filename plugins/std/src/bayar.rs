//! TODO(helper): implement `bayar`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Bayar;

impl Operator for Bayar {
    const NAME: &'static str = "bayar";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "noise";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

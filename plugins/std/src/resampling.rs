//! TODO(helper): implement `resampling`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Resampling;

impl Operator for Resampling {
    const NAME: &'static str = "resampling";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "frequency";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

//! TODO(helper): implement `prnu`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Prnu;

impl Operator for Prnu {
    const NAME: &'static str = "prnu";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "noise";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

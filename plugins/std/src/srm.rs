//! TODO(helper): implement `srm`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Srm;

impl Operator for Srm {
    const NAME: &'static str = "srm";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "noise";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

//! TODO(helper): implement `dct_highpass`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct DctHighpass;

impl Operator for DctHighpass {
    const NAME: &'static str = "dct_highpass";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "frequency";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

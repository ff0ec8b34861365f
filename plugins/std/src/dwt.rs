//! TODO(helper): implement `dwt_subbands`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct DwtSubbands;

impl Operator for DwtSubbands {
    const NAME: &'static str = "dwt_subbands";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "frequency";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

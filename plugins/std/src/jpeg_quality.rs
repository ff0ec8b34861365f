//! TODO(helper): implement `jpeg_quality`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct JpegQuality;

impl Operator for JpegQuality {
    const NAME: &'static str = "jpeg_quality";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "compression";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

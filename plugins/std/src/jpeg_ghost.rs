//! TODO(helper): implement `jpeg_ghost`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct JpegGhost;

impl Operator for JpegGhost {
    const NAME: &'static str = "jpeg_ghost";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "compression";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

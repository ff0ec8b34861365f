//! TODO(helper): implement `sobel`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Sobel;

impl Operator for Sobel {
    const NAME: &'static str = "sobel";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "edge";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

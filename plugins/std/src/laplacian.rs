//! TODO(helper): implement `laplacian`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Laplacian;

impl Operator for Laplacian {
    const NAME: &'static str = "laplacian";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "edge";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

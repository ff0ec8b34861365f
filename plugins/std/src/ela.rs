//! TODO(helper): implement `ela`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct Ela;

impl Operator for Ela {
    const NAME: &'static str = "ela";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "compression";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

//! TODO(helper): implement `median_traces`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct MedianTraces;

impl Operator for MedianTraces {
    const NAME: &'static str = "median_traces";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "statistics";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

//! TODO(helper): implement `local_correlation`.

use trutheye_plugin_api::{ImageRef, Operator, Output};

/// Placeholder until implemented.
#[derive(Default)]
pub struct LocalCorrelation;

impl Operator for LocalCorrelation {
    const NAME: &'static str = "local_correlation";
    const DESCRIPTION: &'static str = "not implemented yet";
    const CATEGORY: &'static str = "statistics";
    fn run(&self, _image: &ImageRef<'_>, _params: &serde_json::Value) -> Result<Output, String> {
        Err("not implemented".into())
    }
}

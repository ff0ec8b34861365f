//! A downstream crate can still implement the untyped [`RawOperator`] by hand (the
//! host's in-process test operators do) next to the blanket impl for
//! `Operator`: coherence allows it for local types, and both run through the
//! same ABI entry point.

use serde_json::{json, Value};
use trutheye_plugin_api::{testing, ImageRef, NoParams, RawOperator, Output, Operator, OperatorError};

#[derive(Default)]
struct Untyped;

impl RawOperator for Untyped {
    const NAME: &'static str = "untyped";
    const DESCRIPTION: &'static str = "hand-written schema";
    const CATEGORY: &'static str = "statistics";
    fn params_schema() -> Value {
        json!({"type": "object", "properties": {"scale": {"type": "number"}}, "additionalProperties": false})
    }
    fn run(&self, _: &ImageRef<'_>, params: &Value) -> Result<Output, OperatorError> {
        Ok(Output { summary: format!("scale {}", params["scale"]), ..Default::default() })
    }
}

#[derive(Default)]
struct Typed;

impl Operator for Typed {
    const NAME: &'static str = "typed";
    const DESCRIPTION: &'static str = "derived schema";
    const CATEGORY: &'static str = "statistics";
    type Params = NoParams;
    fn analyze(&self, image: &ImageRef<'_>, _: NoParams) -> Result<Output, OperatorError> {
        Ok(Output { summary: format!("{}x{}", image.width, image.height), ..Default::default() })
    }
}

#[test]
fn untyped_and_typed_operators_live_side_by_side() {
    assert_eq!(testing::run_on_noise::<Untyped>(8, 8, &json!({"scale": 2})).unwrap().summary, "scale 2");
    assert_eq!(testing::run_on_noise::<Typed>(8, 4, &json!({})).unwrap().summary, "8x4");
    assert_eq!(
        testing::run_on_noise::<Typed>(8, 4, &json!({"scale": 2})).unwrap_err().to_string(),
        "unknown parameter `scale`; this operator takes no parameters"
    );
    testing::check_schema::<Typed>().unwrap();
    assert!(testing::check_plugin_name("my_plugin").unwrap_err().to_string().contains("trutheye_plugin_"));
    testing::check_plugin_name("trutheye_plugin_mine").unwrap();
}

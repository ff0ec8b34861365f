//! [`Operator`]: the trait an author implements. Its parameters are a
//! [`Params`] type, so the schema is derived and `analyze` receives checked
//! values.

use crate::author::{RawOperator, Output};
use crate::error::OperatorError;
use crate::image::ImageRef;
use crate::params::Params;

/// A forensic operator with typed parameters. Implement this (not [`RawOperator`],
/// which every `Operator` gets for free), list the type in
/// [`export_plugin!`](crate::export_plugin), and build the crate as a `cdylib`.
///
/// The parameter schema the host shows and validates against is derived from
/// [`Operator::Params`]; the JSON the host passes is parsed and checked
/// against the same declaration before [`Operator::analyze`] runs, and a bad
/// value comes back as one line naming the parameter.
pub trait Operator: Default + 'static {
    /// Registry name, `snake_case`; what the model writes in a tool call.
    const NAME: &'static str;
    /// What the operator shows and how to read its output; the model sees this.
    const DESCRIPTION: &'static str;
    /// Family: `frequency`, `noise`, `edge`, `compression`, `statistics` or `learned`.
    const CATEGORY: &'static str;
    /// Other names a model may call it by; see [`RawOperator::ALIASES`].
    const ALIASES: &'static [&'static str] = &[];

    /// The parameters, declared with [`params!`](crate::params)
    /// ([`NoParams`](crate::NoParams) when there are none).
    type Params: Params;

    /// Runs the operator with parsed, checked parameters. Errors are shown to the
    /// model as the observation.
    fn analyze(&self, image: &ImageRef<'_>, params: Self::Params) -> Result<Output, OperatorError>;
}

// Every typed operator is a `RawOperator`: the host, `declare` and the ABI
// trampoline stay exactly as they were, and untyped operators keep working.
impl<T: Operator> RawOperator for T {
    const NAME: &'static str = <T as Operator>::NAME;
    const DESCRIPTION: &'static str = <T as Operator>::DESCRIPTION;
    const CATEGORY: &'static str = <T as Operator>::CATEGORY;
    const ALIASES: &'static [&'static str] = <T as Operator>::ALIASES;

    fn params_schema() -> serde_json::Value {
        crate::params::schema::<T::Params>()
    }

    fn run(&self, image: &ImageRef<'_>, params: &serde_json::Value) -> Result<Output, OperatorError> {
        let params = T::Params::from_json(params)?;
        self.analyze(image, params)
    }
}

crate::params! {
    /// The parameters of an operator that takes none: `{}` (or nothing) only.
    pub struct NoParams {}
}

//! [`TypedOperator`]: an operator whose parameters are a [`Params`] type, so the
//! schema is derived and `run` receives checked values.

use crate::author::{Operator, Output};
use crate::image::ImageRef;
use crate::params::Params;

/// A forensic operator with typed parameters. Implement this (not [`Operator`],
/// which every `TypedOperator` gets for free), list the type in
/// [`export_plugin!`](crate::export_plugin), and build the crate as a `cdylib`.
///
/// The parameter schema the host shows and validates against is derived from
/// [`TypedOperator::Params`]; the JSON the host passes is parsed and checked
/// against the same declaration before [`TypedOperator::analyze`] runs, and a bad
/// value comes back as one line naming the parameter.
pub trait TypedOperator: Default + 'static {
    /// Registry name, `snake_case`; what the model writes in a tool call.
    const NAME: &'static str;
    /// What the operator shows and how to read its output; the model sees this.
    const DESCRIPTION: &'static str;
    /// Family: `frequency`, `noise`, `edge`, `compression`, `statistics` or `learned`.
    const CATEGORY: &'static str;
    /// Other names a model may call it by; see [`Operator::ALIASES`].
    const ALIASES: &'static [&'static str] = &[];

    /// The parameters, declared with [`params!`](crate::params)
    /// ([`NoParams`](crate::NoParams) when there are none).
    type Params: Params;

    /// Runs the operator with parsed, checked parameters. Errors are shown to the
    /// model as the observation.
    fn analyze(&self, image: &ImageRef<'_>, params: Self::Params) -> Result<Output, String>;
}

// Every typed operator is an `Operator`: the host, `declare` and the ABI
// trampoline stay exactly as they were, and untyped operators keep working.
impl<T: TypedOperator> Operator for T {
    const NAME: &'static str = <T as TypedOperator>::NAME;
    const DESCRIPTION: &'static str = <T as TypedOperator>::DESCRIPTION;
    const CATEGORY: &'static str = <T as TypedOperator>::CATEGORY;
    const ALIASES: &'static [&'static str] = <T as TypedOperator>::ALIASES;

    fn params_schema() -> serde_json::Value {
        crate::params::schema::<T::Params>()
    }

    fn run(&self, image: &ImageRef<'_>, params: &serde_json::Value) -> Result<Output, String> {
        let params = T::Params::from_json(params)?;
        self.analyze(image, params)
    }
}

crate::params! {
    /// The parameters of an operator that takes none: `{}` (or nothing) only.
    pub struct NoParams {}
}

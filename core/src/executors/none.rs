use crate::action::Action;
use crate::executor::{EpisodeState, Executor, Observation};

/// The `none` strategy: the model must answer from the image alone.
#[derive(Default)]
pub struct NoneExecutor;

impl Executor for NoneExecutor {
    fn name(&self) -> &'static str {
        "none"
    }
    fn execute(&mut self, action: &Action, _: &mut EpisodeState) -> Observation {
        Observation::error(format!(
            "Tools are disabled in this session ({} ignored). Answer directly with <answer>authentic|synthetic|tampered</answer>.",
            action.kind()
        ))
    }
}

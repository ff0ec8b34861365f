//! `trutheye train`: fitting what can be fitted without a GPU.
//!
//! * [`scorer`]: the scripted policy's adjudication scorer, fitted on operator
//!   evidence with cross-validation (`trutheye train scorer`); the maths is in
//!   [`logreg`].
//! * [`fusion`]: how operators' heat-maps are fused into the agent's mask,
//!   fitted on masks with cross-validation (`trutheye train fusion`); it
//!   scores candidate masks through [`stretch`].
//! * [`sft`] and [`grpo`]: LoRA fine-tuning of a local Qwen2.5-VL in candle
//!   (`trutheye train sft`, `trutheye train grpo`), with resumable run
//!   directories ([`run_state`]) and a saveable optimiser ([`adamw`]).

pub mod adamw;
pub mod chat_data;
pub mod folds;
pub mod fusion;
pub mod grpo;
pub mod grpo_env;
pub mod logreg;
pub mod lora_args;
pub mod run_state;
pub mod scorer;
pub mod scorer_report;
pub mod scorer_run;
pub mod sft;
pub mod stretch;
pub mod temperature;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f(i, &items[i])` for every item on up to `jobs` scoped threads, results in
/// the items' order. Threads take the next index as they finish, so slow items
/// (a 12 MP image, a large candidate set) do not hold up a fixed share.
/// An item whose call panicked is `None` (the panic is not propagated: one bad
/// image must not lose the others' work).
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(usize, &T) -> R + Sync) -> Vec<Option<R>> {
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(items.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i, item)));
                if let (Ok(r), Ok(mut o)) = (r, out.lock()) {
                    o[i] = Some(r);
                }
            });
        }
    });
    out.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// A progress bar over training steps, starting at `done`.
pub(crate) fn progress(steps: u64, done: u64) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} step {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    b.set_position(done);
    b
}

#[cfg(test)]
mod tests {
    #[test]
    fn parallel_map_keeps_order_and_survives_a_panicking_item() {
        let items: Vec<u32> = (0..50).collect();
        let out = super::parallel_map(&items, 3, |i, &v| {
            assert_ne!(v, 7, "item 7 panics");
            i as u32 * 10 + v
        });
        assert_eq!(out.len(), 50);
        assert_eq!(out[7], None);
        for (i, r) in out.iter().enumerate().filter(|(i, _)| *i != 7) {
            assert_eq!(*r, Some(i as u32 * 11));
        }
        assert!(super::parallel_map(&Vec::<u32>::new(), 4, |_, v| *v).is_empty());
    }
}

//! trutheye's trainer host. For now: the evaluator ([`eval`]), which runs policies
//! over a labelled dataset, records predictions and trajectories, and computes the
//! metrics and reports of the ForenAgent/SIDA protocol.

pub mod eval;

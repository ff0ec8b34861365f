//! trutheye's trainer host: the evaluator ([`eval`]), which runs policies over a
//! labelled dataset, records predictions and trajectories, and computes the
//! metrics and reports of the ForenAgent/SIDA protocol; and the rewards
//! ([`rewards`]) that score recorded trajectories for RL (`trutheye reward`); and
//! the training-data conversions for ms-swift ([`data`], `trutheye data`); and
//! fitting the scripted policy's scorer ([`train`], `trutheye train scorer`);
//! and the environment server for Python trainers ([`serve`], `trutheye serve`).

pub mod data;
pub mod eval;
pub mod reward_cli;
pub mod rewards;
#[cfg(unix)]
pub mod serve;
pub mod train;

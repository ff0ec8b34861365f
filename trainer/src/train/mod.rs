//! `trutheye train`: fitting what can be fitted without a GPU.
//!
//! * [`scorer`]: the scripted policy's adjudication scorer, fitted on operator
//!   evidence with cross-validation (`trutheye train scorer`); the maths is in
//!   [`logreg`].

pub mod logreg;
pub mod scorer;
pub mod scorer_report;

use clap::{Args, Subcommand};
use trutheye_core::cli::PluginDirs;

/// Flags of `trutheye train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// What to fit.
    #[command(subcommand)]
    pub command: TrainCommand,
}

/// The `trutheye train` subcommands.
#[derive(Subcommand, Debug)]
pub enum TrainCommand {
    /// Fit the scripted policy's scorer on a labelled dataset (k-fold CV against the hand-set scorer) and write a scripted config.
    Scorer(scorer::ScorerArgs),
}

/// Runs `trutheye train ...`.
pub fn run(args: &TrainArgs, plugins: &PluginDirs) -> Result<(), String> {
    match &args.command {
        TrainCommand::Scorer(a) => {
            let (registry, _) = plugins.load();
            let r = scorer::run(a, registry)?;
            if a.json {
                println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
            } else {
                print!("{}", scorer::to_table(&r));
            }
            Ok(())
        }
    }
}

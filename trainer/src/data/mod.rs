//! `trutheye data`: training-data conversions for ms-swift.
//!
//! * [`sft`]: our trajectories → ms-swift agent SFT JSONL, with the `correct` and
//!   ForenAgent distillation filters;
//! * [`codevision`]: CodeVision-style ShareGPT data → the same format, dropping
//!   samples whose code fails in our sandbox (TruthEYE2's "delete failure samples");
//! * [`grpo`]: a GRPO prompt set from a dataset;
//! * [`hard`]: stage-3 hard-case mining from eval runs.
//!
//! Every conversion returns a [`ConversionReport`] (kept, dropped by reason) that
//! is printed as a table or, with `--json`, as one JSON object.

pub mod codevision;
pub mod grpo;
pub mod hard;
pub mod report;
pub mod sft;
pub mod swift;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use trutheye_core::cli::PluginDirs;

pub use report::ConversionReport;
pub use swift::{SwiftMessage, SwiftSample};

/// Flags of `trutheye data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    /// Print the report as one JSON object instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Which conversion.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `trutheye data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Trajectories (analyze --out / eval runs) → ms-swift agent SFT JSONL.
    Sft(sft::SftArgs),
    /// CodeVision-style ShareGPT JSONL → ms-swift SFT JSONL, dropping samples whose code fails in the sandbox.
    Codevision(codevision::CodeVisionArgs),
    /// A dataset → ms-swift GRPO prompt set (system + `<image>` question, solution label and box).
    Grpo(grpo::GrpoArgs),
    /// Hard-case mining: ids whose rollouts in eval runs are mostly wrong → manifest subset (and GRPO prompts).
    Hard(hard::HardArgs),
}

/// Runs `trutheye data ...`: loads the operator registry (needed for tool
/// schemas, prompts and sandbox execution), converts, prints the report.
pub fn run(args: &DataArgs, plugins: &PluginDirs) -> Result<(), String> {
    let (registry, _) = plugins.load();
    if registry.is_empty() {
        // Not an error: conversions still work, but prompts list no operators and
        // sample code calling operators fails in the sandbox.
        eprintln!("warning: no operator plugins loaded (build them with `cargo build --release`, or pass --plugin-dir)");
    }
    let reports = match &args.command {
        DataCommand::Sft(a) => vec![sft::run(a, &registry)?],
        DataCommand::Codevision(a) => vec![codevision::run(a, std::sync::Arc::new(registry))?],
        DataCommand::Grpo(a) => vec![grpo::run(a, &registry)?],
        DataCommand::Hard(a) => hard::run(a, &registry)?,
    };
    for r in &reports {
        if args.json {
            println!("{}", r.to_json());
        } else {
            print!("{}", r.to_table());
        }
    }
    Ok(())
}

/// Writes JSON lines to `out` (creating its directory), one value per line.
pub fn write_jsonl<T: serde::Serialize>(out: &Path, rows: &[T]) -> Result<(), String> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create directory: {e}", dir.display()))?;
    }
    let mut text = String::new();
    for r in rows {
        text.push_str(&serde_json::to_string(r).map_err(|e| format!("{}: cannot serialize: {e}", out.display()))?);
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|e| format!("{}: cannot write: {e}", out.display()))
}

/// `p` made absolute against the current directory and canonicalized when it
/// exists (training runs elsewhere, so relative paths would dangle). `None` when
/// the file does not exist.
pub fn existing_absolute(p: &Path) -> Option<PathBuf> {
    let joined = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().ok()?.join(p) };
    joined.canonicalize().ok().filter(|c| c.is_file())
}

/// A path as a string for JSON (lossy for non-UTF-8 names, which ms-swift could not read either).
pub fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

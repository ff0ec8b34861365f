//! `trutheye`: agentic image forensics from the command line.

mod analyze;
mod backend;
mod choices;
mod code_backend;
mod data_cmd;
mod eval;
mod group_args;
mod local;
mod model_cmd;
mod plugins;
mod pvr;
mod report;
mod reward;
mod serve;
mod train_cmd;

use std::process::ExitCode;

// Decoded 12-megapixel images and maps fault in 2 MiB at a time, as NumPy's do.
#[global_allocator]
static ALLOC: trutheye_plugin_api::alloc::HugePageAlloc = trutheye_plugin_api::alloc::HugePageAlloc;

use clap::{Parser, Subcommand};
use plugins::{OpArgs, PluginDirs, PluginsCommand};

/// `--version`'s long form: the version, and whether JPEG decoding and
/// encoding run libjpeg-turbo's SIMD paths (a build without them runs the C
/// paths at about half speed; benchmarks record this line).
static LONG_VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("{}\nlibjpeg-turbo SIMD: {}", env!("CARGO_PKG_VERSION"), trutheye_imaging::jpeg::simd_status()));

/// Agentic image forensics: a policy (a model, or the built-in scripted agent)
/// investigates an image with forensic operators and image-operation code, and
/// concludes authentic, synthetic or tampered, with a localization and a trace.
#[derive(Parser, Debug)]
#[command(name = "trutheye", version, long_version = LONG_VERSION.as_str(), about, long_about = None, after_help = "Examples:\n  trutheye analyze samples/tampered-copymove.jpg\n  trutheye analyze photos/ --strategy registry --json --out runs/a\n  trutheye plugins list\n  trutheye op srm photo.jpg -o srm.png\n  echo 'print(image.size)' | trutheye pvr photo.jpg --code -\n\nLogs: -v (info), -vv (debug), or RUST_LOG.")]
struct Cli {
    #[command(flatten)]
    plugins: PluginDirs,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Investigate images and print a verdict with the reasoning trace.
    Analyze(analyze::AnalyzeArgs),
    /// Evaluate policies × strategies (and operator baselines) on a labelled dataset: `eval --data M --out DIR`, `eval report DIR`, `eval compare A B`.
    Eval(Box<eval::EvalArgs>),
    /// Score recorded trajectories with the ForenAgent and TruthEYE2 rewards.
    Reward(reward::RewardArgs),
    /// Build ms-swift training data: `data sft` (trajectories), `data codevision`, `data grpo`, `data hard` (hard-case mining).
    Data(data_cmd::DataArgs),
    /// Fit what needs no GPU: `train scorer` (the scripted policy's scorer, with cross-validation).
    Train(train_cmd::TrainArgs),
    /// Inspect the operator plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Inspect a local Qwen2.5-VL checkpoint: `model check` (inputs, next-token logits), `model bench` (tokens/s).
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    /// Run one operator on an image and save its maps.
    Op(OpArgs),
    /// Run one PVR code action against an image and print what the model would see.
    Pvr(pvr::PvrArgs),
    /// Serve tool execution and rewards to Python trainers (ms-swift) over a local socket: `serve --socket PATH`.
    Serve(serve::ServeArgs),
    /// Internal: the sandbox worker process `analyze` and `pvr` start (speaks a binary protocol on stdin/stdout).
    #[command(hide = true)]
    PvrWorker,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    install_panic_hook();
    let result = match &cli.command {
        Command::Analyze(a) => analyze::run(a, &cli.plugins),
        Command::Eval(e) => eval::run(e, &cli.plugins),
        Command::Reward(r) => reward::run(r).map(|_| ExitCode::SUCCESS),
        Command::Data(d) => data_cmd::run(d, &cli.plugins).map(|_| ExitCode::SUCCESS),
        Command::Train(t) => train_cmd::run(t, &cli.plugins).map(|_| ExitCode::SUCCESS),
        Command::Plugins(p) => plugins::run_plugins(p, &cli.plugins).map(|_| ExitCode::SUCCESS),
        Command::Model(m) => model_cmd::run(m),
        Command::Op(o) => plugins::run_op(o, &cli.plugins).map(|_| ExitCode::SUCCESS),
        Command::Pvr(p) => pvr::run(p, &cli.plugins),
        Command::Serve(s) => serve::run(s, &cli.plugins),
        Command::PvrWorker => trutheye_sandbox::worker::serve(&cli.plugins.plugin_dirs).map(|_| ExitCode::SUCCESS).map_err(anyhow::Error::msg),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// A bug must not greet the user with a Rust backtrace: print one line that says
/// it is ours, with the location, and let the caller record the failure.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("internal error (a trutheye bug, please report it): {msg}{at}");
    }));
}

//! `trutheye serve`: the environment server for Python trainers (ms-swift).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use crate::plugins::PluginDirs;
use crate::code_backend::{BackendArgs, Placement, TrustArgs};
use trutheye_eval::rewards::RewardWeights;
use trutheye_sandbox::PvrEngine;
use trutheye_serve::limits::{human_bytes, parse_bytes};
use trutheye_serve::{executor_factory, protocol, Listen, ServeConfig, ServeLimits, Server};

use crate::analyze::{load_configs, load_registry, pvr_engine};

/// Arguments of `trutheye serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Unix domain socket to listen on (replaced if stale).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Also listen on TCP, loopback only unless --allow-remote (e.g. 127.0.0.1:7461; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<SocketAddr>,
    /// Accept a non-loopback --tcp address (the protocol has no authentication).
    #[arg(long)]
    pub allow_remote: bool,
    /// Plugin directories (same as --plugin-dir; repeatable).
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub plugins: Vec<PathBuf>,
    /// Agent configuration (budgets, limits, prompts); default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A published agent's harness laid over the config: a built-in name (deepeyes; docs/presets.md) or a preset TOML file.
    #[arg(long, value_name = "NAME|PATH")]
    pub preset: Option<String>,
    /// Default reward weights (TOML, as for `trutheye reward`); requests may override them.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Memory budget of the server and all its workers (private resident memory);
    /// new sessions and turns are refused past it. Default: half the machine's memory, at most 16G.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub memory_budget: Option<u64>,
    /// Most sessions open at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_sessions: usize,
    /// Most sessions one client (a socket peer process, or a TCP peer address) may hold open.
    #[arg(long, value_name = "N")]
    pub max_sessions_per_client: Option<usize>,
    /// Seconds after which an idle session is closed.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub session_ttl: u64,
    /// Most input images one `open` may name.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_open_images: usize,
    /// Decoded bytes of images one session may hold (inputs and what its actions made).
    #[arg(long, default_value = "512M", value_name = "SIZE", value_parser = parse_bytes)]
    pub session_image_quota: u64,
    /// Pixels one turn may show; further images are withheld with a note.
    #[arg(long, default_value_t = 16_000_000, value_name = "PIXELS")]
    pub max_shown_pixels: u64,
    /// Largest PNG sent inline (base64); larger ones are sent by path.
    #[arg(long, default_value = "4M", value_name = "SIZE", value_parser = parse_bytes)]
    pub inline_image_bytes: u64,
    /// Longest response line.
    #[arg(long, default_value = "16M", value_name = "SIZE", value_parser = parse_bytes)]
    pub max_response_bytes: u64,
    /// Address-space limit of each session's PVR worker process.
    #[arg(long, default_value = "2G", value_name = "SIZE", value_parser = parse_bytes)]
    pub worker_memory: u64,
    /// Where images sent by path are written (a directory per session); default: a private temporary directory.
    #[arg(long, value_name = "DIR")]
    pub image_dir: Option<PathBuf>,
    /// Longest request line in bytes.
    #[arg(long, default_value_t = protocol::DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
    pub max_line_bytes: usize,
    /// Where code actions run: a killable worker process per session, or in the server process.
    #[arg(long, value_enum, default_value_t = Placement::Worker)]
    pub pvr_mode: Placement,
    /// Wall time of one code action in seconds (the worker is killed after it).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub action_timeout: f64,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Honour the `shutdown` method (for tests and scripts).
    #[arg(long)]
    pub allow_shutdown: bool,
    /// Print the start line as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trutheye serve` until SIGINT/SIGTERM or an allowed `shutdown`.
pub fn run(args: &ServeArgs, dirs: &PluginDirs) -> Result<ExitCode> {
    if !(args.action_timeout.is_finite() && args.action_timeout > 0.0) {
        bail!("--action-timeout must be a positive number of seconds");
    }
    let timeout = Duration::from_secs_f64(args.action_timeout.min(86_400.0));
    args.trust.check(args.pvr_mode).map_err(anyhow::Error::msg)?;
    let (agent, _, _) = load_configs(args.config.as_deref(), args.preset.as_deref(), None)?;
    let weights = match &args.weights {
        Some(p) => {
            let text = trutheye_core::input::read_text_bounded(p, trutheye_core::input::MAX_TEXT_BYTES).map_err(|e| anyhow::anyhow!("--weights {e}"))?;
            toml::from_str::<RewardWeights>(&text).map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message()))?
        }
        None => RewardWeights::default(),
    };
    let mut dirs = dirs.clone();
    dirs.plugin_dirs.extend(args.plugins.iter().cloned());
    let (registry, _) = load_registry(&dirs, &agent)?;
    if registry.is_empty() {
        eprintln!("warning: no forensic operators loaded; build the plugins or pass --plugins DIR");
    }
    let max_sessions = args.max_sessions.max(1);
    let limits = ServeLimits {
        memory_budget: args.memory_budget.unwrap_or_else(trutheye_serve::limits::default_memory_budget),
        max_sessions,
        max_sessions_per_client: args.max_sessions_per_client.unwrap_or(max_sessions).max(1),
        session_ttl: Duration::from_secs(args.session_ttl.max(1)),
        max_open_images: args.max_open_images.max(1),
        max_session_image_bytes: args.session_image_quota,
        max_shown_pixels_per_turn: args.max_shown_pixels.max(1),
        inline_image_bytes: usize::try_from(args.inline_image_bytes).unwrap_or(usize::MAX),
        max_response_bytes: usize::try_from(args.max_response_bytes).unwrap_or(usize::MAX).max(4096),
        worker_memory: args.worker_memory,
    };
    // Sessions are driven by a model (ms-swift's rollouts): python by default
    // when set up, its jail held to the code's share of the budget.
    let mut engine = pvr_engine(&args.backend, &agent, true, args.pvr_mode, &dirs, timeout, true, Some(limits.worker_share()))?;
    if let PvrEngine::Worker(w) = &mut engine {
        w.os.address_space = Some(args.worker_memory);
    }
    let backend_name = engine.backend().runtime();
    if let Some(dir) = &args.image_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--image-dir {}", dir.display()))?;
    }
    let budget_text = human_bytes(limits.memory_budget);
    // The workers share a control group holding them to their part of the
    // budget, where the host lets us make one (the kernel's OOM killer then
    // ends the largest worker, never the server).
    #[cfg(target_os = "linux")]
    let worker_cgroup = match &mut engine {
        PvrEngine::Worker(w) => {
            let cg = trutheye_sandbox::python::cgroup::Cgroup::create_named("trutheye-serve", limits.worker_share(), 16_384);
            if let Some(cg) = &cg {
                w.cgroup_procs = Arc::new(cg.procs_files());
            } else {
                eprintln!("warning: no control group for the PVR workers (cgroups not writable here): the memory budget is kept by admission checks only");
            }
            cg
        }
        _ => None,
    };
    #[cfg(target_os = "linux")]
    let cgroup_text = worker_cgroup.as_ref().map(|c| format!(", workers in a {} cgroup of {}", c.version, human_bytes(limits.worker_share()))).unwrap_or_default();
    #[cfg(not(target_os = "linux"))]
    let cgroup_text = String::new();
    let config = ServeConfig {
        agent,
        weights,
        limits,
        image_root: args.image_dir.clone(),
        #[cfg(target_os = "linux")]
        worker_cgroup,
        max_line_bytes: args.max_line_bytes.max(1024),
        allow_shutdown: args.allow_shutdown,
        handle_signals: true,
    };
    let listen = Listen { socket: args.socket.clone(), tcp: args.tcp, allow_remote: args.allow_remote };
    let operators = registry.len();
    let server = Server::bind(&listen, config, Arc::new(registry), executor_factory(engine)).map_err(anyhow::Error::msg)?;
    let socket = server.socket_path().map(|p| p.display().to_string());
    let tcp = server.tcp_addr().map(|a| a.to_string());
    let line = if args.json {
        serde_json::json!({"event": "listening", "socket": socket, "tcp": tcp, "protocol": protocol::PROTOCOL_VERSION, "pid": std::process::id(), "operators": operators, "pvr_mode": args.pvr_mode.as_str(), "backend": backend_name, "memory_budget_bytes": server.memory_budget()}).to_string()
    } else {
        let at: Vec<String> = socket.iter().map(|s| format!("unix:{s}")).chain(tcp.iter().map(|t| format!("tcp:{t}"))).collect();
        format!(
            "trutheye serve: listening on {} (protocol {}, {operators} operators, pvr backend {backend_name}, memory budget {budget_text}{cgroup_text}, pid {})",
            at.join(" and "),
            protocol::PROTOCOL_VERSION,
            std::process::id()
        )
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|_| out.flush()).context("cannot write the start line")?;
    drop(out);
    server.run().map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}

//! `trutheye serve`: a long-lived process that executes model turns and computes
//! rewards for Python trainers (ms-swift GRPO with multi-turn rollouts).
//!
//! It listens on a Unix domain socket and, optionally, on loopback TCP, and
//! speaks newline-delimited JSON ([`protocol`]). Each connection gets a thread;
//! sessions (one episode each: images, executor state, turns) live in a shared
//! map and are driven by [`session::Session::execute`], which mirrors one turn of
//! `trutheye_core::run_episode`. Code actions run under the sandbox's limits
//! (step and wall-time budgets; in worker mode a killable process), so hostile
//! code times out instead of hanging the server.

pub mod backend;
pub mod codec;
pub mod methods;
pub mod protocol;
pub mod session;
mod signals;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trutheye_core::{AgentConfig, Executor, Registry};

use crate::rewards::RewardWeights;
pub use backend::executor_factory;
use methods::SessionMap;
use protocol::{error_line, ok_line, parse_request, read_line, write_line, Line, RpcError};

/// Strategies a session can be opened with.
pub const STRATEGIES: [&str; 4] = ["pvr", "registry", "hybrid", "none"];

/// Builds a fresh executor for a strategy (one per session: executors keep state).
pub type ExecutorFactory = Box<dyn Fn(&str) -> Result<Box<dyn Executor>, String> + Send + Sync>;

/// Everything the server needs besides the listeners.
pub struct ServeConfig {
    /// Budgets, image limits and prompts (as for `trutheye analyze`).
    pub agent: AgentConfig,
    /// Default reward weights (a request may override any of them).
    pub weights: RewardWeights,
    /// Most sessions open at once.
    pub max_sessions: usize,
    /// Sessions idle for longer are dropped when a new one is opened.
    pub session_ttl: Duration,
    /// Longest request line.
    pub max_line_bytes: usize,
    /// Whether the `shutdown` method is honoured.
    pub allow_shutdown: bool,
    /// Whether SIGINT/SIGTERM stop the server (the CLI sets it; tests do not).
    pub handle_signals: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            agent: AgentConfig::default_config(),
            weights: RewardWeights::default(),
            max_sessions: 256,
            session_ttl: Duration::from_secs(1800),
            max_line_bytes: protocol::DEFAULT_MAX_LINE_BYTES,
            allow_shutdown: false,
            handle_signals: false,
        }
    }
}

/// Where to listen.
#[derive(Clone, Debug, Default)]
pub struct Listen {
    /// Unix domain socket path.
    pub socket: Option<PathBuf>,
    /// TCP address; must be loopback unless `allow_remote`.
    pub tcp: Option<SocketAddr>,
    /// Accept a non-loopback TCP address.
    pub allow_remote: bool,
}

/// Request counters (`stats`).
#[derive(Default)]
pub struct Stats {
    /// Request lines read.
    pub requests: AtomicU64,
    /// Error responses sent.
    pub errors: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Sessions opened in total.
    pub sessions_opened: AtomicU64,
    /// Code and tool-call actions executed.
    pub actions: AtomicU64,
    /// Turns that were format errors.
    pub format_errors: AtomicU64,
    /// Final answers.
    pub answers: AtomicU64,
    /// Turns answered with the tool-budget notice.
    pub budget_notices: AtomicU64,
}

/// State shared by all connection threads.
pub struct Shared {
    /// Configuration.
    pub config: ServeConfig,
    /// Operators (loaded once).
    pub registry: Arc<Registry>,
    /// Open sessions.
    pub sessions: Mutex<SessionMap>,
    /// Executor factory.
    pub make_executor: ExecutorFactory,
    /// Counters.
    pub stats: Stats,
    /// Set to stop the accept loop.
    pub stop: Arc<AtomicBool>,
    /// Start time.
    pub started: Instant,
    next_session: AtomicU64,
}

/// A bound server; [`Server::run`] serves until stopped.
pub struct Server {
    shared: Arc<Shared>,
    unix: Option<(UnixListener, PathBuf)>,
    tcp: Option<TcpListener>,
}

impl Server {
    /// Binds the listeners. A stale socket file (nobody accepting) is replaced;
    /// a live one is an error.
    pub fn bind(listen: &Listen, config: ServeConfig, registry: Arc<Registry>, make_executor: ExecutorFactory) -> Result<Self, String> {
        if listen.socket.is_none() && listen.tcp.is_none() {
            return Err("nothing to listen on: give --socket PATH and/or --tcp ADDR".into());
        }
        let tcp = match listen.tcp {
            Some(addr) if !addr.ip().is_loopback() && !listen.allow_remote => {
                return Err(format!("--tcp {addr} is not a loopback address; the protocol has no authentication, so pass --allow-remote to expose it"))
            }
            Some(addr) => Some(TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?),
            None => None,
        };
        let unix = match &listen.socket {
            Some(path) => Some((bind_unix(path)?, path.clone())),
            None => None,
        };
        let shared = Shared {
            config,
            registry,
            sessions: Mutex::new(SessionMap::new()),
            make_executor,
            stats: Stats::default(),
            stop: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            next_session: AtomicU64::new(0),
        };
        Ok(Self { shared: Arc::new(shared), unix, tcp })
    }

    /// The bound TCP address (useful with port 0).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The socket path.
    pub fn socket_path(&self) -> Option<&Path> {
        self.unix.as_ref().map(|(_, p)| p.as_path())
    }

    /// A flag that stops [`Server::run`] when set.
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        self.shared.stop.clone()
    }

    /// Accepts connections (a thread each) until stopped by `shutdown`, the stop
    /// handle, or SIGINT/SIGTERM; then removes the socket file.
    pub fn run(self) -> Result<(), String> {
        if self.shared.config.handle_signals {
            signals::install();
        }
        let nb = |r: std::io::Result<()>| r.map_err(|e| format!("cannot configure the listener: {e}"));
        if let Some((l, _)) = &self.unix {
            nb(l.set_nonblocking(true))?;
        }
        if let Some(l) = &self.tcp {
            nb(l.set_nonblocking(true))?;
        }
        while !self.shared.stop.load(Ordering::SeqCst) && !signals::received() {
            let mut accepted = false;
            if let Some((l, _)) = &self.unix {
                if let Ok((s, _)) = l.accept() {
                    accepted = true;
                    self.spawn_unix(s);
                }
            }
            if let Some(l) = &self.tcp {
                if let Ok((s, peer)) = l.accept() {
                    accepted = true;
                    let _ = s.set_nodelay(true);
                    let _ = s.set_nonblocking(false);
                    match s.try_clone() {
                        Ok(w) => self.spawn(format!("tcp:{peer}"), Box::new(s), Box::new(w)),
                        Err(e) => tracing::warn!("cannot clone a TCP stream: {e}"),
                    }
                }
            }
            if !accepted {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        tracing::info!(signal = signals::received(), "server stopping");
        if let Some((_, path)) = &self.unix {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    fn spawn_unix(&self, s: UnixStream) {
        let _ = s.set_nonblocking(false);
        match s.try_clone() {
            Ok(w) => self.spawn("unix".into(), Box::new(s), Box::new(w)),
            Err(e) => tracing::warn!("cannot clone a socket stream: {e}"),
        }
    }

    fn spawn(&self, peer: String, r: Box<dyn Read + Send>, w: Box<dyn Write + Send>) {
        let shared = self.shared.clone();
        let n = shared.stats.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let spawned = std::thread::Builder::new().name(format!("serve-conn-{n}")).spawn(move || {
            tracing::debug!(%peer, "connection opened");
            if let Err(e) = serve_connection(&shared, r, w) {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start a connection thread: {e}");
        }
    }
}

fn bind_unix(path: &Path) -> Result<UnixListener, String> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!("{}: another server is already listening there", path.display()));
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: cannot remove the stale socket: {e}", path.display()))?;
    }
    UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))
}

/// Serves one connection: a response line per request line, until EOF.
fn serve_connection(shared: &Shared, r: Box<dyn Read + Send>, mut w: Box<dyn Write + Send>) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, r);
    loop {
        let line = match read_line(&mut reader, shared.config.max_line_bytes)? {
            Line::Eof => return Ok(()),
            Line::TooLong(n) => Err((serde_json::Value::Null, RpcError::new("line_too_long", format!("the request line is {n} bytes; the limit is {}", shared.config.max_line_bytes)))),
            Line::Data(d) if d.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Data(d) => parse_request(&d),
        };
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let t0 = Instant::now();
        let (id, result, method) = match line {
            Ok(req) => {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| methods::dispatch(shared, &req.method, &req.params)))
                    .unwrap_or_else(|_| Err(RpcError::new("internal", format!("internal error while handling `{}` (a trutheye bug)", req.method))));
                (req.id, result, req.method)
            }
            Err((id, e)) => (id, Err(e), String::new()),
        };
        let out = match &result {
            Ok(v) => ok_line(&id, v.clone()),
            Err(e) => {
                shared.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(code = e.code, "error response: {}", e.message);
                error_line(&id, e)
            }
        };
        tracing::debug!(method = %method, ms = methods::elapsed_ms(t0), "request served");
        write_line(&mut w, &out)?;
    }
}

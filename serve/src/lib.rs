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
//!
//! What the server may use is bounded by [`limits::ServeLimits`]: a memory
//! budget for the whole process tree, session counts in all and per client,
//! and per-session quotas (images held, pixels shown per turn, response size).
//! Large observation images are sent by path (a PNG in the session's own
//! directory, removed with the session) instead of inline.

#![warn(missing_docs)]

#![cfg(unix)]

pub mod backend;
pub mod codec;
pub mod error;
pub mod limits;
pub mod methods;
pub mod protocol;
pub mod session;
mod signals;

use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trutheye_core::{AgentConfig, Executor, Registry, Strategy};

use trutheye_eval::rewards::RewardWeights;
pub use backend::executor_factory;
pub use error::ServeError;
pub use limits::ServeLimits;
use limits::MemoryGauge;
use methods::SessionMap;
use protocol::{error_line, ok_line, parse_request, read_line, write_line, Line, RpcError};

/// Builds a fresh executor for a strategy (one per session: executors keep state).
pub type ExecutorFactory = Box<dyn Fn(Strategy) -> Result<Box<dyn Executor>, ServeError> + Send + Sync>;

/// Everything the server needs besides the listeners.
pub struct ServeConfig {
    /// Budgets, image limits and prompts (as for `trutheye analyze`).
    pub agent: AgentConfig,
    /// Default reward weights (a request may override any of them).
    pub weights: RewardWeights,
    /// Memory budget, session counts and per-session quotas.
    pub limits: ServeLimits,
    /// Where sessions write images sent by path (one directory each); default:
    /// a new private directory under the system's temporary directory, removed
    /// when the server stops.
    pub image_root: Option<PathBuf>,
    /// A control group all PVR workers start in, holding them to
    /// [`ServeLimits::worker_share`] of the budget (made by the CLI where the
    /// host allows it; removed when the server stops).
    #[cfg(target_os = "linux")]
    pub worker_cgroup: Option<trutheye_sandbox::python::cgroup::Cgroup>,
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
            limits: ServeLimits::default(),
            image_root: None,
            #[cfg(target_os = "linux")]
            worker_cgroup: None,
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
    /// Requests and actions refused by a limit (memory budget, session counts,
    /// quotas).
    pub refused: AtomicU64,
    /// Idle sessions closed by the reaper.
    pub sessions_expired: AtomicU64,
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
    /// The server's measured memory use.
    pub memory: MemoryGauge,
    /// Parent of the sessions' image directories.
    pub image_root: PathBuf,
    /// Whether `image_root` was made by the server (and is removed at exit).
    owns_image_root: bool,
    /// Bytes reserved by work running now: a turn's worst case for every
    /// turn, the decoded size of the images an `open` is decoding.
    pub in_flight: AtomicU64,
    /// The workers' control group (taken out of the config to be removed at exit).
    #[cfg(target_os = "linux")]
    pub worker_cgroup: Mutex<Option<trutheye_sandbox::python::cgroup::Cgroup>>,
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
    pub fn bind(listen: &Listen, config: ServeConfig, registry: Arc<Registry>, make_executor: ExecutorFactory) -> Result<Self, ServeError> {
        if listen.socket.is_none() && listen.tcp.is_none() {
            return Err(ServeError::Listen("nothing to listen on: give --socket PATH and/or --tcp ADDR".to_string()));
        }
        let tcp = match listen.tcp {
            Some(addr) if !addr.ip().is_loopback() && !listen.allow_remote => {
                return Err(ServeError::Listen(format!("--tcp {addr} is not a loopback address; the protocol has no authentication, so pass --allow-remote to expose it")))
            }
            Some(addr) => Some(TcpListener::bind(addr).map_err(|e| ServeError::Listen(format!("cannot listen on {addr}: {e}")))?),
            None => None,
        };
        let unix = match &listen.socket {
            Some(path) => Some((bind_unix(path)?, path.clone())),
            None => None,
        };
        // Before anyone can learn the server is up (the CLI prints its start
        // line after `bind`): a SIGTERM right after it must still clean up.
        if config.handle_signals {
            signals::install();
        }
        let (image_root, owns_image_root) = match &config.image_root {
            Some(p) => (p.clone(), false),
            None => (make_private_dir()?, true),
        };
        let mut config = config;
        #[cfg(target_os = "linux")]
        let worker_cgroup = Mutex::new(config.worker_cgroup.take());
        let shared = Shared {
            #[cfg(target_os = "linux")]
            worker_cgroup,
            memory: MemoryGauge::new(Duration::from_millis(100)),
            in_flight: AtomicU64::new(0),
            image_root,
            owns_image_root,
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

    /// The memory budget in force.
    pub fn memory_budget(&self) -> u64 {
        self.shared.config.limits.memory_budget
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
    pub fn run(self) -> Result<(), ServeError> {
        let nb = |r: std::io::Result<()>| r.map_err(|e| ServeError::Listen(format!("cannot configure the listener: {e}")));
        if let Some((l, _)) = &self.unix {
            nb(l.set_nonblocking(true))?;
        }
        if let Some(l) = &self.tcp {
            nb(l.set_nonblocking(true))?;
        }
        let mut last_reap = Instant::now();
        while !self.shared.stop.load(Ordering::SeqCst) && !signals::received() {
            if last_reap.elapsed() >= Duration::from_secs(2) {
                methods::reap_idle(&self.shared);
                last_reap = Instant::now();
            }
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
                        Ok(w) => self.spawn(format!("tcp:{}", peer.ip()), Box::new(s), Box::new(w)),
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
        // Sessions (and their workers) end here, not whenever the last
        // connection thread lets go of the shared state.
        methods::close_all(&self.shared);
        #[cfg(target_os = "linux")]
        if let Some(cg) = self.shared.worker_cgroup.lock().unwrap_or_else(|p| p.into_inner()).take() {
            cg.remove();
        }
        if self.shared.owns_image_root {
            let _ = std::fs::remove_dir_all(&self.shared.image_root);
        }
        Ok(())
    }

    fn spawn_unix(&self, s: UnixStream) {
        let _ = s.set_nonblocking(false);
        let peer = unix_peer(&s);
        match s.try_clone() {
            Ok(w) => self.spawn(peer, Box::new(s), Box::new(w)),
            Err(e) => tracing::warn!("cannot clone a socket stream: {e}"),
        }
    }

    fn spawn(&self, peer: String, r: Box<dyn Read + Send>, w: Box<dyn Write + Send>) {
        let shared = self.shared.clone();
        let n = shared.stats.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let spawned = std::thread::Builder::new().name(format!("serve-conn-{n}")).spawn(move || {
            tracing::debug!(%peer, "connection opened");
            if let Err(e) = serve_connection(&shared, &peer, r, w) {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start a connection thread: {e}");
        }
    }
}

/// Binds the socket. Only a stale *socket* is replaced: anything else at the
/// path (a file someone cares about, a directory) is left alone and refused.
fn bind_unix(path: &Path) -> Result<UnixListener, ServeError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServeError::Listen(format!("{}: exists and is not a socket ({}); refusing to replace it", path.display(), file_kind(&meta.file_type()))));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(ServeError::Listen(format!("{}: another server is already listening there", path.display())));
        }
        std::fs::remove_file(path).map_err(|e| ServeError::Listen(format!("{}: cannot remove the stale socket: {e}", path.display())))?;
    }
    UnixListener::bind(path).map_err(|e| ServeError::Listen(format!("cannot listen on {}: {e}", path.display())))
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else {
        "a device or other special file"
    }
}

/// A new directory only this user can read, under the temporary directory.
fn make_private_dir() -> Result<PathBuf, ServeError> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("trutheye-serve-{}-{nanos:08x}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| ServeError::ImageDir(format!("cannot create the image directory {}: {e}", dir.display())))?;
    Ok(dir)
}

/// The client a Unix-socket connection belongs to: its peer process.
fn unix_peer(s: &UnixStream) -> String {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `cred`, which is
        // a ucred as SO_PEERCRED expects; the descriptor is open (we own `s`).
        let rc = unsafe { libc::getsockopt(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len) };
        if rc == 0 {
            return format!("unix:pid{}", cred.pid);
        }
    }
    let _ = s;
    "unix".into()
}

/// Serves one connection: a response line per request line, until EOF.
fn serve_connection(shared: &Shared, client: &str, r: Box<dyn Read + Send>, mut w: Box<dyn Write + Send>) -> std::io::Result<()> {
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
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| methods::dispatch(shared, client, &req.method, &req.params)))
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
        let out = if out.len() > shared.config.limits.max_response_bytes {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            let e = RpcError::new(
                "response_too_large",
                format!("the response is {} bytes; the limit is {} (serve --max-response-bytes); ask for images by path (\"images_by\": \"path\" in open)", out.len(), shared.config.limits.max_response_bytes),
            );
            error_line(&id, &e)
        } else {
            out
        };
        tracing::debug!(method = %method, ms = methods::elapsed_ms(t0), "request served");
        write_line(&mut w, &out)?;
    }
}

//! The host side: spawns, feeds, times and replaces the worker process.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trutheye_core::{Action, EpisodeState, Executor, ImageBuf, NamedImage, Observation};

use super::protocol::{self, check_hello, Msg};
use super::{from_wire, os, to_wire, OsLimits};
use crate::PvrLimits;

/// How to start and bound worker processes.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The `trutheye` executable (run as `trutheye pvr-worker`).
    pub exe: PathBuf,
    /// `--plugin-dir`s passed to the worker (it also searches `TRUTHEYE_PLUGIN_PATH` and next to `exe`).
    pub plugin_dirs: Vec<PathBuf>,
    /// Interpreter budgets inside the worker (`max_wall` is where the
    /// interpreter itself stops the code; [`Self::set_timeout`] sets it with
    /// `action_timeout`).
    pub limits: PvrLimits,
    /// Wall time one action may take. The worker is killed when it has not
    /// answered [`kill_grace`] after it (the interpreter's own `limits.max_wall`
    /// stops interpretable code first, keeping the worker and its variables).
    pub action_timeout: Duration,
    /// Wall time the worker may take to start and greet.
    pub startup_timeout: Duration,
    /// OS limits for the worker process.
    pub os: OsLimits,
    /// Extra environment variables for the worker.
    pub env: Vec<(OsString, OsString)>,
    /// `cgroup.procs` files the worker writes itself into before it runs: a
    /// memory ceiling that all workers of a server share (`trutheye serve`
    /// makes the group), enforced by the kernel, whose OOM killer then ends
    /// the largest worker, not the server.
    pub cgroup_procs: Arc<Vec<std::ffi::CString>>,
}

impl WorkerConfig {
    /// Defaults for a given executable: 10 s per action, 30 s to start, [`OsLimits::default`].
    pub fn new(exe: impl Into<PathBuf>) -> Self {
        Self {
            exe: exe.into(),
            plugin_dirs: Vec::new(),
            limits: PvrLimits::default(),
            action_timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(30),
            os: OsLimits::default(),
            env: Vec::new(),
            cgroup_procs: Arc::new(Vec::new()),
        }
    }

    /// Defaults for the running executable (`std::env::current_exe()`).
    pub fn current_exe() -> Result<Self, crate::SandboxError> {
        std::env::current_exe().map(Self::new).map_err(|e| crate::SandboxError::Worker(format!("cannot locate the trutheye executable: {e}")))
    }

    /// One wall-time limit per action, as in-process mode has: the interpreter
    /// in the worker stops the code after `timeout` (`limits.max_wall`), and
    /// the worker is killed if it has not answered [`kill_grace`] later.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.action_timeout = timeout;
        self.limits.max_wall = timeout;
    }
}

/// How long after `action_timeout` the host waits for a reply before killing
/// the worker: a quarter of the timeout, between 250 ms and 2 s. The
/// interpreter's own wall-time check (`limits.max_wall`, normally the same
/// timeout) answers within it with a `TimeoutError` that keeps the worker;
/// native code that cannot be interrupted is killed.
pub fn kill_grace(action_timeout: Duration) -> Duration {
    (action_timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(2))
}

type Incoming = Result<(Msg, Vec<Vec<u8>>), String>;

/// A live worker process.
struct Worker {
    child: Child,
    to_worker: Option<Sender<Vec<u8>>>,
    from_worker: Receiver<Incoming>,
    /// The host images the worker holds, in order (compared by pointer).
    synced: Vec<Arc<ImageBuf>>,
    /// Set once the process has been reaped (its pid may then be reused).
    reaped: bool,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

enum Failure {
    Timeout,
    Died(String),
    Protocol(String),
}

/// The `pvr` executor in worker mode: each code action runs in a separate,
/// OS-limited process that is killed when it overruns `action_timeout` and
/// replaced on the next action. One per episode; variables persist between
/// actions as long as the same worker lives.
pub struct WorkerExecutor {
    cfg: WorkerConfig,
    worker: Option<Worker>,
}

impl WorkerExecutor {
    /// An executor; the worker starts on the first action (or [`Self::start`]).
    pub fn new(cfg: WorkerConfig) -> Self {
        Self { cfg, worker: None }
    }

    /// The configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.cfg
    }

    /// Process id of the live worker, if any.
    pub fn worker_pid(&self) -> Option<u32> {
        self.worker.as_ref().map(|w| w.child.id())
    }

    /// Starts the worker now (if none is live) and checks the handshake.
    pub fn start(&mut self) -> Result<(), crate::SandboxError> {
        if self.worker.is_none() {
            self.worker = Some(spawn(&self.cfg).map_err(crate::SandboxError::Worker)?);
        }
        Ok(())
    }

    /// Runs one snippet in the worker; the images it creates are added to `state`.
    pub fn run_code(&mut self, code: &str, image_index: Option<usize>, state: &mut EpisodeState) -> Observation {
        if code.len() > self.cfg.limits.max_code_bytes {
            return Observation::error(format!(
                "SyntaxError: the program is {} bytes long; the sandbox accepts at most {}",
                code.len(),
                self.cfg.limits.max_code_bytes
            ));
        }
        if let Some(i) = image_index {
            if let Err(e) = state.by_index(i) {
                return Observation::error(e.to_string());
            }
        }
        if let Err(e) = self.start() {
            return Observation::error(format!("SystemError: the sandbox worker could not start: {e}"));
        }
        let timeout = self.cfg.action_timeout + kill_grace(self.cfg.action_timeout);
        let Some(w) = self.worker.as_mut() else { return Observation::error("SystemError: the sandbox worker could not start") };
        let outcome = sync_images(w, state, timeout).and_then(|()| {
            w.send(&Msg::Run { code: code.to_string(), image_index }, &[]);
            w.wait(timeout)
        });
        match outcome {
            Ok((Msg::Result { text, error, bbox_candidate, tools, images, artifacts, evidence }, blobs)) => {
                let mut blobs = blobs.into_iter();
                let mut obs = Observation { text, error, bbox_candidate, tools, evidence, ..Default::default() };
                for wi in &images {
                    match from_wire(wi, &mut blobs).and_then(|img| state.add(img, wi.region_in_root).map_err(|e| e.to_string())) {
                        Ok(named) => {
                            if named.name != wi.name {
                                tracing::warn!(host = %named.name, worker = %wi.name, "pvr worker image names out of step; resyncing");
                                w.synced.clear();
                            } else {
                                w.synced.push(named.image.clone());
                            }
                            obs.images.push(named);
                        }
                        Err(e) => return self.fail(Failure::Protocol(e), state),
                    }
                }
                for wi in &artifacts {
                    match from_wire(wi, &mut blobs) {
                        Ok(img) => obs.artifacts.push(NamedImage { name: wi.name.clone(), image: Arc::new(img), region_in_root: wi.region_in_root }),
                        Err(e) => return self.fail(Failure::Protocol(e), state),
                    }
                }
                obs
            }
            Ok((Msg::Error { message }, _)) => Observation::error(format!("SystemError: the sandbox worker refused the action: {message}")),
            Ok((other, _)) => self.fail(Failure::Protocol(format!("unexpected `{}` reply", protocol::kind(&other))), state),
            Err(f) => self.fail(f, state),
        }
    }

    /// Drops the worker after a failure and says what happened.
    fn fail(&mut self, f: Failure, state: &EpisodeState) -> Observation {
        let kept = match state.images.len() {
            0 => String::new(),
            1 => ", image_clue_0 is kept".to_string(),
            n => format!(", the images image_clue_0..image_clue_{} are kept", n - 1),
        };
        let mut w = self.worker.take();
        let msg = match f {
            Failure::Timeout => format!(
                "TimeoutError: the code action exceeded {} s and its worker was restarted; variables from earlier actions are lost{kept}",
                fmt_secs(self.cfg.action_timeout)
            ),
            Failure::Died(why) => format!("SystemError: the sandbox worker died ({why}); it was restarted; variables from earlier actions are lost{kept}"),
            Failure::Protocol(e) => {
                format!("SystemError: the sandbox worker misbehaved ({e}); it was restarted; variables from earlier actions are lost{kept}")
            }
        };
        if let Some(w) = w.as_mut() {
            w.kill();
        }
        tracing::warn!("{msg}");
        Observation::error(msg)
    }
}

impl Drop for WorkerExecutor {
    fn drop(&mut self) {
        if let Some(w) = self.worker.as_mut() {
            w.kill();
        }
    }
}

impl Executor for WorkerExecutor {
    fn name(&self) -> &'static str {
        "pvr"
    }

    fn backend(&self) -> Option<&'static str> {
        Some("interp")
    }

    fn code_isolation(&self) -> Option<&'static str> {
        Some("worker")
    }

    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        crate::engine::run_code_only(action, state, |code, image, state| self.run_code(code, image, state))
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

/// Sends the images the worker lacks (everything after the common prefix).
fn sync_images(w: &mut Worker, state: &EpisodeState, timeout: Duration) -> Result<(), Failure> {
    let common = w.synced.iter().zip(&state.images).take_while(|(a, b)| Arc::ptr_eq(a, &b.image)).count();
    if common == state.images.len() && common == w.synced.len() {
        return Ok(());
    }
    let mut blobs = Vec::new();
    let images = state.images[common..].iter().map(|n| to_wire(n, &mut blobs)).collect();
    w.send(&Msg::LoadImages { start: common, limits: state.limits.into(), images }, &blobs);
    match w.wait(timeout)? {
        (Msg::Loaded { count }, _) if count == state.images.len() => {
            w.synced = state.images.iter().map(|n| n.image.clone()).collect();
            Ok(())
        }
        (Msg::Loaded { count }, _) => Err(Failure::Protocol(format!("worker holds {count} images, host {}", state.images.len()))),
        (Msg::Error { message }, _) => Err(Failure::Protocol(message)),
        (other, _) => Err(Failure::Protocol(format!("unexpected `{}` reply to load_images", protocol::kind(&other)))),
    }
}

fn spawn(cfg: &WorkerConfig) -> Result<Worker, String> {
    let mut cmd = Command::new(&cfg.exe);
    cmd.arg("pvr-worker");
    for d in &cfg.plugin_dirs {
        cmd.arg("--plugin-dir").arg(d);
    }
    cmd.envs(cfg.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let limits = cfg.os;
        let cgroup_procs = cfg.cgroup_procs.clone();
        cmd.process_group(0);
        // SAFETY: the closure only calls async-signal-safe functions (open,
        // write, close, setrlimit, prctl) on memory prepared before fork.
        unsafe {
            cmd.pre_exec(move || {
                for path in cgroup_procs.iter() {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd >= 0 {
                        libc::write(fd, b"0".as_ptr().cast(), 1);
                        libc::close(fd);
                    }
                }
                os::apply(&limits)
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", cfg.exe.display()))?;
    let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the worker's pipes are missing".into());
    };
    let (to_worker, writer_rx) = mpsc::channel::<Vec<u8>>();
    let (reader_tx, from_worker) = mpsc::channel::<Incoming>();
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    let spawned = std::thread::Builder::new().name("pvr-worker-write".into()).spawn(move || {
        use std::io::Write;
        let mut stdin = stdin;
        for buf in writer_rx {
            if stdin.write_all(&buf).and_then(|()| stdin.flush()).is_err() {
                break; // the reader sees the worker's end
            }
        }
    });
    let spawned = spawned.and_then(|_| {
        std::thread::Builder::new().name("pvr-worker-read".into()).spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let item = match protocol::recv(&mut r) {
                    Ok(Some(m)) => Ok(m),
                    Ok(None) => Err("end of stream".to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let last = item.is_err();
                if reader_tx.send(item).is_err() || last {
                    break;
                }
            }
        })
    });
    let tail = stderr_tail.clone();
    let spawned = spawned.and_then(|_| {
        std::thread::Builder::new().name("pvr-worker-stderr".into()).spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                tracing::debug!(target: "pvr_worker", "{line}");
                if let Ok(mut t) = tail.lock() {
                    if t.len() == 8 {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        })
    });
    let mut w = Worker { child, to_worker: Some(to_worker), from_worker, synced: Vec::new(), reaped: false, stderr_tail };
    if let Err(e) = spawned {
        w.kill();
        return Err(format!("cannot start the worker's I/O threads: {e}"));
    }
    let hello = match w.wait(cfg.startup_timeout) {
        Ok((m, _)) => m,
        Err(f) => {
            w.kill();
            return Err(match f {
                Failure::Timeout => format!("no hello within {} s", fmt_secs(cfg.startup_timeout)),
                Failure::Died(why) | Failure::Protocol(why) => why,
            });
        }
    };
    if let Err(e) = check_hello(&hello, &format!("worker ({})", cfg.exe.display())) {
        w.kill();
        return Err(e.to_string());
    }
    w.send(&Msg::hello(Vec::new(), Some(cfg.limits.into())), &[]);
    Ok(w)
}

impl Worker {
    fn send(&self, msg: &Msg, blobs: &[&[u8]]) {
        match protocol::encode(msg, blobs) {
            Ok(buf) => {
                if let Some(tx) = &self.to_worker {
                    let _ = tx.send(buf); // a dead worker shows up in wait()
                }
            }
            Err(e) => tracing::error!("pvr worker: cannot encode a message: {e}"),
        }
    }

    fn wait(&mut self, timeout: Duration) -> Result<(Msg, Vec<Vec<u8>>), Failure> {
        match self.from_worker.recv_timeout(timeout) {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(stream)) => Err(Failure::Died(self.exit_reason(&stream))),
            Err(RecvTimeoutError::Timeout) => Err(Failure::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(Failure::Died(self.exit_reason("reader gone"))),
        }
    }

    /// Why the worker's stream ended: its exit status, plus its last stderr line.
    fn exit_reason(&mut self, stream: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    self.reaped = true;
                    break Some(s);
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                _ => break None,
            }
        };
        let mut why = match status {
            Some(s) => describe_status(&s),
            None => format!("its output stream broke: {stream}"),
        };
        let last = self.stderr_tail.lock().ok().and_then(|t| t.back().cloned()).filter(|l| !l.trim().is_empty());
        if let Some(line) = last {
            let line: String = line.trim().chars().take(200).collect();
            why.push_str(&format!("; last message: {line}"));
        }
        why
    }

    fn kill(&mut self) {
        self.to_worker = None;
        if self.reaped {
            return;
        }
        #[cfg(unix)]
        os::kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

fn describe_status(s: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("signal {sig}, {}", os::signal_name(sig));
        }
    }
    match s.code() {
        Some(c) => format!("exit status {c}"),
        None => "unknown exit".to_string(),
    }
}

// The executor must be `Send` (the agent may move it between threads).
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<WorkerExecutor>();
};

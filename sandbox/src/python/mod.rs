//! The `python` PVR backend: model code runs in real CPython (with Pillow,
//! NumPy, OpenCV, matplotlib, SciPy, scikit-image) inside a bubblewrap jail.
//!
//! * [`PythonBackend`] owns the jail — one per host process, shared by all
//!   episodes — and starts it on first use: bubblewrap with new user, pid,
//!   net, ipc, uts and mount namespaces, a seccomp filter, read-only system and
//!   interpreter trees, a size-capped tmpfs at `/tmp`, and a template process
//!   that has already imported the libraries ([`jail`]).
//! * [`PythonExecutor`] is one episode: a fork of the template, with its own
//!   rlimits and a stricter seccomp filter, whose variables persist across the
//!   episode's turns. A timed-out or crashed interpreter is replaced and the
//!   next observation says that earlier variables are gone.
//!
//! Model code sees every peer's conventions at once (`image_clue_i`, `image`,
//! `img`, `draw`; `plt.show()`/`display()` figures, `result`/`output`/
//! `processed_image`, and files saved under the scratch dir whose path is
//! printed, become images), and can call the host's forensic operators as
//! functions (`srm(image_clue_0, block=32)`), answered over the episode's
//! channel with raw pixels.

pub mod cgroup;
pub mod doctor;
pub mod env;
pub mod jail;
pub mod seccomp;

use crate::SandboxError;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::RgbImage;
use serde_json::{json, Value};
use trutheye_core::observe::{operator_observation, to_root};
use trutheye_core::registry::CallError;
use trutheye_core::{Action, EpisodeState, Executor, ImageBuf, NamedImage, Observation, ToolKind, ToolUse};

use crate::worker::protocol::{read_frame, write_frame};
use env::PythonInfo;
use jail::Jail;

/// Most raw frames one message from the jail may carry (images of an action).
const MAX_BLOBS: u64 = 64;

/// Limits and locations for the python backend.
#[derive(Clone, Debug)]
pub struct PythonConfig {
    /// The interpreter (a venv's `bin/python3`).
    pub python: PathBuf,
    /// Wall time one action may take; the episode's interpreter is killed after it.
    pub action_timeout: Duration,
    /// Wall time the jail may take to start (imports included).
    pub startup_timeout: Duration,
    /// Address space of one episode interpreter (`RLIMIT_AS`).
    pub memory_bytes: u64,
    /// CPU seconds over one episode interpreter's life (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Largest file model code may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Open descriptors per episode interpreter (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Size of the jail's `/tmp` (all episodes' scratch dirs together).
    pub scratch_bytes: u64,
    /// Memory of the whole jail (cgroup, where the host allows one).
    pub jail_memory_bytes: u64,
    /// Tasks (processes and threads) of the whole jail (cgroup).
    pub jail_pids: u64,
    /// Printed output kept per action.
    pub max_output_bytes: usize,
    /// Images one action may return.
    pub max_images_per_action: usize,
    /// Largest image side an action may return.
    pub max_side: u32,
    /// Most pixels of an image an action may return.
    pub max_pixels: u64,
    /// Longest program accepted.
    pub max_code_bytes: usize,
    /// One peer's harness rules on top of the union of conventions
    /// (`thyme`: its code rewrites; `truthEYE2`: its narrower namespace); `None`: the union.
    pub dialect: Option<String>,
}

impl PythonConfig {
    /// Defaults for an interpreter: 10 s per action, 4 GiB address space per
    /// episode, 256 MiB of scratch, 8 GiB and 512 tasks for the jail.
    pub fn new(python: impl Into<PathBuf>) -> Self {
        Self {
            python: python.into(),
            action_timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(90),
            memory_bytes: 4 << 30,
            cpu_seconds: 600,
            file_size_bytes: 64 << 20,
            open_files: 256,
            scratch_bytes: 256 << 20,
            jail_memory_bytes: 8 << 30,
            jail_pids: 512,
            max_output_bytes: 16 * 1024,
            max_images_per_action: 16,
            max_side: 8192,
            max_pixels: 40_000_000,
            max_code_bytes: 64 * 1024,
            dialect: None,
        }
    }

    /// The configured or installed interpreter ([`env::find_python`]), or the
    /// error line that says how to set one up.
    pub fn discover(explicit: Option<&std::path::Path>) -> Result<Self, SandboxError> {
        env::find_python(explicit).map(Self::new).ok_or_else(|| SandboxError::Python(format!("python backend: no Python environment found; {}", env::SETUP_HINT)))
    }
}

/// One jail shared by the episodes of a host process.
pub struct PythonBackend {
    cfg: PythonConfig,
    info: PythonInfo,
    jail: Mutex<Option<Jail>>,
    generation: Mutex<u64>,
}

impl PythonBackend {
    /// Checks the interpreter (version, where it lives); the jail starts on first use.
    pub fn new(cfg: PythonConfig) -> Result<Arc<Self>, SandboxError> {
        let info = env::probe(&cfg.python)?;
        Ok(Arc::new(Self { cfg, info, jail: Mutex::new(None), generation: Mutex::new(0) }))
    }

    /// The configuration.
    pub fn config(&self) -> &PythonConfig {
        &self.cfg
    }

    /// Starts the jail now (if it is not running) and returns what the template
    /// reported: Python and library versions.
    pub fn start(&self) -> Result<Value, SandboxError> {
        let mut guard = self.jail.lock().map_err(|_| SandboxError::Jail("python jail lock poisoned".to_string()))?;
        self.ensure(&mut guard)?;
        Ok(guard.as_ref().map(|j| j.hello.clone()).unwrap_or(Value::Null))
    }

    fn ensure<'a>(&self, guard: &'a mut Option<Jail>) -> Result<&'a mut Jail, SandboxError> {
        if guard.as_mut().is_some_and(|j| !j.alive()) {
            tracing::warn!("the python jail ended; starting a new one");
            *guard = None;
        }
        if guard.is_none() {
            let mut g = self.generation.lock().map_err(|_| SandboxError::Jail("lock poisoned".to_string()))?;
            *g += 1;
            *guard = Some(Jail::start(&self.cfg, &self.info, *g)?);
        }
        guard.as_mut().ok_or_else(|| SandboxError::Jail("python jail missing".to_string()))
    }

    /// The bubblewrap process of the running jail (outside pid), if one runs:
    /// every process of the jail descends from it.
    pub fn jail_pid(&self) -> Option<u32> {
        self.jail.lock().ok()?.as_ref().map(Jail::pid)
    }

    /// A new episode executor (its interpreter starts on the first action).
    pub fn executor(self: &Arc<Self>) -> PythonExecutor {
        PythonExecutor { backend: self.clone(), session: None }
    }

    fn spawn(&self, operators: &[String]) -> Result<Session, SandboxError> {
        let mut guard = self.jail.lock().map_err(|_| SandboxError::Jail("python jail lock poisoned".to_string()))?;
        let jail = self.ensure(&mut guard)?;
        let generation = jail.generation;
        let (pid, sock) = match jail.spawn(operators, self.cfg.dialect.as_deref(), self.cfg.startup_timeout) {
            Ok(x) => x,
            Err(e) => {
                // A template that cannot fork is replaced on the next try.
                *guard = None;
                return Err(SandboxError::Jail(format!("python backend: cannot start an interpreter: {e}")));
            }
        };
        drop(guard);
        let mut session = Session { sock, pid, generation, synced: Vec::new(), returned: Vec::new(), known: Vec::new(), pending: None };
        let deadline = Instant::now() + self.cfg.startup_timeout;
        match session.recv(deadline) {
            Ok((m, _)) if m.get("type").and_then(Value::as_str) == Some("ready") => Ok(session),
            Ok((m, _)) if m.get("type").and_then(Value::as_str) == Some("error") => {
                Err(SandboxError::Jail(format!("python backend: {}", m.get("message").and_then(Value::as_str).unwrap_or("the interpreter failed to start"))))
            }
            Ok((m, _)) => Err(SandboxError::Jail(format!("python backend: unexpected first message {m}"))),
            Err(e) => {
                let status = self.end(&session, false);
                Err(SandboxError::Jail(format!("python backend: the interpreter did not start ({}{})", e.describe(), status.map(|s| format!("; it {s}")).unwrap_or_default())))
            }
        }
    }

    /// Ends an episode interpreter (kills it unless it already closed) and says how it ended.
    fn end(&self, s: &Session, kill: bool) -> Option<String> {
        let mut guard = self.jail.lock().ok()?;
        let jail = guard.as_mut().filter(|j| j.generation == s.generation)?;
        let r = if kill { jail.kill(s.pid) } else { jail.status(s.pid) };
        match r {
            Ok(st) => st,
            Err(e) => {
                // The template is wedged: end the whole jail; it restarts on demand.
                tracing::warn!("python jail unresponsive ({e}); restarting it");
                *guard = None;
                None
            }
        }
    }
}

/// A live episode interpreter.
struct Session {
    sock: UnixStream,
    pid: i64,
    generation: u64,
    /// Episode images the interpreter holds, in order (compared by pointer).
    synced: Vec<*const ImageBuf>,
    /// Images the last action returned, as the host stored them.
    returned: Vec<*const ImageBuf>,
    /// Operator maps the interpreter named itself.
    known: Vec<*const ImageBuf>,
    /// Images were sent ahead of the first action (`prepare`); their
    /// acknowledgement is still to be read, and `synced` is what they make.
    pending: Option<Vec<*const ImageBuf>>,
}

// The raw pointers are identities only (compared, never dereferenced).
unsafe impl Send for Session {}

enum RecvError {
    Timeout,
    Closed,
    Bad(String),
}

impl RecvError {
    fn describe(&self) -> String {
        match self {
            RecvError::Timeout => "timed out".into(),
            RecvError::Closed => "it closed its channel".into(),
            RecvError::Bad(e) => e.clone(),
        }
    }
}

impl Session {
    fn send(&mut self, msg: &Value, blobs: &[&[u8]]) -> Result<(), RecvError> {
        let mut msg = msg.clone();
        msg["blobs"] = json!(blobs.len());
        let head = serde_json::to_vec(&msg).map_err(|e| RecvError::Bad(e.to_string()))?;
        let io = |e: std::io::Error| if e.kind() == std::io::ErrorKind::BrokenPipe { RecvError::Closed } else { RecvError::Bad(e.to_string()) };
        self.sock.set_write_timeout(Some(Duration::from_secs(30))).map_err(io)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &self.sock);
        write_frame(&mut w, &head).map_err(io)?;
        for b in blobs {
            write_frame(&mut w, b).map_err(io)?;
        }
        w.flush().map_err(io)
    }

    fn recv(&mut self, deadline: Instant) -> Result<(Value, Vec<Vec<u8>>), RecvError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RecvError::Timeout);
        }
        self.sock.set_read_timeout(Some(left)).map_err(|e| RecvError::Bad(e.to_string()))?;
        let mut r = TimedReader { sock: &self.sock, deadline };
        let head = match read_frame(&mut r) {
            Ok(Some(h)) => h,
            Ok(None) => return Err(RecvError::Closed),
            Err(e) => return Err(classify(e)),
        };
        let msg: Value = serde_json::from_slice(&head).map_err(|e| RecvError::Bad(format!("bad message from the interpreter: {e}")))?;
        // The count comes from the jail: never allocate by it.
        let n = msg.get("blobs").and_then(Value::as_u64).unwrap_or(0);
        if n > MAX_BLOBS {
            return Err(RecvError::Bad(format!("the interpreter announced {n} data frames (at most {MAX_BLOBS})")));
        }
        let mut blobs = Vec::new();
        for _ in 0..n {
            match read_frame(&mut r) {
                Ok(Some(b)) => blobs.push(b),
                Ok(None) => return Err(RecvError::Closed),
                Err(e) => return Err(classify(e)),
            }
        }
        Ok((msg, blobs))
    }
}

fn classify(e: std::io::Error) -> RecvError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => RecvError::Timeout,
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => RecvError::Closed,
        _ => RecvError::Bad(e.to_string()),
    }
}

/// Reads with the socket timeout shrinking towards one deadline.
struct TimedReader<'a> {
    sock: &'a UnixStream,
    deadline: Instant,
}

impl Read for TimedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.sock.set_read_timeout(Some(left))?;
        (&*self.sock).read(buf)
    }
}

/// The `pvr` executor on real CPython: one episode's interpreter in the jail.
pub struct PythonExecutor {
    backend: Arc<PythonBackend>,
    session: Option<Session>,
}

impl PythonExecutor {
    /// Process id of the episode's interpreter inside the jail, if one is live.
    pub fn interpreter_pid(&self) -> Option<i64> {
        self.session.as_ref().map(|s| s.pid)
    }

    /// Runs one snippet; the images it shows are added to `state`.
    pub fn run_code(&mut self, code: &str, image_index: Option<usize>, state: &mut EpisodeState) -> Observation {
        let cfg = self.backend.cfg.clone();
        if code.len() > cfg.max_code_bytes {
            return Observation::error(format!(
                "SyntaxError: the program is {} bytes long; the sandbox accepts at most {}",
                code.len(),
                cfg.max_code_bytes
            ));
        }
        if let Some(i) = image_index {
            if let Err(e) = state.by_index(i) {
                return Observation::error(e.to_string());
            }
        }
        // `\r\n` and lone `\r` line endings become `\n` before the code reaches
        // Python, as the embedded interpreter's lexer reads them.
        let code = crate::lexer::normalize_newlines(code);
        self.run_inner(&code, image_index, state, &cfg)
    }

    fn run_inner(&mut self, code: &str, image_index: Option<usize>, state: &mut EpisodeState, cfg: &PythonConfig) -> Observation {
        if self.session.is_none() {
            let ops = state.registry.names();
            match self.backend.spawn(&ops) {
                Ok(s) => self.session = Some(s),
                Err(e) => return Observation::error(e.to_string()),
            }
        }
        let deadline = Instant::now() + cfg.action_timeout;
        let result = self.exchange(code, image_index, state, deadline);
        match result {
            Ok(obs) => obs,
            Err(e) => {
                let session = self.session.take();
                let status = session.as_ref().and_then(|s| self.backend.end(s, !matches!(e, RecvError::Closed)));
                let (line, note) = match (&e, status.as_deref()) {
                    (RecvError::Bad(why), _) => (
                        format!("SystemError: the interpreter broke the host protocol ({why}) and was stopped"),
                        "the interpreter was stopped and will be restarted; variables from earlier turns are gone",
                    ),
                    (RecvError::Timeout, _) => (
                        format!("TimeoutError: the action ran past its {:.0} s limit and was stopped", cfg.action_timeout.as_secs_f64()),
                        "the interpreter was stopped and will be restarted; variables from earlier turns are gone",
                    ),
                    (_, Some(s)) if s.contains("SIGKILL") => (
                        "MemoryError: the interpreter was killed (out of memory)".to_string(),
                        "the interpreter was stopped and will be restarted; variables from earlier turns are gone",
                    ),
                    (_, Some(s)) if s.contains("SIGXCPU") => (
                        "TimeoutError: the interpreter used up its CPU-time limit".to_string(),
                        "the interpreter was stopped and will be restarted; variables from earlier turns are gone",
                    ),
                    (_, st) => (
                        format!("SystemError: the Python interpreter died during the action ({})", st.map(str::to_string).unwrap_or_else(|| e.describe())),
                        "the interpreter will be restarted; variables from earlier turns are gone",
                    ),
                };
                // The error line names the failure; the text also tells the model
                // what it lost, since its next action runs in a new interpreter.
                let mut obs = Observation::error(line);
                obs.text = format!("{}\n({note})", obs.text);
                obs
            }
        }
    }

    fn exchange(&mut self, code: &str, image_index: Option<usize>, state: &mut EpisodeState, deadline: Instant) -> Result<Observation, RecvError> {
        let Some(s) = self.session.as_mut() else { return Err(RecvError::Closed) };
        sync_images(s, state, deadline)?;
        s.send(&json!({"type": "run", "code": code, "image_index": image_index}), &[])?;
        let mut obs = Observation::default();
        loop {
            let (msg, blobs) = s.recv(deadline)?;
            match msg.get("type").and_then(Value::as_str) {
                Some("call") => {
                    let (reply, out) = serve_call(&msg, blobs, state, &mut obs, s);
                    let refs: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
                    s.send(&reply, &refs)?;
                }
                Some("result") => {
                    finish(&msg, blobs, state, &mut obs, s, self.backend.cfg.max_output_bytes);
                    return Ok(obs);
                }
                other => return Err(RecvError::Bad(format!("unexpected message {other:?} from the interpreter"))),
            }
        }
    }
}

/// Sends the episode images the interpreter does not hold yet.
fn sync_images(s: &mut Session, state: &EpisodeState, deadline: Instant) -> Result<(), RecvError> {
    await_loaded(s, deadline)?;
    send_images(s, state)?;
    await_loaded(s, deadline)
}

/// Reads the acknowledgement of images sent earlier, if any is outstanding.
fn await_loaded(s: &mut Session, deadline: Instant) -> Result<(), RecvError> {
    let Some(synced) = s.pending.take() else { return Ok(()) };
    let (m, _) = s.recv(deadline)?;
    if m.get("type").and_then(Value::as_str) != Some("loaded") {
        let why = m.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| m.to_string());
        return Err(RecvError::Bad(format!("the images were not loaded: {why}")));
    }
    s.synced = synced;
    s.returned.clear();
    Ok(())
}

/// Sends the episode images the interpreter does not hold yet, without waiting.
fn send_images(s: &mut Session, state: &EpisodeState) -> Result<(), RecvError> {
    let start = s.synced.len();
    let same_prefix = state.images.len() >= start && state.images[..start].iter().zip(&s.synced).all(|(n, p)| Arc::as_ptr(&n.image) == *p);
    if !same_prefix {
        return Err(RecvError::Bad("the episode's images changed under the interpreter".into()));
    }
    if state.images.len() == start {
        return Ok(());
    }
    let mut entries = Vec::new();
    let mut blobs: Vec<&[u8]> = Vec::new();
    for n in &state.images[start..] {
        let ptr = Arc::as_ptr(&n.image);
        let mut e = json!({"name": n.name, "width": n.image.width(), "height": n.image.height(), "region": n.region_in_root});
        if let Some(k) = s.returned.iter().position(|p| *p == ptr) {
            e["returned"] = json!(k);
        } else if s.known.contains(&ptr) {
            e["known"] = json!(true);
        } else {
            // With the source file the interpreter decodes it with Pillow (the
            // pixels peers' models saw); raw pixels go only when there is none.
            if n.image.encoded.is_none() {
                blobs.push(n.image.rgb.as_raw().as_slice());
            }
            if let Some(enc) = &n.image.encoded {
                e["encoded"] = json!(true);
                e["path"] = json!(n.image.meta.origin);
                if let Ok(abs) = std::fs::canonicalize(&n.image.meta.origin) {
                    e["abs_path"] = json!(abs);
                }
                e["format"] = json!(n.image.meta.format.clone().unwrap_or_else(|| "img".into()).to_lowercase());
                blobs.push(enc.as_slice());
            }
        }
        entries.push(e);
    }
    s.send(&json!({"type": "images", "images": entries}), &blobs)?;
    s.pending = Some(state.images.iter().map(|n| Arc::as_ptr(&n.image)).collect());
    Ok(())
}

fn rgb_from(w: &Value, blob: Vec<u8>) -> Option<RgbImage> {
    let width = u32::try_from(w.get("width")?.as_u64()?).ok()?;
    let height = u32::try_from(w.get("height")?.as_u64()?).ok()?;
    RgbImage::from_raw(width, height, blob)
}

fn region_of(v: Option<&Value>) -> Option<[u32; 4]> {
    let a = v?.as_array()?;
    let c: Vec<u32> = a.iter().filter_map(|x| x.as_i64().and_then(|i| u32::try_from(i).ok())).collect();
    (c.len() == 4 && c[2] > c[0] && c[3] > c[1]).then(|| [c[0], c[1], c[2], c[3]])
}

/// Runs a forensic operator the model's code called and builds the reply.
fn serve_call(msg: &Value, mut blobs: Vec<Vec<u8>>, state: &mut EpisodeState, obs: &mut Observation, s: &mut Session) -> (Value, Vec<Vec<u8>>) {
    let name = msg.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let fail = |kind: &str, e: String| (json!({"type": "called", "error": e, "error_type": kind}), Vec::new());
    let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
    let input = if let Some(n) = msg.get("episode_image").and_then(Value::as_str) {
        // An episode image the code did not change: the host's own copy.
        match state.by_name(n) {
            Some(named) => named.clone(),
            None => return fail("NameError", format!("{name}(): no episode image named {n}")),
        }
    } else {
        let Some(rgb) = blobs.pop().and_then(|b| rgb_from(msg, b)) else {
            return fail("TypeError", format!("{name}(): the image did not arrive intact"));
        };
        let region = region_of(msg.get("region"));
        let buf = ImageBuf::derived(rgb, format!("python:{name} input"));
        NamedImage { name: "the image passed".to_string(), image: Arc::new(buf), region_in_root: region }
    };
    let region = input.region_in_root;
    let registry = state.registry.clone();
    let out = match registry.call(&name, &input.image, &params) {
        Ok(o) => o,
        Err(e) => {
            obs.tools.push(ToolUse { name: name.clone(), kind: ToolKind::Forensic, input: Some(input.name.clone()), outputs: vec![], ok: false });
            let kind = match e {
                CallError::BadArguments { .. } => "TypeError",
                CallError::Unknown { .. } => "NameError",
                CallError::Failed { .. } => "RuntimeError",
            };
            return fail(kind, e.to_string());
        }
    };
    let regions: Vec<[u32; 4]> = out.regions.iter().map(|r| to_root(region, r.bbox).unwrap_or(r.bbox)).collect();
    let summary = out.summary.trim().to_string();
    let stats = out.stats.clone();
    let o = operator_observation(state, &name, &input, out);
    let mut reply = json!({"type": "called", "text": o.text, "summary": summary, "stats": stats, "regions": regions});
    let mut out_blobs = Vec::new();
    if let Some(first) = o.images.first() {
        reply["map"] = json!({"name": first.name, "width": first.image.width(), "height": first.image.height()});
        out_blobs.push(first.image.rgb.as_raw().clone());
        s.known.push(Arc::as_ptr(&first.image));
    }
    // Everything else the operator added to the state is sent on the next sync.
    if o.bbox_candidate.is_some() {
        obs.bbox_candidate = o.bbox_candidate;
    }
    obs.images.extend(o.images);
    obs.artifacts.extend(o.artifacts);
    obs.tools.extend(o.tools);
    obs.evidence.extend(o.evidence);
    (reply, out_blobs)
}

/// Turns the interpreter's result into the observation.
fn finish(msg: &Value, blobs: Vec<Vec<u8>>, state: &mut EpisodeState, obs: &mut Observation, s: &mut Session, cap: usize) {
    let mut text = msg.get("stdout").and_then(Value::as_str).unwrap_or("").to_string();
    let dropped = msg.get("dropped").and_then(Value::as_u64).unwrap_or(0);
    if dropped > 0 || text.len() > cap {
        let mut cut = text.len().min(cap);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("... [output truncated: {dropped} more characters]\n"));
    }
    s.returned.clear();
    let metas = msg.get("images").and_then(Value::as_array).cloned().unwrap_or_default();
    for (meta, blob) in metas.iter().zip(blobs) {
        let Some(rgb) = rgb_from(meta, blob) else {
            text.push_str("(an image did not arrive intact and was dropped)\n");
            continue;
        };
        let region = region_of(meta.get("region"));
        let (w, h) = (rgb.width(), rgb.height());
        match state.add(ImageBuf::derived(rgb, "python"), region) {
            Ok(named) => {
                s.returned.push(Arc::as_ptr(&named.image));
                obs.tools.push(ToolUse {
                    name: if region.is_some() { "crop".into() } else { "python".into() },
                    kind: ToolKind::Basic,
                    input: None,
                    outputs: vec![named.name.clone()],
                    ok: true,
                });
                text.push_str(&format!("[shown as {}: {w}x{h}]\n", named.name));
                if region.is_some() {
                    obs.bbox_candidate = region;
                }
                obs.images.push(named);
            }
            Err(e) => text.push_str(&format!("(image not shown: {e})\n")),
        }
    }
    let mut error = None;
    if let Some(e) = msg.get("error").filter(|e| !e.is_null()) {
        let kind = e.get("type").and_then(Value::as_str).unwrap_or("Exception");
        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
        let mut line = kind.to_string();
        if !message.is_empty() {
            line.push_str(": ");
            line.push_str(message);
        }
        if let Some(l) = e.get("line").and_then(Value::as_u64) {
            line.push_str(&format!(" (line {l})"));
        }
        text.push_str(&line);
        error = Some(line);
    } else if text.trim().is_empty() {
        text.push_str("(no output)");
    }
    obs.text = text.trim_end().to_string();
    obs.error = error;
}

impl Drop for PythonExecutor {
    fn drop(&mut self) {
        // Closing the channel ends the interpreter; the template reaps it.
        self.session.take();
    }
}

impl Executor for PythonExecutor {
    fn name(&self) -> &'static str {
        "pvr"
    }

    /// Forks the episode's interpreter and sends the images now, so Pillow
    /// decodes them while the model generates its first turn.
    fn prepare(&mut self, state: &EpisodeState) {
        if self.session.is_some() {
            return;
        }
        let Ok(mut s) = self.backend.spawn(&state.registry.names()) else { return };
        if send_images(&mut s, state).is_ok() {
            self.session = Some(s);
        }
    }

    fn backend(&self) -> Option<&'static str> {
        Some("python")
    }

    fn code_isolation(&self) -> Option<&'static str> {
        Some("jail")
    }

    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        crate::engine::run_code_only(action, state, |code, image, state| self.run_code(code, image, state))
    }
}

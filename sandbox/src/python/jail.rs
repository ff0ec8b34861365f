//! The jail: one bubblewrap sandbox holding a pre-imported CPython template
//! process that forks one interpreter per episode.
//!
//! bubblewrap (Debian's `bubblewrap`, the sandbox Flatpak uses) makes the
//! namespaces and mounts; we only choose its arguments. The template talks to
//! the host over a `SOCK_SEQPACKET` control socket (fd 3 inside); each
//! `spawn` request carries a fresh stream socket (SCM_RIGHTS) that becomes the
//! episode's channel. See `sandbox/README.md` for the threat model.

use crate::SandboxError;
use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::env::{PythonInfo, SETUP_HINT};
use super::{seccomp, PythonConfig};

/// The runtime the template process runs (passed with `-c`).
pub const RUNTIME: &str = include_str!("../../python/runtime.py");

const CTL_FD: RawFd = 3;
const SECCOMP_FD: RawFd = 4;
const MAX_CTL: usize = 1 << 20;

/// A live jail.
pub struct Jail {
    child: Child,
    ctl: OwnedFd,
    /// What the template reported: Python and library versions.
    pub hello: Value,
    /// Distinguishes jails across restarts.
    pub generation: u64,
    cgroup: Option<super::cgroup::Cgroup>,
}

impl Jail {
    /// Starts bubblewrap with the template process and waits for its hello.
    pub fn start(cfg: &PythonConfig, info: &PythonInfo, generation: u64) -> Result<Self, SandboxError> {
        let bwrap = which("bwrap").ok_or_else(|| {
            SandboxError::Jail("python backend: bubblewrap (`bwrap`) is not installed; it is the jail model code runs in (apt-get install bubblewrap). The backend never runs code unjailed.".to_string())
        })?;
        let (host_ctl, jail_ctl) = seqpacket_pair()?;
        let filter = seccomp::base_filter()?;
        let filter_fd = memfd_with(&filter)?;
        let mut cmd = Command::new(&bwrap);
        cmd.args(bwrap_args(cfg, info));
        cmd.arg(&info.executable).args(["-I", "-B", "-c", RUNTIME]);
        cmd.env_clear();
        for (k, v) in jail_env() {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let cgroup = super::cgroup::Cgroup::create(cfg.jail_memory_bytes, cfg.jail_pids);
        let cgroup_procs: Vec<CString> = cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default();
        let (ctl_raw, filter_raw) = (jail_ctl.as_raw_fd(), filter_fd.as_raw_fd());
        // SAFETY: only async-signal-safe calls (fcntl, dup2, open, write, close)
        // on memory prepared before fork.
        unsafe {
            cmd.pre_exec(move || {
                let hi_ctl = libc::fcntl(ctl_raw, libc::F_DUPFD, 100);
                let hi_filter = libc::fcntl(filter_raw, libc::F_DUPFD, 100);
                if hi_ctl < 0 || hi_filter < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::dup2(hi_ctl, CTL_FD) < 0 || libc::dup2(hi_filter, SECCOMP_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(hi_ctl);
                libc::close(hi_filter);
                for path in &cgroup_procs {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd >= 0 {
                        libc::write(fd, b"0".as_ptr().cast(), 1);
                        libc::close(fd);
                    }
                }
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| SandboxError::Jail(format!("python backend: cannot start {}: {e}", bwrap.display())))?;
        drop(jail_ctl);
        drop(filter_fd);
        let deadline = Instant::now() + cfg.startup_timeout;
        let hello = match recv_ctl(&host_ctl, deadline) {
            Ok(Some(v)) => v,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
                if last.starts_with("bwrap:") {
                    return Err(SandboxError::Jail(format!(
                        "python backend: the jail could not be created ({last}); this host does not allow the namespaces bubblewrap needs, and the backend never runs model code unjailed"
                    )));
                }
                if Instant::now() >= deadline {
                    return Err(SandboxError::Jail(format!("python backend: the interpreter did not start within {:?}", cfg.startup_timeout)));
                }
                return Err(SandboxError::Jail(format!(
                    "python backend: {} exited before it was ready ({}): {last}; {SETUP_HINT}",
                    info.executable.display(),
                    status.map(|s| s.to_string()).unwrap_or_default()
                )));
            }
        };
        if hello.get("protocol").and_then(Value::as_str) != Some("trutheye-pvr-python") {
            let _ = child.kill();
            return Err(SandboxError::Jail(format!("python backend: unexpected hello from the runtime: {hello}")));
        }
        if let Some(missing) = hello.get("missing").and_then(Value::as_array).filter(|m| !m.is_empty()) {
            let _ = child.kill();
            let _ = child.wait();
            let mut pkgs: Vec<String> = missing.iter().filter_map(|m| m.get("package").and_then(Value::as_str).map(str::to_string)).collect();
            pkgs.dedup();
            let first = missing[0].get("error").and_then(Value::as_str).unwrap_or("");
            return Err(SandboxError::Jail(format!(
                "python backend: {} lacks {} ({first}); {SETUP_HINT}",
                info.executable.display(),
                pkgs.join(", ")
            )));
        }
        let filters: Vec<String> = seccomp::episode_filters()?.iter().map(|p| hex(p)).collect();
        let config = json!({
            "seccomp": filters,
            "rlimits": {
                "RLIMIT_AS": cfg.memory_bytes,
                "RLIMIT_CPU": cfg.cpu_seconds,
                "RLIMIT_FSIZE": cfg.file_size_bytes,
                "RLIMIT_NOFILE": cfg.open_files,
                "RLIMIT_CORE": 0,
            },
            "read_dirs": info.dirs.iter().chain([&info.real_executable]).collect::<Vec<_>>(),
            "max_output_bytes": cfg.max_output_bytes,
            "max_images_per_action": cfg.max_images_per_action,
            "max_pixels": cfg.max_pixels,
            "max_side": cfg.max_side,
        });
        send_ctl(&host_ctl, &config, None)?;
        tracing::info!(generation, python = %info.executable.display(), "python jail started");
        Ok(Self { child, ctl: host_ctl, hello, generation, cgroup })
    }

    /// Forks a new episode interpreter; returns its pid (inside the jail) and channel.
    pub fn spawn(&mut self, operators: &[String], dialect: Option<&str>, timeout: Duration) -> Result<(i64, UnixStream), SandboxError> {
        let (host, episode) = UnixStream::pair().map_err(|e| SandboxError::Jail(format!("socketpair: {e}")))?;
        send_ctl(&self.ctl, &json!({"op": "spawn", "operators": operators, "dialect": dialect}), Some(episode.as_raw_fd()))?;
        drop(episode);
        let reply = recv_ctl(&self.ctl, Instant::now() + timeout)?.ok_or_else(|| SandboxError::Jail("the python jail has ended".to_string()))?;
        let pid = reply.get("pid").and_then(Value::as_i64).ok_or_else(|| SandboxError::Jail(format!("spawn failed: {reply}")))?;
        Ok((pid, host))
    }

    /// Kills an episode interpreter and returns how it ended.
    pub fn kill(&mut self, pid: i64) -> Result<Option<String>, SandboxError> {
        send_ctl(&self.ctl, &json!({"op": "kill", "pid": pid}), None)?;
        let reply = recv_ctl(&self.ctl, Instant::now() + Duration::from_secs(5))?.ok_or_else(|| SandboxError::Jail("the python jail has ended".to_string()))?;
        Ok(reply.get("status").and_then(Value::as_str).map(str::to_string))
    }

    /// How an episode interpreter that closed its channel ended.
    pub fn status(&mut self, pid: i64) -> Result<Option<String>, SandboxError> {
        send_ctl(&self.ctl, &json!({"op": "status", "pid": pid}), None)?;
        let reply = recv_ctl(&self.ctl, Instant::now() + Duration::from_secs(5))?.ok_or_else(|| SandboxError::Jail("the python jail has ended".to_string()))?;
        Ok(reply.get("status").and_then(Value::as_str).map(str::to_string))
    }

    /// Whether the jail's processes are still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The bubblewrap process id (outside the jail).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        // bubblewrap is pid 1 of the jail's pid namespace: killing it ends every
        // process inside.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(cg) = self.cgroup.take() {
            cg.remove();
        }
    }
}

fn bwrap_args(cfg: &PythonConfig, info: &PythonInfo) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(OsString::from));
    push(&["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]);
    push(&["--disable-userns", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]);
    push(&["--hostname", "trutheye-jail"]);
    push(&["--ro-bind", "/usr", "/usr"]);
    for d in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        match std::fs::read_link(d) {
            Ok(target) => {
                a.push("--symlink".into());
                a.push(target.into_os_string());
                a.push(d.into());
            }
            Err(_) if Path::new(d).is_dir() => {
                a.extend(["--ro-bind".into(), d.into(), d.into()]);
            }
            Err(_) => {}
        }
    }
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(OsString::from));
    push(&["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]);
    // A private /proc, read-only: the jail's uid maps to the caller's, and when
    // that is root a writable /proc would reach host sysctls and sysrq.
    // /dev is a private tmpfs with the usual device nodes bound in; read-only
    // so it is not a second, uncapped scratch space.
    push(&["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]);
    let tmp = cfg.scratch_bytes.to_string();
    push(&["--size", &tmp, "--perms", "1777", "--tmpfs", "/tmp"]);
    let mut binds: Vec<PathBuf> = info.dirs.clone();
    binds.push(info.real_executable.clone());
    if let Some(dir) = info.executable.parent() {
        binds.push(dir.to_path_buf());
    }
    for d in binds {
        if d.exists() && !["/usr", "/lib", "/lib64", "/bin", "/sbin"].iter().any(|s| d.starts_with(s)) {
            a.extend(["--ro-bind".into(), d.clone().into_os_string(), d.into_os_string()]);
        }
    }
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(OsString::from));
    push(&["--remount-ro", "/"]);
    push(&["--chdir", "/tmp"]);
    push(&["--add-seccomp-fd", "4"]);
    push(&["--"]);
    a
}

fn jail_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PATH", "/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("HOME", "/tmp"),
        ("TMPDIR", "/tmp"),
        ("MPLBACKEND", "Agg"),
        ("MPLCONFIGDIR", "/tmp/.matplotlib"),
        // One BLAS/OpenMP thread: episodes run side by side, and fewer threads
        // keep the address space inside RLIMIT_AS.
        ("OPENBLAS_NUM_THREADS", "1"),
        ("OMP_NUM_THREADS", "1"),
        ("MKL_NUM_THREADS", "1"),
        ("NUMEXPR_NUM_THREADS", "1"),
        ("OPENCV_FOR_THREADS_NUM", "1"),
    ]
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two descriptors into the array we own.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    if rc != 0 {
        return Err(SandboxError::Jail(format!("socketpair: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn memfd_with(bytes: &[u8]) -> Result<OwnedFd, SandboxError> {
    let name = CString::new("trutheye-seccomp").map_err(|e| SandboxError::Jail(e.to_string()))?;
    // SAFETY: memfd_create with a valid C string.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(SandboxError::Jail(format!("memfd_create: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: fd is a new descriptor we own.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(owned);
    use std::io::{Seek, Write};
    file.write_all(bytes).and_then(|_| file.seek(std::io::SeekFrom::Start(0))).map_err(|e| SandboxError::Jail(format!("seccomp memfd: {e}")))?;
    Ok(OwnedFd::from(file))
}

fn send_ctl(fd: &OwnedFd, msg: &Value, pass: Option<RawFd>) -> Result<(), SandboxError> {
    let data = serde_json::to_vec(msg).map_err(|e| SandboxError::Jail(e.to_string()))?;
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() };
    // Space for one descriptor, aligned as cmsghdr needs.
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr and cmsg set up per cmsg(3) over buffers that outlive the call.
    let rc = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(pfd) = pass {
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), pfd);
        }
        libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if rc < 0 {
        return Err(SandboxError::Jail(format!("the python jail's control channel failed: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}

/// Receives one control message; `Ok(None)` when the jail closed the channel.
fn recv_ctl(fd: &OwnedFd, deadline: Instant) -> Result<Option<Value>, SandboxError> {
    let mut buf = vec![0u8; MAX_CTL];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SandboxError::Jail("the python jail did not answer in time".to_string()));
        }
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: poll on one descriptor we own.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(SandboxError::Jail(format!("poll: {e}")));
        }
        if n == 0 {
            continue;
        }
        // SAFETY: recv into our buffer.
        let got = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(SandboxError::Jail(format!("the python jail's control channel failed: {e}")));
        }
        if got == 0 {
            return Ok(None);
        }
        return serde_json::from_slice(&buf[..got as usize]).map(Some).map_err(|e| SandboxError::Jail(format!("bad control message: {e}")));
    }
}

//! A control group for the whole jail, where the host lets us make one:
//! a memory ceiling for all episodes together (page cache and tmpfs pages
//! included, which RLIMIT_AS does not see) and a cap on tasks (a thread bomb
//! stops at `pids.max`). cgroup v2 when its memory and pids controllers are
//! enabled, else the v1 `memory` and `pids` hierarchies. Where neither can be
//! written the jail runs without one (rlimits and the seccomp ban on fork still
//! apply) and `trutheye pvr doctor` says so.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Directories created for one jail.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    /// `v2` or `v1`.
    pub version: &'static str,
}

impl Cgroup {
    /// Creates the group with the limits, or `None` where the host does not allow it.
    pub fn create(memory_bytes: u64, pids: u64) -> Option<Self> {
        Self::create_named("trutheye-jail", memory_bytes, pids)
    }

    /// Creates a group called `<prefix>-<pid>-<serial>` with the limits, below
    /// this process's own group where it can (so the host's accounting of us
    /// still covers it), else at the hierarchy's root; `None` where neither
    /// can be written.
    pub fn create_named(prefix: &str, memory_bytes: u64, pids: u64) -> Option<Self> {
        let name = format!("{prefix}-{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        let root = Path::new("/sys/fs/cgroup");
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let v2 = std::fs::read_to_string(root.join("cgroup.controllers")).ok();
        let made = if v2.as_deref().is_some_and(|c| c.split_whitespace().any(|x| x == "memory") && c.split_whitespace().any(|x| x == "pids")) {
            let limits = [("memory.max", memory_bytes.to_string()), ("memory.swap.max", "0".into()), ("pids.max", pids.to_string())];
            make_nested(root, own_path(&own, ""), &name, &limits).map(|d| Cgroup { dirs: vec![d], version: "v2" })
        } else {
            let mem = make_nested(&root.join("memory"), own_path(&own, "memory"), &name, &[("memory.limit_in_bytes", memory_bytes.to_string())]);
            let pid = make_nested(&root.join("pids"), own_path(&own, "pids"), &name, &[("pids.max", pids.to_string())]);
            match (mem, pid) {
                (Some(m), Some(p)) => Some(Cgroup { dirs: vec![m, p], version: "v1" }),
                (m, p) => {
                    for d in m.into_iter().chain(p) {
                        let _ = std::fs::remove_dir(d);
                    }
                    None
                }
            }
        };
        if made.is_none() {
            tracing::debug!("no cgroup `{prefix}` (not writable here); rlimits only");
        }
        made
    }

    /// Bytes the group's processes use now (`memory.current`, or v1's
    /// `memory.usage_in_bytes`).
    pub fn memory_used(&self) -> Option<u64> {
        self.dirs.iter().find_map(|d| {
            std::fs::read_to_string(d.join("memory.current")).or_else(|_| std::fs::read_to_string(d.join("memory.usage_in_bytes"))).ok().and_then(|t| t.trim().parse().ok())
        })
    }

    /// The `cgroup.procs` files the jail's first process writes itself into.
    pub fn procs_files(&self) -> Vec<CString> {
        self.dirs
            .iter()
            .filter_map(|d| CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes()).ok())
            .collect()
    }

    /// Removes the directories (after the jail's processes are gone).
    pub fn remove(self) {
        for d in &self.dirs {
            // The last processes may take a moment to leave after SIGKILL.
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// This process's group in a hierarchy from `/proc/self/cgroup`: the line
/// whose controller list names `controller` (v1), or the `0::` line (v2,
/// `controller` empty).
fn own_path<'a>(proc_cgroup: &'a str, controller: &str) -> Option<&'a str> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if controller.is_empty() { ctrls.is_empty() } else { ctrls.split(',').any(|c| c == controller) };
        hit.then_some(path)
    })
}

/// Makes `name` below `own` in `hierarchy` (falling back to the hierarchy's root).
fn make_nested(hierarchy: &Path, own: Option<&str>, name: &str, limits: &[(&str, String)]) -> Option<PathBuf> {
    if let Some(own) = own.map(|p| p.trim_start_matches('/')).filter(|p| !p.is_empty()) {
        if let Some(d) = make(&hierarchy.join(own).join(name), limits) {
            return Some(d);
        }
    }
    make(&hierarchy.join(name), limits)
}

fn make(dir: &Path, limits: &[(&str, String)]) -> Option<PathBuf> {
    std::fs::create_dir(dir).ok()?;
    for (file, value) in limits {
        if std::fs::write(dir.join(file), value).is_err() && !file.contains("swap") {
            let _ = std::fs::remove_dir(dir);
            return None;
        }
    }
    Some(dir.to_path_buf())
}

/// Whether a cgroup can be made here, and which version (for `pvr doctor`).
pub fn probe() -> Option<&'static str> {
    Cgroup::create(1 << 30, 64).map(|c| {
        let v = c.version;
        c.remove();
        v
    })
}

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
        let name = format!("trutheye-jail-{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        let root = Path::new("/sys/fs/cgroup");
        let v2 = std::fs::read_to_string(root.join("cgroup.controllers")).ok();
        let made = if v2.as_deref().is_some_and(|c| c.split_whitespace().any(|x| x == "memory") && c.split_whitespace().any(|x| x == "pids")) {
            let dir = root.join(&name);
            make(&dir, &[("memory.max", memory_bytes.to_string()), ("memory.swap.max", "0".into()), ("pids.max", pids.to_string())])
                .map(|d| Cgroup { dirs: vec![d], version: "v2" })
        } else {
            let mem = make(&root.join("memory").join(&name), &[("memory.limit_in_bytes", memory_bytes.to_string())]);
            let pid = make(&root.join("pids").join(&name), &[("pids.max", pids.to_string())]);
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
            tracing::debug!("no cgroup for the python jail (not writable here); rlimits only");
        }
        made
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

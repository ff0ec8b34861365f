//! What one server may use: a memory budget for the whole process tree, session
//! counts (in all and per client), and per-session quotas. Everything here is
//! checked *before* work is admitted, so a refused request costs nothing; what
//! an admitted turn can add is bounded by the per-turn caps, which is why the
//! budget check keeps a reserve of one turn's worth free.
//!
//! Memory is measured, not estimated: the private resident memory (`RssAnon` +
//! `RssShmem` in `/proc/PID/status`) of the server and of every process below
//! it (PVR workers, jailed interpreters). File-backed pages (the binary, mapped
//! plugins) are left out: they are shared and the kernel can drop them.

use crate::ServeError;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits of one `trutheye serve` process; [`ServeLimits::default`] is what the
/// CLI starts with (every one has a flag).
#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// Private resident memory of the server and all its workers; new sessions
    /// and turns are refused (`over_budget`) once it would be exceeded.
    pub memory_budget: u64,
    /// Most sessions open at once.
    pub max_sessions: usize,
    /// Most sessions one client (a Unix-socket peer process, or a TCP peer
    /// address) may hold open at once.
    pub max_sessions_per_client: usize,
    /// Sessions idle for longer are closed by the reaper.
    pub session_ttl: Duration,
    /// Most input images one `open` may name.
    pub max_open_images: usize,
    /// Pixel bytes (RGB, 3 per pixel) plus source-file bytes one session may
    /// hold in the server: its inputs and every image its actions created. Past
    /// it, the session's actions are refused with a `MemoryError` observation
    /// (the model can still answer).
    pub max_session_image_bytes: u64,
    /// Pixels one turn may show (send back); further images are withheld and
    /// the observation says so.
    pub max_shown_pixels_per_turn: u64,
    /// Largest PNG sent inline as base64; larger ones are written to the
    /// session's directory and sent by path.
    pub inline_image_bytes: usize,
    /// Longest response line; a longer one becomes a `response_too_large` error.
    pub max_response_bytes: usize,
    /// Address-space limit (`RLIMIT_AS`) of each session's PVR worker.
    pub worker_memory: u64,
}

/// Default memory budget: half of the machine's memory, at most 16 GiB.
pub fn default_memory_budget() -> u64 {
    let total = machine_memory().unwrap_or(8 << 30);
    (total / 2).min(16 << 30)
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            memory_budget: default_memory_budget(),
            max_sessions: 64,
            max_sessions_per_client: 64,
            session_ttl: Duration::from_secs(600),
            max_open_images: 8,
            max_session_image_bytes: 512 << 20,
            // Qwen2.5-VL's processor resizes to at most 12.8 MP per image;
            // a turn may show that and a bit more.
            max_shown_pixels_per_turn: 16_000_000,
            inline_image_bytes: 4 << 20,
            max_response_bytes: 16 << 20,
            worker_memory: 2 << 30,
        }
    }
}

impl ServeLimits {
    /// The part of the budget the PVR workers share when the server can put
    /// them in a control group: half (the kernel holds them to it; they keep
    /// a copy of their session's images plus the model's variables); the
    /// server admits work while its own memory stays within the other half.
    pub fn worker_share(&self) -> u64 {
        self.memory_budget / 2
    }

    /// What one admitted turn may add to the server's memory at most: the
    /// images it shows (RGB and their PNG) with a factor for the encoder's
    /// buffers, plus the response. Every turn in flight keeps this much free.
    pub fn turn_reserve(&self) -> u64 {
        self.max_shown_pixels_per_turn.saturating_mul(3).saturating_mul(2).saturating_add(self.max_response_bytes as u64)
    }
}

/// `MemTotal` of `/proc/meminfo` in bytes.
pub fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(kib_field)
}

fn kib_field(rest: &str) -> Option<u64> {
    rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|k| k * 1024)
}

/// Private resident bytes (`RssAnon` + `RssShmem`) of one process; `None` when
/// it is gone or unreadable.
pub fn private_rss(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut total = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("RssAnon:").or_else(|| line.strip_prefix("RssShmem:")).and_then(kib_field) {
            total = Some(total.unwrap_or(0) + v);
        }
    }
    total
}

/// Private resident bytes of `root` and every process below it (children,
/// grandchildren: a jail's interpreter runs under bubblewrap).
pub fn tree_private_rss(root: u32) -> u64 {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if let Some(ppid) = parent_pid(&entry.path()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.into_iter().filter_map(private_rss).sum()
}

/// The parent pid from `/proc/PID/stat` (the field after the parenthesised
/// command name, which may itself contain spaces and parentheses).
fn parent_pid(proc_dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The server's memory use, measured at most every `max_age` (a scan of
/// `/proc` costs about a millisecond; many requests a second share one).
pub struct MemoryGauge {
    max_age: Duration,
    last: Mutex<Option<(Instant, u64)>>,
}

impl MemoryGauge {
    /// A gauge that re-measures when its value is older than `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self { max_age, last: Mutex::new(None) }
    }

    /// Private resident bytes of this process and its descendants.
    pub fn used(&self) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some((at, v)) if at.elapsed() < self.max_age => v,
            _ => {
                let v = tree_private_rss(std::process::id());
                *last = Some((Instant::now(), v));
                v
            }
        }
    }

    /// Forgets the cached value (after a session closed, say).
    pub fn invalidate(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Gives freed heap memory back to the system. glibc keeps freed chunks in its
/// arenas (one per thread that allocated), so after a session with large
/// images closes the process would otherwise stay at its peak.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes as `1.5 GiB`, `200 MiB`, `12 KiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parses `512M`, `2G`, `1.5GiB`, `800000000` (bytes) for the CLI's flags.
pub fn parse_bytes(s: &str) -> Result<u64, ServeError> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| ServeError::Size(format!("`{s}` is not a size (e.g. 512M, 2G, 1.5GiB)")))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(ServeError::Size(format!("`{s}`: unknown unit `{other}` (B, K, M, G, T)"))),
    };
    let v = n * mult as f64;
    if !v.is_finite() || v < 1.0 || v > u64::MAX as f64 {
        return Err(ServeError::Size(format!("`{s}` is not a usable size")));
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("2X").is_err());
        assert!(parse_bytes("0").is_err());
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(200 << 20), "200 MiB");
    }

    #[test]
    fn this_process_is_measured() {
        let own = private_rss(std::process::id()).expect("own status");
        assert!(own > 0);
        // The tree includes this process: never less than it alone, give or
        // take what other test threads allocate meanwhile.
        let tree = tree_private_rss(std::process::id());
        assert!(tree + (64 << 20) >= own, "tree {tree} < own {own}");
        assert!(parent_pid(Path::new("/proc/self")).is_some());
    }
}

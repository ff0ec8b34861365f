//! OS limits applied to a worker process before it starts.

/// Resource limits (`setrlimit`) for the worker process; `None` leaves a limit
/// as inherited. Applied on Unix only.
///
/// `RLIMIT_NPROC` is deliberately not set: Linux counts threads against it per
/// user, so it would break the interpreter's own thread without stopping a
/// process that shares the user's budget. The interpreter has no API to start
/// processes; `PR_SET_NO_NEW_PRIVS` is set so nothing the worker could exec
/// gains privileges, and core dumps are off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsLimits {
    /// Virtual address space in bytes (`RLIMIT_AS`).
    pub address_space: Option<u64>,
    /// CPU seconds over the worker's life (`RLIMIT_CPU`; SIGXCPU, then the host restarts it).
    pub cpu_seconds: Option<u64>,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
    /// Largest file it may write (`RLIMIT_FSIZE`); 0 forbids writing files.
    pub file_size: Option<u64>,
}

impl Default for OsLimits {
    fn default() -> Self {
        Self { address_space: Some(4 << 30), cpu_seconds: Some(600), open_files: Some(64), file_size: Some(0) }
    }
}

impl OsLimits {
    /// No limits at all.
    pub fn none() -> Self {
        Self { address_space: None, cpu_seconds: None, open_files: None, file_size: None }
    }
}

/// Applies the limits in the forked child, before exec. Only
/// async-signal-safe calls are made (`setrlimit`, `prctl`).
#[cfg(unix)]
pub(super) fn apply(l: &OsLimits) -> std::io::Result<()> {
    fn set(resource: libc::c_int, value: u64) -> std::io::Result<()> {
        let lim = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(resource as _, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    if let Some(v) = l.address_space {
        set(libc::RLIMIT_AS as _, v)?;
    }
    if let Some(v) = l.cpu_seconds {
        set(libc::RLIMIT_CPU as _, v)?;
    }
    if let Some(v) = l.open_files {
        set(libc::RLIMIT_NOFILE as _, v)?;
    }
    if let Some(v) = l.file_size {
        set(libc::RLIMIT_FSIZE as _, v)?;
    }
    set(libc::RLIMIT_CORE as _, 0)?;
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    Ok(())
}

/// Name of a signal, for messages.
#[cfg(unix)]
pub(super) fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGXCPU => "SIGXCPU, CPU-time limit",
        libc::SIGXFSZ => "SIGXFSZ, file-size limit",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// Kills the worker's whole process group.
#[cfg(unix)]
pub(super) fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill with a negative pid signals the group the worker leads.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

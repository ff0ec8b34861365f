//! The worker side: `trutheye pvr-worker`.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use trutheye_core::loader::{load_dirs, search_dirs};
use trutheye_core::{EpisodeState, ExecLimits, NamedImage, Registry};

use super::protocol::{self, check_hello, Msg};
use super::{from_wire, to_wire};
use crate::{PvrExecutor, PvrLimits};

/// Test hooks switch: when this variable is `1` in the worker's environment, a
/// `run` whose code is exactly `__hang__` sleeps forever and one whose code is
/// exactly `__abort__` aborts the process. Model code cannot set environment
/// variables (the interpreter has no such API), so only whoever starts the
/// host can turn the hooks on; `trutheye` itself never does.
pub const TEST_HOOKS_ENV: &str = "TRUTHEYE_PVR_WORKER_TEST_HOOKS";
/// Test hook (only with [`TEST_HOOKS_ENV`]): the protocol version the worker announces.
pub const TEST_VERSION_ENV: &str = "TRUTHEYE_PVR_WORKER_TEST_VERSION";

/// Serves the protocol on stdin/stdout until the host closes stdin. Operators
/// come from `plugin_dirs` and the default search path. On Unix the protocol
/// moves to a private copy of stdout and fd 1 is pointed at stderr, so stray
/// prints from plugins cannot corrupt the stream.
pub fn serve(plugin_dirs: &[PathBuf]) -> Result<(), crate::SandboxError> {
    let output = protocol_output().map_err(crate::SandboxError::Worker)?;
    let stdin = std::io::stdin();
    serve_on(plugin_dirs, BufReader::new(stdin.lock()), BufWriter::new(output)).map_err(crate::SandboxError::Worker)
}

#[cfg(unix)]
fn protocol_output() -> Result<Box<dyn Write>, String> {
    use std::os::fd::FromRawFd;
    let _ = std::io::stdout().flush();
    // SAFETY: dup/dup2 on the process's own standard descriptors; the new fd is
    // owned by the File from here on.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return Err(format!("cannot duplicate stdout: {}", std::io::Error::last_os_error()));
        }
        if libc::dup2(2, 1) < 0 {
            return Err(format!("cannot redirect stdout: {}", std::io::Error::last_os_error()));
        }
        Ok(Box::new(std::fs::File::from_raw_fd(fd)))
    }
}

#[cfg(not(unix))]
fn protocol_output() -> Result<Box<dyn Write>, String> {
    Ok(Box::new(std::io::stdout()))
}

fn hooks_on() -> bool {
    std::env::var(TEST_HOOKS_ENV).is_ok_and(|v| v == "1")
}

fn serve_on(plugin_dirs: &[PathBuf], mut input: impl Read, mut output: impl Write) -> Result<(), String> {
    let mut registry = Registry::new();
    let report = load_dirs(&search_dirs(plugin_dirs), &mut registry);
    tracing::debug!(loaded = report.loaded.len(), refused = report.refused.len(), "pvr worker: plugins loaded");
    let io_err = |e: std::io::Error| format!("pvr worker: {e}");
    let mut hello = Msg::hello(registry.names(), None);
    if hooks_on() {
        if let Some(v) = std::env::var(TEST_VERSION_ENV).ok().and_then(|v| v.parse().ok()) {
            if let Msg::Hello { version, .. } = &mut hello {
                *version = v;
            }
        }
    }
    protocol::send(&mut output, &hello, &[]).map_err(io_err)?;
    let Some((first, _)) = protocol::recv(&mut input).map_err(io_err)? else { return Ok(()) };
    if let Err(e) = check_hello(&first, "host") {
        let _ = protocol::send(&mut output, &Msg::Error { message: e.to_string() }, &[]);
        return Err(e.to_string());
    }
    let limits = match first {
        Msg::Hello { limits: Some(l), .. } => PvrLimits::from(l),
        _ => PvrLimits::default(),
    };
    let mut exec = PvrExecutor::new(limits);
    let mut state = EpisodeState::new(Vec::new(), Arc::new(registry), ExecLimits::default());
    while let Some((msg, blobs)) = protocol::recv(&mut input).map_err(io_err)? {
        match msg {
            Msg::LoadImages { start, limits, images } => {
                let reply = match load(&mut state, start, &images, blobs) {
                    Ok(()) => {
                        state.limits = limits.into();
                        Msg::Loaded { count: state.images.len() }
                    }
                    Err(message) => Msg::Error { message },
                };
                protocol::send(&mut output, &reply, &[]).map_err(io_err)?;
            }
            Msg::Run { code, image_index } => {
                if hooks_on() {
                    test_hook(&code);
                }
                let obs = exec.run_code(&code, image_index, &mut state);
                let mut blobs = Vec::new();
                let images = obs.images.iter().map(|n| to_wire(n, &mut blobs)).collect();
                let artifacts = obs.artifacts.iter().map(|n| to_wire(n, &mut blobs)).collect();
                let reply = Msg::Result { text: obs.text, error: obs.error, bbox_candidate: obs.bbox_candidate, tools: obs.tools, images, artifacts, evidence: obs.evidence };
                protocol::send(&mut output, &reply, &blobs).map_err(io_err)?;
            }
            other => {
                let message = format!("protocol error: the worker does not accept `{}`", protocol::kind(&other));
                protocol::send(&mut output, &Msg::Error { message }, &[]).map_err(io_err)?;
            }
        }
    }
    Ok(())
}

fn load(state: &mut EpisodeState, start: usize, images: &[protocol::WireImage], blobs: Vec<Vec<u8>>) -> Result<(), String> {
    if start > state.images.len() {
        return Err(format!("protocol error: keep {start} images, but the worker holds {}", state.images.len()));
    }
    let mut blobs = blobs.into_iter();
    let mut fresh = Vec::with_capacity(images.len());
    for w in images {
        let image = from_wire(w, &mut blobs)?;
        fresh.push(NamedImage { name: w.name.clone(), image: Arc::new(image), region_in_root: w.region_in_root });
    }
    state.images.truncate(start);
    state.images.extend(fresh);
    Ok(())
}

fn test_hook(code: &str) {
    match code.trim() {
        "__hang__" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        "__abort__" => std::process::abort(),
        _ => {}
    }
}

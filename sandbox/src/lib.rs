//! The interim PVR (programmatic visual reasoning) executor.
//!
//! Models write small Python snippets that crop, zoom, rotate and enhance the
//! images of an episode and call forensic operators. This crate runs them with
//! a hand-written interpreter for that Python subset (tokenizer, parser,
//! tree-walking evaluator): no Python runtime, no `exec`, and no I/O of any kind
//! exists inside the interpreter. Every action runs under step, wall-time,
//! length, output and image-size budgets, and failures come back as
//! Python-style error lines the model can act on.
//!
//! The syntax tree ([`ast`]) is kept separate from the front-end so a full
//! Python parser can later lower into it.

#![warn(missing_docs)]

pub mod ast;
mod builtins;
mod containers;
mod draw;
pub mod error;
mod sandbox_error;
mod eval;
mod filters;
mod format;
mod imaging;
pub mod lexer;
mod modules;
mod ndarray;
mod numpy;
mod ops;
pub mod parser;
mod strings;
pub mod values;
pub mod worker;
pub mod engine;
#[cfg(target_os = "linux")]
pub mod python;

use std::collections::HashMap;
use std::time::Duration;

use trutheye_core::{Action, EpisodeState, Executor, Observation};

pub use error::PyErr;
use values::Value;
pub use worker::{OsLimits, WorkerConfig, WorkerExecutor};
pub use sandbox_error::SandboxError;
pub use engine::{default_backend, Dialect, PvrBackend, PvrEngine, IN_PROCESS_NEEDS_TRUST};

/// Longest exception message shown in an observation; longer ones are cut.
pub const MAX_ERROR_MSG_BYTES: usize = 1024;

/// Budgets for one action.
#[derive(Clone, Copy, Debug)]
pub struct PvrLimits {
    /// Evaluation steps per action: statements and expression nodes, plus the
    /// data builtins touch (1 step per 64 container elements or 1 KiB of
    /// string compared, copied or searched).
    pub max_steps: u64,
    /// Wall-clock time per action (checked every 256 steps' worth of work,
    /// inside long builtins and image kernels, and after each image operation).
    pub max_wall: Duration,
    /// Elements of any list, tuple or dict (ranges are lazy and exempt).
    pub max_seq_len: usize,
    /// Printed output per action; the rest is replaced by `... [output truncated]`.
    pub max_output_bytes: usize,
    /// Bytes of any string value.
    pub max_str_bytes: usize,
    /// Bytes of source code per action.
    pub max_code_bytes: usize,
    /// Pixels all images created by one action may total.
    pub max_created_pixels: u64,
    /// Bytes of values (strings, containers, images, arrays) one action may
    /// create, counted cumulatively as they are created (freed values are not
    /// credited back); over it the action stops with `MemoryError`.
    pub max_action_bytes: u64,
    /// Bytes the episode's variables may hold between actions (shared values
    /// counted once, the episode's own images not counted). An action that
    /// leaves them over it fails with `MemoryError`, and the variables it
    /// created or changed are reset to their values before it.
    pub max_session_bytes: u64,
}

impl Default for PvrLimits {
    fn default() -> Self {
        Self {
            max_steps: 200_000,
            max_wall: Duration::from_secs(5),
            max_seq_len: 100_000,
            max_output_bytes: 16 * 1024,
            max_str_bytes: 1 << 20,
            max_code_bytes: 64 * 1024,
            max_created_pixels: 100_000_000,
            // The pixel budget alone lets an action create 100M array
            // elements (f32: 400 MB); 512 MiB covers that plus ~130 MB of
            // strings and containers, and keeps a few concurrent sessions
            // inside an ordinary machine.
            max_action_bytes: 512 << 20,
            // Room for several full-size derived images (an 8000x5000 RGB
            // image is 120 MB) or arrays kept across turns, yet bounded so an
            // idle session cannot hold gigabytes.
            max_session_bytes: 1 << 30,
        }
    }
}

/// The `pvr` executor: runs `Action::Code` in the sandboxed interpreter. One per
/// episode; variables persist between the episode's actions.
pub struct PvrExecutor {
    limits: PvrLimits,
    vars: HashMap<String, Value>,
    serials: u64,
}

impl PvrExecutor {
    /// A new executor with the given limits.
    pub fn new(limits: PvrLimits) -> Self {
        Self { limits, vars: HashMap::new(), serials: 0 }
    }

    /// The limits in force.
    pub fn limits(&self) -> PvrLimits {
        self.limits
    }

    /// Names of the variables defined so far, sorted.
    pub fn variables(&self) -> Vec<String> {
        let mut v: Vec<String> = self.vars.keys().cloned().collect();
        v.sort();
        v
    }

    /// Runs one snippet against the episode and returns what the model sees.
    pub fn run_code(&mut self, code: &str, image_index: Option<usize>, state: &mut EpisodeState) -> Observation {
        if code.len() > self.limits.max_code_bytes {
            return Observation::error(format!(
                "SyntaxError: the program is {} bytes long; the sandbox accepts at most {}",
                code.len(),
                self.limits.max_code_bytes
            ));
        }
        if let Some(i) = image_index {
            if let Err(e) = state.by_index(i) {
                return Observation::error(e.to_string());
            }
        }
        let limits = self.limits;
        let (vars, serials) = (&mut self.vars, &mut self.serials);
        // A dedicated thread gives the recursive parser and evaluator a known,
        // generous stack; a panic (a bug) is contained and reported.
        let outcome = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("pvr".into())
                .stack_size(64 << 20)
                .spawn_scoped(s, || run_action(code, image_index.unwrap_or(0), vars, serials, state, limits))
                .map(|h| h.join())
        });
        match outcome {
            Ok(Ok(obs)) => obs,
            Ok(Err(_)) => {
                tracing::error!("pvr interpreter panicked");
                Observation::error("SystemError: internal interpreter error (this is a sandbox bug, not your code)")
            }
            Err(e) => Observation::error(format!("SystemError: could not start the interpreter: {e}")),
        }
    }
}

impl Default for PvrExecutor {
    fn default() -> Self {
        Self::new(PvrLimits::default())
    }
}

impl Executor for PvrExecutor {
    fn name(&self) -> &'static str {
        "pvr"
    }

    fn backend(&self) -> Option<&'static str> {
        Some("interp")
    }

    fn execute(&mut self, action: &Action, state: &mut EpisodeState) -> Observation {
        crate::engine::run_code_only(action, state, |code, image, state| self.run_code(code, image, state))
    }
}

fn run_action(code: &str, image_index: usize, vars: &mut HashMap<String, Value>, serials: &mut u64, state: &mut EpisodeState, limits: PvrLimits) -> Observation {
    let program = match parser::parse_program(code) {
        Ok(p) => p,
        Err(e) => return Observation::error(e.to_string()),
    };
    let mut it = eval::Interp::new(vars, serials, state, limits, image_index);
    let mut result = it.run(&program);
    if result.is_ok() {
        // Images left in `result` / `output` are shown, like plt.show().
        for name in ["result", "output"] {
            if let Some(Value::Image(img)) = it.vars.get(name).cloned() {
                if let Err(e) = imaging::show(&mut it, &img) {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    let mut obs = std::mem::take(&mut it.obs);
    let mut text = std::mem::take(&mut it.out);
    if it.truncated {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("... [output truncated]\n");
    }
    if let Err(mut e) = result {
        // A raised message can be up to the string cap (1 MiB); the error
        // line is not subject to the output cap, so it is bounded here.
        if e.msg.len() > MAX_ERROR_MSG_BYTES {
            let mut cut = MAX_ERROR_MSG_BYTES;
            while !e.msg.is_char_boundary(cut) {
                cut -= 1;
            }
            e.msg.truncate(cut);
            e.msg.push_str("... [message truncated]");
        }
        let line = e.to_string();
        text.push_str(&line);
        obs.error = Some(line);
    } else if text.is_empty() {
        text.push_str("(no output)");
    }
    obs.text = text.trim_end().to_string();
    obs
}

// The executor must be `Send` (the agent may move it between threads).
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<PvrExecutor>();
};

//! The action's work and memory meter: one place that charges evaluation
//! steps, work proportional to the data a builtin touches, and the bytes an
//! action creates, and that reads the clock.
//!
//! Why: the step budget used to count one step per syntax node, so a single
//! node could do unbounded work (`b in L` over 100k strings of 1 MB, `M == M2`
//! over nested lists, a median filter over 40 Mpx) and overrun the wall-time
//! limit many times over; and nothing bounded the bytes an action created, so
//! a loop appending big strings could exhaust the host's memory. Every
//! builtin whose work grows with its input now calls [`Meter::charge`] (data
//! work, counted against `max_steps`) or [`Meter::charge_native`] (image and
//! array kernels, counted against the clock only) in slices small enough that
//! the clock is read every fraction of a millisecond, and every value whose
//! size depends on data is paid for with [`Meter::alloc`] *before* it is
//! allocated.
//!
//! Units: one evaluation step is [`UNITS_PER_STEP`] work units. Touching one
//! container element costs [`ELEM`] units (1/64 step) and one byte of string
//! data one unit (1/1024 step). Measured in a release build: a step takes
//! about 20 ns, comparing one element 6-11 ns, comparing 1 KiB of string
//! 30-230 ns. The charges are below those costs on purpose: this
//! interpreter's dicts are lists of pairs (a lookup compares every key), and
//! ordinary loops over dicts and lists must not run out of steps much sooner
//! than before; the clock, read inside the builtins, bounds the time either
//! way, and every runaway case still runs out of steps at once (one `M == M2`
//! over 100k lists of 100k elements is 156M steps). Image and array
//! kernels charge one unit per sample times the kernel size, to the clock
//! only: their size is already bounded by the pixel budget, and a legitimate
//! blur of a 12-megapixel photo would otherwise exhaust a step budget sized
//! for interpreted code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{err, PyResult};
use crate::values::Value;

/// Work units in one evaluation step.
pub const UNITS_PER_STEP: u64 = 1024;
/// Work units for touching one container element (compare, copy, visit).
pub const ELEM: u64 = 16;
/// The clock is read whenever this many units were charged since the last
/// read (256 steps' worth, as the step counter always did).
const CHECK_EVERY: u64 = 256 * UNITS_PER_STEP;
/// Bytes a builtin processes between two charges: big strings and buffers
/// are compared and copied in slices of this size so a limit can stop the
/// work in the middle.
pub const SLICE_BYTES: usize = 64 << 10;
/// Bytes of one value slot in a container (`size_of::<Value>()`).
pub const VALUE_BYTES: u64 = std::mem::size_of::<Value>() as u64;

/// Steps, wall time and created bytes of one action.
#[derive(Debug)]
pub struct Meter {
    steps: u64,
    /// Units charged towards the next whole step.
    frac: u64,
    /// Units charged since the clock was last read.
    since_clock: u64,
    max_steps: u64,
    started: Instant,
    max_wall: Duration,
    allocated: u64,
    max_alloc: u64,
}

impl Meter {
    /// A meter starting now.
    pub fn new(max_steps: u64, max_wall: Duration, max_alloc: u64) -> Self {
        Self { steps: 0, frac: 0, since_clock: 0, max_steps, started: Instant::now(), max_wall, allocated: 0, max_alloc }
    }

    /// One evaluation step (a statement, an expression node, a loop turn).
    #[inline]
    pub fn tick(&mut self) -> PyResult<()> {
        self.charge(UNITS_PER_STEP)
    }

    /// Charges `units` of work against the step budget (and the clock).
    #[inline]
    pub fn charge(&mut self, units: u64) -> PyResult<()> {
        let total = self.frac.saturating_add(units);
        self.steps = self.steps.saturating_add(total / UNITS_PER_STEP);
        self.frac = total % UNITS_PER_STEP;
        if self.steps > self.max_steps {
            return err("TimeoutError", format!("step budget exhausted ({} evaluation steps)", self.max_steps));
        }
        self.clock(units)
    }

    /// Charges `n` container elements of work.
    #[inline]
    pub fn elems(&mut self, n: usize) -> PyResult<()> {
        self.charge((n as u64).saturating_mul(ELEM))
    }

    /// Charges `n` bytes of string work.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> PyResult<()> {
        self.charge(n as u64)
    }

    /// Charges `units` of native image/array work to the clock only.
    #[inline]
    pub fn charge_native(&mut self, units: u64) -> PyResult<()> {
        self.clock(units)
    }

    #[inline]
    fn clock(&mut self, units: u64) -> PyResult<()> {
        self.since_clock = self.since_clock.saturating_add(units);
        if self.since_clock >= CHECK_EVERY {
            self.since_clock = 0;
            self.check_time()?;
        }
        Ok(())
    }

    /// Enforces the wall-time limit now.
    pub fn check_time(&self) -> PyResult<()> {
        if self.started.elapsed() > self.max_wall {
            return err("TimeoutError", format!("wall-time limit of {:.1} s exceeded", self.max_wall.as_secs_f64()));
        }
        Ok(())
    }

    /// Pays for `bytes` about to be allocated for a new value. The budget is
    /// cumulative per action (what was created, not what is still alive):
    /// simple, deterministic, and it bounds an action's peak memory.
    pub fn alloc(&mut self, bytes: u64) -> PyResult<()> {
        self.allocated = self.allocated.saturating_add(bytes);
        if self.allocated > self.max_alloc {
            return err(
                "MemoryError",
                format!(
                    "this action created more than {} of values (the per-action memory budget); work on smaller crops or keep fewer copies",
                    mb(self.max_alloc)
                ),
            );
        }
        Ok(())
    }

    /// Pays for a new string of `n` bytes (memory and the work to write it).
    pub fn new_str(&mut self, n: usize) -> PyResult<()> {
        self.alloc(n as u64)?;
        self.bytes(n)
    }

    /// Pays for a new container of `n` elements (memory and the work to fill it).
    pub fn new_seq(&mut self, n: usize) -> PyResult<()> {
        self.alloc((n as u64).saturating_mul(VALUE_BYTES))?;
        self.elems(n)
    }

    /// Steps used so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Bytes created so far.
    pub fn allocated(&self) -> u64 {
        self.allocated
    }
}

/// `n` bytes for a message: `12.3 MB` (decimal megabytes, one decimal).
pub fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

/// Bytes reachable from `vars`, each shared allocation counted once; buffers
/// in `exclude` (the episode's own images, which the episode holds anyway)
/// are not counted.
pub fn footprint<'a>(vars: impl IntoIterator<Item = (&'a String, &'a Value)>, exclude: impl IntoIterator<Item = usize>) -> u64 {
    let mut seen: HashSet<usize> = exclude.into_iter().collect();
    let mut total = 0u64;
    for (name, v) in vars {
        // The map entry: the key, the slot and the hash table's bookkeeping.
        total += name.len() as u64 + VALUE_BYTES + 32;
        total = total.saturating_add(value_bytes(v, &mut seen));
    }
    total
}

fn first<T: ?Sized>(seen: &mut HashSet<usize>, a: &Arc<T>) -> bool {
    seen.insert(Arc::as_ptr(a) as *const u8 as usize)
}

/// Heap bytes behind `v` not counted yet (its inline slot is the caller's).
fn value_bytes(v: &Value, seen: &mut HashSet<usize>) -> u64 {
    // Arc header (two counters) on every shared allocation.
    const ARC: u64 = 16;
    match v {
        Value::Str(s) | Value::Func(s) | Value::Operator(s) | Value::Draw(s) | Value::Exception(_, s) => {
            if first(seen, s) { ARC + s.len() as u64 } else { 0 }
        }
        Value::List(s) | Value::Tuple(s) | Value::Dict(s) => {
            if !first(seen, s) {
                return 0;
            }
            let mut n = ARC + std::mem::size_of_val(&**s) as u64 + s.items.capacity() as u64 * VALUE_BYTES;
            for x in &s.items {
                n = n.saturating_add(value_bytes(x, seen));
            }
            n
        }
        Value::Image(img) | Value::Enhancer(_, img) => image_bytes(img, seen),
        Value::Array(a) => {
            if first(seen, a) { ARC + std::mem::size_of_val(&**a) as u64 + a.data.capacity() as u64 * 4 + a.shape.capacity() as u64 * 8 } else { 0 }
        }
        Value::Method(recv, name) => VALUE_BYTES + value_bytes(recv, seen) + if first(seen, name) { ARC + name.len() as u64 } else { 0 },
        Value::Function(c) => {
            if !first(seen, c) {
                return 0;
            }
            let mut n = ARC + std::mem::size_of_val(&**c) as u64 + c.defaults.capacity() as u64 * (VALUE_BYTES + 8);
            for d in c.defaults.iter().flatten() {
                n = n.saturating_add(value_bytes(d, seen));
            }
            if let Some(env) = &c.captured {
                if first(seen, env) {
                    n += ARC;
                    for (k, x) in env.iter() {
                        n = n.saturating_add(k.len() as u64 + VALUE_BYTES + 32 + value_bytes(x, seen));
                    }
                }
            }
            n
        }
        Value::None
        | Value::Bool(_)
        | Value::Int(_)
        | Value::Float(_)
        | Value::Range(..)
        | Value::FilterSpec(..)
        | Value::Module(_)
        | Value::Opaque(_)
        | Value::ExcType(_) => 0,
    }
}

fn image_bytes(img: &Arc<crate::values::ImgVal>, seen: &mut HashSet<usize>) -> u64 {
    if !first(seen, img) {
        return 0;
    }
    let mut n = 16 + std::mem::size_of_val(&**img) as u64 + img.name.as_ref().map_or(0, |s| s.len() as u64);
    if first(seen, &img.buf) {
        n += 16 + std::mem::size_of_val(&*img.buf) as u64;
        if first(seen, &img.buf.rgb) {
            n += img.buf.rgb.as_raw().len() as u64;
        }
        if let Some(enc) = &img.buf.encoded {
            if first(seen, enc) {
                n += enc.len() as u64;
            }
        }
    }
    n
}

/// True when `a` and `b` are the same value (the same allocation for
/// shared values): what a variable snapshot compares to find changes.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Arc::ptr_eq(x, y),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) | (Value::Dict(x), Value::Dict(y)) => Arc::ptr_eq(x, y),
        (Value::Image(x), Value::Image(y)) => Arc::ptr_eq(x, y),
        (Value::Array(x), Value::Array(y)) => Arc::ptr_eq(x, y),
        (Value::Function(x), Value::Function(y)) => Arc::ptr_eq(x, y),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::None, Value::None) => true,
        (Value::Range(a, b, c), Value::Range(x, y, z)) => (a, b, c) == (x, y, z),
        (Value::Draw(x), Value::Draw(y)) => x == y,
        _ => false,
    }
}

/// Names bound differently in `now` than in `before` (created or changed), sorted.
pub fn changed_names(before: &HashMap<String, Value>, now: &HashMap<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = now.iter().filter(|(k, v)| !before.get(*k).is_some_and(|b| same(b, v))).map(|(k, _)| k.clone()).collect();
    names.extend(before.keys().filter(|k| !now.contains_key(*k)).cloned());
    names.sort();
    names
}

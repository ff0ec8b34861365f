//! The tree-walking evaluator: statements, expressions, names, assignment and
//! iteration, with the step and wall-time budget checked on every node.

use std::collections::HashMap;
use std::sync::Arc;

use trutheye_core::{EpisodeState, Observation};

use crate::ast::*;
use crate::error::{err, PyErr, PyResult};
use crate::ndarray::truth;
use crate::ops::{binop, cmpop};

mod data;
mod flow;
pub mod meter;
mod scope;
use data::target_names;
pub use meter::Meter;
pub use flow::exc_class;
pub use scope::Closure;
use crate::values::{render, ImgVal, Seq, Value};
use crate::PvrLimits;

/// Control flow out of a statement.
#[derive(Debug)]
pub enum Flow {
    /// Fall through.
    Normal,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `return value` (inside a function).
    Return(Value),
}

/// Stack the evaluator may use before giving up with `RecursionError`. The
/// `pvr` thread has 64 MiB; calls, expressions and blocks nest on it, and this
/// guard catches combinations the depth limits alone do not bound (a call
/// inside 100 nested brackets in each of 64 frames) before Rust overflows.
const MAX_STACK_BYTES: usize = 40 << 20;

/// Address of a local of a fresh frame: how deep the stack currently is.
#[inline(never)]
fn stack_addr() -> usize {
    let probe = 0u8;
    std::hint::black_box(&probe) as *const u8 as usize
}

/// One action's interpreter state.
pub struct Interp<'a> {
    /// Variables (persist across the actions of an episode).
    pub vars: &'a mut HashMap<String, Value>,
    /// The episode.
    pub state: &'a mut EpisodeState,
    /// Limits.
    pub limits: PvrLimits,
    /// What the action produced so far (images, tools, candidate, artifacts).
    pub obs: Observation,
    /// Printed output.
    pub out: String,
    /// True once output was cut.
    pub truncated: bool,
    /// Images passed to `plt.imshow` since the last `plt.show`.
    pub pending_plot: Vec<Arc<ImgVal>>,
    /// Pixels created by this action.
    pub pixels_created: u64,
    /// The image `image`/`img` default to.
    pub image_index: usize,
    /// Serial numbers handed to images actions make (persists across actions).
    pub serials: &'a mut u64,
    /// Steps, wall time and bytes created by this action.
    pub meter: Meter,
    /// Active function calls, innermost last.
    frames: Vec<scope::Frame>,
    /// Exceptions being handled by enclosing `except` blocks (for bare `raise`).
    handling: Vec<PyErr>,
    /// Stack address when the action started (the stack grows down on every
    /// supported target; were it to grow up, the guard would simply never fire).
    stack_base: usize,
}

impl<'a> Interp<'a> {
    /// A fresh interpreter for one action.
    pub fn new(vars: &'a mut HashMap<String, Value>, serials: &'a mut u64, state: &'a mut EpisodeState, limits: PvrLimits, image_index: usize) -> Self {
        Self {
            vars,
            serials,
            state,
            limits,
            obs: Observation::default(),
            out: String::new(),
            truncated: false,
            pending_plot: Vec::new(),
            pixels_created: 0,
            image_index,
            meter: Meter::new(limits.max_steps, limits.max_wall, limits.max_action_bytes),
            frames: Vec::new(),
            handling: Vec::new(),
            stack_base: stack_addr(),
        }
    }

    /// The next image serial number (1, 2, ...).
    pub fn next_serial(&mut self) -> u64 {
        *self.serials += 1;
        *self.serials
    }

    /// Counts one evaluation step and enforces the budgets.
    pub fn tick(&mut self) -> PyResult<()> {
        self.meter.tick()?;
        if self.stack_base.saturating_sub(stack_addr()) > MAX_STACK_BYTES {
            return err("RecursionError", "maximum recursion depth exceeded (interpreter stack exhausted)");
        }
        Ok(())
    }

    /// Enforces the wall-time limit.
    pub fn check_time(&self) -> PyResult<()> {
        self.meter.check_time()
    }

    /// Appends printed text, respecting the output cap.
    pub fn write(&mut self, s: &str) {
        if self.truncated {
            return;
        }
        let room = self.limits.max_output_bytes.saturating_sub(self.out.len());
        if s.len() <= room {
            self.out.push_str(s);
            return;
        }
        let mut cut = room;
        while cut > 0 && !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.push_str(s.get(..cut).unwrap_or(""));
        self.truncated = true;
    }

    /// Fails when a container would exceed the element cap.
    pub fn check_len(&self, n: usize) -> PyResult<()> {
        if n > self.limits.max_seq_len {
            return err("MemoryError", format!("more than {} elements (sandbox limit)", self.limits.max_seq_len));
        }
        Ok(())
    }

    /// Runs a program; `break`/`continue` at top level are errors. Afterwards
    /// (whether it failed or not) the variables are held to the session's
    /// memory budget ([`PvrLimits::max_session_bytes`]).
    pub fn run(&mut self, prog: &[Stmt]) -> PyResult<()> {
        // The variables as they were, to undo this action's changes if they
        // leave the session over its budget. Values are shared, so this costs
        // one slot per variable (the first in-place change of a list then
        // copies its slots once, which that change pays for).
        let before = self.vars.clone();
        let r = self.run_body(prog);
        match self.hold_session_budget(before) {
            Ok(()) => r,
            Err(mut e) => {
                if let Err(first) = r {
                    e.msg.push_str(&format!(" (the action had already failed: {first})"));
                }
                Err(e)
            }
        }
    }

    fn run_body(&mut self, prog: &[Stmt]) -> PyResult<()> {
        for s in prog {
            match self.exec(s)? {
                Flow::Normal => {}
                Flow::Return(_) => return Err(PyErr::at("SyntaxError", "'return' outside function", s.line)),
                _ => return Err(PyErr::at("SyntaxError", "'break' or 'continue' outside loop", s.line)),
            }
        }
        Ok(())
    }

    /// Bytes the variables hold now (see [`meter::footprint`]).
    pub fn session_bytes(&self) -> u64 {
        // The episode's images (inputs and those shown) are held by the
        // episode whatever the variables do: not the variables' to pay for.
        let episode = self.state.images.iter().flat_map(|n| [Arc::as_ptr(&n.image) as *const u8 as usize, Arc::as_ptr(&n.image.rgb) as *const u8 as usize]);
        meter::footprint(self.vars.iter(), episode)
    }

    /// Fails with `MemoryError` when the variables hold more than the session
    /// budget, after putting back the variables as they were before the
    /// action (or dropping them all if even those are over the budget).
    fn hold_session_budget(&mut self, before: HashMap<String, Value>) -> PyResult<()> {
        let budget = self.limits.max_session_bytes;
        let held = self.session_bytes();
        if held <= budget {
            return Ok(());
        }
        let changed = meter::changed_names(&before, self.vars);
        *self.vars = before;
        let what = if self.session_bytes() <= budget {
            let mut names = changed.iter().take(12).cloned().collect::<Vec<_>>().join(", ");
            if changed.len() > 12 {
                names.push_str(", ...");
            }
            format!("the variables this action created or changed ({names}) were reset to their values before it")
        } else {
            self.vars.clear();
            "all variables were dropped".to_string()
        };
        err(
            "MemoryError",
            format!(
                "the session's variables hold {}, over the budget of {}; {what}. Keep fewer or smaller values (x = None frees x; del is not supported)",
                meter::mb(held),
                meter::mb(budget)
            ),
        )
    }

    fn block(&mut self, body: &[Stmt]) -> PyResult<Flow> {
        for s in body {
            let f = self.exec(s)?;
            if !matches!(f, Flow::Normal) {
                return Ok(f);
            }
        }
        Ok(Flow::Normal)
    }

    fn exec(&mut self, s: &Stmt) -> PyResult<Flow> {
        self.tick().map_err(|e| e.with_line(s.line))?;
        self.exec_kind(&s.kind).map_err(|e| e.with_line(s.line))
    }

    fn exec_kind(&mut self, k: &StmtKind) -> PyResult<Flow> {
        match k {
            StmtKind::Expr(e) => {
                self.eval(e)?;
            }
            StmtKind::Assign(targets, value) => {
                let v = self.eval(value)?;
                for t in targets {
                    self.assign(t, v.clone())?;
                }
            }
            StmtKind::AugAssign(t, op, value) => {
                let cur = match t {
                    Target::Name(n) => self.lookup(n)?,
                    Target::Subscript(obj, idx) => {
                        let o = self.eval(obj)?;
                        self.subscript(&o, idx)?
                    }
                    Target::Tuple(_) => return err("SyntaxError", "illegal expression for augmented assignment"),
                };
                let rhs = self.eval(value)?;
                let v = self.binop(*op, &cur, &rhs)?;
                self.assign(t, v)?;
            }
            StmtKind::If(branches, orelse) => {
                for (test, body) in branches {
                    if truth(&self.eval(test)?)? {
                        return self.block(body);
                    }
                }
                return self.block(orelse);
            }
            StmtKind::For(target, iter, body) => {
                let it = self.eval(iter)?;
                for v in self.iterate(&it)? {
                    self.tick()?;
                    self.assign(target, v)?;
                    match self.block(body)? {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Normal | Flow::Continue => {}
                    }
                }
            }
            StmtKind::Import(names) => {
                for (module, alias) in names {
                    let m = crate::imaging::import_module(module)?;
                    // `import PIL.Image` binds `PIL`; `import a.b as c` binds `c`.
                    let (name, value) = match alias {
                        Some(a) => (a.clone(), m),
                        None => {
                            let top = module.split('.').next().unwrap_or(module);
                            (top.to_string(), crate::imaging::import_module(top)?)
                        }
                    };
                    self.set_var(&name, value);
                }
            }
            StmtKind::FromImport(module, names) => {
                let m = crate::imaging::import_module(module)?;
                for (name, alias) in names {
                    let v = self.get_attr(&m, name).map_err(|e| {
                        let why = if e.kind == "NotImplementedError" { crate::modules::NOT_EMBEDDED } else { "" };
                        PyErr::new("ImportError", format!("cannot import name '{name}' from '{module}'{why}"))
                    })?;
                    self.set_var(alias.as_deref().unwrap_or(name), v);
                }
            }
            StmtKind::Pass => {}
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
            StmtKind::Assert(test, msg) => {
                if !truth(&self.eval(test)?)? {
                    let m = match msg {
                        Some(m) => {
                            let v = self.eval(m)?;
                            render(&v, false, self.limits.max_str_bytes, &mut self.meter)?
                        }
                        None => String::new(),
                    };
                    return err("AssertionError", m);
                }
            }
            StmtKind::While(test, body, orelse) => return self.exec_while(test, body, orelse),
            StmtKind::FuncDef(def) => {
                let f = self.make_function(def)?;
                self.set_var(&def.name, f);
            }
            StmtKind::Return(v) => {
                let v = match v {
                    Some(e) => self.eval(e)?,
                    None => Value::None,
                };
                return Ok(Flow::Return(v));
            }
            StmtKind::Global(_) => {}
            StmtKind::Try { body, handlers, orelse, finalbody } => return self.exec_try(body, handlers, orelse, finalbody),
            StmtKind::Raise(exc, cause) => return Err(self.raise(exc.as_ref(), cause.as_ref())?),
        }
        Ok(Flow::Normal)
    }

    /// Resolves a name outside any function scope: variables, episode images,
    /// builtins, exception classes, modules, operators.
    pub fn lookup_global(&self, n: &str) -> PyResult<Value> {
        if let Some(v) = self.vars.get(n) {
            return Ok(v.clone());
        }
        let named = match n {
            "image" | "img" => self.state.images.get(self.image_index),
            _ if n.starts_with("image_clue_") => self.state.by_name(n),
            _ => None,
        };
        if let Some(named) = named {
            return Ok(Value::Image(Arc::new(ImgVal {
                buf: named.image.clone(),
                region: named.region_in_root,
                name: Some(named.name.clone()),
                grey: false,
                serial: 0,
            })));
        }
        if crate::builtins::is_builtin(n) {
            return Ok(Value::Func(n.into()));
        }
        if let Some(k) = exc_class(n) {
            return Ok(Value::ExcType(k));
        }
        if let Some(m) = crate::imaging::implicit_module(n) {
            return Ok(m);
        }
        if !n.starts_with('_') && self.state.registry.get(n).is_some() {
            return Ok(Value::Operator(n.into()));
        }
        err("NameError", format!("name '{n}' is not defined"))
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &Expr) -> PyResult<Value> {
        self.tick()?;
        match e {
            Expr::Const(c) => Ok(match c {
                Const::None => Value::None,
                Const::Bool(b) => Value::Bool(*b),
                Const::Int(i) => Value::Int(*i),
                Const::Float(f) => Value::Float(*f),
                Const::Str(s) => Value::str(s.as_str()),
            }),
            Expr::FStr(parts) => {
                let cap = self.limits.max_str_bytes;
                let mut s = String::new();
                for p in parts {
                    match p {
                        FPart::Lit(l) => s.push_str(l),
                        FPart::Field { expr, conv, spec } => {
                            let mut v = self.eval(expr)?;
                            if matches!(conv, Some('r' | 'a')) {
                                v = Value::str(render(&v, true, cap, &mut self.meter)?);
                            }
                            s.push_str(&crate::format::format_value(&v, spec, cap, &mut self.meter)?);
                        }
                    }
                    if s.len() > cap {
                        return err("MemoryError", format!("string longer than {cap} bytes"));
                    }
                }
                self.meter.new_str(s.len())?;
                Ok(Value::str(s))
            }
            Expr::Name(n) => self.lookup(n),
            Expr::Tuple(items) | Expr::List(items) => {
                let mut vs = Vec::with_capacity(items.len());
                for x in items {
                    vs.push(self.eval(x)?);
                }
                self.check_len(vs.len())?;
                if matches!(e, Expr::List(_)) { Value::list(vs) } else { Value::tuple(vs) }
            }
            Expr::Dict(items) => {
                let mut pairs: Vec<Value> = Vec::new();
                for (k, v) in items {
                    let (k, v) = (self.eval(k)?, self.eval(v)?);
                    crate::builtins::hashable(&k, &mut self.meter)?;
                    // A repeated key keeps its first position and takes the last value.
                    let pair = Value::tuple(vec![k.clone(), v])?;
                    match crate::ops::key_position(&pairs, &k, &mut self.meter)? {
                        Some(i) => pairs[i] = pair,
                        None => pairs.push(pair),
                    }
                }
                Ok(Value::Dict(Seq::new(pairs)?))
            }
            Expr::Attr(obj, name) => {
                let o = self.eval(obj)?;
                self.get_attr(&o, name)
            }
            Expr::Call { func, args, kwargs } => {
                let mut a = Vec::with_capacity(args.len());
                for x in args {
                    a.push(self.eval(x)?);
                }
                let mut kw = Vec::with_capacity(kwargs.len());
                for (k, x) in kwargs {
                    kw.push((k.clone(), self.eval(x)?));
                }
                if let Expr::Attr(recv, m) = &**func {
                    if let Expr::Name(var) = &**recv {
                        if let Some(r) = crate::builtins::mutate_in_place(self, var, m, &a, &kw)? {
                            return Ok(r);
                        }
                    }
                }
                let f = self.eval(func)?;
                if matches!(&f, Value::Func(q) if &**q == "ImageDraw.Draw") {
                    // Drawing mutates in place: remember which variable to update.
                    let var = match args.first() {
                        Some(Expr::Name(n)) => Some(n.as_str()),
                        _ => None,
                    };
                    let img = a.first().cloned().unwrap_or(Value::None);
                    return crate::draw::new_draw(self, var, &img);
                }
                self.call(f, a, kw)
            }
            Expr::Subscript(obj, idx) => {
                let o = self.eval(obj)?;
                self.subscript(&o, idx)
            }
            Expr::Unary(op, x) => {
                let v = self.eval(x)?;
                match (op, &v) {
                    (_, Value::Array(a)) => crate::ndarray::unary(self, *op, a),
                    (UnOp::Not, _) => Ok(Value::Bool(!v.truthy())),
                    (UnOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
                    (UnOp::Pos, Value::Float(f)) => Ok(Value::Float(*f)),
                    (UnOp::Neg, _) if v.as_int().is_some() => {
                        v.as_int().and_then(i64::checked_neg).map(Value::Int).ok_or_else(|| PyErr::new("OverflowError", "integer negation overflows"))
                    }
                    (UnOp::Pos, _) if v.as_int().is_some() => Ok(Value::Int(v.as_int().unwrap_or(0))),
                    (UnOp::Invert, _) if v.as_int().is_some() => Ok(Value::Int(!v.as_int().unwrap_or(0))),
                    _ => err("TypeError", format!("bad operand type for unary operator: '{}'", v.type_name())),
                }
            }
            Expr::Bin(a, op, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                self.binop(*op, &x, &y)
            }
            Expr::BoolOp(and, a, b) => {
                let x = self.eval(a)?;
                if truth(&x)? == *and { self.eval(b) } else { Ok(x) }
            }
            Expr::Compare(first, rest) => {
                // `a < b < c` is `(a < b) and (b < c)`; with arrays each
                // comparison is a bool array (whose truth value is an error
                // unless it is the last one, as in numpy).
                let mut left = self.eval(first)?;
                for (i, (op, x)) in rest.iter().enumerate() {
                    let right = self.eval(x)?;
                    let r = match crate::ndarray::compare(self, *op, &left, &right)? {
                        Some(r) => r,
                        None => Value::Bool(cmpop(*op, &left, &right, &mut self.meter)?),
                    };
                    if i + 1 == rest.len() || !truth(&r)? {
                        return Ok(r);
                    }
                    left = right;
                }
                Ok(Value::Bool(true))
            }
            Expr::IfExp { test, body, orelse } => {
                if truth(&self.eval(test)?)? { self.eval(body) } else { self.eval(orelse) }
            }
            Expr::ListComp(elt, comps) => {
                let mut out = Vec::new();
                let saved: Vec<(String, Option<Value>)> =
                    comps.iter().flat_map(|c| target_names(&c.target)).map(|n| (n.clone(), self.scope_for(&n).get(&n).cloned())).collect();
                let r = self.comprehend(elt, comps, &mut out);
                for (n, v) in saved {
                    match v {
                        Some(v) => self.scope_for(&n).insert(n, v),
                        None => self.scope_for(&n).remove(&n),
                    };
                }
                r?;
                Value::list(out)
            }
            Expr::Lambda(def) => self.make_function(def),
        }
    }

    fn comprehend(&mut self, elt: &Expr, comps: &[Comp], out: &mut Vec<Value>) -> PyResult<()> {
        let Some((c, rest)) = comps.split_first() else {
            let v = self.eval(elt)?;
            out.push(v);
            return self.check_len(out.len());
        };
        let it = self.eval(&c.iter)?;
        'outer: for v in self.iterate(&it)? {
            self.tick()?;
            self.assign(&c.target, v)?;
            for cond in &c.conds {
                if !truth(&self.eval(cond)?)? {
                    continue 'outer;
                }
            }
            self.comprehend(elt, rest, out)?;
        }
        Ok(())
    }

    /// `o.name`.
    pub fn get_attr(&mut self, o: &Value, name: &str) -> PyResult<Value> {
        if name.starts_with('_') {
            return err("AttributeError", format!("access to '{name}' is not allowed"));
        }
        crate::builtins::get_attr(self, o, name)
    }

    /// `x op y`; numpy arrays go to [`crate::ndarray::binop`] (budgeted).
    pub fn binop(&mut self, op: BinOp, x: &Value, y: &Value) -> PyResult<Value> {
        if matches!(x, Value::Array(_)) || matches!(y, Value::Array(_)) {
            return crate::ndarray::binop(self, op, x, y);
        }
        binop(op, x, y, self.limits.max_seq_len, self.limits.max_str_bytes, &mut self.meter)
    }

    /// Calls a callable value.
    pub fn call(&mut self, f: Value, args: Vec<Value>, kwargs: Vec<(String, Value)>) -> PyResult<Value> {
        match f {
            Value::Func(name) => crate::builtins::call_func(self, &name, args, kwargs),
            Value::Method(recv, name) => crate::builtins::call_method(self, *recv, &name, args, kwargs),
            Value::Operator(name) => crate::imaging::call_operator(self, &name, args, kwargs),
            Value::Function(c) => self.call_function(&c, args, kwargs),
            Value::ExcType(k) => flow::new_exception(k, args, kwargs, self.limits.max_str_bytes, &mut self.meter),
            other => err("TypeError", format!("'{}' object is not callable", other.type_name())),
        }
    }
}

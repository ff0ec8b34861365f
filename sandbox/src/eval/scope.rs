//! User functions: definition (defaults, captured enclosing locals), calls
//! (argument binding, call-depth limit) and name scopes (locals, then
//! captured enclosing locals, then module variables and builtins).

use std::collections::HashMap;
use std::sync::Arc;

use super::{Flow, Interp};
use crate::ast::{FuncDef, ParamKind};
use crate::error::{err, PyErr, PyResult};
use crate::values::{Seq, Value, MAX_VALUE_DEPTH};

/// Nested user-function calls allowed at once; one more is
/// `RecursionError: maximum recursion depth exceeded`. Far below CPython's
/// 1000 because PVR helpers are shallow and every frame holds values.
pub const MAX_CALL_DEPTH: usize = 64;

/// A function value: its definition plus what was fixed when it was defined.
#[derive(Debug)]
pub struct Closure {
    /// The shared definition.
    pub def: Arc<FuncDef>,
    /// Default values, one slot per parameter, evaluated once at definition.
    pub defaults: Vec<Option<Value>>,
    /// Locals of the enclosing function(s), copied when this one was defined
    /// (`None` for module-level functions, which read module variables live).
    pub captured: Option<Arc<HashMap<String, Value>>>,
    /// Nesting depth as a value (defaults and captured values included), so
    /// chains of functions stay as shallow as containers must.
    pub depth: usize,
}

/// One active call.
pub struct Frame {
    /// The function being run.
    pub func: Arc<Closure>,
    /// Its local variables.
    pub locals: HashMap<String, Value>,
}

impl Interp<'_> {
    /// Resolves a name: the current call's locals, then the enclosing
    /// function's captured locals, then module variables and builtins.
    pub fn lookup(&self, n: &str) -> PyResult<Value> {
        if let Some(f) = self.frames.last() {
            let def = &f.func.def;
            if !def.globals.iter().any(|g| g == n) {
                if let Some(v) = f.locals.get(n) {
                    return Ok(v.clone());
                }
                if def.locals.iter().any(|l| l == n) {
                    return err("UnboundLocalError", format!("cannot access local variable '{n}' where it is not associated with a value"));
                }
                if let Some(env) = &f.func.captured {
                    if let Some(v) = env.get(n) {
                        return Ok(v.clone());
                    }
                    // A nested helper cannot be in its own snapshot, so its
                    // own name is resolved here to let it recurse.
                    if *n == def.name {
                        return Ok(Value::Function(f.func.clone()));
                    }
                }
            }
        }
        self.lookup_global(n)
    }

    /// The variable map an assignment to `n` writes to.
    pub fn scope_for(&mut self, n: &str) -> &mut HashMap<String, Value> {
        match self.frames.last_mut() {
            Some(f) if !f.func.def.globals.iter().any(|g| g == n) => &mut f.locals,
            _ => self.vars,
        }
    }

    /// `n = v` in the current scope.
    pub fn set_var(&mut self, n: &str, v: Value) {
        self.scope_for(n).insert(n.to_string(), v);
    }

    /// Removes a binding from the current scope (the `as e` of an `except`).
    pub fn unset_var(&mut self, n: &str) {
        self.scope_for(n).remove(n);
    }

    /// The variable an in-place change of `n` (`boxes.append(b)`, `d[k] = v`,
    /// drawing) must update: a local, else a module variable, as in Python
    /// where both name one shared object. `None` when `n` is not bound there.
    pub fn var_mut(&mut self, n: &str) -> PyResult<Option<&mut Value>> {
        if let Some(f) = self.frames.last() {
            let def = &f.func.def;
            if !def.globals.iter().any(|g| g == n) {
                if f.locals.contains_key(n) {
                    return Ok(self.frames.last_mut().and_then(|f| f.locals.get_mut(n)));
                }
                if def.locals.iter().any(|l| l == n) {
                    // A local not bound yet: never fall through to a global
                    // of the same name (the read reports UnboundLocalError).
                    return Ok(None);
                }
                if f.func.captured.as_ref().is_some_and(|env| env.contains_key(n)) {
                    // Captured locals are a copy (values are copy-on-write), so
                    // a change here would silently not reach the outer function.
                    return err(
                        "NotImplementedError",
                        format!("changing '{n}' of an enclosing function in place is not supported in this sandbox; return the new value instead"),
                    );
                }
            }
        }
        Ok(self.vars.get_mut(n))
    }

    /// Stores an updated value back into the variable `n` (see [`Self::var_mut`]);
    /// a name bound nowhere yet is assigned in the current scope.
    pub fn rebind(&mut self, n: &str, v: Value) -> PyResult<()> {
        match self.var_mut(n)? {
            Some(slot) => *slot = v,
            None => self.set_var(n, v),
        }
        Ok(())
    }

    /// Makes a function value from a `def` or `lambda`, evaluating defaults now.
    pub fn make_function(&mut self, def: &Arc<FuncDef>) -> PyResult<Value> {
        let mut defaults = Vec::with_capacity(def.params.len());
        for p in &def.params {
            defaults.push(match &p.default {
                Some(e) => Some(self.eval(e)?),
                None => None,
            });
        }
        let captured = self.frames.last().map(|f| {
            let mut env = f.func.captured.as_deref().cloned().unwrap_or_default();
            env.extend(f.locals.iter().map(|(k, v)| (k.clone(), v.clone())));
            Arc::new(env)
        });
        let inner = defaults.iter().flatten().chain(captured.iter().flat_map(|env| env.values()));
        let depth = 1 + inner.map(Value::depth).max().unwrap_or(0);
        if depth > MAX_VALUE_DEPTH {
            return err("RecursionError", format!("functions and containers nested deeper than {MAX_VALUE_DEPTH} levels"));
        }
        Ok(Value::Function(Arc::new(Closure { def: def.clone(), defaults, captured, depth })))
    }

    /// Calls a user function.
    pub fn call_function(&mut self, c: &Arc<Closure>, args: Vec<Value>, kwargs: Vec<(String, Value)>) -> PyResult<Value> {
        if self.frames.len() >= MAX_CALL_DEPTH {
            return err("RecursionError", format!("maximum recursion depth exceeded ({MAX_CALL_DEPTH} nested function calls)"));
        }
        self.tick()?;
        let locals = bind_args(c, args, kwargs, self.limits.max_seq_len)?;
        self.frames.push(Frame { func: c.clone(), locals });
        let r = self.block(&c.def.body);
        self.frames.pop();
        match r? {
            Flow::Return(v) => Ok(v),
            Flow::Normal => Ok(Value::None),
            Flow::Break | Flow::Continue => err("SyntaxError", "'break' or 'continue' outside loop"),
        }
    }
}

/// Binds call arguments to parameters, with CPython's error messages.
fn bind_args(c: &Closure, args: Vec<Value>, kwargs: Vec<(String, Value)>, max_len: usize) -> PyResult<HashMap<String, Value>> {
    let def = &c.def;
    let name = if def.name == "<lambda>" { "<lambda>" } else { def.name.as_str() };
    let mut locals = HashMap::new();
    let mut pos = args.into_iter();
    let n_given = pos.len();
    let normal: Vec<&str> = def.params.iter().filter(|p| p.kind == ParamKind::Normal).map(|p| p.name.as_str()).collect();
    for p in &normal {
        match pos.next() {
            Some(v) => locals.insert(p.to_string(), v),
            None => break,
        };
    }
    let rest: Vec<Value> = pos.collect();
    match def.params.iter().find(|p| p.kind == ParamKind::VarArgs) {
        Some(p) => {
            if rest.len() > max_len {
                return err("MemoryError", format!("more than {max_len} elements (sandbox limit)"));
            }
            locals.insert(p.name.clone(), Value::tuple(rest)?);
        }
        None if !rest.is_empty() => {
            let n = normal.len();
            let s = if n == 1 { "" } else { "s" };
            let was = if n_given == 1 { "was" } else { "were" };
            return err("TypeError", format!("{name}() takes {n} positional argument{s} but {n_given} {was} given"));
        }
        None => {}
    }
    let mut extra = Vec::new();
    for (k, v) in kwargs {
        let named = def.params.iter().any(|p| p.name == k && matches!(p.kind, ParamKind::Normal | ParamKind::KwOnly));
        if named {
            if locals.contains_key(&k) {
                return err("TypeError", format!("{name}() got multiple values for argument '{k}'"));
            }
            locals.insert(k, v);
        } else if def.params.iter().any(|p| p.kind == ParamKind::VarKw) {
            extra.push(Value::tuple(vec![Value::str(k), v])?);
        } else {
            return err("TypeError", format!("{name}() got an unexpected keyword argument '{k}'"));
        }
    }
    if let Some(p) = def.params.iter().find(|p| p.kind == ParamKind::VarKw) {
        locals.insert(p.name.clone(), Value::Dict(Seq::new(extra)?));
    }
    let mut missing = Vec::new();
    for (p, d) in def.params.iter().zip(&c.defaults) {
        if matches!(p.kind, ParamKind::Normal | ParamKind::KwOnly) && !locals.contains_key(&p.name) {
            match d {
                Some(v) => {
                    locals.insert(p.name.clone(), v.clone());
                }
                None => missing.push((format!("'{}'", p.name), p.kind)),
            }
        }
    }
    if let Some(&(_, kind)) = missing.first() {
        let what = if kind == ParamKind::KwOnly { "keyword-only" } else { "positional" };
        let missing: Vec<String> = missing.into_iter().map(|m| m.0).collect();
        let n = missing.len();
        let list = match missing.split_last() {
            Some((last, init)) if !init.is_empty() => format!("{} and {last}", init.join(", ")),
            _ => missing.join(""),
        };
        let s = if n == 1 { "" } else { "s" };
        return Err(PyErr::new("TypeError", format!("{name}() missing {n} required {what} argument{s}: {list}")));
    }
    Ok(locals)
}

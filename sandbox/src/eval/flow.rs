//! `while` loops and exceptions: `try`/`except`/`else`/`finally`, `raise`,
//! the exception classes model code can name, and which errors are sandbox
//! limits that no handler may catch.

use super::{Flow, Interp};
use crate::ast::{Expr, Handler, Stmt};
use crate::error::{err, PyErr, PyResult};
use crate::values::{render, Meter, Value};

/// Exception classes by name, each with its base class (CPython's hierarchy,
/// restricted to the errors this interpreter raises plus their bases).
const CLASSES: [(&str, &str); 27] = [
    ("BaseException", ""),
    ("Exception", "BaseException"),
    ("ArithmeticError", "Exception"),
    ("ZeroDivisionError", "ArithmeticError"),
    ("OverflowError", "ArithmeticError"),
    ("LookupError", "Exception"),
    ("IndexError", "LookupError"),
    ("KeyError", "LookupError"),
    ("ValueError", "Exception"),
    ("TypeError", "Exception"),
    ("NameError", "Exception"),
    ("UnboundLocalError", "NameError"),
    ("AttributeError", "Exception"),
    ("ImportError", "Exception"),
    ("ModuleNotFoundError", "ImportError"),
    ("AssertionError", "Exception"),
    ("RuntimeError", "Exception"),
    ("NotImplementedError", "RuntimeError"),
    ("RecursionError", "RuntimeError"),
    ("OSError", "Exception"),
    ("PermissionError", "OSError"),
    ("FileNotFoundError", "OSError"),
    ("TimeoutError", "OSError"),
    ("MemoryError", "Exception"),
    ("SyntaxError", "Exception"),
    ("IndentationError", "SyntaxError"),
    ("StopIteration", "Exception"),
];

/// The exception class called `n`, if there is one.
pub fn exc_class(n: &str) -> Option<&'static str> {
    CLASSES.iter().find(|(c, _)| *c == n).map(|(c, _)| *c)
}

/// True for the sandbox's own limit errors (step budget and wall time,
/// memory/length/pixel caps, recursion and nesting depth). No `except` clause
/// catches them and no `finally` runs after them: otherwise
/// `while True: try: ... except: pass` could swallow its own timeout.
pub fn is_limit(e: &PyErr) -> bool {
    matches!(e.kind, "TimeoutError" | "MemoryError" | "RecursionError")
}

/// True when an error of class `kind` is an instance of `class`.
fn is_subclass(kind: &str, class: &str) -> bool {
    let mut k = kind;
    for _ in 0..CLASSES.len() {
        if k == class {
            return true;
        }
        // Kinds missing from the table are treated as plain `Exception`s.
        k = CLASSES.iter().find(|(c, _)| *c == k).map(|(_, b)| *b).unwrap_or("Exception");
        if k.is_empty() {
            return false;
        }
    }
    false
}

/// `ValueError("msg")`: an exception instance. Several arguments show as
/// their tuple, as in CPython's `str(e)`.
pub fn new_exception(kind: &'static str, args: Vec<Value>, kwargs: Vec<(String, Value)>, cap: usize, m: &mut Meter) -> PyResult<Value> {
    if let Some((k, _)) = kwargs.first() {
        return err("TypeError", format!("{kind}() takes no keyword arguments (got '{k}')"));
    }
    let msg = match args.len() {
        0 => String::new(),
        // CPython shows a KeyError's key as its repr (`KeyError: 'box'`).
        1 => render(&args[0], kind == "KeyError", cap, m)?,
        _ => render(&Value::tuple(args)?, true, cap, m)?,
    };
    Ok(Value::Exception(kind, msg.into()))
}

impl Interp<'_> {
    pub(super) fn exec_while(&mut self, test: &Expr, body: &[Stmt], orelse: &[Stmt]) -> PyResult<Flow> {
        loop {
            // Every iteration is charged even when the body is empty, so
            // `while True: pass` ends with the step budget like other loops.
            self.tick()?;
            if !crate::ndarray::truth(&self.eval(test)?)? {
                return self.block(orelse);
            }
            match self.block(body)? {
                Flow::Break => return Ok(Flow::Normal),
                Flow::Return(v) => return Ok(Flow::Return(v)),
                Flow::Normal | Flow::Continue => {}
            }
        }
    }

    pub(super) fn exec_try(&mut self, body: &[Stmt], handlers: &[Handler], orelse: &[Stmt], finalbody: &[Stmt]) -> PyResult<Flow> {
        let r = match self.block(body) {
            Err(e) if !is_limit(&e) => self.handle(e, handlers),
            Ok(Flow::Normal) => self.block(orelse),
            other => other,
        };
        if finalbody.is_empty() || r.as_ref().is_err_and(is_limit) {
            return r;
        }
        // An exception, `return` or `break` in `finally` replaces the outcome.
        match self.block(finalbody)? {
            Flow::Normal => r,
            f => Ok(f),
        }
    }

    /// Runs the first handler matching `e`; `Err(e)` again when none does.
    fn handle(&mut self, e: PyErr, handlers: &[Handler]) -> PyResult<Flow> {
        for h in handlers {
            if let Some(t) = &h.types {
                let class = self.eval(t).map_err(|x| x.with_line(h.line))?;
                if !self.matches(e.kind, &class).map_err(|x| x.with_line(h.line))? {
                    continue;
                }
            }
            if let Some(n) = &h.name {
                self.set_var(n, Value::Exception(e.kind, e.msg.as_str().into()));
            }
            self.handling.push(e);
            let r = self.block(&h.body);
            self.handling.pop();
            if let Some(n) = &h.name {
                // CPython deletes the name after the handler.
                self.unset_var(n);
            }
            return r;
        }
        Err(e)
    }

    fn matches(&self, kind: &str, class: &Value) -> PyResult<bool> {
        match class {
            Value::ExcType(c) => Ok(is_subclass(kind, c)),
            Value::Tuple(s) => {
                for c in &s.items {
                    if self.matches(kind, c)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            _ => err("TypeError", "catching classes that do not inherit from BaseException is not allowed"),
        }
    }

    /// The error a `raise` statement raises.
    pub(super) fn raise(&mut self, exc: Option<&Expr>, cause: Option<&Expr>) -> PyResult<PyErr> {
        let Some(exc) = exc else {
            return match self.handling.last() {
                Some(e) => Ok(e.clone()),
                None => err("RuntimeError", "No active exception to reraise"),
            };
        };
        let v = self.eval(exc)?;
        if let Some(c) = cause {
            // `raise X from Y`: the cause is evaluated for its errors only.
            self.eval(c)?;
        }
        match v {
            Value::ExcType(k) => Ok(PyErr::new(k, "")),
            Value::Exception(k, m) => Ok(PyErr::new(k, &*m)),
            other => err("TypeError", format!("exceptions must derive from BaseException, not '{}'", other.type_name())),
        }
    }
}

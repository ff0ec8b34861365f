//! Compound statements added for model-written helpers: `while`, `def`,
//! `lambda` parameters and `try`/`except`/`else`/`finally`.

use std::sync::Arc;

use super::{unsupported, Parser};
use crate::ast::*;
use crate::error::PyResult;
use crate::lexer::Tok;

impl Parser {
    /// True at the end of a simple statement (`return` / `raise` without a value).
    pub(super) fn at_end(&self) -> bool {
        matches!(self.peek(), Tok::Newline | Tok::Eof | Tok::Dedent) || self.at_op(";")
    }

    pub(super) fn while_stmt(&mut self, line: Line) -> PyResult<Stmt> {
        self.advance();
        let test = self.expr()?;
        let body = self.block()?;
        let orelse = if self.eat_kw("else") { self.block()? } else { Vec::new() };
        Ok(Stmt { line, kind: StmtKind::While(test, body, orelse) })
    }

    pub(super) fn def_stmt(&mut self, line: Line) -> PyResult<Stmt> {
        self.advance();
        let name = self.name()?;
        self.expect_op("(")?;
        let params = self.params(true)?;
        if self.eat_op("->") {
            // Return annotations are accepted and ignored, as models write them.
            self.expr()?;
        }
        self.funcs += 1;
        let body = self.block();
        self.funcs -= 1;
        Ok(Stmt { line, kind: StmtKind::FuncDef(Arc::new(make_def(name, params, body?, line))) })
    }

    /// `lambda params: expr`; the caller is at the `lambda` keyword.
    pub(super) fn lambda(&mut self) -> PyResult<Expr> {
        let line = self.line();
        self.advance();
        let params = self.params(false)?;
        self.expect_op(":")?;
        let body = self.expr()?;
        let ret = Stmt { line, kind: StmtKind::Return(Some(body)) };
        Ok(Expr::Lambda(Arc::new(make_def("<lambda>".into(), params, vec![ret], line))))
    }

    /// Parameters up to and including `)` for a `def` (`in_parens`), or up to
    /// (not including) the `:` of a lambda.
    fn params(&mut self, in_parens: bool) -> PyResult<Vec<Param>> {
        let mut params: Vec<Param> = Vec::new();
        let mut kw_only = false;
        loop {
            if (in_parens && self.eat_op(")")) || (!in_parens && self.at_op(":")) {
                break;
            }
            if params.last().is_some_and(|p| p.kind == ParamKind::VarKw) {
                return self.err("arguments cannot follow var-keyword argument");
            }
            let param = if self.eat_op("**") {
                Param { name: self.name()?, default: None, kind: ParamKind::VarKw }
            } else if self.eat_op("*") {
                if kw_only {
                    return self.err("* argument may appear only once");
                }
                kw_only = true;
                if self.at_op(",") {
                    self.advance();
                    continue;
                }
                Param { name: self.name()?, default: None, kind: ParamKind::VarArgs }
            } else if self.at_op("/") {
                return self.err(unsupported("positional-only parameters ('/') are"));
            } else {
                let name = self.name()?;
                if in_parens && self.eat_op(":") {
                    // Parameter annotations are accepted and ignored.
                    self.expr()?;
                }
                let default = if self.eat_op("=") { Some(self.expr()?) } else { None };
                if default.is_none() && !kw_only && params.iter().any(|p| p.default.is_some() && p.kind == ParamKind::Normal) {
                    return self.err("parameter without a default follows parameter with a default");
                }
                Param { name, default, kind: if kw_only { ParamKind::KwOnly } else { ParamKind::Normal } }
            };
            if in_parens && param.kind != ParamKind::Normal && param.kind != ParamKind::KwOnly && self.eat_op(":") {
                self.expr()?;
            }
            if params.iter().any(|p| p.name == param.name) {
                return self.err(format!("duplicate argument '{}' in function definition", param.name));
            }
            params.push(param);
            if !self.eat_op(",") {
                if in_parens {
                    self.expect_op(")")?;
                }
                break;
            }
        }
        Ok(params)
    }

    pub(super) fn try_stmt(&mut self, line: Line) -> PyResult<Stmt> {
        self.advance();
        let body = self.block()?;
        let mut handlers: Vec<Handler> = Vec::new();
        while self.at_kw("except") {
            let hline = self.line();
            self.advance();
            if handlers.last().is_some_and(|h| h.types.is_none()) {
                return self.err("default 'except:' must be last");
            }
            if self.at_op("*") {
                return self.err(unsupported("'except*' is"));
            }
            let types = if self.at_op(":") { None } else { Some(self.expr()?) };
            let name = if types.is_some() && self.eat_kw("as") { Some(self.name()?) } else { None };
            handlers.push(Handler { types, name, body: self.block()?, line: hline });
        }
        let orelse = if !handlers.is_empty() && self.eat_kw("else") { self.block()? } else { Vec::new() };
        let finalbody = if self.eat_kw("finally") { self.block()? } else { Vec::new() };
        if handlers.is_empty() && finalbody.is_empty() {
            return self.err("expected 'except' or 'finally' block");
        }
        Ok(Stmt { line, kind: StmtKind::Try { body, handlers, orelse, finalbody } })
    }
}

/// Builds a [`FuncDef`], working out which names are local to its calls.
fn make_def(name: String, params: Vec<Param>, body: Vec<Stmt>, line: Line) -> FuncDef {
    let mut assigned: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let mut globals = Vec::new();
    collect_names(&body, &mut assigned, &mut globals);
    let mut locals: Vec<String> = Vec::new();
    for n in assigned {
        if !globals.contains(&n) && !locals.contains(&n) {
            locals.push(n);
        }
    }
    FuncDef { name, params, body, locals, globals, line }
}

/// Names a body binds, and the names it declares `global`; nested function
/// bodies have their own scope and are not entered.
fn collect_names(body: &[Stmt], out: &mut Vec<String>, globals: &mut Vec<String>) {
    for s in body {
        match &s.kind {
            StmtKind::Assign(ts, _) => ts.iter().for_each(|t| target_names(t, out)),
            StmtKind::AugAssign(t, ..) => target_names(t, out),
            StmtKind::For(t, _, b) => {
                target_names(t, out);
                collect_names(b, out, globals);
            }
            StmtKind::If(branches, orelse) => {
                branches.iter().for_each(|(_, b)| collect_names(b, out, globals));
                collect_names(orelse, out, globals);
            }
            StmtKind::While(_, b, orelse) => {
                collect_names(b, out, globals);
                collect_names(orelse, out, globals);
            }
            StmtKind::Import(names) => {
                out.extend(names.iter().map(|(m, a)| a.clone().unwrap_or_else(|| m.split('.').next().unwrap_or(m).to_string())));
            }
            StmtKind::FromImport(_, names) => out.extend(names.iter().map(|(n, a)| a.clone().unwrap_or_else(|| n.clone()))),
            StmtKind::FuncDef(d) => out.push(d.name.clone()),
            StmtKind::Global(ns) => globals.extend(ns.iter().cloned()),
            StmtKind::Try { body, handlers, orelse, finalbody } => {
                collect_names(body, out, globals);
                for h in handlers {
                    out.extend(h.name.iter().cloned());
                    collect_names(&h.body, out, globals);
                }
                collect_names(orelse, out, globals);
                collect_names(finalbody, out, globals);
            }
            _ => {}
        }
    }
}

fn target_names(t: &Target, out: &mut Vec<String>) {
    match t {
        Target::Name(n) => out.push(n.clone()),
        Target::Tuple(ts) => ts.iter().for_each(|t| target_names(t, out)),
        Target::Subscript(..) => {}
    }
}

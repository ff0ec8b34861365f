//! Recursive-descent / precedence-climbing parser from tokens to the [`crate::ast`].
//! Unsupported constructs are rejected here with a Python-style `SyntaxError`.

use crate::ast::*;
use crate::error::{PyErr, PyResult};
use crate::lexer::{tokenize, Tok, Token};

mod expr;
mod stmt;

/// Maximum nesting of expressions and blocks (deeper is a `RecursionError`).
pub const MAX_NESTING: usize = 100;

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Parses a whole program.
pub fn parse_program(src: &str) -> PyResult<Vec<Stmt>> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0, depth: 0, funcs: 0 };
    let mut body = Vec::new();
    while !p.at(&Tok::Eof) {
        if p.eat(&Tok::Newline) {
            continue;
        }
        if p.at(&Tok::Indent) {
            return Err(PyErr::at("IndentationError", "unexpected indent", p.line()));
        }
        p.statement(&mut body)?;
    }
    Ok(body)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Function bodies (`def`) being parsed: `return` is legal only inside one.
    funcs: usize,
}

fn unsupported(what: &str) -> String {
    format!("{what} not supported in this sandbox")
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    fn peek_at(&self, k: usize) -> &Tok {
        self.toks.get(self.pos + k).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    fn line(&self) -> Line {
        self.toks.get(self.pos).or(self.toks.last()).map(|t| t.line).unwrap_or(1)
    }
    fn at(&self, t: &Tok) -> bool {
        self.peek() == t
    }
    fn at_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }
    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.at(t);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn eat_op(&mut self, op: &str) -> bool {
        let hit = self.at_op(op);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.at_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn err<T>(&self, msg: impl Into<String>) -> PyResult<T> {
        Err(PyErr::at("SyntaxError", msg, self.line()))
    }
    fn invalid<T>(&self) -> PyResult<T> {
        let near = match self.peek() {
            Tok::Name(n) => format!(" near '{n}'"),
            Tok::Op(o) => format!(" near '{o}'"),
            Tok::Newline | Tok::Eof => " (unexpected end of line)".into(),
            Tok::Indent => return Err(PyErr::at("IndentationError", "unexpected indent", self.line())),
            Tok::Dedent => return Err(PyErr::at("IndentationError", "unexpected unindent", self.line())),
            _ => String::new(),
        };
        self.err(format!("invalid syntax{near}"))
    }
    fn expect_op(&mut self, op: &str) -> PyResult<()> {
        if self.eat_op(op) { Ok(()) } else { self.err(format!("expected '{op}'")) }
    }
    fn enter(&mut self) -> PyResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(PyErr::at("RecursionError", format!("maximum nesting depth ({MAX_NESTING}) exceeded while parsing"), self.line()));
        }
        Ok(())
    }
    fn name(&mut self) -> PyResult<String> {
        match self.advance() {
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => Ok(n),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                self.err("expected a name")
            }
        }
    }

    // ----- statements -----

    fn statement(&mut self, out: &mut Vec<Stmt>) -> PyResult<()> {
        let line = self.line();
        let kw = match self.peek() { Tok::Name(n) => n.clone(), _ => String::new() };
        match kw.as_str() {
            "if" => {
                self.advance();
                let mut branches = vec![(self.expr()?, self.block()?)];
                let mut orelse = Vec::new();
                loop {
                    if self.eat_kw("elif") {
                        branches.push((self.expr()?, self.block()?));
                    } else if self.eat_kw("else") {
                        orelse = self.block()?;
                        break;
                    } else {
                        break;
                    }
                }
                out.push(Stmt { line, kind: StmtKind::If(branches, orelse) });
            }
            "for" => {
                self.advance();
                let target = self.target_list()?;
                if !self.eat_kw("in") {
                    return self.err("expected 'in' in for statement");
                }
                let iter = self.testlist()?;
                let body = self.block()?;
                if self.at_kw("else") {
                    return self.err(unsupported("'for ... else' is"));
                }
                out.push(Stmt { line, kind: StmtKind::For(target, iter, body) });
            }
            "while" => out.push(self.while_stmt(line)?),
            "def" => out.push(self.def_stmt(line)?),
            "class" => return self.err(unsupported("class definitions are")),
            "try" => out.push(self.try_stmt(line)?),
            "except" | "finally" => return self.invalid(),
            "with" => return self.err(unsupported("'with' statements are")),
            "async" | "await" => return self.err(unsupported("'async' code is")),
            "else" | "elif" => return self.invalid(),
            _ if self.at_op("@") => return self.err(unsupported("decorators are")),
            _ => {
                loop {
                    let s = self.small_statement()?;
                    out.push(Stmt { line, kind: s });
                    if !self.eat_op(";") || self.at(&Tok::Newline) {
                        break;
                    }
                }
                if !self.eat(&Tok::Newline) && !self.at(&Tok::Eof) {
                    return self.invalid();
                }
            }
        }
        Ok(())
    }

    fn block(&mut self) -> PyResult<Vec<Stmt>> {
        self.expect_op(":")?;
        self.enter()?;
        let mut body = Vec::new();
        if self.eat(&Tok::Newline) {
            if !self.eat(&Tok::Indent) {
                return Err(PyErr::at("IndentationError", "expected an indented block", self.line()));
            }
            while !self.eat(&Tok::Dedent) {
                if self.at(&Tok::Eof) {
                    break;
                }
                if self.at(&Tok::Indent) {
                    return Err(PyErr::at("IndentationError", "unexpected indent", self.line()));
                }
                self.statement(&mut body)?;
            }
        } else {
            self.statement(&mut body)?;
        }
        self.depth -= 1;
        Ok(body)
    }

    fn dotted(&mut self) -> PyResult<String> {
        let mut n = self.name()?;
        while self.eat_op(".") {
            n += ".";
            n += &self.name()?;
        }
        Ok(n)
    }

    fn alias(&mut self, dotted: bool) -> PyResult<(String, Option<String>)> {
        let n = if dotted { self.dotted()? } else { self.name()? };
        let a = if self.eat_kw("as") { Some(self.name()?) } else { None };
        Ok((n, a))
    }

    fn small_statement(&mut self) -> PyResult<StmtKind> {
        let kw = match self.peek() { Tok::Name(n) => n.clone(), _ => String::new() };
        match kw.as_str() {
            "pass" => { self.advance(); Ok(StmtKind::Pass) }
            "break" => { self.advance(); Ok(StmtKind::Break) }
            "continue" => { self.advance(); Ok(StmtKind::Continue) }
            "import" => {
                self.advance();
                let mut names = vec![self.alias(true)?];
                while self.eat_op(",") {
                    names.push(self.alias(true)?);
                }
                Ok(StmtKind::Import(names))
            }
            "from" => {
                self.advance();
                if self.at_op(".") {
                    return self.err(unsupported("relative imports are"));
                }
                let module = self.dotted()?;
                if !self.eat_kw("import") {
                    return self.err("expected 'import'");
                }
                if self.at_op("*") {
                    return self.err(unsupported("'from ... import *' is"));
                }
                let paren = self.eat_op("(");
                let mut names = vec![self.alias(false)?];
                while self.eat_op(",") {
                    if paren && self.at_op(")") {
                        break;
                    }
                    names.push(self.alias(false)?);
                }
                if paren {
                    self.expect_op(")")?;
                }
                Ok(StmtKind::FromImport(module, names))
            }
            "assert" => {
                self.advance();
                let test = self.expr()?;
                let msg = if self.eat_op(",") { Some(self.expr()?) } else { None };
                Ok(StmtKind::Assert(test, msg))
            }
            "return" if self.funcs == 0 => self.err("'return' outside function"),
            "return" => {
                self.advance();
                Ok(StmtKind::Return(if self.at_end() { None } else { Some(self.testlist()?) }))
            }
            "yield" if self.funcs == 0 => self.err("'yield' outside function"),
            "yield" => self.err(unsupported("generators ('yield') are")),
            "global" => {
                self.advance();
                let mut names = vec![self.name()?];
                while self.eat_op(",") {
                    names.push(self.name()?);
                }
                Ok(StmtKind::Global(names))
            }
            "nonlocal" => self.err(unsupported("'nonlocal' is")),
            "del" => self.err(unsupported("'del' is")),
            "raise" => {
                self.advance();
                if self.at_end() {
                    return Ok(StmtKind::Raise(None, None));
                }
                let exc = self.expr()?;
                let cause = if self.eat_kw("from") { Some(self.expr()?) } else { None };
                Ok(StmtKind::Raise(Some(exc), cause))
            }
            _ => self.expr_statement(),
        }
    }

    fn expr_statement(&mut self) -> PyResult<StmtKind> {
        let first = self.testlist()?;
        let aug = match self.peek() {
            Tok::Op(o) => match *o {
                "+=" => Some(BinOp::Add), "-=" => Some(BinOp::Sub), "*=" => Some(BinOp::Mul), "/=" => Some(BinOp::Div),
                "//=" => Some(BinOp::FloorDiv), "%=" => Some(BinOp::Mod), "**=" => Some(BinOp::Pow),
                "&=" => Some(BinOp::BitAnd), "|=" => Some(BinOp::BitOr), "^=" => Some(BinOp::BitXor),
                "<<=" => Some(BinOp::Shl), ">>=" => Some(BinOp::Shr),
                _ => None,
            },
            _ => None,
        };
        if let Some(op) = aug {
            self.advance();
            let target = self.to_target(first)?;
            if matches!(target, Target::Tuple(_)) {
                return self.err("illegal expression for augmented assignment");
            }
            return Ok(StmtKind::AugAssign(target, op, self.testlist()?));
        }
        if self.at_op(":") {
            return self.err(unsupported("annotations are"));
        }
        if !self.at_op("=") {
            return Ok(StmtKind::Expr(first));
        }
        let mut exprs = vec![first];
        while self.eat_op("=") {
            exprs.push(self.testlist()?);
        }
        let value = exprs.pop().ok_or_else(|| PyErr::new("SyntaxError", "invalid assignment"))?;
        let targets = exprs.into_iter().map(|e| self.to_target(e)).collect::<PyResult<Vec<_>>>()?;
        Ok(StmtKind::Assign(targets, value))
    }

    fn to_target(&self, e: Expr) -> PyResult<Target> {
        match e {
            Expr::Name(n) => Ok(Target::Name(n)),
            Expr::Tuple(v) | Expr::List(v) => Ok(Target::Tuple(v.into_iter().map(|x| self.to_target(x)).collect::<PyResult<_>>()?)),
            Expr::Subscript(x, i) => Ok(Target::Subscript(*x, *i)),
            Expr::Attr(_, a) => self.err(unsupported(&format!("assigning to attributes ('.{a} = ...') is"))),
            Expr::Call { .. } => self.err("cannot assign to function call"),
            Expr::Const(_) | Expr::FStr(_) => self.err("cannot assign to literal"),
            _ => self.err("cannot assign to expression"),
        }
    }

    fn target_list(&mut self) -> PyResult<Target> {
        let mut items = vec![self.bitor()?];
        let mut tuple = false;
        while self.eat_op(",") {
            tuple = true;
            if self.at_kw("in") {
                break;
            }
            items.push(self.bitor()?);
        }
        let e = if tuple { Expr::Tuple(items) } else { items.pop().unwrap_or(Expr::Const(Const::None)) };
        self.to_target(e)
    }
}

//! Expression parsing (precedence climbing), f-strings and comprehensions.

use super::{unsupported, Parser, KEYWORDS};
use crate::ast::*;
use crate::error::{PyErr, PyResult};
use crate::lexer::{tokenize, unescape, Tok};

impl Parser {
    // ----- expressions -----

    /// `a, b` without brackets (a tuple) or a single expression.
    pub(super) fn testlist(&mut self) -> PyResult<Expr> {
        let first = self.expr()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at(&Tok::Newline) || self.at_op("=") || self.at_op(")") || self.at(&Tok::Eof) || self.at_op(":") {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Expr::Tuple(items))
    }

    pub(super) fn expr(&mut self) -> PyResult<Expr> {
        self.enter()?;
        if self.at_kw("lambda") {
            let e = self.lambda();
            self.depth -= 1;
            return e;
        }
        if self.at_kw("yield") || self.at_kw("await") {
            return self.err(unsupported("'yield'/'await' is"));
        }
        let body = self.or_expr()?;
        let e = if self.eat_kw("if") {
            let test = self.or_expr()?;
            if !self.eat_kw("else") {
                return self.err("expected 'else' after 'if' expression");
            }
            let orelse = self.expr()?;
            Expr::IfExp { test: Box::new(test), body: Box::new(body), orelse: Box::new(orelse) }
        } else {
            body
        };
        if self.at_op(":=") {
            return self.err(unsupported("the walrus operator ':=' is"));
        }
        self.depth -= 1;
        Ok(e)
    }

    pub(super) fn or_expr(&mut self) -> PyResult<Expr> {
        let mut e = self.and_expr()?;
        let d = self.depth;
        while self.eat_kw("or") {
            self.enter()?;
            e = Expr::BoolOp(false, Box::new(e), Box::new(self.and_expr()?));
        }
        self.depth = d;
        Ok(e)
    }

    pub(super) fn and_expr(&mut self) -> PyResult<Expr> {
        let mut e = self.not_expr()?;
        let d = self.depth;
        while self.eat_kw("and") {
            self.enter()?;
            e = Expr::BoolOp(true, Box::new(e), Box::new(self.not_expr()?));
        }
        self.depth = d;
        Ok(e)
    }

    pub(super) fn not_expr(&mut self) -> PyResult<Expr> {
        if self.eat_kw("not") {
            self.enter()?;
            let e = Expr::Unary(UnOp::Not, Box::new(self.not_expr()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.comparison()
    }

    pub(super) fn comparison(&mut self) -> PyResult<Expr> {
        let first = self.bitor()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("==") => CmpOp::Eq, Tok::Op("!=") => CmpOp::Ne, Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le, Tok::Op(">") => CmpOp::Gt, Tok::Op(">=") => CmpOp::Ge,
                Tok::Name(n) if n == "in" => CmpOp::In,
                Tok::Name(n) if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") => {
                    self.advance();
                    CmpOp::NotIn
                }
                Tok::Name(n) if n == "is" => {
                    if matches!(self.peek_at(1), Tok::Name(m) if m == "not") {
                        self.advance();
                        CmpOp::IsNot
                    } else {
                        CmpOp::Is
                    }
                }
                _ => break,
            };
            self.advance();
            rest.push((op, self.bitor()?));
        }
        Ok(if rest.is_empty() { first } else { Expr::Compare(Box::new(first), rest) })
    }

    pub(super) fn bitor(&mut self) -> PyResult<Expr> {
        self.binary(0)
    }

    /// Precedence climbing over the left-associative binary operator levels.
    pub(super) fn binary(&mut self, level: usize) -> PyResult<Expr> {
        const LEVELS: [&[(&str, BinOp)]; 6] = [
            &[("|", BinOp::BitOr)],
            &[("^", BinOp::BitXor)],
            &[("&", BinOp::BitAnd)],
            &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("//", BinOp::FloorDiv), ("%", BinOp::Mod)],
        ];
        let Some(ops) = LEVELS.get(level) else { return self.unary() };
        let mut e = self.binary(level + 1)?;
        let d = self.depth;
        loop {
            if self.at_op("@") {
                return self.err(unsupported("the '@' operator is"));
            }
            let Tok::Op(o) = self.peek() else { break };
            let Some(&(_, op)) = ops.iter().find(|(s, _)| s == o) else { break };
            self.advance();
            self.enter()?;
            e = Expr::Bin(Box::new(e), op, Box::new(self.binary(level + 1)?));
        }
        self.depth = d;
        Ok(e)
    }

    pub(super) fn unary(&mut self) -> PyResult<Expr> {
        let op = match self.peek() {
            Tok::Op("-") => Some(UnOp::Neg),
            Tok::Op("+") => Some(UnOp::Pos),
            Tok::Op("~") => Some(UnOp::Invert),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(match (op, inner) {
                (UnOp::Neg, Expr::Const(Const::Int(v))) if v != i64::MIN => Expr::Const(Const::Int(-v)),
                (UnOp::Neg, Expr::Const(Const::Float(v))) => Expr::Const(Const::Float(-v)),
                (op, inner) => Expr::Unary(op, Box::new(inner)),
            });
        }
        self.power()
    }

    pub(super) fn power(&mut self) -> PyResult<Expr> {
        let base = self.primary()?;
        if self.eat_op("**") {
            self.enter()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Bin(Box::new(base), BinOp::Pow, Box::new(exp)));
        }
        Ok(base)
    }

    pub(super) fn primary(&mut self) -> PyResult<Expr> {
        let mut e = self.atom()?;
        let d = self.depth;
        loop {
            if self.eat_op(".") {
                self.enter()?;
                e = Expr::Attr(Box::new(e), self.name()?);
            } else if self.eat_op("(") {
                self.enter()?;
                e = self.call(e)?;
            } else if self.eat_op("[") {
                self.enter()?;
                let idx = self.subscript()?;
                self.expect_op("]")?;
                e = Expr::Subscript(Box::new(e), Box::new(idx));
            } else {
                break;
            }
        }
        self.depth = d;
        Ok(e)
    }

    pub(super) fn call(&mut self, func: Expr) -> PyResult<Expr> {
        let (mut args, mut kwargs) = (Vec::new(), Vec::<(String, Expr)>::new());
        while !self.eat_op(")") {
            if self.at_op("*") || self.at_op("**") {
                return self.err(unsupported("'*args' / '**kwargs' in calls are"));
            }
            if matches!(self.peek(), Tok::Name(_)) && matches!(self.peek_at(1), Tok::Op("=")) {
                let k = self.name()?;
                self.advance();
                if kwargs.iter().any(|(n, _)| *n == k) {
                    return self.err(format!("keyword argument repeated: {k}"));
                }
                kwargs.push((k, self.expr()?));
            } else {
                if !kwargs.is_empty() {
                    return self.err("positional argument follows keyword argument");
                }
                let a = self.expr()?;
                if self.at_kw("for") {
                    let comps = self.comprehension()?;
                    args.push(Expr::ListComp(Box::new(a), comps));
                } else {
                    args.push(a);
                }
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok(Expr::Call { func: Box::new(func), args, kwargs })
    }

    pub(super) fn subscript(&mut self) -> PyResult<Index> {
        let mut items = vec![self.slice_item()?];
        let mut multi = false;
        while self.eat_op(",") {
            multi = true;
            if self.at_op("]") {
                break;
            }
            items.push(self.slice_item()?);
        }
        Ok(if multi { Index::Multi(items) } else { items.pop().unwrap_or(Index::Slice(None, None, None)) })
    }

    pub(super) fn slice_item(&mut self) -> PyResult<Index> {
        let stop_here = |p: &Self| p.at_op(":") || p.at_op("]") || p.at_op(",");
        let lo = if stop_here(self) { None } else { Some(self.expr()?) };
        if !self.eat_op(":") {
            return lo.map(Index::Single).ok_or_else(|| PyErr::at("SyntaxError", "invalid subscript", self.line()));
        }
        let hi = if stop_here(self) { None } else { Some(self.expr()?) };
        let step = if self.eat_op(":") && !stop_here(self) { Some(self.expr()?) } else { None };
        Ok(Index::Slice(lo, hi, step))
    }

    pub(super) fn comprehension(&mut self) -> PyResult<Vec<Comp>> {
        let mut comps = Vec::new();
        let d = self.depth;
        while self.eat_kw("for") {
            self.enter()?;
            let target = self.target_list()?;
            if !self.eat_kw("in") {
                return self.err("expected 'in' in comprehension");
            }
            let iter = self.or_expr()?;
            let mut conds = Vec::new();
            while self.eat_kw("if") {
                conds.push(self.or_expr()?);
            }
            comps.push(Comp { target, iter, conds });
        }
        self.depth = d;
        Ok(comps)
    }

    pub(super) fn atom(&mut self) -> PyResult<Expr> {
        let line = self.line();
        match self.advance() {
            Tok::Int(v) => Ok(Expr::Const(Const::Int(v))),
            Tok::Float(v) => Ok(Expr::Const(Const::Float(v))),
            t @ (Tok::Str(_) | Tok::FStr(..)) => {
                let mut parts = Vec::new();
                let mut fstring = false;
                let mut t = t;
                loop {
                    match t {
                        Tok::Str(s) => parts.push(FPart::Lit(s)),
                        Tok::FStr(body, raw) => {
                            fstring = true;
                            parts.extend(self.fstring(&body, raw, line)?);
                        }
                        _ => break,
                    }
                    if matches!(self.peek(), Tok::Str(_) | Tok::FStr(..)) {
                        t = self.advance();
                    } else {
                        break;
                    }
                }
                if !fstring {
                    let s: String = parts.into_iter().map(|p| if let FPart::Lit(s) = p { s } else { String::new() }).collect();
                    return Ok(Expr::Const(Const::Str(s)));
                }
                Ok(Expr::FStr(parts))
            }
            Tok::Name(n) => match n.as_str() {
                "None" => Ok(Expr::Const(Const::None)),
                "True" => Ok(Expr::Const(Const::Bool(true))),
                "False" => Ok(Expr::Const(Const::Bool(false))),
                "yield" | "await" => self.err(unsupported(&format!("'{n}' is"))),
                k if KEYWORDS.contains(&k) => {
                    self.pos -= 1;
                    self.invalid()
                }
                _ => Ok(Expr::Name(n)),
            },
            Tok::Op("(") => {
                self.enter()?;
                if self.eat_op(")") {
                    self.depth -= 1;
                    return Ok(Expr::Tuple(vec![]));
                }
                let first = self.expr()?;
                let e = if self.at_kw("for") {
                    Expr::ListComp(Box::new(first), self.comprehension()?)
                } else if self.at_op(",") {
                    let mut items = vec![first];
                    while self.eat_op(",") {
                        if self.at_op(")") {
                            break;
                        }
                        items.push(self.expr()?);
                    }
                    Expr::Tuple(items)
                } else {
                    first
                };
                self.expect_op(")")?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Op("[") => {
                self.enter()?;
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    let item = self.expr()?;
                    if items.is_empty() && self.at_kw("for") {
                        let comps = self.comprehension()?;
                        self.expect_op("]")?;
                        self.depth -= 1;
                        return Ok(Expr::ListComp(Box::new(item), comps));
                    }
                    items.push(item);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                self.enter()?;
                let mut items = Vec::new();
                while !self.eat_op("}") {
                    let k = self.expr()?;
                    if !self.eat_op(":") {
                        return self.err(unsupported("set literals and dict comprehensions are"));
                    }
                    let v = self.expr()?;
                    if self.at_kw("for") {
                        return self.err(unsupported("dict comprehensions are"));
                    }
                    items.push((k, v));
                    if !self.eat_op(",") {
                        self.expect_op("}")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Expr::Dict(items))
            }
            Tok::Op("...") => self.err(unsupported("'...' (Ellipsis) is")),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                self.invalid()
            }
        }
    }

    /// Splits an f-string body into literal text and `{expr!c:spec}` fields.
    pub(super) fn fstring(&mut self, body: &str, raw: bool, line: Line) -> PyResult<Vec<FPart>> {
        let chars: Vec<char> = body.chars().collect();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        let flush = |lit: &mut String, parts: &mut Vec<FPart>| -> PyResult<()> {
            if !lit.is_empty() {
                let s = if raw { std::mem::take(lit) } else { unescape(&std::mem::take(lit), line)? };
                parts.push(FPart::Lit(s));
            }
            Ok(())
        };
        let ferr = |m: &str| PyErr::at("SyntaxError", format!("f-string: {m}"), line);
        while let Some(&c) = chars.get(i) {
            if c == '}' {
                if chars.get(i + 1) != Some(&'}') {
                    return Err(ferr("single '}' is not allowed"));
                }
                lit.push('}');
                i += 2;
                continue;
            }
            if c != '{' {
                lit.push(c);
                i += 1;
                continue;
            }
            if chars.get(i + 1) == Some(&'{') {
                lit.push('{');
                i += 2;
                continue;
            }
            flush(&mut lit, &mut parts)?;
            // Find the end of the expression: a top-level '}', '!' (not '!='), or ':'.
            let (mut j, mut depth, mut quote) = (i + 1, 0i32, None::<char>);
            let end = loop {
                let Some(&d) = chars.get(j) else { return Err(ferr("expecting '}'")) };
                match (quote, d) {
                    (Some(q), d) if d == q => quote = None,
                    (Some(_), _) => {}
                    (None, '\'' | '"') => quote = Some(d),
                    (None, '(' | '[' | '{') => depth += 1,
                    (None, ')' | ']') => depth -= 1,
                    (None, '}') if depth > 0 => depth -= 1,
                    (None, '}') => break j,
                    (None, ':') if depth == 0 => break j,
                    (None, '!') if depth == 0 && chars.get(j + 1) != Some(&'=') => break j,
                    _ => {}
                }
                j += 1;
            };
            let src: String = chars[i + 1..end].iter().collect();
            if src.trim().is_empty() {
                return Err(ferr("empty expression not allowed"));
            }
            // `{x=}` (self-documenting): the text, then the repr unless a spec is given.
            let trimmed = src.trim_end();
            let debug = trimmed.ends_with('=') && !["==", "!=", "<=", ">="].iter().any(|op| trimmed.ends_with(op));
            if debug {
                lit.push_str(&src);
                flush(&mut lit, &mut parts)?;
            }
            let expr_src = if debug { &trimmed[..trimmed.len() - 1] } else { src.as_str() };
            let expr = self.sub_expression(expr_src, line)?;
            let mut k = end;
            let mut conv = None;
            if chars.get(k) == Some(&'!') {
                conv = chars.get(k + 1).copied();
                if !matches!(conv, Some('r' | 's' | 'a')) {
                    return Err(ferr("invalid conversion character: expected 's', 'r', or 'a'"));
                }
                k += 2;
            }
            let mut spec = String::new();
            if chars.get(k) == Some(&':') {
                k += 1;
                while let Some(&d) = chars.get(k) {
                    if d == '}' {
                        break;
                    }
                    if d == '{' {
                        return Err(ferr("nested replacement fields in format specs are not supported in this sandbox"));
                    }
                    spec.push(d);
                    k += 1;
                }
            }
            if chars.get(k) != Some(&'}') {
                return Err(ferr("expecting '}'"));
            }
            if debug && conv.is_none() && spec.is_empty() {
                conv = Some('r');
            }
            parts.push(FPart::Field { expr, conv, spec });
            i = k + 1;
        }
        flush(&mut lit, &mut parts)?;
        Ok(parts)
    }

    pub(super) fn sub_expression(&mut self, src: &str, line: Line) -> PyResult<Expr> {
        let fix = |e: PyErr| PyErr { line: Some(line), msg: format!("f-string: {}", e.msg), ..e };
        let mut toks = tokenize(&format!("({})", src.trim())).map_err(fix)?;
        for t in &mut toks {
            t.line = line;
        }
        let mut sub = Parser { toks, pos: 0, depth: self.depth, funcs: self.funcs };
        let e = sub.expr().map_err(fix)?;
        sub.eat(&Tok::Newline);
        if !sub.at(&Tok::Eof) {
            return Err(PyErr::at("SyntaxError", "f-string: invalid syntax", line));
        }
        Ok(e)
    }
}

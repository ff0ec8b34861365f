//! The syntax tree of the supported Python subset. Kept separate from the lexer
//! and parser so the front-end can later be swapped for a full Python parser
//! that lowers into the same tree.

use std::sync::Arc;

/// A 1-based source line number.
pub type Line = u32;

/// A literal constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer literal (64-bit; larger literals are an `OverflowError`).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal (escapes already processed).
    Str(String),
}

/// A piece of an f-string.
#[derive(Clone, Debug, PartialEq)]
pub enum FPart {
    /// Literal text (`{{`/`}}` already unescaped).
    Lit(String),
    /// `{expr!conv:spec}`.
    Field {
        /// The expression.
        expr: Expr,
        /// `r`, `s` or `a` conversion.
        conv: Option<char>,
        /// The format spec after `:` (may be empty).
        spec: String,
    },
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`.
    Neg,
    /// `+x`.
    Pos,
    /// `not x`.
    Not,
    /// `~x`.
    Invert,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `//`.
    FloorDiv,
    /// `%`.
    Mod,
    /// `**`.
    Pow,
    /// `&`.
    BitAnd,
    /// `|`.
    BitOr,
    /// `^`.
    BitXor,
    /// `<<`.
    Shl,
    /// `>>`.
    Shr,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in`.
    In,
    /// `not in`.
    NotIn,
    /// `is`.
    Is,
    /// `is not`.
    IsNot,
}

/// A subscript: index, slice, or a tuple of them (numpy style).
#[derive(Clone, Debug, PartialEq)]
pub enum Index {
    /// `x[i]`.
    Single(Expr),
    /// `x[a:b:c]`.
    Slice(Option<Expr>, Option<Expr>, Option<Expr>),
    /// `x[i, j:k]`.
    Multi(Vec<Index>),
}

/// One `for ... in ... if ...` clause of a comprehension.
#[derive(Clone, Debug, PartialEq)]
pub struct Comp {
    /// Loop target.
    pub target: Target,
    /// Iterable.
    pub iter: Expr,
    /// `if` filters.
    pub conds: Vec<Expr>,
}

/// Expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal.
    Const(Const),
    /// An f-string.
    FStr(Vec<FPart>),
    /// A name.
    Name(String),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{k: v}`.
    Dict(Vec<(Expr, Expr)>),
    /// `x.attr`.
    Attr(Box<Expr>, String),
    /// `f(args, k=v)`.
    Call {
        /// Callee.
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments.
        kwargs: Vec<(String, Expr)>,
    },
    /// `x[i]`.
    Subscript(Box<Expr>, Box<Index>),
    /// Unary operation.
    Unary(UnOp, Box<Expr>),
    /// Binary arithmetic.
    Bin(Box<Expr>, BinOp, Box<Expr>),
    /// `a and b` (`true`) / `a or b` (`false`).
    BoolOp(bool, Box<Expr>, Box<Expr>),
    /// Possibly chained comparison.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `a if test else b`.
    IfExp {
        /// Condition.
        test: Box<Expr>,
        /// Value when true.
        body: Box<Expr>,
        /// Value when false.
        orelse: Box<Expr>,
    },
    /// `[elt for ... in ... if ...]` (also used for a generator argument).
    ListComp(Box<Expr>, Vec<Comp>),
    /// `lambda params: expr` (its body is a single `return expr`).
    Lambda(Arc<FuncDef>),
}

/// How a parameter takes its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Positional or keyword (`x`, `x=1`).
    Normal,
    /// Keyword-only (after `*` or `*args`).
    KwOnly,
    /// `*args`: extra positionals as a tuple.
    VarArgs,
    /// `**kwargs`: extra keywords as a dict.
    VarKw,
}

/// One parameter of a `def` or `lambda`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// The default, evaluated once when the function is defined.
    pub default: Option<Expr>,
    /// How it binds.
    pub kind: ParamKind,
}

/// A function definition (`def` or `lambda`), shared by every value made from it.
#[derive(Clone, Debug, PartialEq)]
pub struct FuncDef {
    /// The name (`<lambda>` for lambdas).
    pub name: String,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// The body.
    pub body: Vec<Stmt>,
    /// Names the body assigns (parameters included): local for the whole call,
    /// as in Python, so reading one before it is bound is `UnboundLocalError`.
    pub locals: Vec<String>,
    /// Names declared `global` in the body.
    pub globals: Vec<String>,
    /// Line of the `def` / `lambda`.
    pub line: Line,
}

/// One `except` clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Handler {
    /// The exception class or tuple of classes; `None` for a bare `except:`.
    pub types: Option<Expr>,
    /// The `as name` binding.
    pub name: Option<String>,
    /// The handler body.
    pub body: Vec<Stmt>,
    /// Line of the `except`.
    pub line: Line,
}

/// Assignment targets.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `x = ...`.
    Name(String),
    /// `a, b = ...`.
    Tuple(Vec<Target>),
    /// `x[i] = ...`.
    Subscript(Expr, Index),
}

/// A statement with its line.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// Line of the statement's first token.
    pub line: Line,
    /// What it is.
    pub kind: StmtKind,
}

/// Statement kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect.
    Expr(Expr),
    /// `a = b = value`.
    Assign(Vec<Target>, Expr),
    /// `x += value`.
    AugAssign(Target, BinOp, Expr),
    /// `if/elif` branches and the `else` body.
    If(Vec<(Expr, Vec<Stmt>)>, Vec<Stmt>),
    /// `for target in iter: body`.
    For(Target, Expr, Vec<Stmt>),
    /// `import a.b as c, d`.
    Import(Vec<(String, Option<String>)>),
    /// `from a import b as c`.
    FromImport(String, Vec<(String, Option<String>)>),
    /// `pass`.
    Pass,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `assert test, msg`.
    Assert(Expr, Option<Expr>),
    /// `while test: body else: orelse`.
    While(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `def name(params): body`.
    FuncDef(Arc<FuncDef>),
    /// `return [value]` (only inside a function; the parser checks).
    Return(Option<Expr>),
    /// `global a, b` (the names are also collected into [`FuncDef::globals`]).
    Global(Vec<String>),
    /// `try: body except ...: ... else: orelse finally: finalbody`.
    Try {
        /// The guarded body.
        body: Vec<Stmt>,
        /// The `except` clauses, in order.
        handlers: Vec<Handler>,
        /// Runs when the body finished without an exception.
        orelse: Vec<Stmt>,
        /// Runs on the way out (not after a sandbox limit error).
        finalbody: Vec<Stmt>,
    },
    /// `raise [exc [from cause]]`.
    Raise(Option<Expr>, Option<Expr>),
}

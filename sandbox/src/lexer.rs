//! Tokenizer for the Python subset: indentation, brackets, strings (with escapes,
//! raw and f-strings), numbers, operators and comments.

use crate::ast::Line;
use crate::error::{PyErr, PyResult};

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Identifier or keyword.
    Name(String),
    /// Integer literal.
    Int(i64),
    /// Float literal.
    Float(f64),
    /// String literal (escapes processed).
    Str(String),
    /// f-string literal: the unprocessed body (parsed by the parser) and whether it is raw.
    FStr(String, bool),
    /// Operator or delimiter.
    Op(&'static str),
    /// End of a logical line.
    Newline,
    /// Indentation increased.
    Indent,
    /// Indentation decreased.
    Dedent,
    /// End of input.
    Eof,
}

/// A token and the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// 1-based line.
    pub line: Line,
}

const OPS: [&str; 47] = [
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=", "/=", "%=",
    "&=", "|=", "^=", "@=", ":=", "<<", ">>", "+", "-", "*", "/", "%", "@", "&", "|", "^", "~", "<", ">", "(",
    ")", "[", "]", "{", "}", ",", ":", ".", ";", "=",
];

fn syntax(msg: impl Into<String>, line: Line) -> PyErr {
    PyErr::at("SyntaxError", msg, line)
}

/// Python's universal newlines: `\r\n` and a lone `\r` end a line as `\n`
/// does (CPython translates them before tokenizing, inside string literals too).
pub fn normalize_newlines(src: &str) -> std::borrow::Cow<'_, str> {
    if src.contains('\r') {
        std::borrow::Cow::Owned(src.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(src)
    }
}

/// Splits source into tokens, with INDENT/DEDENT for blocks. Lines may end in
/// `\n`, `\r\n` or `\r` ([`normalize_newlines`]).
pub fn tokenize(src: &str) -> PyResult<Vec<Token>> {
    let chars: Vec<char> = normalize_newlines(src).chars().collect();
    let mut toks: Vec<Token> = Vec::new();
    let mut i = 0usize;
    let mut line: Line = 1;
    let mut indents: Vec<(usize, usize)> = vec![(0, 0)]; // (columns with tab=8, with tab=1)
    let mut brackets: Vec<(char, Line)> = Vec::new();
    let mut at_line_start = true;
    let push = |toks: &mut Vec<Token>, tok: Tok, line: Line| toks.push(Token { tok, line });
    while i < chars.len() {
        if at_line_start && brackets.is_empty() {
            // Measure indentation; blank and comment-only lines do not count.
            let (mut c8, mut c1, mut j) = (0usize, 0usize, i);
            while let Some(&c) = chars.get(j) {
                match c {
                    ' ' => {
                        c8 += 1;
                        c1 += 1;
                    }
                    '\t' => {
                        c8 = (c8 / 8 + 1) * 8;
                        c1 += 1;
                    }
                    '\x0c' => {}
                    _ => break,
                }
                j += 1;
            }
            match chars.get(j) {
                None | Some('\n') | Some('#') | Some('\r') => {
                    i = j;
                    at_line_start = false;
                    continue;
                }
                _ => {}
            }
            let &(top8, top1) = indents.last().unwrap_or(&(0, 0));
            if (c8 > top8) != (c1 > top1) || (c8 == top8) != (c1 == top1) {
                return Err(PyErr::at("TabError", "inconsistent use of tabs and spaces in indentation", line));
            }
            if c8 > top8 {
                indents.push((c8, c1));
                push(&mut toks, Tok::Indent, line);
            } else {
                while indents.last().is_some_and(|&(t, _)| c8 < t) {
                    indents.pop();
                    push(&mut toks, Tok::Dedent, line);
                }
                if indents.last().map(|&(t, _)| t) != Some(c8) {
                    return Err(PyErr::at("IndentationError", "unindent does not match any outer indentation level", line));
                }
            }
            i = j;
            at_line_start = false;
            continue;
        }
        let c = chars[i];
        match c {
            '\n' => {
                if brackets.is_empty() && toks.last().is_some_and(|t| t.tok != Tok::Newline) {
                    push(&mut toks, Tok::Newline, line);
                }
                line += 1;
                i += 1;
                at_line_start = true;
            }
            ' ' | '\t' | '\r' | '\x0c' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\\' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'\r') {
                    j += 1;
                }
                if chars.get(j) != Some(&'\n') {
                    return Err(syntax("unexpected character after line continuation character", line));
                }
                line += 1;
                i = j + 1;
            }
            '0'..='9' => {
                let (tok, n) = number(&chars[i..], line)?;
                push(&mut toks, tok, line);
                i += n;
            }
            '.' if chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                let (tok, n) = number(&chars[i..], line)?;
                push(&mut toks, tok, line);
                i += n;
            }
            '"' | '\'' => {
                let (s, n, lines) = string(&chars[i..], line, false)?;
                push(&mut toks, Tok::Str(s), line);
                line += lines;
                i += n;
            }
            c if c == '_' || c.is_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_alphanumeric()) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let quote = chars.get(i).is_some_and(|&q| q == '"' || q == '\'');
                let lower = word.to_ascii_lowercase();
                if quote && ["r", "f", "rf", "fr", "b", "br", "rb", "u"].contains(&lower.as_str()) {
                    if lower.contains('b') {
                        return Err(syntax("bytes literals are not supported in this sandbox", line));
                    }
                    let raw = lower.contains('r');
                    let (s, n, lines) = string(&chars[i..], line, raw || lower.contains('f'))?;
                    let tok = if lower.contains('f') { Tok::FStr(s, raw) } else { Tok::Str(s) };
                    push(&mut toks, tok, line);
                    line += lines;
                    i += n;
                } else {
                    push(&mut toks, Tok::Name(word), line);
                }
            }
            _ => {
                let rest = &chars[i..];
                let op = OPS.iter().find(|op| rest.len() >= op.len() && op.chars().zip(rest.iter()).all(|(a, b)| a == *b));
                let Some(op) = op else {
                    if c == '!' {
                        return Err(syntax("invalid syntax: '!' (did you mean '!=' or 'not'?)", line));
                    }
                    return Err(syntax(format!("invalid character '{c}' (U+{:04X})", c as u32), line));
                };
                match *op {
                    "(" | "[" | "{" => brackets.push((c, line)),
                    ")" | "]" | "}" => {
                        let open = match c { ')' => '(', ']' => '[', _ => '{' };
                        match brackets.pop() {
                            Some((o, _)) if o == open => {}
                            Some((o, l)) => return Err(syntax(format!("closing parenthesis '{c}' does not match opening parenthesis '{o}' on line {l}"), line)),
                            None => return Err(syntax(format!("unmatched '{c}'"), line)),
                        }
                    }
                    _ => {}
                }
                push(&mut toks, Tok::Op(op), line);
                i += op.len();
            }
        }
    }
    if let Some((o, l)) = brackets.last() {
        return Err(syntax(format!("'{o}' was never closed"), *l));
    }
    if toks.last().is_some_and(|t| t.tok != Tok::Newline) {
        push(&mut toks, Tok::Newline, line);
    }
    for _ in 1..indents.len() {
        push(&mut toks, Tok::Dedent, line);
    }
    push(&mut toks, Tok::Eof, line);
    Ok(toks)
}

/// Lexes a number; returns the token and the characters consumed.
fn number(s: &[char], line: Line) -> PyResult<(Tok, usize)> {
    let radix = match (s.first(), s.get(1).map(|c| c.to_ascii_lowercase())) {
        (Some('0'), Some('x')) => 16,
        (Some('0'), Some('o')) => 8,
        (Some('0'), Some('b')) => 2,
        _ => 10,
    };
    let mut n = 0;
    let mut text = String::new();
    let mut float = false;
    if radix != 10 {
        n = 2;
        while n < s.len() && (s[n].is_digit(radix) || s[n] == '_') {
            if s[n] != '_' {
                text.push(s[n]);
            }
            n += 1;
        }
    } else {
        while n < s.len() {
            let c = s[n];
            if c.is_ascii_digit() || c == '_' {
                if c != '_' {
                    text.push(c);
                }
            } else if c == '.' && !float && !text.contains('e') {
                float = true;
                text.push(c);
            } else if (c == 'e' || c == 'E') && !text.contains('e') {
                float = true;
                text.push('e');
                if matches!(s.get(n + 1), Some('+') | Some('-')) {
                    n += 1;
                    text.push(s[n]);
                }
            } else {
                break;
            }
            n += 1;
        }
    }
    if let Some(&c) = s.get(n) {
        if c == 'j' || c == 'J' {
            return Err(syntax("complex numbers are not supported in this sandbox", line));
        }
        if c.is_alphanumeric() || c == '_' {
            return Err(syntax("invalid decimal literal", line));
        }
    }
    if float {
        let v: f64 = text.parse().map_err(|_| syntax(format!("invalid number literal '{text}'"), line))?;
        return Ok((Tok::Float(v), n));
    }
    if text.is_empty() {
        return Err(syntax("invalid number literal", line));
    }
    if radix == 10 && text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
        return Err(syntax("leading zeros in decimal integer literals are not permitted", line));
    }
    match i64::from_str_radix(&text, radix) {
        Ok(v) => Ok((Tok::Int(v), n)),
        Err(_) => Err(PyErr::at("OverflowError", format!("integer literal {text} is too large (64-bit integers only)"), line)),
    }
}

/// Lexes a quoted string starting at the quote; returns (value, chars consumed,
/// newlines inside). `raw` keeps backslashes (raw strings, f-string bodies).
fn string(s: &[char], line: Line, raw: bool) -> PyResult<(String, usize, Line)> {
    let q = s[0];
    let triple = s.len() >= 3 && s[1] == q && s[2] == q;
    let mut i = if triple { 3 } else { 1 };
    let mut out = String::new();
    let mut lines: Line = 0;
    loop {
        let Some(&c) = s.get(i) else {
            let what = if triple { "unterminated triple-quoted string literal" } else { "unterminated string literal" };
            return Err(syntax(format!("{what} (detected at line {})", line + lines), line));
        };
        if c == q && (!triple || (s.get(i + 1) == Some(&q) && s.get(i + 2) == Some(&q))) {
            i += if triple { 3 } else { 1 };
            return Ok((out, i, lines));
        }
        if c == '\n' {
            if !triple {
                return Err(syntax(format!("unterminated string literal (detected at line {line})"), line));
            }
            lines += 1;
        }
        if c == '\\' {
            if raw {
                let Some(&e) = s.get(i + 1) else { return Err(syntax("unterminated string literal", line)) };
                out.push('\\');
                out.push(e);
                lines += (e == '\n') as Line;
                i += 2;
            } else {
                lines += escape(s, &mut i, &mut out, line)? as Line;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
}

/// Processes the escape at `s[*i]` (a backslash), appending to `out`; returns
/// true for an escaped newline (line continuation inside a string).
fn escape(s: &[char], i: &mut usize, out: &mut String, line: Line) -> PyResult<bool> {
    let Some(&e) = s.get(*i + 1) else { return Err(syntax("unterminated string literal", line)) };
    *i += 2;
    match e {
        '\n' => return Ok(true),
        'n' => out.push('\n'),
        't' => out.push('\t'),
        'r' => out.push('\r'),
        '0' => out.push('\0'),
        'a' => out.push('\x07'),
        'b' => out.push('\x08'),
        'f' => out.push('\x0c'),
        'v' => out.push('\x0b'),
        '\\' | '\'' | '"' => out.push(e),
        'x' | 'u' | 'U' => {
            let len = match e { 'x' => 2, 'u' => 4, _ => 8 };
            let hex: String = s.iter().skip(*i).take(len).collect();
            let code = (hex.chars().count() == len && hex.chars().all(|h| h.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(&hex, 16).ok())
                .flatten()
                .ok_or_else(|| syntax(format!("(unicode error) truncated \\{e} escape"), line))?;
            let ch = char::from_u32(code)
                .ok_or_else(|| syntax(format!("(unicode error) \\{e}{hex} is not a valid character"), line))?;
            out.push(ch);
            *i += len;
        }
        'N' => return Err(syntax("\\N{...} escapes are not supported in this sandbox", line)),
        other => {
            out.push('\\');
            out.push(other);
        }
    }
    Ok(false)
}

/// Processes escapes in the literal text of a (non-raw) f-string.
pub fn unescape(text: &str, line: Line) -> PyResult<String> {
    let s: Vec<char> = text.chars().collect();
    let (mut i, mut out) = (0, String::new());
    while let Some(&c) = s.get(i) {
        if c == '\\' {
            escape(&s, &mut i, &mut out, line)?;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

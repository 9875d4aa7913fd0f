//! From source text to the processed tree: a tokenizer driven by the parser (a `/` is a regex
//! where an operand is expected, a division elsewhere), a Pratt (top-down operator precedence)
//! parser producing a raw tree, then a pass that flattens location paths into steps, attaches
//! predicates, grouping, sorting and variable bindings to steps, resolves `%` (parent) to
//! ancestor slots and marks tail calls.

use crate::ast::{BinOp, Group, Kind, Lambda, Node, RegexLit, SortTerm, Stage};
use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::stack::StackGuard;

/// Deepest nesting the parser accepts, counting nested sub-expressions and the operators of a
/// chain (`a.b.c`, `1+2+3`, `f()()`: each operator nests the tree built so far one level
/// deeper); deeper input fails with `S0299` instead of exhausting the stack when the tree is
/// processed, evaluated or dropped, all of which recurse once per level.
pub(crate) const MAX_NESTING: usize = 200;

/// Native stack the parser may use, in bytes (debug builds have large frames).
const MAX_STACK: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Tokenizer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Op(&'static str),
    Name(String),
    Var(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(String, String),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character offset just past the token (jsonata-js convention).
    position: usize,
}

impl Token {
    fn id(&self) -> &str {
        match &self.tok {
            Tok::Op(op) => op,
            Tok::Name(_) | Tok::Var(_) => "(name)",
            Tok::Str(_) | Tok::Num(_) | Tok::Bool(_) | Tok::Null => "(literal)",
            Tok::Regex(..) => "(regex)",
            Tok::End => "(end)",
        }
    }

    fn text(&self) -> String {
        match &self.tok {
            Tok::Op(op) => (*op).to_string(),
            Tok::Name(n) | Tok::Var(n) | Tok::Str(n) => n.clone(),
            Tok::Num(n) => crate::number::to_js_string(*n),
            Tok::Bool(b) => b.to_string(),
            Tok::Null => "null".into(),
            Tok::Regex(p, _) => p.clone(),
            Tok::End => "(end)".into(),
        }
    }
}

const SINGLE_OPS: &[&str] = &[
    ".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":", "?", "+", "-", "*", "/", "%", "|",
    "=", "<", ">", "^", "&", "!", "~",
];

fn is_operator_char(c: char) -> bool {
    matches!(
        c,
        '.' | '['
            | ']'
            | '{'
            | '}'
            | '('
            | ')'
            | ','
            | '@'
            | '#'
            | ';'
            | ':'
            | '?'
            | '+'
            | '-'
            | '*'
            | '/'
            | '%'
            | '|'
            | '='
            | '<'
            | '>'
            | '^'
            | '&'
            | '!'
            | '~'
    )
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}')
}

struct Lexer {
    src: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn at(&self, i: usize) -> Option<char> {
        self.src.get(i).copied()
    }

    fn next(&mut self, infix: bool) -> Result<Option<Token>> {
        loop {
            while self.at(self.pos).is_some_and(is_space) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let start = self.pos;
                self.pos += 2;
                loop {
                    if self.pos >= self.src.len() {
                        return Err(Error::new("S0106").at(start));
                    }
                    if self.at(self.pos) == Some('*') && self.at(self.pos + 1) == Some('/') {
                        self.pos += 2;
                        break;
                    }
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let Some(c) = self.at(self.pos) else {
            return Ok(None);
        };
        if !infix && c == '/' {
            self.pos += 1;
            let (pattern, flags) = self.scan_regex()?;
            return Ok(Some(self.token(Tok::Regex(pattern, flags))));
        }
        let c2 = self.at(self.pos + 1);
        let double = match (c, c2) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            ('?', Some(':')) => Some("?:"),
            ('?', Some('?')) => Some("??"),
            _ => None,
        };
        if let Some(op) = double {
            self.pos += 2;
            return Ok(Some(self.token(Tok::Op(op))));
        }
        if let Some(op) = SINGLE_OPS.iter().find(|op| op.starts_with(c)) {
            self.pos += 1;
            return Ok(Some(self.token(Tok::Op(op))));
        }
        if c == '"' || c == '\'' {
            return self.scan_string(c).map(Some);
        }
        if c.is_ascii_digit() {
            return self.scan_number().map(Some);
        }
        if c == '`' {
            self.pos += 1;
            let start = self.pos;
            while let Some(ch) = self.at(self.pos) {
                if ch == '`' {
                    let name: String = self.src[start..self.pos].iter().collect();
                    self.pos += 1;
                    return Ok(Some(self.token(Tok::Name(name))));
                }
                self.pos += 1;
            }
            self.pos = self.src.len();
            return Err(Error::new("S0105").at(self.pos));
        }
        // names and variables
        let start = self.pos;
        let mut i = self.pos;
        while let Some(ch) = self.at(i) {
            if is_space(ch) || is_operator_char(ch) {
                break;
            }
            i += 1;
        }
        self.pos = i;
        if c == '$' {
            let name: String = self.src[start + 1..i].iter().collect();
            return Ok(Some(self.token(Tok::Var(name))));
        }
        let name: String = self.src[start..i].iter().collect();
        let tok = match name.as_str() {
            "or" => Tok::Op("or"),
            "in" => Tok::Op("in"),
            "and" => Tok::Op("and"),
            "true" => Tok::Bool(true),
            "false" => Tok::Bool(false),
            "null" => Tok::Null,
            "" => return Ok(None),
            _ => Tok::Name(name),
        };
        Ok(Some(self.token(tok)))
    }

    fn token(&self, tok: Tok) -> Token {
        Token {
            tok,
            position: self.pos,
        }
    }

    fn scan_regex(&mut self) -> Result<(String, String)> {
        let start = self.pos;
        let mut depth: i32 = 0;
        while let Some(c) = self.at(self.pos) {
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while self.pos > backslashes && self.at(self.pos - backslashes - 1) == Some('\\') {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    let pattern: String = self.src[start..self.pos].iter().collect();
                    if pattern.is_empty() {
                        return Err(Error::new("S0301").at(self.pos));
                    }
                    self.pos += 1;
                    let flag_start = self.pos;
                    while matches!(self.at(self.pos), Some('i' | 'm')) {
                        self.pos += 1;
                    }
                    let flags: String = self.src[flag_start..self.pos].iter().collect();
                    return Ok((pattern, flags));
                }
            }
            let escaped = self.pos > 0 && self.at(self.pos - 1) == Some('\\');
            if matches!(c, '(' | '[' | '{') && !escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !escaped {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(Error::new("S0302").at(self.pos))
    }

    fn scan_string(&mut self, quote: char) -> Result<Token> {
        self.pos += 1;
        let mut out = String::new();
        let mut pending_high: Option<u32> = None;
        while let Some(c) = self.at(self.pos) {
            if c == '\\' {
                self.pos += 1;
                let e = self.at(self.pos);
                let simple = match e {
                    Some('"') => Some('"'),
                    Some('\\') => Some('\\'),
                    Some('/') => Some('/'),
                    Some('b') => Some('\u{8}'),
                    Some('f') => Some('\u{c}'),
                    Some('n') => Some('\n'),
                    Some('r') => Some('\r'),
                    Some('t') => Some('\t'),
                    _ => None,
                };
                if let Some(ch) = simple {
                    flush_surrogate(&mut out, &mut pending_high);
                    out.push(ch);
                } else if e == Some('u') {
                    let hex: String = self.src.iter().skip(self.pos + 1).take(4).collect();
                    if hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        let unit = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                        push_utf16(&mut out, &mut pending_high, unit);
                        self.pos += 4;
                    } else {
                        return Err(Error::new("S0104").at(self.pos));
                    }
                } else {
                    return Err(Error::new("S0103")
                        .at(self.pos)
                        .token(e.map(String::from).unwrap_or_default()));
                }
            } else if c == quote {
                flush_surrogate(&mut out, &mut pending_high);
                self.pos += 1;
                return Ok(self.token(Tok::Str(out)));
            } else {
                flush_surrogate(&mut out, &mut pending_high);
                out.push(c);
            }
            self.pos += 1;
        }
        Err(Error::new("S0101").at(self.pos))
    }

    fn scan_number(&mut self) -> Result<Token> {
        let start = self.pos;
        let mut i = self.pos;
        let digits = |i: &mut usize, src: &[char]| {
            let s = *i;
            while src.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        if self.at(i) == Some('0') {
            i += 1;
        } else {
            digits(&mut i, &self.src);
        }
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
            digits(&mut i, &self.src);
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            if digits(&mut j, &self.src) {
                i = j;
            }
        }
        let text: String = self.src[start..i].iter().collect();
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.pos = i;
                Ok(self.token(Tok::Num(n)))
            }
            _ => Err(Error::new("S0102").at(start).token(text)),
        }
    }
}

fn flush_surrogate(out: &mut String, pending: &mut Option<u32>) {
    if pending.take().is_some() {
        out.push('\u{FFFD}');
    }
}

fn push_utf16(out: &mut String, pending: &mut Option<u32>, unit: u32) {
    if (0xD800..0xDC00).contains(&unit) {
        flush_surrogate(out, pending);
        *pending = Some(unit);
    } else if (0xDC00..0xE000).contains(&unit) {
        match pending.take() {
            Some(high) => {
                let cp = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            None => out.push('\u{FFFD}'),
        }
    } else {
        flush_surrogate(out, pending);
        out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
    }
}

// ---------------------------------------------------------------------------------------------
// Raw tree

#[derive(Debug, Clone)]
enum R {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Name(String),
    Var(String),
    Regex(String, String),
    Wildcard,
    Descendant,
    Parent,
    Placeholder,
    End,
    Binary(&'static str, Box<Raw>, Box<Raw>),
    Predicate(Box<Raw>, Box<Raw>),
    Group(Box<Raw>, Vec<(Raw, Raw)>),
    Sort(Box<Raw>, Vec<(bool, Raw)>),
    Bind(Box<Raw>, Box<Raw>),
    Focus(Box<Raw>, String),
    IndexBind(Box<Raw>, String),
    Negate(Box<Raw>),
    Array(Vec<Raw>),
    Object(Vec<(Raw, Raw)>),
    Call(Box<Raw>, Vec<Raw>),
    Partial(Box<Raw>, Vec<Raw>),
    Lambda(Vec<String>, Option<Signature>, Box<Raw>),
    Condition(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
    Block(Vec<Raw>),
    Transform(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
}

#[derive(Debug, Clone)]
struct Raw {
    r: R,
    position: usize,
    keep_array: bool,
}

fn raw(r: R, position: usize) -> Raw {
    Raw {
        r,
        position,
        keep_array: false,
    }
}

fn left_binding_power(id: &str) -> u32 {
    match id {
        "." => 75,
        "[" | "(" | "@" | "#" => 80,
        "{" => 70,
        "?" => 20,
        "+" | "-" | "&" => 50,
        "*" | "/" | "%" => 60,
        "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "?:" | "??" | "in" => 40,
        ":=" => 10,
        "and" => 30,
        "or" => 25,
        _ => 0,
    }
}

struct Parser {
    lexer: Lexer,
    node: Token,
    depth: usize,
    stack: StackGuard,
}

impl Parser {
    fn advance(&mut self, expect: Option<&str>, infix: bool) -> Result<()> {
        if let Some(id) = expect
            && self.node.id() != id
        {
            let code = if self.node.tok == Tok::End {
                "S0203"
            } else {
                "S0202"
            };
            return Err(Error::new(code)
                .at(self.node.position)
                .token(self.node.text())
                .value(id));
        }
        self.node = match self.lexer.next(infix)? {
            None => Token {
                tok: Tok::End,
                position: self.lexer.src.len(),
            },
            Some(token) => {
                if let Tok::Op(op) = token.tok
                    && matches!(op, "!" | "~")
                {
                    return Err(Error::new("S0204").at(token.position).token(op));
                }
                token
            }
        };
        Ok(())
    }

    fn expression(&mut self, rbp: u32) -> Result<Raw> {
        self.nest()?;
        let t = self.node.clone();
        self.advance(None, true)?;
        let mut left = self.nud(t)?;
        let mut chained = 0;
        while rbp < left_binding_power(self.node.id()) {
            let t = self.node.clone();
            self.advance(None, false)?;
            left = self.led(t, left)?;
            // The operator took the tree so far as its left operand: one level deeper.
            self.nest()?;
            chained += 1;
        }
        self.depth -= 1 + chained;
        Ok(left)
    }

    /// One level deeper; `S0299` past [`MAX_NESTING`] or the stack guard.
    fn nest(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(too_deep(self.node.position));
        }
        if self.stack.exceeded() {
            return Err(out_of_stack(self.node.position));
        }
        Ok(())
    }

    fn nud(&mut self, t: Token) -> Result<Raw> {
        let pos = t.position;
        let r = match t.tok {
            Tok::Name(n) => R::Name(n),
            Tok::Var(v) => R::Var(v),
            Tok::Str(s) => R::Str(s),
            Tok::Num(n) => R::Num(n),
            Tok::Bool(b) => R::Bool(b),
            Tok::Null => R::Null,
            Tok::Regex(p, f) => R::Regex(p, f),
            Tok::End => R::End,
            Tok::Op(op) => match op {
                "and" | "or" | "in" => R::Name(op.to_string()),
                "-" => R::Negate(Box::new(self.expression(70)?)),
                "*" => R::Wildcard,
                "**" => R::Descendant,
                "%" => R::Parent,
                "(" => {
                    let mut exprs = Vec::new();
                    while self.node.id() != ")" {
                        exprs.push(self.expression(0)?);
                        if self.node.id() != ";" {
                            break;
                        }
                        self.advance(Some(";"), false)?;
                    }
                    self.advance(Some(")"), true)?;
                    R::Block(exprs)
                }
                "[" => {
                    let mut items = Vec::new();
                    if self.node.id() != "]" {
                        loop {
                            let mut item = self.expression(0)?;
                            if self.node.id() == ".." {
                                let range_pos = self.node.position;
                                self.advance(Some(".."), false)?;
                                let rhs = self.expression(0)?;
                                item =
                                    raw(R::Binary("..", Box::new(item), Box::new(rhs)), range_pos);
                            }
                            items.push(item);
                            if self.node.id() != "," {
                                break;
                            }
                            self.advance(Some(","), false)?;
                        }
                    }
                    self.advance(Some("]"), true)?;
                    R::Array(items)
                }
                "{" => R::Object(self.object_pairs()?),
                "|" => {
                    let pattern = self.expression(0)?;
                    self.advance(Some("|"), false)?;
                    let update = self.expression(0)?;
                    let delete = if self.node.id() == "," {
                        self.advance(Some(","), false)?;
                        Some(Box::new(self.expression(0)?))
                    } else {
                        None
                    };
                    self.advance(Some("|"), false)?;
                    R::Transform(Box::new(pattern), Box::new(update), delete)
                }
                _ => return Err(Error::new("S0211").at(pos).token(op)),
            },
        };
        Ok(raw(r, pos))
    }

    fn object_pairs(&mut self) -> Result<Vec<(Raw, Raw)>> {
        let mut pairs = Vec::new();
        if self.node.id() != "}" {
            loop {
                let name = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let value = self.expression(0)?;
                pairs.push((name, value));
                if self.node.id() != "," {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        Ok(pairs)
    }

    fn led(&mut self, t: Token, left: Raw) -> Result<Raw> {
        let pos = t.position;
        let Tok::Op(op) = t.tok else {
            return Err(Error::new("S0201").at(pos).token(t.text()));
        };
        let bp = left_binding_power(op);
        let r = match op {
            "??" => {
                let cond = raw(
                    R::Call(
                        Box::new(raw(R::Var("exists".into()), pos)),
                        vec![left.clone()],
                    ),
                    pos,
                );
                let other = self.expression(0)?;
                R::Condition(Box::new(cond), Box::new(left), Some(Box::new(other)))
            }
            "?:" => {
                let other = self.expression(0)?;
                R::Condition(
                    Box::new(left.clone()),
                    Box::new(left),
                    Some(Box::new(other)),
                )
            }
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.node.id() == ":" {
                    self.advance(Some(":"), false)?;
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                R::Condition(Box::new(left), Box::new(then), otherwise)
            }
            "(" => return self.call(left, pos),
            "[" => {
                if self.node.id() == "]" {
                    let mut left = left;
                    mark_keep_array(&mut left);
                    self.advance(Some("]"), true)?;
                    return Ok(left);
                }
                let rhs = self.expression(0)?;
                self.advance(Some("]"), true)?;
                R::Predicate(Box::new(left), Box::new(rhs))
            }
            "^" => {
                self.advance(Some("("), false)?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.node.id() == "<" {
                        self.advance(Some("<"), false)?;
                    } else if self.node.id() == ">" {
                        descending = true;
                        self.advance(Some(">"), false)?;
                    }
                    terms.push((descending, self.expression(0)?));
                    if self.node.id() != "," {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), true)?;
                R::Sort(Box::new(left), terms)
            }
            "{" => R::Group(Box::new(left), self.object_pairs()?),
            ":=" => {
                if !matches!(left.r, R::Var(_)) {
                    return Err(Error::new("S0212").at(left.position).token(raw_text(&left)));
                }
                let rhs = self.expression(bp - 1)?;
                R::Bind(Box::new(left), Box::new(rhs))
            }
            "@" | "#" => {
                let rhs = self.expression(bp)?;
                let R::Var(name) = rhs.r else {
                    return Err(Error::new("S0214").at(rhs.position).token(op));
                };
                if op == "@" {
                    R::Focus(Box::new(left), name)
                } else {
                    R::IndexBind(Box::new(left), name)
                }
            }
            _ => {
                if left_binding_power(op) == 0 {
                    return Err(Error::new("S0201").at(pos).token(op));
                }
                let rhs = self.expression(bp)?;
                R::Binary(op, Box::new(left), Box::new(rhs))
            }
        };
        Ok(raw(r, pos))
    }

    fn call(&mut self, left: Raw, pos: usize) -> Result<Raw> {
        let mut args = Vec::new();
        let mut partial = false;
        if self.node.id() != ")" {
            loop {
                if self.node.tok == Tok::Op("?") {
                    partial = true;
                    args.push(raw(R::Placeholder, self.node.position));
                    self.advance(Some("?"), false)?;
                } else {
                    args.push(self.expression(0)?);
                }
                if self.node.id() != "," {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        let is_lambda = matches!(&left.r, R::Name(n) if n == "function" || n == "\u{3bb}");
        if !is_lambda {
            let r = if partial {
                R::Partial(Box::new(left), args)
            } else {
                R::Call(Box::new(left), args)
            };
            return Ok(raw(r, pos));
        }
        let mut params = Vec::new();
        for (index, arg) in args.into_iter().enumerate() {
            match arg.r {
                R::Var(name) => params.push(name),
                _ => {
                    return Err(Error::new("S0208")
                        .at(arg.position)
                        .token(raw_text(&arg))
                        .value((index + 1).to_string()));
                }
            }
        }
        let mut signature = None;
        if self.node.id() == "<" {
            let sig_pos = self.node.position;
            let mut depth = 1;
            let mut text = String::from("<");
            while depth > 0 && self.node.id() != "{" && self.node.id() != "(end)" {
                self.advance(None, false)?;
                match self.node.id() {
                    ">" => depth -= 1,
                    "<" => depth += 1,
                    _ => {}
                }
                text.push_str(&self.node.text());
            }
            self.advance(Some(">"), false)?;
            signature = Some(
                Signature::parse(&text)
                    .map_err(|(code, offset)| Error::new(code).at(sig_pos + offset))?,
            );
        }
        self.advance(Some("{"), false)?;
        let body = self.expression(0)?;
        self.advance(Some("}"), false)?;
        Ok(raw(R::Lambda(params, signature, Box::new(body)), pos))
    }
}

fn mark_keep_array(node: &mut Raw) {
    let mut step = node;
    while let R::Predicate(lhs, _) = &mut step.r {
        step = lhs;
    }
    step.keep_array = true;
}

fn raw_text(node: &Raw) -> String {
    match &node.r {
        R::Str(s) | R::Name(s) | R::Var(s) => s.clone(),
        R::Num(n) => crate::number::to_js_string(*n),
        R::Bool(b) => b.to_string(),
        R::Null => "null".into(),
        R::Binary(op, ..) => (*op).to_string(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Processing

struct Slot {
    label: String,
    level: i32,
}

struct Processor {
    slots: Vec<Slot>,
    depth: usize,
    stack: StackGuard,
}

/// Parses `source` into the processed tree and the parent-slot labels it refers to.
pub(crate) fn parse(source: &str) -> Result<(Node, Vec<String>)> {
    let mut lexer = Lexer {
        src: source.chars().collect(),
        pos: 0,
    };
    let first = match lexer.next(false)? {
        None => Token {
            tok: Tok::End,
            position: lexer.src.len(),
        },
        Some(t) => {
            if let Tok::Op(op) = t.tok
                && matches!(op, "!" | "~")
            {
                return Err(Error::new("S0204").at(t.position).token(op));
            }
            t
        }
    };
    let mut parser = Parser {
        lexer,
        node: first,
        depth: 0,
        stack: StackGuard::new(MAX_STACK),
    };
    let tree = parser.expression(0)?;
    if parser.node.tok != Tok::End {
        return Err(Error::new("S0201")
            .at(parser.node.position)
            .token(parser.node.text()));
    }
    let mut processor = Processor {
        slots: Vec::new(),
        depth: 0,
        stack: StackGuard::new(MAX_STACK),
    };
    let node = processor.process(tree)?;
    if matches!(node.kind, Kind::Parent(_)) || !node.seeking_parent.is_empty() {
        return Err(Error::new("S0217")
            .at(node.position)
            .token(node.type_name()));
    }
    let labels = processor.slots.into_iter().map(|s| s.label).collect();
    Ok((node, labels))
}

fn too_deep(position: usize) -> Error {
    Error::new("S0299").at(position).detail(format!(
        "it nests sub-expressions and chained operators more than {MAX_NESTING} levels deep"
    ))
}

fn out_of_stack(position: usize) -> Error {
    Error::new("S0299")
        .at(position)
        .detail("it nests too deeply for the stack it is parsed on")
}

fn push_ancestry(result: &mut Node, value: &Node) {
    result
        .seeking_parent
        .extend(value.seeking_parent.iter().copied());
    if let Kind::Parent(slot) = value.kind {
        result.seeking_parent.push(slot);
    }
}

fn last_step(node: &mut Node) -> &mut Node {
    if matches!(&node.kind, Kind::Path(steps) if !steps.is_empty()) {
        let Kind::Path(steps) = &mut node.kind else {
            unreachable!("checked above")
        };
        let n = steps.len() - 1;
        &mut steps[n]
    } else {
        node
    }
}

fn into_path(node: Node) -> Node {
    if matches!(node.kind, Kind::Path(_)) {
        return node;
    }
    let position = node.position;
    Node::new(Kind::Path(vec![node]), position)
}

impl Processor {
    fn seek_parent(&mut self, node: &mut Node, slot: usize) -> Result<()> {
        match &mut node.kind {
            Kind::Name(_) | Kind::Wildcard => {
                self.slots[slot].level -= 1;
                if self.slots[slot].level == 0 {
                    if let Some(existing) = node.ancestor {
                        self.slots[slot].label = self.slots[existing].label.clone();
                    }
                    node.ancestor = Some(slot);
                    node.tuple = true;
                }
            }
            Kind::Parent(_) => self.slots[slot].level += 1,
            Kind::Block(exprs) => {
                if let Some(last) = exprs.last_mut() {
                    self.seek_parent(last, slot)?;
                    node.tuple = true;
                }
            }
            Kind::Path(steps) => {
                let mut index = steps.len() as isize - 1;
                if index >= 0 {
                    self.seek_parent(&mut steps[index as usize], slot)?;
                    index -= 1;
                }
                while self.slots[slot].level > 0 && index >= 0 {
                    self.seek_parent(&mut steps[index as usize], slot)?;
                    index -= 1;
                }
                node.tuple = true;
            }
            _ => {
                return Err(Error::new("S0217")
                    .at(node.position)
                    .token(node.type_name()));
            }
        }
        Ok(())
    }

    fn resolve_ancestry(&mut self, path: &mut Node) -> Result<()> {
        let Kind::Path(steps) = &mut path.kind else {
            return Ok(());
        };
        let Some(last) = steps.last() else {
            return Ok(());
        };
        let mut slots = last.seeking_parent.clone();
        if let Kind::Parent(slot) = last.kind {
            slots.push(slot);
        }
        let mut escaping = Vec::new();
        for slot in slots {
            let mut index = steps.len() as isize - 2;
            while self.slots[slot].level > 0 {
                if index < 0 {
                    escaping.push(slot);
                    break;
                }
                let mut step_index = index as usize;
                index -= 1;
                while index >= 0
                    && steps[step_index].focus.is_some()
                    && steps[index as usize].focus.is_some()
                {
                    step_index = index as usize;
                    index -= 1;
                }
                self.seek_parent(&mut steps[step_index], slot)?;
            }
        }
        path.seeking_parent.extend(escaping);
        Ok(())
    }

    fn process(&mut self, expr: Raw) -> Result<Node> {
        self.depth += 1;
        if self.depth > MAX_NESTING * 2 {
            return Err(too_deep(expr.position));
        }
        if self.stack.exceeded() {
            return Err(out_of_stack(expr.position));
        }
        let result = self.process_inner(expr);
        self.depth -= 1;
        result
    }

    // Each arm runs in its own closure so that, in debug builds, this recursive function's
    // frame is not the sum of every arm's locals (it was ~50 KB per nesting level).
    #[allow(clippy::redundant_closure_call)]
    fn process_inner(&mut self, expr: Raw) -> Result<Node> {
        let pos = expr.position;
        let keep_array = expr.keep_array;
        let mut result = match expr.r {
            R::Binary(".", lhs, rhs) => (move || -> Result<Node> {
                Ok({
                    let lstep = self.process(*lhs)?;
                    let parent_slot = match lstep.kind {
                        Kind::Parent(slot) => Some(slot),
                        _ => None,
                    };
                    let mut result = into_path(lstep);
                    if let Some(slot) = parent_slot {
                        result.seeking_parent = vec![slot];
                    }
                    let mut rest = self.process(*rhs)?;
                    let Kind::Path(steps) = &mut result.kind else {
                        unreachable!("into_path returns a path")
                    };
                    if let Kind::Path(rest_steps) = rest.kind {
                        steps.extend(rest_steps);
                    } else {
                        if !rest.predicate.is_empty() {
                            rest.stages = std::mem::take(&mut rest.predicate)
                                .into_iter()
                                .map(Stage::Filter)
                                .collect();
                        }
                        steps.push(rest);
                    }
                    let mut keep_singleton = false;
                    for step in steps.iter_mut() {
                        match &step.kind {
                            Kind::Number(n) => {
                                return Err(Error::new("S0213")
                                    .at(step.position)
                                    .value(crate::number::to_js_string(*n)));
                            }
                            Kind::Bool(b) => {
                                return Err(Error::new("S0213")
                                    .at(step.position)
                                    .value(b.to_string()));
                            }
                            Kind::Null => {
                                return Err(Error::new("S0213").at(step.position).value("null"));
                            }
                            Kind::String(s) => step.kind = Kind::Name(s.clone()),
                            _ => {}
                        }
                        keep_singleton |= step.keep_array;
                    }
                    if let Some(first) = steps.first_mut()
                        && matches!(first.kind, Kind::Array(_))
                    {
                        first.consarray = true;
                    }
                    if let Some(last) = steps.last_mut()
                        && matches!(last.kind, Kind::Array(_))
                    {
                        last.consarray = true;
                    }
                    if keep_singleton {
                        result.keep_singleton_array = true;
                    }
                    self.resolve_ancestry(&mut result)?;
                    result
                })
            })()?,
            R::Predicate(lhs, rhs) => (move || -> Result<Node> {
                Ok({
                    let mut result = self.process(*lhs)?;
                    let is_path = matches!(result.kind, Kind::Path(_));
                    if last_step(&mut result).group.is_some() {
                        return Err(Error::new("S0209").at(pos));
                    }
                    let predicate = self.process(*rhs)?;
                    let seeking = predicate.seeking_parent.clone();
                    {
                        let step = last_step(&mut result);
                        for slot in seeking {
                            if self.slots[slot].level == 1 {
                                self.seek_parent(step, slot)?;
                            } else {
                                self.slots[slot].level -= 1;
                            }
                        }
                        push_ancestry(step, &predicate);
                        if is_path {
                            step.stages.push(Stage::Filter(predicate));
                        } else {
                            step.predicate.push(predicate);
                        }
                    }
                    result
                })
            })()?,
            R::Group(lhs, pairs) => (move || -> Result<Node> {
                Ok({
                    let mut result = self.process(*lhs)?;
                    if result.group.is_some() {
                        return Err(Error::new("S0210").at(pos));
                    }
                    let mut processed = Vec::with_capacity(pairs.len());
                    for (k, v) in pairs {
                        processed.push((self.process(k)?, self.process(v)?));
                    }
                    result.group = Some(Box::new(Group {
                        pairs: processed,
                        position: pos,
                    }));
                    result
                })
            })()?,
            R::Sort(lhs, terms) => (move || -> Result<Node> {
                Ok({
                    let mut result = into_path(self.process(*lhs)?);
                    let mut sort_step = Node::new(Kind::Sort(Vec::new()), pos);
                    let mut processed = Vec::with_capacity(terms.len());
                    for (descending, term) in terms {
                        let expr = self.process(term)?;
                        push_ancestry(&mut sort_step, &expr);
                        processed.push(SortTerm { descending, expr });
                    }
                    sort_step.kind = Kind::Sort(processed);
                    if let Kind::Path(steps) = &mut result.kind {
                        steps.push(sort_step);
                    }
                    self.resolve_ancestry(&mut result)?;
                    result
                })
            })()?,
            R::Bind(lhs, rhs) => (move || -> Result<Node> {
                Ok({
                    let R::Var(name) = lhs.r else {
                        return Err(Error::new("S0212").at(lhs.position));
                    };
                    let value = self.process(*rhs)?;
                    let mut result = Node::new(Kind::Null, pos);
                    push_ancestry(&mut result, &value);
                    result.kind = Kind::Bind(name, Box::new(value));
                    result
                })
            })()?,
            R::Focus(lhs, name) => (move || -> Result<Node> {
                Ok({
                    let mut result = self.process(*lhs)?;
                    let step = last_step(&mut result);
                    if !step.stages.is_empty() || !step.predicate.is_empty() {
                        return Err(Error::new("S0215").at(pos));
                    }
                    if matches!(step.kind, Kind::Sort(_)) {
                        return Err(Error::new("S0216").at(pos));
                    }
                    if keep_array {
                        step.keep_array = true;
                    }
                    step.focus = Some(name);
                    step.tuple = true;
                    result
                })
            })()?,
            R::IndexBind(lhs, name) => (move || -> Result<Node> {
                Ok({
                    let mut result = self.process(*lhs)?;
                    if !matches!(result.kind, Kind::Path(_)) {
                        if !result.predicate.is_empty() {
                            result.stages = std::mem::take(&mut result.predicate)
                                .into_iter()
                                .map(Stage::Filter)
                                .collect();
                        }
                        result = into_path(result);
                    }
                    let step = last_step(&mut result);
                    if step.stages.is_empty() {
                        step.index = Some(name);
                    } else {
                        step.stages.push(Stage::Index(name));
                    }
                    step.tuple = true;
                    result
                })
            })()?,
            R::Binary("~>", lhs, rhs) => (move || -> Result<Node> {
                Ok({
                    let lhs = self.process(*lhs)?;
                    let rhs = self.process(*rhs)?;
                    let keep = lhs.keep_array || rhs.keep_array;
                    let mut result = Node::new(Kind::Apply(Box::new(lhs), Box::new(rhs)), pos);
                    result.keep_array = keep;
                    result
                })
            })()?,
            R::Binary(op, lhs, rhs) => (move || -> Result<Node> {
                Ok({
                    let lhs = self.process(*lhs)?;
                    let rhs = self.process(*rhs)?;
                    let Some(binop) = BinOp::from_symbol(op) else {
                        return Err(Error::new("S0201").at(pos).token(op));
                    };
                    let mut result = Node::new(Kind::Null, pos);
                    push_ancestry(&mut result, &lhs);
                    push_ancestry(&mut result, &rhs);
                    result.kind = Kind::Binary(binop, Box::new(lhs), Box::new(rhs));
                    result
                })
            })()?,
            R::Array(items) => (move || -> Result<Node> {
                Ok({
                    let mut result = Node::new(Kind::Null, pos);
                    let mut processed = Vec::with_capacity(items.len());
                    for item in items {
                        let value = self.process(item)?;
                        push_ancestry(&mut result, &value);
                        processed.push(value);
                    }
                    result.kind = Kind::Array(processed);
                    result
                })
            })()?,
            R::Object(pairs) => (move || -> Result<Node> {
                Ok({
                    let mut result = Node::new(Kind::Null, pos);
                    let mut processed = Vec::with_capacity(pairs.len());
                    for (k, v) in pairs {
                        let key = self.process(k)?;
                        push_ancestry(&mut result, &key);
                        let value = self.process(v)?;
                        push_ancestry(&mut result, &value);
                        processed.push((key, value));
                    }
                    result.kind = Kind::Object(processed);
                    result
                })
            })()?,
            R::Negate(inner) => (move || -> Result<Node> {
                Ok({
                    let inner = self.process(*inner)?;
                    if let Kind::Number(n) = inner.kind {
                        let mut number = inner;
                        number.kind = Kind::Number(-n);
                        number
                    } else {
                        let mut result = Node::new(Kind::Null, pos);
                        push_ancestry(&mut result, &inner);
                        result.kind = Kind::Negate(Box::new(inner));
                        result
                    }
                })
            })()?,
            R::Call(procedure, args) => (move || -> Result<Node> {
                Ok({
                    let (args, seeking) = self.process_args(args)?;
                    let procedure = self.process(*procedure)?;
                    let mut result = Node::new(Kind::Function(Box::new(procedure), args), pos);
                    result.seeking_parent = seeking;
                    result
                })
            })()?,
            R::Partial(procedure, args) => (move || -> Result<Node> {
                Ok({
                    let (args, seeking) = self.process_args(args)?;
                    let procedure = self.process(*procedure)?;
                    let mut result = Node::new(Kind::Partial(Box::new(procedure), args), pos);
                    result.seeking_parent = seeking;
                    result
                })
            })()?,
            R::Lambda(params, signature, body) => (move || -> Result<Node> {
                Ok({
                    let body = tail_call_optimize(self.process(*body)?);
                    Node::new(
                        Kind::Lambda(Box::new(Lambda {
                            params,
                            signature,
                            body,
                        })),
                        pos,
                    )
                })
            })()?,
            R::Condition(cond, then, otherwise) => (move || -> Result<Node> {
                Ok({
                    let mut result = Node::new(Kind::Null, pos);
                    let cond = self.process(*cond)?;
                    push_ancestry(&mut result, &cond);
                    let then = self.process(*then)?;
                    push_ancestry(&mut result, &then);
                    let otherwise = match otherwise {
                        Some(e) => {
                            let e = self.process(*e)?;
                            push_ancestry(&mut result, &e);
                            Some(Box::new(e))
                        }
                        None => None,
                    };
                    result.kind = Kind::Condition(Box::new(cond), Box::new(then), otherwise);
                    result
                })
            })()?,
            R::Transform(pattern, update, delete) => (move || -> Result<Node> {
                Ok({
                    let pattern = self.process(*pattern)?;
                    let update = self.process(*update)?;
                    let delete = match delete {
                        Some(d) => Some(Box::new(self.process(*d)?)),
                        None => None,
                    };
                    Node::new(
                        Kind::Transform(Box::new(pattern), Box::new(update), delete),
                        pos,
                    )
                })
            })()?,
            R::Block(exprs) => (move || -> Result<Node> {
                Ok({
                    let mut result = Node::new(Kind::Null, pos);
                    let mut processed = Vec::with_capacity(exprs.len());
                    for e in exprs {
                        let part = self.process(e)?;
                        push_ancestry(&mut result, &part);
                        let cons = part.consarray
                            || matches!(&part.kind, Kind::Path(steps) if steps.first().is_some_and(|s| s.consarray));
                        if cons {
                            result.consarray = true;
                        }
                        processed.push(part);
                    }
                    result.kind = Kind::Block(processed);
                    result
                })
            })()?,
            R::Name(name) => (move || -> Result<Node> {
                Ok({
                    let mut step = Node::new(Kind::Name(name), pos);
                    step.keep_array = keep_array;
                    let mut path = Node::new(Kind::Path(vec![step]), pos);
                    path.keep_singleton_array = keep_array;
                    path
                })
            })()?,
            R::Parent => (move || -> Result<Node> {
                Ok({
                    let slot = self.slots.len();
                    self.slots.push(Slot {
                        label: format!("!{slot}"),
                        level: 1,
                    });
                    Node::new(Kind::Parent(slot), pos)
                })
            })()?,
            R::Str(s) => Node::new(Kind::String(s), pos),
            R::Num(n) => Node::new(Kind::Number(n), pos),
            R::Bool(b) => Node::new(Kind::Bool(b), pos),
            R::Null => Node::new(Kind::Null, pos),
            R::Wildcard => Node::new(Kind::Wildcard, pos),
            R::Descendant => Node::new(Kind::Descendant, pos),
            R::Var(v) => Node::new(Kind::Variable(v), pos),
            R::Placeholder => Node::new(Kind::Placeholder, pos),
            R::Regex(pattern, flags) => (move || -> Result<Node> {
                Ok({
                    let regex = regex::RegexBuilder::new(&pattern)
                        .case_insensitive(flags.contains('i'))
                        .multi_line(flags.contains('m'))
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| Error::new("S0303").at(pos).detail(e.to_string()))?;
                    Node::new(
                        Kind::Regex(Box::new(RegexLit {
                            regex,
                            source: pattern,
                        })),
                        pos,
                    )
                })
            })()?,
            R::End => return Err(Error::new("S0207").at(pos)),
        };
        if keep_array {
            result.keep_array = true;
        }
        Ok(result)
    }

    fn process_args(&mut self, args: Vec<Raw>) -> Result<(Vec<Node>, Vec<usize>)> {
        let mut seeking = Vec::new();
        let mut processed = Vec::with_capacity(args.len());
        for arg in args {
            let node = self.process(arg)?;
            seeking.extend(node.seeking_parent.iter().copied());
            if let Kind::Parent(slot) = node.kind {
                seeking.push(slot);
            }
            processed.push(node);
        }
        Ok((processed, seeking))
    }
}

fn tail_call_optimize(mut expr: Node) -> Node {
    match &mut expr.kind {
        Kind::Function(..) if expr.predicate.is_empty() => {
            let position = expr.position;
            Node::new(Kind::Thunk(Box::new(expr)), position)
        }
        Kind::Condition(_, then, otherwise) => {
            let t = std::mem::replace(&mut **then, Node::new(Kind::Null, 0));
            **then = tail_call_optimize(t);
            if let Some(o) = otherwise {
                let e = std::mem::replace(&mut **o, Node::new(Kind::Null, 0));
                **o = tail_call_optimize(e);
            }
            expr
        }
        Kind::Block(exprs) => {
            if let Some(last) = exprs.pop() {
                exprs.push(tail_call_optimize(last));
            }
            expr
        }
        _ => expr,
    }
}

//! The path compiler: text to [`Segment`]s.
//!
//! The grammar follows Jayway's `PathCompiler` and `FilterCompiler` (the JSONPath library AWS
//! Step Functions evaluates paths with), with two deliberate differences: whatever Sluice cannot
//! evaluate exactly (functions, regular expressions, `in`-style operators, JSON literals in
//! filters, slice steps) is rejected here with an offset instead of being accepted and then
//! misbehaving, and a few sloppy forms Jayway tolerates (`$['a']b`, `$.*a`, surrounding blanks)
//! are rejected because a definition that relies on them is almost certainly a typo.
//!
//! Offsets in [`PathError`] are byte offsets into the path text.

use serde_json::Value;

use super::{
    CmpOp, Filter, FilterSegment, Operand, Origin, Path, PathError, Root, Segment, Slice, SubPath,
};

/// How deeply filters, parentheses and `!` may nest. Evaluation recurses once per level, so
/// this bound is what keeps a hostile path from exhausting the stack.
const MAX_NESTING: usize = 32;

pub(super) fn parse(text: &str, reference: bool) -> Result<Path, PathError> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let mut variable = None;
    let root = match parser.rest().as_bytes() {
        [b'$', b'$', ..] => {
            parser.pos = 2;
            Root::Context
        }
        [b'$', ..] if text[1..].starts_with(|c: char| c.is_alphabetic() || c == '_') => {
            let end = text[1..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(text.len(), |i| i + 1);
            variable = Some(text[1..end].to_owned().into_boxed_str());
            parser.pos = end;
            Root::Variable
        }
        [b'$', ..] => {
            parser.pos = 1;
            Root::Input
        }
        [b'@', ..] => {
            return Err(parser.error(0, "a path must start with '$' or '$$'; '@' (the current node) is only meaningful inside a filter"));
        }
        _ => {
            return Err(parser.error(
                0,
                "a path must start with '$' (the state input) or '$$' (the context object)",
            ));
        }
    };
    let mut segments = Vec::new();
    let mut starts = Vec::new();
    parser.segments(false, &mut segments, &mut starts)?;
    if parser.pos < text.len() {
        // `segments` only stops early on a character it cannot continue with.
        return Err(parser.error(parser.pos, "expected '.' or '['"));
    }
    if reference {
        check_reference(&parser, &segments, &starts)?;
    }
    let definite = is_definite(&segments);
    let normalized = super::render(
        &super::root_text(root, variable.as_deref()),
        &segments,
        super::Style::Normalized,
    );
    Ok(Path {
        text: text.to_owned(),
        root,
        variable,
        segments: segments.into_boxed_slice(),
        definite,
        normalized: normalized.into_boxed_str(),
    })
}

/// Jayway's definiteness: only single names, single indices and a final multi-name merge
/// (`['a','b']` as the last segment, which yields one merged object) select a single node.
pub(super) fn is_definite(segments: &[Segment]) -> bool {
    let last = segments.len().saturating_sub(1);
    segments
        .iter()
        .enumerate()
        .all(|(i, segment)| match segment {
            Segment::Name(_) | Segment::Index(_) => true,
            Segment::Names(_) => i == last,
            _ => false,
        })
}

/// The ASL reference-path rule: "A Reference Path is a Path with syntax limited in such a way
/// that it can only identify a single node in a JSON structure: The operators "@", ",", ":",
/// and "?" are not supported".
fn check_reference(
    parser: &Parser<'_>,
    segments: &[Segment],
    starts: &[usize],
) -> Result<(), PathError> {
    for (segment, &start) in segments.iter().zip(starts) {
        let what = match segment {
            Segment::Name(name) => {
                // A dot-notation name is taken literally by Jayway, but in a reference path an
                // operator character there is far more likely a mistake than a field name.
                let dotted = parser.text.as_bytes().get(start) == Some(&b'.');
                match name
                    .chars()
                    .find(|c| matches!(c, '@' | ',' | ':' | '?' | '*'))
                {
                    Some(c) if dotted => {
                        return Err(parser.error(
                            start,
                            &format!("a reference path cannot contain '{c}'; quote the name with bracket notation (['...']) if it really contains it"),
                        ));
                    }
                    _ => continue,
                }
            }
            Segment::Index(_) => continue,
            Segment::Names(_) => "a union of names (',')",
            Segment::Indices(_) => "a union of indices (',')",
            Segment::Slice(_) => "a slice (':')",
            Segment::Wildcard => "a wildcard ('*')",
            Segment::Scan => "a deep scan ('..')",
            Segment::Filter(_) => "a filter ('?', '@')",
        };
        return Err(parser.error(
            start,
            &format!("a reference path identifies a single node, so it can only use names and indices, not {what}"),
        ));
    }
    Ok(())
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    fn error(&self, offset: usize, message: &str) -> PathError {
        PathError {
            text: self.text.to_owned(),
            offset,
            message: message.to_owned(),
        }
    }

    fn rest(&self) -> &'t str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    /// Skips blanks (Jayway allows them inside brackets and filters).
    fn blanks(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), PathError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(
                at,
                &format!("filters, parentheses and '!' nest more than {MAX_NESTING} deep"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Reads segments until the end of the text or, inside a filter, until a character that
    /// cannot continue a path (an operator, a blank, a closing parenthesis).
    fn segments(
        &mut self,
        in_filter: bool,
        out: &mut Vec<Segment>,
        starts: &mut Vec<usize>,
    ) -> Result<(), PathError> {
        loop {
            let start = self.pos;
            match self.peek() {
                None => return Ok(()),
                Some(b'.') if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    match self.peek() {
                        None => return Err(self.error(start, "a path cannot end with '..'")),
                        Some(b'.') => return Err(self.error(self.pos, "unexpected '.' after '..'")),
                        _ => {}
                    }
                    out.push(Segment::Scan);
                    starts.push(start);
                    let target = self.pos;
                    let segment = self.after_dot(in_filter)?;
                    out.push(segment);
                    starts.push(target);
                }
                Some(b'.') => {
                    self.pos += 1;
                    if self.peek().is_none() {
                        return Err(self.error(start, "a path cannot end with '.'"));
                    }
                    let segment = self.after_dot(in_filter)?;
                    out.push(segment);
                    starts.push(start);
                }
                Some(b'[') => {
                    let segment = self.bracket()?;
                    out.push(segment);
                    starts.push(start);
                }
                Some(_) if in_filter => return Ok(()),
                Some(_) => return Err(self.error(start, "expected '.' or '['")),
            }
        }
    }

    /// What may follow `.` or `..`: `*`, a bracket (Jayway accepts `$.[0]` and `$..['a']`) or a
    /// dot-notation name.
    fn after_dot(&mut self, in_filter: bool) -> Result<Segment, PathError> {
        match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Ok(Segment::Wildcard)
            }
            Some(b'[') => self.bracket(),
            _ => self.dot_name(in_filter),
        }
    }

    /// A dot-notation name: Jayway reads everything up to the next `.` or `[` (so `-`, digits,
    /// `:` and any Unicode are fine), refuses blanks ("Use bracket notion ['my prop'] if your
    /// property contains blank characters") and treats `name(` as a function call.
    fn dot_name(&mut self, in_filter: bool) -> Result<Segment, PathError> {
        let start = self.pos;
        let rest = self.rest();
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '.' | '[' => {
                    end = i;
                    break;
                }
                '(' => {
                    return Err(self.error(
                        start + i,
                        "path functions such as length() are not supported (Step Functions does not evaluate them either)",
                    ));
                }
                c if in_filter
                    && (c.is_whitespace()
                        || matches!(
                            c,
                            ')' | '<' | '>' | '=' | '!' | '~' | '&' | '|' | ',' | ']'
                        )) =>
                {
                    end = i;
                    break;
                }
                c if c.is_whitespace() => {
                    return Err(self.error(start + i, "a name in dot notation cannot contain blanks; use bracket notation: ['my name']"));
                }
                _ => {}
            }
        }
        if end == 0 {
            return Err(self.error(start, "expected a name, '*' or '[' after '.'"));
        }
        self.pos = start + end;
        Ok(Segment::Name(rest[..end].into()))
    }

    /// `[...]`: quoted names, `*`, indices, slices or a filter.
    fn bracket(&mut self) -> Result<Segment, PathError> {
        let open = self.pos;
        self.pos += 1;
        self.blanks();
        let segment = match self.peek() {
            Some(quote @ (b'\'' | b'"')) => {
                let mut names = Vec::new();
                loop {
                    names.push(self.quoted(quote, true)?);
                    self.blanks();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.blanks();
                            if self.peek() != Some(quote) {
                                return Err(self.error(self.pos, "expected another quoted name after ',' (names in one bracket use the same quote)"));
                            }
                        }
                        _ => break,
                    }
                }
                if names.len() == 1 {
                    Segment::Name(names.swap_remove(0))
                } else {
                    Segment::Names(names.into_boxed_slice())
                }
            }
            Some(b'*') => {
                self.pos += 1;
                Segment::Wildcard
            }
            Some(b'?') => {
                self.pos += 1;
                self.blanks();
                if self.peek() != Some(b'(') {
                    return Err(self.error(
                        self.pos,
                        "expected '(' after '[?': write filters as [?(<expression>)]",
                    ));
                }
                self.pos += 1;
                self.enter(open)?;
                let source_start = self.pos;
                let expr = self.or()?;
                self.blanks();
                if self.peek() != Some(b')') {
                    return Err(self.error(self.pos, "expected ')' to close the filter expression"));
                }
                let source = self.text[source_start..self.pos].trim();
                self.pos += 1;
                self.leave();
                Segment::Filter(Box::new(FilterSegment {
                    expr,
                    source: source.into(),
                }))
            }
            Some(b'0'..=b'9' | b'-' | b':') => self.indices()?,
            None => return Err(self.error(open, "unclosed '['")),
            Some(_) => {
                return Err(self.error(
                    self.pos,
                    "expected a quoted name, an index, a slice, '*' or a filter '?(...)' after '['",
                ));
            }
        };
        self.blanks();
        if self.peek() != Some(b']') {
            return Err(self.error(self.pos, "expected ']'"));
        }
        self.pos += 1;
        Ok(segment)
    }

    /// `[0]`, `[-1]`, `[0,2]`, `[1:3]`, `[:2]`, `[-2:]`.
    fn indices(&mut self) -> Result<Segment, PathError> {
        let first = self.integer()?;
        self.blanks();
        if self.peek() == Some(b':') {
            self.pos += 1;
            self.blanks();
            let end = self.integer()?;
            self.blanks();
            if self.peek() == Some(b':') {
                return Err(self.error(
                    self.pos,
                    "slice steps are not supported: Step Functions' JSONPath (Jayway) silently ignores them",
                ));
            }
            if first.is_none() && end.is_none() {
                return Err(self.error(
                    self.pos,
                    "a slice needs a start, an end or both ([1:], [:2], [1:2])",
                ));
            }
            return Ok(Segment::Slice(Slice { start: first, end }));
        }
        let Some(first) = first else {
            return Err(self.error(self.pos, "expected an index"));
        };
        let mut indices = vec![first];
        while self.peek() == Some(b',') {
            self.pos += 1;
            self.blanks();
            match self.integer()? {
                Some(index) => indices.push(index),
                None => return Err(self.error(self.pos, "expected an index after ','")),
            }
            self.blanks();
        }
        Ok(if indices.len() == 1 {
            Segment::Index(first)
        } else {
            Segment::Indices(indices.into_boxed_slice())
        })
    }

    /// An optionally negative decimal integer, or `None` if there is none here.
    fn integer(&mut self) -> Result<Option<i64>, PathError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == digits {
            if negative {
                return Err(self.error(start, "expected digits after '-'"));
            }
            return Ok(None);
        }
        self.text[start..self.pos]
            .parse::<i64>()
            .map(Some)
            .map_err(|_| self.error(start, "index out of range"))
    }

    /// A quoted string (a bracket name or a filter literal), unescaped the way Jayway's
    /// `Utils.unescape` does: `\\`, `\'`, `\"`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`, and any
    /// other escaped character stands for itself.
    ///
    /// In a bracket name (`name`), the other quote character needs no escape and a backslash
    /// before it is kept: recorded against AWS, `$['Test\""Name"']` selects the member named
    /// `Test\""Name"`.
    fn quoted(&mut self, quote: u8, name: bool) -> Result<Box<str>, PathError> {
        let open = self.pos;
        self.pos += 1;
        let body_start = self.pos;
        let text = self.text;
        let bytes = text.as_bytes();
        // Fast path: no escapes, borrow the slice as is.
        let mut i = body_start;
        while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\\' {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == quote {
            self.pos = i + 1;
            return Ok(self.text[body_start..i].into());
        }
        let mut out = String::with_capacity(i - body_start + 8);
        out.push_str(&self.text[body_start..i]);
        self.pos = i;
        let mut chars = self.text[i..].char_indices();
        while let Some((offset, c)) = chars.next() {
            let at = i + offset;
            match c {
                c if c as u32 == u32::from(quote) => {
                    self.pos = at + 1;
                    return Ok(out.into_boxed_str());
                }
                '\\' => {
                    let Some((_, escaped)) = chars.next() else {
                        break;
                    };
                    match escaped {
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '"' | '\'' if name && escaped as u32 != u32::from(quote) => {
                            out.push('\\');
                            out.push(escaped);
                        }
                        'u' => {
                            let high = self.hex4(&mut chars, at)?;
                            let code = if (0xD800..0xDC00).contains(&high) {
                                // A surrogate pair written as two escapes.
                                let low = match (chars.next(), chars.next()) {
                                    (Some((_, '\\')), Some((_, 'u'))) => {
                                        self.hex4(&mut chars, at)?
                                    }
                                    _ => {
                                        return Err(self
                                            .error(at, "unpaired UTF-16 surrogate in \\u escape"));
                                    }
                                };
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(
                                        self.error(at, "unpaired UTF-16 surrogate in \\u escape")
                                    );
                                }
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            };
                            match char::from_u32(code) {
                                Some(c) => out.push(c),
                                None => {
                                    return Err(
                                        self.error(at, "unpaired UTF-16 surrogate in \\u escape")
                                    );
                                }
                            }
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error(
            open,
            &format!(
                "unterminated quoted string: missing closing {}",
                quote as char
            ),
        ))
    }

    fn hex4(&self, chars: &mut std::str::CharIndices<'_>, at: usize) -> Result<u32, PathError> {
        let mut code = 0;
        for _ in 0..4 {
            match chars.next().and_then(|(_, c)| c.to_digit(16)) {
                Some(digit) => code = code * 16 + digit,
                None => return Err(self.error(at, "expected four hex digits after \\u")),
            }
        }
        Ok(code)
    }

    // Filter expressions. Jayway's grammar:
    //   LogicalOR         = LogicalAND { '||' LogicalAND }
    //   LogicalAND        = LogicalANDOperand { '&&' LogicalANDOperand }
    //   LogicalANDOperand = RelationalExpression | '(' LogicalOR ')' | '!' LogicalANDOperand
    //   RelationalExpression = Value [ RelationalOperator Value ]

    fn or(&mut self) -> Result<Filter, PathError> {
        let mut terms = vec![self.and()?];
        loop {
            self.blanks();
            if self.rest().starts_with("||") {
                self.pos += 2;
                terms.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Filter::Or(terms.into_boxed_slice())
        })
    }

    fn and(&mut self) -> Result<Filter, PathError> {
        let mut terms = vec![self.unary()?];
        loop {
            self.blanks();
            if self.rest().starts_with("&&") {
                self.pos += 2;
                terms.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Filter::And(terms.into_boxed_slice())
        })
    }

    fn unary(&mut self) -> Result<Filter, PathError> {
        self.blanks();
        let start = self.pos;
        match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                self.pos += 1;
                self.blanks();
                if let Some(b'@' | b'$') = self.peek() {
                    // `!@.path`: "does not exist".
                    let path = self.sub_path()?;
                    self.blanks();
                    if self.at_operator() {
                        return Err(self.error(start, "'!' negates an existence test or a parenthesized expression: write !(<comparison>)"));
                    }
                    return Ok(Filter::Not(Box::new(Filter::Exists(path))));
                }
                self.enter(start)?;
                let inner = self.unary()?;
                self.leave();
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(b'(') => {
                self.pos += 1;
                self.enter(start)?;
                let inner = self.or()?;
                self.blanks();
                if self.peek() != Some(b')') {
                    return Err(self.error(self.pos, "expected ')'"));
                }
                self.pos += 1;
                self.leave();
                Ok(inner)
            }
            _ => self.relation(),
        }
    }

    fn at_operator(&self) -> bool {
        matches!(self.peek(), Some(b'<' | b'>' | b'=' | b'~'))
            || (self.peek() == Some(b'!') && self.peek_at(1) == Some(b'='))
    }

    fn relation(&mut self) -> Result<Filter, PathError> {
        self.blanks();
        let start = self.pos;
        let left = self.operand()?;
        self.blanks();
        let op_start = self.pos;
        let op = if self.at_operator() {
            let rest = self.rest();
            let (op, len) = if rest.starts_with("===") {
                (CmpOp::Eq, 3)
            } else if rest.starts_with("!==") {
                (CmpOp::Ne, 3)
            } else if rest.starts_with("==") {
                (CmpOp::Eq, 2)
            } else if rest.starts_with("!=") {
                (CmpOp::Ne, 2)
            } else if rest.starts_with("<=") {
                (CmpOp::Le, 2)
            } else if rest.starts_with(">=") {
                (CmpOp::Ge, 2)
            } else if rest.starts_with("=~") {
                return Err(self.error(
                    op_start,
                    "regular expressions (=~) are not supported in filters",
                ));
            } else if rest.starts_with('<') {
                (CmpOp::Lt, 1)
            } else if rest.starts_with('>') {
                (CmpOp::Gt, 1)
            } else {
                return Err(self.error(op_start, "expected ==, !=, <, <=, > or >="));
            };
            self.pos += len;
            Some(op)
        } else if matches!(self.peek(), Some(b'a'..=b'z')) {
            let word: String = self
                .rest()
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            let known = [
                "in", "nin", "subsetof", "anyof", "noneof", "size", "empty", "contains", "matches",
                "type",
            ];
            if known.contains(&word.as_str()) {
                return Err(self.error(
                    op_start,
                    &format!(
                        "the filter operator '{word}' is not supported; use ==, !=, <, <=, > or >="
                    ),
                ));
            }
            return Err(self.error(op_start, "expected ==, !=, <, <=, > or >="));
        } else {
            None
        };
        match op {
            Some(op) => {
                self.blanks();
                let right = self.operand()?;
                Ok(Filter::Compare(Box::new((left, op, right))))
            }
            None => match left {
                Operand::Path(path) => Ok(Filter::Exists(path)),
                Operand::Literal(_) => Err(self.error(
                    start,
                    "expected a comparison or a path to test for existence",
                )),
            },
        }
    }

    fn operand(&mut self) -> Result<Operand, PathError> {
        self.blanks();
        let start = self.pos;
        match self.peek() {
            Some(b'@' | b'$') => Ok(Operand::Path(self.sub_path()?)),
            Some(quote @ (b'\'' | b'"')) => Ok(Operand::Literal(Value::String(
                self.quoted(quote, false)?.into(),
            ))),
            Some(b'0'..=b'9' | b'-') => {
                let len = self
                    .rest()
                    .bytes()
                    .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .count();
                let literal = &self.text[start..start + len];
                let number = literal
                    .parse::<serde_json::Number>()
                    .map_err(|_| self.error(start, "invalid number literal"))?;
                self.pos += len;
                Ok(Operand::Literal(Value::Number(number)))
            }
            Some(b'{' | b'[') => Err(self.error(
                start,
                "JSON object and array literals are not supported in filters",
            )),
            Some(b'/') => {
                Err(self.error(start, "regular expressions are not supported in filters"))
            }
            _ => {
                let word_len = self
                    .rest()
                    .bytes()
                    .take_while(u8::is_ascii_alphanumeric)
                    .count();
                let value = match &self.text[start..start + word_len] {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => {
                        return Err(self.error(
                            start,
                            "expected a path (@..., $...), a string, a number, true, false or null",
                        ));
                    }
                };
                self.pos += word_len;
                Ok(Operand::Literal(value))
            }
        }
    }

    /// A path inside a filter: `@` (the candidate node), `$` (the input) or `$$` (the context).
    fn sub_path(&mut self) -> Result<SubPath, PathError> {
        let origin = match self.rest().as_bytes() {
            [b'@', ..] => {
                self.pos += 1;
                Origin::Current
            }
            [b'$', b'$', ..] => {
                self.pos += 2;
                Origin::Root(Root::Context)
            }
            _ => {
                self.pos += 1;
                Origin::Root(Root::Input)
            }
        };
        let mut segments = Vec::new();
        let mut starts = Vec::new();
        self.segments(true, &mut segments, &mut starts)?;
        Ok(SubPath {
            origin,
            segments: segments.into_boxed_slice(),
        })
    }
}

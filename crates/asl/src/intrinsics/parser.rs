//! A hand-written recursive-descent parser for intrinsic calls. Recursion is bounded by
//! [`MAX_NESTING`], so no input can exhaust the stack; every error carries the byte offset it
//! was found at.

use serde_json::Number;

use super::{Arg, Call, Function, MAX_NESTING, StringLiteral};
use crate::path::Path;

pub(super) struct ParseError {
    pub offset: usize,
    pub message: String,
}

type Result<T> = std::result::Result<T, ParseError>;

pub(super) fn parse(text: &str) -> Result<Call> {
    let mut parser = Parser { src: text, pos: 0 };
    parser.skip_blanks();
    if parser.peek().is_none() {
        return Err(parser.error(0, "expected an intrinsic function call, found nothing"));
    }
    let call = parser.call(1)?;
    parser.skip_blanks();
    if let Some(c) = parser.peek() {
        return Err(parser.error(
            parser.pos,
            format!(
                "unexpected '{c}' after the closing parenthesis of {}",
                call.function
            ),
        ));
    }
    Ok(call)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl Parser<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            offset,
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// `States.Name(args)`; `depth` is this call's nesting level (1 for the outermost).
    fn call(&mut self, depth: usize) -> Result<Call> {
        let start = self.pos;
        if !self.rest().starts_with("States.") {
            return Err(self.error(
                start,
                "expected an intrinsic function call 'States.<Name>(...)'",
            ));
        }
        self.pos += "States.".len();
        let name_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        let name = &self.src[name_start..self.pos];
        if name.is_empty() {
            return Err(self.error(name_start, "expected a function name after 'States.'"));
        }
        let Some(function) = Function::from_name(name) else {
            return Err(self.error(
                name_start,
                format!("unknown intrinsic function 'States.{name}'"),
            ));
        };
        if depth > MAX_NESTING {
            return Err(self.error(
                start,
                format!("intrinsic functions can be nested at most {MAX_NESTING} levels deep"),
            ));
        }
        self.skip_blanks();
        match self.peek() {
            Some('(') => self.pos += 1,
            Some(c) => {
                return Err(self.error(
                    self.pos,
                    format!("expected '(' after {function}, found '{c}'"),
                ));
            }
            None => return Err(self.error(self.pos, format!("expected '(' after {function}"))),
        }
        let mut args = Vec::new();
        self.skip_blanks();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg(function, depth)?);
                self.skip_blanks();
                match self.peek() {
                    Some(',') => {
                        self.pos += 1;
                        self.skip_blanks();
                    }
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(self.error(
                            self.pos,
                            format!(
                                "expected ',' or ')' in the arguments of {function}, found '{c}'"
                            ),
                        ));
                    }
                    None => {
                        return Err(self.error(
                            self.pos,
                            format!(
                                "unbalanced parentheses: the arguments of {function} are not \
                                 closed with ')'"
                            ),
                        ));
                    }
                }
            }
        }
        let call = Call { function, args };
        check(&call).map_err(|message| self.error(start, message))?;
        Ok(call)
    }

    fn arg(&mut self, function: Function, depth: usize) -> Result<Arg> {
        let start = self.pos;
        match self.peek() {
            None => Err(self.error(
                start,
                format!(
                    "unbalanced parentheses: expected an argument of {function}, found the end"
                ),
            )),
            Some('\'') => self.string().map(Arg::String),
            Some('$') => self.path().map(Arg::Path),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number().map(Arg::Number),
            Some(',' | ')') => {
                Err(self.error(start, format!("expected an argument of {function}")))
            }
            Some('"') => {
                Err(self.error(start, "string literals must be enclosed in single quotes"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                if self.rest().starts_with("States.") {
                    return self.call(depth + 1).map(Arg::Call);
                }
                let mut end = self.pos;
                for (i, c) in self.rest().char_indices() {
                    if !(c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                        break;
                    }
                    end = self.pos + i + c.len_utf8();
                }
                let word = &self.src[start..end];
                let arg = match word {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "null" => Arg::Null,
                    _ => {
                        return Err(self.error(
                            start,
                            format!(
                                "unexpected '{word}': an argument is a 'string', a number, true, \
                                 false, null, a path ($ or $$) or an intrinsic function call"
                            ),
                        ));
                    }
                };
                self.pos = end;
                Ok(arg)
            }
            Some(c) => Err(self.error(
                start,
                format!("unexpected '{c}' where an argument of {function} was expected"),
            )),
        }
    }

    /// `'...'` with the escapes `\'`, `\{`, `\}` and `\\`.
    fn string(&mut self) -> Result<StringLiteral> {
        let start = self.pos;
        self.pos += 1; // the opening quote
        let mut value = String::new();
        let mut placeholders = Vec::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => {
                    return Err(self.error(
                        start,
                        "unterminated string literal: missing the closing quote",
                    ));
                }
                Some('\'') => break,
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => value.push(c),
                    Some(c) => {
                        return Err(self.error(
                            at,
                            format!(
                                "invalid escape sequence '\\{c}' in a string literal: \
                                 only \\', \\{{, \\}} and \\\\ are allowed"
                            ),
                        ));
                    }
                    None => {
                        return Err(self.error(
                            start,
                            "unterminated string literal: missing the closing quote",
                        ));
                    }
                },
                Some('{') if self.peek() == Some('}') => {
                    self.pos += 1;
                    placeholders.push(value.len());
                    value.push_str("{}");
                }
                Some(c) => value.push(c),
            }
        }
        Ok(StringLiteral {
            value,
            placeholders,
        })
    }

    /// A JSONPath: everything up to the next `,`, `)` or blank that is not inside brackets
    /// (where quoted names and filter expressions may contain them).
    fn path(&mut self) -> Result<Path> {
        let start = self.pos;
        let mut brackets = 0usize;
        while let Some(c) = self.peek() {
            match c {
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                '\'' | '"' if brackets > 0 => {
                    let quote_at = self.pos;
                    self.pos += 1;
                    loop {
                        match self.bump() {
                            None => {
                                return Err(self.error(
                                    quote_at,
                                    "unterminated quoted name in a path argument",
                                ));
                            }
                            Some('\\') => {
                                self.bump();
                            }
                            Some(q) if q == c => break,
                            Some(_) => {}
                        }
                    }
                    continue;
                }
                ',' | ')' if brackets == 0 => break,
                c if is_blank(c) && brackets == 0 => break,
                _ => {}
            }
            self.pos += c.len_utf8();
        }
        if brackets > 0 {
            return Err(self.error(start, "unbalanced brackets in a path argument"));
        }
        let text = &self.src[start..self.pos];
        Path::parse(text).map_err(|e| {
            self.error(
                start + e.offset.min(text.len()),
                format!("invalid path argument '{text}': {}", e.message),
            )
        })
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Number> {
        let start = self.pos;
        let invalid = |parser: &Self| {
            let end = parser
                .rest()
                .find([',', ')', ' ', '\t', '\n', '\r'])
                .map_or(parser.src.len(), |i| parser.pos + i);
            parser.error(
                start,
                format!("invalid number '{}'", &parser.src[start..end]),
            )
        };
        let digits = |parser: &mut Self| {
            let from = parser.pos;
            while parser.peek().is_some_and(|c| c.is_ascii_digit()) {
                parser.pos += 1;
            }
            parser.pos - from
        };
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = digits(self);
        if int_digits == 0 || (int_digits > 1 && self.src.as_bytes()[int_start] == b'0') {
            return Err(invalid(self));
        }
        let mut float = false;
        if self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            digits(self);
            float = true;
        } else if self.peek() == Some('.') {
            return Err(invalid(self));
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(invalid(self));
            }
            float = true;
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(invalid(self));
        }
        let token = &self.src[start..self.pos];
        if !float {
            if let Ok(n) = token.parse::<i64>() {
                return Ok(Number::from(n));
            }
            if let Ok(n) = token.parse::<u64>() {
                return Ok(Number::from(n));
            }
        }
        token
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| self.error(start, format!("number '{token}' is out of range")))
    }
}

/// The checks that need the whole call: argument count, and the arguments whose value is
/// known when parsing.
fn check(call: &Call) -> std::result::Result<(), String> {
    let function = call.function;
    let given = call.args.len();
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match function.arity() {
        (min, Some(max)) if min == max && given != min => {
            return Err(if min == 0 {
                format!(
                    "{function} takes no arguments, but {given} {} given",
                    were(given)
                )
            } else {
                format!(
                    "{function} takes exactly {min} {}, but {given} {} given",
                    plural(min),
                    were(given)
                )
            });
        }
        (min, Some(max)) if given < min || given > max => {
            return Err(format!(
                "{function} takes {min} to {max} arguments, but {given} {} given",
                were(given)
            ));
        }
        (min, None) if given < min => {
            return Err(format!(
                "{function} takes at least {min} {}, but {given} {} given",
                plural(min),
                were(given)
            ));
        }
        _ => {}
    }
    match function {
        // "The value of the first argument must be a string, and may include zero or more
        // instances of the character sequence {}. There must be as many remaining arguments in
        // the intrinsic function invocation as there are occurrences of {}."
        Function::Format => match &call.args[0] {
            Arg::String(template) => {
                let holes = template.placeholders().len();
                if holes != given - 1 {
                    return Err(format!(
                        "the template of {function} has {holes} placeholder{} '{{}}' but {} \
                         value{} given",
                        if holes == 1 { "" } else { "s" },
                        given - 1,
                        if given - 1 == 1 { " is" } else { "s are" },
                    ));
                }
            }
            Arg::Number(_) | Arg::Bool(_) | Arg::Null => {
                return Err(format!("the first argument of {function} must be a string"));
            }
            Arg::Path(_) | Arg::Call(_) => {}
        },
        // "Currently, Step Functions only supports the shallow merging mode; therefore, you must
        // specify the boolean value as false."
        Function::JsonMerge => match &call.args[2] {
            Arg::Bool(false) | Arg::Path(_) | Arg::Call(_) => {}
            Arg::Bool(true) => {
                return Err(format!(
                    "{function} only supports the shallow merging mode: its third argument \
                     must be false"
                ));
            }
            _ => {
                return Err(format!(
                    "the third argument of {function} must be the boolean false"
                ));
            }
        },
        _ => {}
    }
    Ok(())
}

fn were(n: usize) -> &'static str {
    if n == 1 { "was" } else { "were" }
}

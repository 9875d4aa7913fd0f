//! Intrinsic functions (`States.Format`, `States.Array`, ... `States.UUID`): parsing with
//! argument-count checks at definition time, evaluation with AWS's argument rules at run time.
//!
//! The grammar (AWS developer guide, "Intrinsic functions for JSONPath states"):
//!
//! ```text
//! call     = "States." name ws "(" ws [ argument *( ws "," ws argument ) ] ws ")"
//! argument = string | number | "true" | "false" | "null" | path | call
//! string   = "'" *( char | "\'" | "\{" | "\}" | "\\" ) "'"
//! path     = "$" ... | "$$" ...      ; a JSONPath, ended by a top-level ',' ')' or blank
//! ```
//!
//! * Inside a string literal the reserved characters `'`, `{`, `}` and `\` are written `\'`,
//!   `\{`, `\}` and `\\`; any other backslash sequence is rejected (AWS refuses such a definition,
//!   e.g. `\"`). Unescaped `{` and `}` are tolerated (AWS accepts
//!   `States.StringToJson('{"a": 1}')`), but only an unescaped `{}` is a `States.Format`
//!   placeholder: `\{\}` is a literal pair of braces.
//! * Calls nest up to [`MAX_NESTING`] levels deep (the outermost call is level 1).
//! * The argument count is checked when parsing, as are the arguments whose value is known then
//!   (a literal `States.Format` template, the literal deep-merge flag of `States.JsonMerge`).
//!   Everything else is checked at run time and fails with `States.IntrinsicFailure`; a path
//!   argument that selects nothing fails with `States.Runtime`, like any JSONPath that does not
//!   resolve.
//!
//! [`Intrinsic`] prints back (`Display`) in a canonical form that parses to the same call.

use std::fmt;

use serde_json::{Number, Value};

use crate::path::{Path, Root};
use crate::{Failure, Random, Scope};

mod functions;
mod parser;
#[cfg(test)]
mod tests;

/// How deep intrinsic calls may nest within one field ("You can nest up to 10 intrinsic
/// functions within a field in your workflows").
pub const MAX_NESTING: usize = 10;

/// The most characters (UTF-16 code units, as Java counts them) `States.Base64Encode`,
/// `States.Base64Decode` and `States.Hash` accept.
pub const MAX_INPUT_CHARS: usize = 10_000;

/// The most items `States.ArrayRange` may produce.
pub const MAX_RANGE_ITEMS: usize = 1000;

/// An intrinsic call that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid intrinsic function '{text}': {message}")]
pub struct IntrinsicError {
    pub text: String,
    pub message: String,
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn is_intrinsic(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

/// A compiled intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    text: String,
    call: Call,
}

impl Intrinsic {
    /// Parses `States.Name(arg, ...)`, checking names, argument counts, literal syntax, paths
    /// and nesting depth.
    pub fn parse(text: &str) -> Result<Self, IntrinsicError> {
        match parser::parse(text) {
            Ok(call) => Ok(Self {
                text: text.to_owned(),
                call,
            }),
            Err(error) => Err(IntrinsicError {
                text: text.to_owned(),
                message: format!("{} (at offset {})", error.message, error.offset),
            }),
        }
    }

    /// The text this was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed call.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// Whether any argument, at any depth, reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        self.call.uses_context()
    }

    /// Evaluates the call: paths read from `scope`, `States.UUID` and unseeded
    /// `States.MathRandom` draw from `random`.
    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Random) -> Result<Value, Failure> {
        functions::eval(&self.call, scope, random)
    }
}

/// Prints the canonical form of the call (which parses back to the same call).
impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.call.fmt(f)
    }
}

/// The intrinsic functions of the Amazon States Language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    pub const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    /// The name after `States.` (case-sensitive).
    pub fn name(self) -> &'static str {
        match self {
            Function::Format => "Format",
            Function::StringToJson => "StringToJson",
            Function::JsonToString => "JsonToString",
            Function::Array => "Array",
            Function::ArrayPartition => "ArrayPartition",
            Function::ArrayContains => "ArrayContains",
            Function::ArrayRange => "ArrayRange",
            Function::ArrayGetItem => "ArrayGetItem",
            Function::ArrayLength => "ArrayLength",
            Function::ArrayUnique => "ArrayUnique",
            Function::Base64Encode => "Base64Encode",
            Function::Base64Decode => "Base64Decode",
            Function::Hash => "Hash",
            Function::JsonMerge => "JsonMerge",
            Function::MathRandom => "MathRandom",
            Function::MathAdd => "MathAdd",
            Function::StringSplit => "StringSplit",
            Function::Uuid => "UUID",
        }
    }

    /// The function called `States.<name>`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|function| function.name() == name)
    }

    /// How many arguments the function takes: `(min, max)`, `max` `None` when unbounded.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Format => (1, None),
            Function::Array => (0, None),
            Function::Uuid => (0, Some(0)),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => (1, Some(1)),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => (2, Some(2)),
            Function::MathRandom => (2, Some(3)),
            Function::ArrayRange | Function::JsonMerge => (3, Some(3)),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "States.{}", self.name())
    }
}

/// One call: `States.<function>(<args>)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub function: Function,
    pub args: Vec<Arg>,
}

impl Call {
    fn uses_context(&self) -> bool {
        self.args.iter().any(|arg| match arg {
            Arg::Path(path) => path.root() == Root::Context,
            Arg::Call(call) => call.uses_context(),
            _ => false,
        })
    }

    /// How deep calls nest, this one included.
    pub fn depth(&self) -> usize {
        1 + self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Call(call) => call.depth(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.function)?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            arg.fmt(f)?;
        }
        f.write_str(")")
    }
}

/// An argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `'text'`.
    String(StringLiteral),
    /// `12`, `-1.5`, `1e3`.
    Number(Number),
    /// `true`, `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `$...` or `$$...`.
    Path(Path),
    /// A nested call.
    Call(Call),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::String(literal) => literal.fmt(f),
            Arg::Number(number) => number.fmt(f),
            Arg::Bool(value) => value.fmt(f),
            Arg::Null => f.write_str("null"),
            Arg::Path(path) => f.write_str(path.text()),
            Arg::Call(call) => call.fmt(f),
        }
    }
}

/// A single-quoted string literal, unescaped, remembering where its unescaped `{}` pairs (the
/// `States.Format` placeholders) are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringLiteral {
    value: String,
    placeholders: Vec<usize>,
}

impl StringLiteral {
    /// A literal whose every `{}` is a placeholder (as if written unescaped).
    pub fn template(value: &str) -> Self {
        let placeholders = placeholder_offsets(value);
        Self {
            value: value.to_owned(),
            placeholders,
        }
    }

    /// A literal with no placeholders (every brace written escaped).
    pub fn plain(value: &str) -> Self {
        Self {
            value: value.to_owned(),
            placeholders: Vec::new(),
        }
    }

    /// The unescaped value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Byte offsets in [`value`](Self::value) of the `{}` pairs written unescaped, ascending.
    pub fn placeholders(&self) -> &[usize] {
        &self.placeholders
    }
}

impl fmt::Display for StringLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        let mut holes = self.placeholders.iter().copied().peekable();
        let mut chars = self.value.char_indices();
        while let Some((at, c)) = chars.next() {
            if holes.peek() == Some(&at) {
                holes.next();
                chars.next(); // the '}'
                f.write_str("{}")?;
                continue;
            }
            match c {
                '\'' | '{' | '}' | '\\' => write!(f, "\\{c}")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("'")
    }
}

/// Byte offsets of the non-overlapping `{}` pairs in `text`, left to right.
fn placeholder_offsets(text: &str) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("{}") {
        offsets.push(from + found);
        from += found + 2;
    }
    offsets
}

//! Intrinsic functions (`States.Format`, `States.Array`, ... `States.UUID`): parsing with
//! argument-count checks at definition time, evaluation with AWS's argument rules at run time.

use serde_json::Value;

use crate::{Failure, Random, Scope};

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
}

impl Intrinsic {
    pub fn parse(text: &str) -> Result<Self, IntrinsicError> {
        Err(IntrinsicError { text: text.to_owned(), message: "not implemented".into() })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Random) -> Result<Value, Failure> {
        let _ = (scope, random);
        Err(Failure::intrinsic("not implemented"))
    }
}

//! Validation diagnostics: every problem in a definition, each with the JSON pointer of the
//! offending field, AWS's diagnostic code and a message saying which rule was broken.

use std::fmt;

use serde::Serialize;

/// AWS's `ValidateStateMachineDefinition` diagnostic codes.
pub mod codes {
    /// The definition is not JSON at all.
    pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";
    /// A field is missing, of the wrong type, or breaks a rule of the language.
    pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
    /// A `Next`/`Default`/`StartAt` names no state, or a state cannot be reached.
    pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
    /// Two states (anywhere in the machine, branches included) share a name.
    pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
}

/// `ERROR` fails validation; `WARNING` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Error,
    Warning,
}

/// A JSON pointer (RFC 6901) into the definition, e.g. `/States/Check/Retry/1/ErrorEquals`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Pointer(String);

impl Pointer {
    /// The document root, displayed as `/` as AWS does.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// The pointer to a child member or element.
    pub fn child(&self, key: impl fmt::Display) -> Self {
        let key = key.to_string();
        let mut s = String::with_capacity(self.0.len() + key.len() + 1);
        s.push_str(&self.0);
        s.push('/');
        for c in key.chars() {
            match c {
                '~' => s.push_str("~0"),
                '/' => s.push_str("~1"),
                c => s.push(c),
            }
        }
        Self(s)
    }

    /// The raw RFC 6901 form (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unescaped reference tokens.
    pub fn tokens(&self) -> impl Iterator<Item = String> + '_ {
        self.0
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("/")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// AWS's diagnostic code, e.g. `SCHEMA_VALIDATION_FAILED` (see [`codes`]).
    pub code: &'static str,
    /// Where: a JSON pointer to the offending field.
    pub location: Pointer,
    /// What rule was broken and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {}", self.code, self.message, self.location)
    }
}

/// Collects diagnostics while a definition is parsed, so all problems are reported at once.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a `SCHEMA_VALIDATION_FAILED` error.
    pub fn schema(&mut self, location: &Pointer, message: impl Into<String>) {
        self.push(
            Severity::Error,
            codes::SCHEMA_VALIDATION_FAILED,
            location,
            message,
        );
    }

    pub fn error(&mut self, code: &'static str, location: &Pointer, message: impl Into<String>) {
        self.push(Severity::Error, code, location, message);
    }

    pub fn warning(&mut self, code: &'static str, location: &Pointer, message: impl Into<String>) {
        self.push(Severity::Warning, code, location, message);
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        location: &Pointer,
        message: impl Into<String>,
    ) {
        self.items.push(Diagnostic {
            severity,
            code,
            location: location.clone(),
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_tilde_and_slash_per_rfc6901() {
        let p = Pointer::root().child("States").child("a/b~c").child(1);
        assert_eq!(p.as_str(), "/States/a~1b~0c/1");
        assert_eq!(p.tokens().collect::<Vec<_>>(), ["States", "a/b~c", "1"]);
        assert_eq!(Pointer::root().to_string(), "/");
    }
}

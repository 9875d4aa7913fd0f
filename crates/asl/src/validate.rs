//! Validating a definition from its source text: JSON syntax, duplicate keys (which a JSON
//! parser silently collapses), then every rule of the model — each diagnostic located by line
//! and column. `sluice validate`, `sluice run` and the API's definition checks all come here.

use serde::Serialize;

use crate::definition::StateMachine;
use crate::diagnostics::codes;
use crate::source::{self, LineCol, Positions};
use crate::{Diagnostic, Pointer, Severity};

/// A diagnostic and where it is in the source text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
    pub line: u32,
    pub column: u32,
}

/// The outcome of validating one definition text.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The parsed machine, when there are no errors.
    pub machine: Option<StateMachine>,
    pub diagnostics: Vec<Located>,
}

impl Validation {
    /// `true` when nothing of severity `ERROR` was found.
    pub fn is_ok(&self) -> bool {
        self.machine.is_some()
    }

    /// The errors (not the warnings), as AWS lists them after `Invalid State Machine
    /// Definition: `: `'<CODE>: <message> at <location>', ...` joined with `, `.
    pub fn errors(&self) -> String {
        self.diagnostics
            .iter()
            .filter(|d| d.diagnostic.severity == crate::Severity::Error)
            .map(|d| d.diagnostic.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Validates a definition's source text.
pub fn validate(text: &str) -> Validation {
    let value = match source::parse_json(text) {
        Ok(v) => v,
        Err(e) => {
            let diagnostic = Diagnostic {
                severity: Severity::Error,
                code: codes::INVALID_JSON_DESCRIPTION,
                location: Pointer::root(),
                message: e.message.clone(),
            };
            return Validation {
                machine: None,
                diagnostics: vec![Located {
                    diagnostic,
                    line: e.line,
                    column: e.column,
                }],
            };
        }
    };
    let positions = Positions::index(text);
    let mut found: Vec<Diagnostic> = positions
        .duplicate_keys()
        .iter()
        .map(|(pointer, _)| duplicate(pointer))
        .collect();
    let machine = match StateMachine::parse(&value) {
        Ok(m) => Some(m),
        Err(d) => {
            found.extend(d);
            None
        }
    };
    let has_errors = found.iter().any(|d| d.severity == Severity::Error);
    let diagnostics = found
        .into_iter()
        .map(|diagnostic| {
            let LineCol { line, column } = positions.locate(&diagnostic.location);
            Located {
                diagnostic,
                line,
                column,
            }
        })
        .collect();
    Validation {
        machine: machine.filter(|_| !has_errors),
        diagnostics,
    }
}

/// A repeated key: a duplicate state name (AWS's `DUPLICATE_STATE_NAME`) under `States`, a
/// repeated field anywhere else.
fn duplicate(pointer: &Pointer) -> Diagnostic {
    let tokens: Vec<String> = pointer.tokens().collect();
    let name = tokens.last().cloned().unwrap_or_default();
    let under_states = tokens.len() >= 2 && tokens[tokens.len() - 2] == "States";
    let (code, message) = if under_states {
        (
            codes::DUPLICATE_STATE_NAME,
            format!("Duplicate State name: {name}"),
        )
    } else {
        (
            codes::SCHEMA_VALIDATION_FAILED,
            format!("Duplicate field '{name}'"),
        )
    };
    Diagnostic {
        severity: Severity::Error,
        code,
        location: pointer.clone(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_state_names_are_found_although_json_parsing_collapses_them() {
        let text = "{\"StartAt\":\"A\",\"States\":{\n\"A\":{\"Type\":\"Succeed\"},\n\"A\":{\"Type\":\"Succeed\"}}}";
        let v = validate(text);
        assert!(!v.is_ok());
        let d = &v.diagnostics[0];
        assert_eq!(d.diagnostic.code, "DUPLICATE_STATE_NAME");
        assert_eq!(d.diagnostic.location.as_str(), "/States/A");
        assert_eq!((d.line, d.column), (3, 1));
    }

    #[test]
    fn duplicate_fields_elsewhere_are_schema_errors() {
        let v = validate(r#"{"StartAt":"A","StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#);
        assert_eq!(v.diagnostics[0].diagnostic.code, "SCHEMA_VALIDATION_FAILED");
        assert_eq!(
            v.diagnostics[0].diagnostic.message,
            "Duplicate field 'StartAt'"
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let v = validate("{\n  \"StartAt\": ,\n}");
        let d = &v.diagnostics[0];
        assert_eq!(d.diagnostic.code, "INVALID_JSON_DESCRIPTION");
        assert_eq!(d.line, 2);
        assert!(v.machine.is_none());
    }

    #[test]
    fn a_valid_definition_yields_its_machine() {
        let v = validate(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#);
        assert!(v.is_ok() && v.diagnostics.is_empty());
    }
}

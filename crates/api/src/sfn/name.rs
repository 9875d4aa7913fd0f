//! Names of state machines, executions, activities and aliases' machines: AWS's `InvalidName`.
//!
//! Per the API reference, a name is 1 to 80 characters and must not contain white space,
//! brackets `< > { } [ ]`, wildcards `? *`, special characters `" # % \ ^ | ~ ` $ & , ; : /`,
//! control characters (`U+0000-001F`, `U+007F-009F`) or the non-characters `U+FFFE`,
//! `U+FFFF` and `U+10FFFF` (a Rust string cannot hold surrogates). The model's length
//! constraint usually answers first with a `ValidationException`; this check covers the
//! characters and any path that bypasses the model.

use crate::error::ApiError;

/// The longest name AWS accepts, in characters.
pub const MAX_NAME_LEN: usize = 80;

/// Whether `c` may appear in a name.
pub fn is_valid_name_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '<' | '>'
                | '{'
                | '}'
                | '['
                | ']'
                | '?'
                | '*'
                | '"'
                | '#'
                | '%'
                | '\\'
                | '^'
                | '|'
                | '~'
                | '`'
                | '$'
                | '&'
                | ','
                | ';'
                | ':'
                | '/'
        )
        || matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
        || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{10ffff}'))
}

/// Whether `name` is a valid name.
pub fn is_valid_name(name: &str) -> bool {
    let mut len = 0;
    for c in name.chars() {
        len += 1;
        if len > MAX_NAME_LEN || !is_valid_name_char(c) {
            return false;
        }
    }
    len > 0
}

/// `Ok` for a valid name, else `InvalidName: Invalid Name: '<name>'`.
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in [
            "a",
            "HelloWorld",
            "sec-pipeline_v2.1",
            "名前",
            "x@y+z=1!",
            "(parens)'quote'",
            &"a".repeat(80),
        ] {
            assert!(validate_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_what_aws_rejects() {
        // The characters LocalStack's snapshots recorded against AWS, and the rest of the list.
        for c in [
            ' ',
            '\t',
            '\n',
            '<',
            '>',
            '{',
            '}',
            '[',
            ']',
            '?',
            '*',
            '"',
            '#',
            '%',
            '\\',
            '^',
            '|',
            '~',
            '`',
            '$',
            '&',
            ',',
            ';',
            ':',
            '/',
            '\u{0}',
            '\u{1f}',
            '\u{7f}',
            '\u{85}',
            '\u{9f}',
            '\u{a0}',
            '\u{2003}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{10ffff}',
        ] {
            let name = format!("activity{c}name");
            let error = validate_name(&name).unwrap_err();
            assert_eq!(error.kind, "InvalidName");
            assert_eq!(error.message, format!("Invalid Name: '{name}'"));
        }
        assert!(validate_name("").is_err());
        assert!(validate_name(&"a".repeat(81)).is_err());
        assert!(validate_name(&"é".repeat(80)).is_ok());
    }
}

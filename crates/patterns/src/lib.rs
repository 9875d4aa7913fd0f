//! AWS's event-pattern language, one evaluator for every service that uses it: EventBridge
//! rules and Pipes, SNS subscription filter policies (on message attributes or on the body),
//! Lambda event-source mapping `FilterCriteria`.
//!
//! A pattern is parsed once ([`Pattern::parse`], validated with AWS's error messages) into a
//! tree, then matched against many events ([`Pattern::matches`]) without allocating in the
//! common case. Pure: no I/O, no async.
//!
//! Semantics, as AWS documents and answers them:
//! - a pattern object lists fields that must all match; a field's array lists match
//!   expressions of which one must match; `$or` over two or more objects matches if one does;
//! - nested objects in the pattern are nested fields in the event, and a key `"a.b"` (in the
//!   pattern or in the event) means the same as `"a": {"b": ...}`;
//! - an array in the event matches if one of its elements does; the fields matched under one
//!   key come from the same element of an array of objects;
//! - leaves are strings, numbers, booleans and null; an object is not a leaf (`exists` on it
//!   is false) and an empty array has none;
//! - numbers compare by value (`300` matches `300.0`), never with strings.

mod compile;
mod error;
mod eval;
mod matcher;
mod sns;

use serde_json::Value;

pub use compile::{MAX_WILDCARDS, SNS_MAX_COMBINATIONS, SNS_MAX_KEYS};
pub use error::{PatternError, Reason, SnsAction};
pub use sns::{message_attributes, parse_body};

/// Which service's flavour of the language a pattern is written in: the operators each
/// accepts, its limits and its error messages differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// EventBridge rules (event patterns): every operator.
    EventBridge,
    /// SNS filter policy with `FilterPolicyScope: MessageAttributes` (the default): flat
    /// keys (attribute names), no `wildcard`, `anything-but` with values or a `prefix`.
    /// Match it against [`message_attributes`].
    SnsAttributes,
    /// SNS filter policy with `FilterPolicyScope: MessageBody`: as attributes, plus nesting.
    /// Match it against [`parse_body`].
    SnsBody,
    /// Lambda event-source mapping and EventBridge Pipes `FilterCriteria`: no `wildcard`, no
    /// `cidr`, `anything-but` with values only.
    EventSourceMapping,
}

/// A parsed, validated pattern. `Send + Sync`: share one across threads.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
    dialect: Dialect,
}

/// Fields that must all match, and groups of alternatives (`$or`) of which one must match.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub(crate) fields: Vec<Field>,
    pub(crate) ors: Vec<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) key: Box<str>,
    pub(crate) target: Target,
}

#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Match expressions, any of which may match.
    Leaf(Vec<matcher::Matcher>),
    Object(Node),
}

impl Pattern {
    /// Parses and validates pattern text. JSON nesting deeper than 128 levels is refused.
    pub fn parse(text: &str, dialect: Dialect) -> Result<Pattern, PatternError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PatternError::new(dialect, Reason::InvalidJson(e.to_string())))?;
        Self::from_value(&value, dialect)
    }

    /// Validates an already parsed pattern.
    pub fn from_value(value: &Value, dialect: Dialect) -> Result<Pattern, PatternError> {
        let root = compile::compile(value, dialect).map_err(|r| PatternError::new(dialect, r))?;
        Ok(Pattern { root, dialect })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether the event matches. An event that is not a JSON object matches no pattern
    /// (AWS requires SNS bodies to be JSON objects to be filtered). Any depth of event is
    /// fine: evaluation recurses only as deep as the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(_) => eval::node(&self.root, eval::View::Value(event)),
            _ => false,
        }
    }
}

/// Drops a value of any depth without recursing (serde_json's own drop recurses per level).
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) use drop_deep as dismantle;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Pattern>();
        check::<PatternError>();
    }
}

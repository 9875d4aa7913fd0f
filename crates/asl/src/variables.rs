//! Workflow variables (`Assign`, `$name`), in both query languages.
//!
//! The top-level states of an execution share one scope. Each Parallel branch and inline Map
//! iteration runs in a scope of its own that reads the outer scopes (as they were when it
//! started) but cannot assign to their names; what a branch assigns never leaks out (only its
//! output does). A distributed Map's iterations are child workflows and see no outer
//! variables. Values assigned by a state take effect when it exits, so every expression of a
//! state (Output and Assign included) reads the values from before the state.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::{Failure, names};

/// AWS's limit on the serialized size of one variable, and of all the values one `Assign`
/// sets together.
pub const MAX_VARIABLE_BYTES: usize = 256 * 1024;
/// AWS's limit on the serialized size of all the variables of one execution scope.
pub const MAX_SCOPE_BYTES: usize = 10 * 1024 * 1024;

/// The variables a thread of an execution can read and assign.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Variables {
    /// The enclosing scopes, flattened, read-only here; shared by sibling branches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outer: Option<Arc<Map<String, Value>>>,
    /// This scope's own variables.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    own: Map<String, Value>,
}

impl Variables {
    /// A top-level scope holding `values` (TestState's `variables`).
    pub fn from_map(values: Map<String, Value>) -> Self {
        Self {
            outer: None,
            own: values,
        }
    }

    /// The value of `$name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.own
            .get(name)
            .or_else(|| self.outer.as_ref().and_then(|o| o.get(name)))
    }

    /// The scope of a Parallel branch or inline Map iteration started from this one: it reads
    /// everything visible here.
    pub fn inner_scope(&self) -> Variables {
        if self.own.is_empty() {
            return Variables {
                outer: self.outer.clone(),
                own: Map::new(),
            };
        }
        let mut all = self.outer.as_deref().cloned().unwrap_or_default();
        all.extend(self.own.iter().map(|(k, v)| (k.clone(), v.clone())));
        Variables {
            outer: Some(Arc::new(all)),
            own: Map::new(),
        }
    }

    /// Checks what one state assigns before it takes effect: names of outer scopes cannot be
    /// assigned from an inner one, and the size limits hold.
    pub fn check(&self, assigned: &Map<String, Value>) -> Result<(), Failure> {
        let mut total = 0usize;
        for (name, value) in assigned {
            if self.outer.as_ref().is_some_and(|o| o.contains_key(name)) {
                return Err(Failure::runtime(format!(
                    "Cannot bind value '{value}' to variable '{name}' as it belongs to an outer \
                     scope."
                )));
            }
            let size = crate::json_len(value);
            if size > MAX_VARIABLE_BYTES {
                return Err(Failure::new(
                    names::DATA_LIMIT_EXCEEDED,
                    format!(
                        "The variable '{name}' has a size of {size} bytes, exceeding the maximum \
                         of {MAX_VARIABLE_BYTES} bytes for a variable."
                    ),
                ));
            }
            total += size;
        }
        if total > MAX_VARIABLE_BYTES {
            return Err(Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The variables assigned by the state have a combined size of {total} bytes, \
                     exceeding the maximum of {MAX_VARIABLE_BYTES} bytes per Assign."
                ),
            ));
        }
        let after: usize = self
            .own
            .iter()
            .filter(|(k, _)| !assigned.contains_key(*k))
            .map(|(_, v)| crate::json_len(v))
            .sum::<usize>()
            + total;
        if after > MAX_SCOPE_BYTES {
            return Err(Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The variables of the execution would have a combined size of {after} bytes, \
                     exceeding the maximum of {MAX_SCOPE_BYTES} bytes."
                ),
            ));
        }
        Ok(())
    }

    /// Makes `assigned` (already [checked](Self::check)) take effect.
    pub fn assign(&mut self, assigned: Map<String, Value>) {
        self.own.extend(assigned);
    }
}

impl sluice_jsonata::Variables for Variables {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// The `assignedVariables` of a `…StateExited` event: each value as its JSON text.
pub fn assigned_variables(assigned: &Map<String, Value>) -> Map<String, Value> {
    assigned
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(crate::json_text(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn inner_scopes_read_outer_variables_but_cannot_assign_them_and_do_not_leak() {
        let mut top = Variables::default();
        top.assign(map(json!({"x": 42})));
        let mut branch = top.inner_scope();
        assert_eq!(branch.get("x"), Some(&json!(42)));
        let failure = branch.check(&map(json!({"x": 1}))).unwrap_err();
        assert_eq!(failure.error, names::RUNTIME);
        assert!(
            failure.cause.contains("belongs to an outer scope"),
            "{failure:?}"
        );
        branch.check(&map(json!({"innerX": 42}))).unwrap();
        branch.assign(map(json!({"innerX": 42})));
        assert_eq!(branch.get("innerX"), Some(&json!(42)));
        assert_eq!(top.get("innerX"), None, "nothing leaks out of a branch");
        // A branch of a branch sees both.
        let nested = branch.inner_scope();
        assert_eq!(nested.get("x"), Some(&json!(42)));
        assert_eq!(nested.get("innerX"), Some(&json!(42)));
        // The same scope reassigns freely.
        top.check(&map(json!({"x": 43}))).unwrap();
    }

    #[test]
    fn size_limits_are_enforced_per_variable_and_per_assign() {
        let scope = Variables::default();
        let big = "x".repeat(MAX_VARIABLE_BYTES);
        let failure = scope.check(&map(json!({ "v": big }))).unwrap_err();
        assert_eq!(failure.error, names::DATA_LIMIT_EXCEEDED);
        let half = "x".repeat(MAX_VARIABLE_BYTES / 2);
        let failure = scope
            .check(&map(json!({ "a": half, "b": half })))
            .unwrap_err();
        assert!(failure.cause.contains("per Assign"), "{failure:?}");
    }

    #[test]
    fn history_shows_each_assigned_value_as_json_text() {
        let shown = assigned_variables(&map(json!({"s": "a", "n": 42, "o": {"k": [1]}})));
        assert_eq!(
            shown,
            map(json!({"s": "\"a\"", "n": "42", "o": "{\"k\":[1]}"}))
        );
    }
}

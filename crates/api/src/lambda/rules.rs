//! Where Lambda's answer for a member differs from the generic checker's ([`crate::shape`]),
//! as recorded against AWS in LocalStack's snapshots:
//! - `Architectures`' enum is one violation for the whole list, in Java's list rendering,
//!   not one per item;
//! - `Runtime`'s enum is not the front end's: the service answers an unknown runtime with
//!   `InvalidParameterValueException` (the backend's to check).

use serde_json::{Map, Value};

use crate::shape::Violation;

/// The values of `Architecture`.
const ARCHITECTURES: [&str; 2] = ["x86_64", "arm64"];

/// Whether the generic checker's violation at `path` is one these rules word themselves, or
/// leave to the backend.
pub fn covers(path: &str) -> bool {
    path == "runtime" || path.starts_with("architectures.")
}

/// What `members` (a request's members, by model name) breaks of these rules.
pub fn violations(members: &Map<String, Value>) -> Vec<Violation> {
    let mut violations = Vec::new();
    if let Some(Value::Array(architectures)) = members.get("Architectures")
        && !architectures
            .iter()
            .all(|a| a.as_str().is_some_and(|a| ARCHITECTURES.contains(&a)))
    {
        violations.push(Violation {
            path: "architectures".into(),
            value: Some(format!("'{}'", shown(&Value::Array(architectures.clone())))),
            constraint: format!(
                "Member must satisfy constraint: [Member must satisfy enum value set: [{}], \
                 Member must not be null]",
                ARCHITECTURES.join(", ")
            ),
        });
    }
    violations
}

/// A value as AWS echoes it in a violation: strings bare, lists as `[a, b]` (Java's
/// rendering), everything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(shown).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(body: Value) -> Vec<String> {
        let Value::Object(members) = body else {
            panic!("not an object")
        };
        violations(&members).iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn architectures_are_one_violation_for_the_list() {
        assert_eq!(
            messages(json!({"Architectures": ["X86_64"]})),
            [
                "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must \
              satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member \
              must not be null]"
            ]
        );
        assert!(messages(json!({"Architectures": ["x86_64", "arm64"]})).is_empty());
        assert!(covers("architectures.1.member"));
        assert!(!covers("architectures"));
        assert!(covers("runtime"));
        assert!(!covers("role"));
    }
}

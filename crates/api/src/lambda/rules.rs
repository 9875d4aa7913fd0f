//! The model's constraints the generated limits (`model::constraints`: lengths and ranges of
//! top-level members) do not cover, for the members that configure a function: `Role`'s
//! pattern, `Architectures`' enum and `EphemeralStorage.Size`'s range. Each broken one is a
//! [`Violation`] in AWS's words (recorded against AWS in LocalStack's snapshots), reported in the
//! same `ValidationException` as the generated limits.

use serde_json::{Map, Value};

use crate::shape::Violation;

/// `Role`'s pattern in the model, as AWS quotes it.
pub const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";

/// The values of `Architecture`.
const ARCHITECTURES: [&str; 2] = ["x86_64", "arm64"];

/// `EphemeralStorage.Size`'s range, in MB.
const EPHEMERAL_STORAGE_MB: (i64, i64) = (512, 10240);

/// What `members` (a request body) breaks of these rules.
pub fn violations(members: &Map<String, Value>) -> Vec<Violation> {
    let mut violations = Vec::new();
    if let Some(Value::String(role)) = members.get("Role")
        && !is_role_arn(role)
    {
        violations.push(Violation {
            path: "role".into(),
            value: Some(format!("'{role}'")),
            constraint: format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
        });
    }
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
    if let Some(Value::Object(storage)) = members.get("EphemeralStorage") {
        let (min, max) = EPHEMERAL_STORAGE_MB;
        let path = "ephemeralStorage.size";
        match storage.get("Size") {
            None | Some(Value::Null) => violations.push(Violation {
                path: path.into(),
                value: Some("null".into()),
                constraint: "Member must not be null".into(),
            }),
            Some(Value::Number(n)) => {
                let size = n.as_i64().unwrap_or(i64::MAX);
                if size < min {
                    violations.push(Violation {
                        path: path.into(),
                        value: Some(format!("'{n}'")),
                        constraint: format!(
                            "Member must have value greater than or equal to {min}"
                        ),
                    });
                } else if size > max {
                    violations.push(Violation {
                        path: path.into(),
                        value: Some(format!("'{n}'")),
                        constraint: format!("Member must have value less than or equal to {max}"),
                    });
                }
            }
            // A size of another JSON type fails decoding with its own error.
            Some(_) => {}
        }
    }
    violations
}

/// A value as AWS echoes it in a violation: strings bare, lists as `[a, b]` (Java's
/// rendering), everything else as JSON.
pub fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(shown).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// Whether `role` matches [`ROLE_PATTERN`] whole:
/// `arn:` `aws[a-zA-Z-]*`? `:iam::` 12 digits `:role` then one or more of
/// `[a-zA-Z_0-9+=,.@-/]` (the optional `/` is one of them).
fn is_role_arn(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let partition_ok = partition.is_empty()
        || partition
            .strip_prefix("aws")
            .is_some_and(|tail| tail.chars().all(|c| c.is_ascii_alphabetic() || c == '-'));
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, name)) = rest.split_at_checked(12) else {
        return false;
    };
    let Some(name) = name.strip_prefix(":role") else {
        return false;
    };
    partition_ok
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
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
    fn role_arns_follow_the_models_pattern() {
        for good in [
            "arn:aws:iam::123456789012:role/r",
            "arn:aws-us-gov:iam::123456789012:role/path/to/r",
            "arn::iam::123456789012:role/x",
            "arn:aws:iam::123456789012:rolex",
            "arn:aws:iam::123456789012:role/a+=,.@_-9",
            // `role` then `/`: the optional slash is absent and `/` is the name.
            "arn:aws:iam::123456789012:role/",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "r1",
            "",
            "arn:aws:iam::12345678901:role/r",
            "arn:aws:iam::1234567890123:role/r",
            "arn:aws:iam::123456789012:role",
            "arn:aws:iam::123456789012:user/r",
            "arn:aws:lambda::123456789012:role/r",
            "arn:gcp:iam::123456789012:role/r",
            "arn:aws:iam:us-east-1:123456789012:role/r",
            "arn:aws:iam::123456789012:role/a b",
            "arn:aws:iam::12345678901é:role/r",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn messages_are_awss() {
        assert_eq!(
            messages(json!({"Role": "r1"})),
            [format!(
                "Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular \
                 expression pattern: {ROLE_PATTERN}"
            )]
        );
        assert_eq!(
            messages(json!({"Architectures": ["X86_64"]})),
            [
                "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must \
              satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member \
              must not be null]"
            ]
        );
        assert!(messages(json!({"Architectures": ["x86_64", "arm64"]})).is_empty());
        assert_eq!(
            messages(json!({"EphemeralStorage": {"Size": 10241}})),
            [
                "Value '10241' at 'ephemeralStorage.size' failed to satisfy constraint: Member must \
              have value less than or equal to 10240"
            ]
        );
        assert_eq!(
            messages(json!({"EphemeralStorage": {"Size": 511}})),
            [
                "Value '511' at 'ephemeralStorage.size' failed to satisfy constraint: Member must \
              have value greater than or equal to 512"
            ]
        );
        assert!(messages(json!({"EphemeralStorage": {"Size": 10240}})).is_empty());
        assert!(messages(json!({"EphemeralStorage": {"Size": 512}})).is_empty());
        assert_eq!(
            messages(json!({"EphemeralStorage": {}})),
            [
                "Value null at 'ephemeralStorage.size' failed to satisfy constraint: Member must \
              not be null"
            ]
        );
    }
}

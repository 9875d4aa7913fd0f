//! From pattern JSON to the compiled tree, validating as AWS does: the structure first
//! (objects and non-empty arrays, SNS's key count, nesting and complexity), then each match
//! expression, so that the first error AWS reports is the one reported here.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::error::Reason;
use crate::matcher::{AnythingBut, Cidr, Literal, Matcher, Range, Wildcard};
use crate::{Dialect, Field, Node, Target};

/// SNS: at most this many keys at the top of a policy.
pub const SNS_MAX_KEYS: usize = 5;
/// SNS: at most this many combinations of values (see [`combinations`]).
pub const SNS_MAX_COMBINATIONS: u64 = 150;
/// EventBridge: at most this many `*` in one wildcard; the documented example of a rule too
/// complex (`*:*:*:*:*:event-bus/*`) has six.
pub const MAX_WILDCARDS: usize = 5;

pub(crate) fn compile(root: &Value, dialect: Dialect) -> Result<Node, Reason> {
    let Value::Object(root) = root else {
        return Err(Reason::NotAnObject);
    };
    if matches!(dialect, Dialect::SnsAttributes | Dialect::SnsBody) {
        if root.len() > SNS_MAX_KEYS {
            return Err(Reason::TooManyKeys(SNS_MAX_KEYS));
        }
        let combinations = structure(root, dialect, 1, 1)?;
        if combinations > SNS_MAX_COMBINATIONS {
            return Err(Reason::TooComplex);
        }
    } else {
        structure(root, dialect, 1, 1)?;
    }
    object(root, dialect)
}

/// `$or` is an operator only over two or more objects; otherwise it is a field's name.
fn or_alternatives<'v>(key: &str, value: &'v Value) -> Option<&'v [Value]> {
    match value {
        Value::Array(items)
            if key == "$or" && items.len() > 1 && items.iter().all(Value::is_object) =>
        {
            Some(items)
        }
        _ => None,
    }
}

/// Checks the shape and counts combinations as SNS does: each array multiplies the count by
/// its length times its nesting depth (AWS's example: four values three levels deep and three
/// values two levels deep make 3 x 4 x 2 x 3 = 72); `$or` sums its alternatives.
fn structure(
    object: &Map<String, Value>,
    dialect: Dialect,
    depth: u64,
    mut combinations: u64,
) -> Result<u64, Reason> {
    for (key, value) in object {
        match value {
            Value::Object(inner) => {
                combinations = structure(inner, dialect, depth + 1, combinations)?;
            }
            Value::Array(items) if items.is_empty() => return Err(Reason::EmptyArray),
            Value::Array(items) => match or_alternatives(key, value) {
                Some(alternatives) => {
                    let mut sum = 0u64;
                    for alternative in alternatives {
                        let Value::Object(alternative) = alternative else {
                            unreachable!("alternatives are objects")
                        };
                        sum = sum.saturating_add(structure(
                            alternative,
                            dialect,
                            depth,
                            combinations,
                        )?);
                    }
                    combinations = sum;
                }
                None => {
                    combinations = combinations
                        .saturating_mul(items.len() as u64)
                        .saturating_mul(depth);
                }
            },
            _ => return Err(Reason::MustBeObjectOrArray(key.clone())),
        }
    }
    if dialect == Dialect::SnsAttributes && depth > 1 {
        return Err(Reason::NestedAttributes);
    }
    Ok(combinations)
}

fn object(object: &Map<String, Value>, dialect: Dialect) -> Result<Node, Reason> {
    let mut node = Node::default();
    for (key, value) in object {
        if let Some(alternatives) = or_alternatives(key, value) {
            let mut compiled = Vec::with_capacity(alternatives.len());
            for alternative in alternatives {
                let Value::Object(alternative) = alternative else {
                    unreachable!("alternatives are objects")
                };
                compiled.push(self::object(alternative, dialect)?);
            }
            node.ors.push(compiled);
            continue;
        }
        let target = match value {
            Value::Object(inner) => Target::Object(self::object(inner, dialect)?),
            Value::Array(items) => Target::Leaf(leaf(items, dialect)?),
            _ => unreachable!("checked by structure()"),
        };
        // AWS reads `"a.b": ...` as `"a": {"b": ...}`; SNS attribute names are flat.
        if dialect == Dialect::SnsAttributes {
            insert(&mut node, &[key.as_str()], target);
        } else {
            let segments: Vec<&str> = key.split('.').collect();
            insert(&mut node, &segments, target);
        }
    }
    Ok(node)
}

/// Adds a field at a path of segments below `node`, merging objects with the same key so that
/// fields under one key are matched against the same array element.
fn insert(node: &mut Node, segments: &[&str], target: Target) {
    let (first, rest) = segments.split_first().expect("a key has a segment");
    if rest.is_empty() {
        match target {
            Target::Object(inner) => {
                if let Some(Target::Object(existing)) = object_field(node, first) {
                    merge(existing, inner);
                } else {
                    node.fields.push(Field {
                        key: (*first).into(),
                        target: Target::Object(inner),
                    });
                }
            }
            leaf => node.fields.push(Field {
                key: (*first).into(),
                target: leaf,
            }),
        }
        return;
    }
    if object_field(node, first).is_none() {
        node.fields.push(Field {
            key: (*first).into(),
            target: Target::Object(Node::default()),
        });
    }
    let Some(Target::Object(child)) = object_field(node, first) else {
        unreachable!("just added")
    };
    insert(child, rest, target);
}

fn object_field<'n>(node: &'n mut Node, key: &str) -> Option<&'n mut Target> {
    node.fields
        .iter_mut()
        .find(|f| &*f.key == key && matches!(f.target, Target::Object(_)))
        .map(|f| &mut f.target)
}

fn merge(into: &mut Node, from: Node) {
    for field in from.fields {
        insert(into, &[&field.key], field.target);
    }
    into.ors.extend(from.ors);
}

fn token(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn literal(value: &Value) -> Option<Literal> {
    Some(match value {
        Value::String(s) => Literal::String(s.as_str().into()),
        Value::Number(n) => Literal::Number(n.as_f64()?),
        Value::Bool(b) => Literal::Bool(*b),
        Value::Null => Literal::Null,
        _ => return None,
    })
}

fn leaf(items: &[Value], dialect: Dialect) -> Result<Vec<Matcher>, Reason> {
    items.iter().map(|item| expression(item, dialect)).collect()
}

fn expression(item: &Value, dialect: Dialect) -> Result<Matcher, Reason> {
    if let Some(literal) = literal(item) {
        return Ok(Matcher::Exact(literal));
    }
    let Value::Object(expression) = item else {
        return Err(Reason::MatchValueType);
    };
    if expression.len() != 1 {
        return Err(Reason::OneKeyOnly);
    }
    let (operator, value) = expression.iter().next().expect("one key");
    let sns = matches!(dialect, Dialect::SnsAttributes | Dialect::SnsBody);
    match operator.as_str() {
        op @ ("prefix" | "suffix") => {
            let name = if op == "prefix" { "prefix" } else { "suffix" };
            match value {
                Value::String(s) if op == "prefix" => Ok(Matcher::Prefix(s.as_str().into())),
                Value::String(s) => Ok(Matcher::Suffix(s.as_str().into())),
                // `{"prefix": {"equals-ignore-case": "..."}}`; SNS has no such form.
                Value::Object(inner) if !sns => {
                    if inner.len() != 1 {
                        return Err(Reason::OneKeyOnly);
                    }
                    let (inner_op, inner_value) = inner.iter().next().expect("one key");
                    if inner_op != "equals-ignore-case" {
                        return Err(Reason::UnrecognizedMatchType(inner_op.clone()));
                    }
                    let Value::String(s) = inner_value else {
                        return Err(Reason::MustBeString("equals-ignore-case"));
                    };
                    let lowered = s.to_lowercase().into();
                    Ok(if op == "prefix" {
                        Matcher::PrefixIgnoreCase(lowered)
                    } else {
                        Matcher::SuffixIgnoreCase(lowered)
                    })
                }
                _ => Err(Reason::MustBeString(name)),
            }
        }
        "equals-ignore-case" => match value {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.to_lowercase().into())),
            _ => Err(Reason::MustBeString("equals-ignore-case")),
        },
        "exists" => match value {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(Reason::ExistsNotBoolean),
        },
        "anything-but" => anything_but(value, dialect).map(Matcher::AnythingBut),
        "numeric" => numeric(value).map(Matcher::Numeric),
        "cidr" if dialect != Dialect::EventSourceMapping => cidr(value, dialect).map(Matcher::Cidr),
        "wildcard" if dialect == Dialect::EventBridge => match value {
            Value::String(s) => wildcard(s, dialect).map(Matcher::Wildcard),
            _ => Err(Reason::MustBeString("wildcard")),
        },
        other => Err(Reason::UnrecognizedMatchType(other.to_string())),
    }
}

fn anything_but(value: &Value, dialect: Dialect) -> Result<AnythingBut, Reason> {
    match value {
        Value::String(_) | Value::Number(_) => Ok(AnythingBut::Literals(vec![
            literal(value).ok_or(Reason::AnythingButValue)?,
        ])),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(Reason::EmptyArray);
            }
            let mut literals = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(_) | Value::Number(_) => {
                        literals.push(literal(item).ok_or(Reason::AnythingButListType)?);
                    }
                    _ => return Err(Reason::AnythingButListType),
                }
            }
            Ok(AnythingBut::Literals(literals))
        }
        Value::Object(inner) => {
            let supported: &[&str] = match dialect {
                Dialect::EventBridge => &["prefix", "suffix", "equals-ignore-case", "wildcard"],
                Dialect::SnsAttributes | Dialect::SnsBody => &["prefix"],
                Dialect::EventSourceMapping => &[],
            };
            if let Some(unsupported) = inner.keys().find(|k| !supported.contains(&k.as_str())) {
                return Err(Reason::UnsupportedAnythingBut(unsupported.clone()));
            }
            if inner.len() != 1 {
                return Err(Reason::OneKeyOnly);
            }
            let (op, value) = inner.iter().next().expect("one key");
            match op.as_str() {
                "prefix" | "suffix" => {
                    let strings = match value {
                        Value::Object(_) => return Err(Reason::AnythingButValue),
                        Value::Array(_) if dialect != Dialect::EventBridge => {
                            return Err(Reason::MustBeString("prefix"));
                        }
                        _ => strings(value).ok_or(Reason::MustBeString("prefix/suffix"))?,
                    };
                    if strings.is_empty() || strings.iter().any(|s| s.is_empty()) {
                        return Err(Reason::NullPrefixSuffix);
                    }
                    Ok(if op == "prefix" {
                        AnythingBut::Prefixes(strings)
                    } else {
                        AnythingBut::Suffixes(strings)
                    })
                }
                "equals-ignore-case" => {
                    let strings = strings(value).ok_or(Reason::AnythingButIgnoreCaseType)?;
                    if strings.is_empty() {
                        return Err(Reason::EmptyArray);
                    }
                    Ok(AnythingBut::IgnoreCase(
                        strings.iter().map(|s| s.to_lowercase().into()).collect(),
                    ))
                }
                "wildcard" => {
                    let strings = strings(value).ok_or(Reason::MustBeString("wildcard"))?;
                    if strings.is_empty() {
                        return Err(Reason::EmptyArray);
                    }
                    let wildcards = strings
                        .iter()
                        .map(|s| wildcard(s, dialect))
                        .collect::<Result<_, _>>()?;
                    Ok(AnythingBut::Wildcards(wildcards))
                }
                _ => unreachable!("checked against the supported operators"),
            }
        }
        _ => Err(Reason::AnythingButValue),
    }
}

/// A string or an array of strings.
fn strings(value: &Value) -> Option<Vec<Box<str>>> {
    match value {
        Value::String(s) => Some(vec![s.as_str().into()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(Into::into)).collect(),
        _ => None,
    }
}

fn numeric_operator_name(op: &str) -> &'static str {
    match op {
        "=" => "equals",
        "<" => "<",
        "<=" => "<=",
        ">" => ">",
        _ => ">=",
    }
}

/// `[op, n]` or `[">"|">=", low, "<"|"<=", high]`, checked term by term in AWS's order.
fn numeric(value: &Value) -> Result<Range, Reason> {
    let Value::Array(terms) = value else {
        return Err(Reason::NumericNotArray);
    };
    let mut terms = terms.iter();
    let Some(first) = terms.next() else {
        return Err(Reason::NumericInvalidMember("]".into()));
    };
    let Value::String(op) = first else {
        return Err(Reason::NumericInvalidMember(token(first)));
    };
    if !matches!(op.as_str(), "<" | "<=" | "=" | ">" | ">=") {
        return Err(Reason::NumericUnknownOperator(op.clone()));
    }
    let Some(bound) = terms.next().and_then(Value::as_f64) else {
        return Err(Reason::NumericValue(numeric_operator_name(op)));
    };
    let mut range = match op.as_str() {
        "=" => Range {
            lower: Some((bound, true)),
            upper: Some((bound, true)),
        },
        "<" | "<=" => Range {
            lower: None,
            upper: Some((bound, op == "<=")),
        },
        _ => Range {
            lower: Some((bound, op == ">=")),
            upper: None,
        },
    };
    let Some(second) = terms.next() else {
        return Ok(range);
    };
    if !matches!(op.as_str(), ">" | ">=") {
        return Err(Reason::NumericTooManyElements);
    }
    let Value::String(second) = second else {
        return Err(Reason::NumericBadRangeValue(token(second)));
    };
    if !matches!(second.as_str(), "<" | "<=") {
        return Err(Reason::NumericBadRangeOperator(second.clone()));
    }
    let Some(top) = terms.next().and_then(Value::as_f64) else {
        return Err(Reason::NumericValue(numeric_operator_name(second)));
    };
    if top <= bound {
        return Err(Reason::NumericBottomNotBelowTop);
    }
    if terms.next().is_some() {
        return Err(Reason::NumericTooManyTerms);
    }
    range.upper = Some((top, second == "<="));
    Ok(range)
}

fn cidr(value: &Value, dialect: Dialect) -> Result<Cidr, Reason> {
    // AWS reports a non-string here with the prefix wording.
    let Value::String(text) = value else {
        return Err(Reason::MustBeString("prefix"));
    };
    let parts: Vec<&str> = text.split('/').collect();
    let (ip, bits) = match parts[..] {
        // SNS also takes a single address.
        [ip] if dialect != Dialect::EventBridge => {
            let addr: IpAddr = ip
                .parse()
                .map_err(|_| Reason::NonstandardIp(ip.to_string()))?;
            let bits = if addr.is_ipv4() { 32 } else { 128 };
            (addr, bits)
        }
        [ip, mask] => {
            let bits: u8 = if !mask.is_empty() && mask.bytes().all(|b| b.is_ascii_digit()) {
                mask.parse().map_err(|_| Reason::CidrMaskBits)?
            } else {
                return Err(Reason::CidrMaskBits);
            };
            let addr: IpAddr = ip
                .parse()
                .map_err(|_| Reason::NonstandardIp(ip.to_string()))?;
            (addr, bits)
        }
        _ => return Err(Reason::CidrOneSlash),
    };
    Cidr::new(ip, bits).ok_or(Reason::CidrMaskBits)
}

/// Parses a `wildcard` string: `*` is any run of characters, `\*` a literal star, `\\` a
/// literal backslash.
pub(crate) fn wildcard(text: &str, _dialect: Dialect) -> Result<Wildcard, Reason> {
    let mut pieces: Vec<Box<str>> = Vec::new();
    let mut piece = String::new();
    let mut stars = 0usize;
    let mut leading_star = false;
    let mut trailing_star = false;
    let mut chars = text.chars().enumerate().peekable();
    let mut previous_star = false;
    while let Some((pos, c)) = chars.next() {
        match c {
            '*' => {
                if previous_star {
                    return Err(Reason::ConsecutiveWildcards(pos));
                }
                stars += 1;
                if pos == 0 {
                    leading_star = true;
                } else if !piece.is_empty() {
                    pieces.push(std::mem::take(&mut piece).into());
                }
                previous_star = true;
                trailing_star = true;
                continue;
            }
            '\\' => match chars.next() {
                Some((_, escaped @ ('*' | '\\'))) => piece.push(escaped),
                _ => return Err(Reason::InvalidEscape(pos)),
            },
            c => piece.push(c),
        }
        previous_star = false;
        trailing_star = false;
    }
    if !piece.is_empty() {
        pieces.push(piece.into());
    }
    if stars > MAX_WILDCARDS {
        return Err(Reason::WildcardTooComplex);
    }
    Ok(Wildcard::new(pieces, leading_star, trailing_star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combinations(policy: &str) -> u64 {
        let Value::Object(root) = serde_json::from_str(policy).expect("json") else {
            panic!("object")
        };
        structure(&root, Dialect::SnsBody, 1, 1).expect("valid")
    }

    #[test]
    fn combinations_follow_the_documented_examples() {
        assert_eq!(
            combinations(
                r#"{"key_a": ["v1", "v2", "v3"], "key_b": ["v1"], "key_c": ["v1", "v2"]}"#
            ),
            6
        );
        assert_eq!(
            combinations(
                r#"{"key_a": {"key_b": {"key_c": ["v1", "v2", "v3", "v4"]}}, "key_d": {"key_e": ["v1", "v2", "v3"]}}"#
            ),
            72
        );
        // (source * metricName) + (source * metricType * metricId) + (source * metricType * spaceId)
        assert_eq!(
            combinations(
                r#"{"source": ["a", "b", "c"], "$or": [
                    {"metricName": [1, 2, 3, 4, 5, 6]},
                    {"metricType": [1, 2, 3, 4], "$or": [{"metricId": [1, 2, 3, 4]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}
                ]}"#
            ),
            150
        );
    }
}

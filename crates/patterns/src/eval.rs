//! Matching an event against the compiled tree. Recursion follows the pattern's nesting (at
//! most 128 levels), never the event's: nested arrays are walked with an explicit stack.

use serde_json::{Map, Value};

use crate::matcher::leaf_matches;
use crate::{Field, Node, Target};

/// Where a pattern node is in the event.
pub(crate) enum View<'e> {
    Value(&'e Value),
    /// The keys of `map` that begin with `prefix` and a dot, seen as one object: AWS reads an
    /// event key `"a.b"` as `"a": {"b": ...}`. Rare, so building the prefix may allocate.
    Joined {
        map: &'e Map<String, Value>,
        prefix: String,
    },
}

pub(crate) fn node(node: &Node, at: View<'_>) -> bool {
    node_in(node, Some(&at))
}

/// A node against the value at its path (`None`: missing). Against an array, the node must
/// match one element as a whole, so that its fields come from the same element.
fn node_in(node: &Node, at: Option<&View<'_>>) -> bool {
    if let Some(View::Value(Value::Array(items))) = at {
        let mut seen = false;
        let found = any_element(items, |element| {
            seen = true;
            node_at(node, Some(&View::Value(element)))
        });
        return if seen { found } else { node_at(node, None) };
    }
    node_at(node, at)
}

fn node_at(node: &Node, at: Option<&View<'_>>) -> bool {
    node.fields.iter().all(|f| field(f, at))
        && node
            .ors
            .iter()
            .all(|alternatives| alternatives.iter().any(|n| node_in(n, at)))
}

fn field(field: &Field, at: Option<&View<'_>>) -> bool {
    let nested = matches!(field.target, Target::Object(_));
    let (direct, joined) = lookup(at, &field.key, nested);
    match &field.target {
        Target::Leaf(matchers) => leaf_matches(matchers, direct),
        Target::Object(inner) => match (direct, joined) {
            (Some(value), _) => node_in(inner, Some(&View::Value(value))),
            (None, Some(joined)) => node_in(inner, Some(&joined)),
            (None, None) => node_in(inner, None),
        },
    }
}

/// The value under `key`, or (when it is missing and the pattern nests below it) the dotted
/// keys that stand for it.
fn lookup<'e>(
    at: Option<&View<'e>>,
    key: &str,
    nested: bool,
) -> (Option<&'e Value>, Option<View<'e>>) {
    match at {
        Some(View::Value(Value::Object(map))) => {
            let direct = map.get(key);
            let joined =
                (direct.is_none() && nested && has_dotted(map, key)).then(|| View::Joined {
                    map,
                    prefix: key.to_string(),
                });
            (direct, joined)
        }
        Some(View::Joined { map, prefix }) => {
            let full = format!("{prefix}.{key}");
            let direct = map.get(&full);
            let joined = (direct.is_none() && nested && has_dotted(map, &full))
                .then_some(View::Joined { map, prefix: full });
            (direct, joined)
        }
        _ => (None, None),
    }
}

fn has_dotted(map: &Map<String, Value>, prefix: &str) -> bool {
    map.keys().any(|k| {
        k.len() > prefix.len() && k.as_bytes()[prefix.len()] == b'.' && k.starts_with(prefix)
    })
}

/// Any element of an array, nested arrays flattened, without recursion.
fn any_element<'e>(items: &'e [Value], mut f: impl FnMut(&'e Value) -> bool) -> bool {
    let mut stack: Vec<std::slice::Iter<'e, Value>> = Vec::new();
    let mut current = items.iter();
    loop {
        match current.next() {
            Some(Value::Array(inner)) => stack.push(std::mem::replace(&mut current, inner.iter())),
            Some(element) => {
                if f(element) {
                    return true;
                }
            }
            None => match stack.pop() {
                Some(outer) => current = outer,
                None => return false,
            },
        }
    }
}

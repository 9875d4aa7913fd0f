//! Path evaluation with Jayway's semantics.
//!
//! A path is evaluated in two phases. The *definite prefix* (names and indices up to the first
//! wildcard, union, slice, filter or scan) is walked by reference without allocating: it is what
//! almost every Step Functions path consists of, and it is the only place Jayway raises "path
//! not found" errors (its `isUpstreamDefinite()` rule). The rest is evaluated breadth-first, one
//! segment at a time over a list of matched nodes, which yields the matches in the same order
//! as Jayway's depth-first token chain. Nothing here recurses on the shape of the input: deep
//! scans walk with an explicit stack and comparisons of nested values use a work list, so the
//! only recursion is filter nesting, which the parser bounds.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::{CmpOp, Filter, Operand, Origin, Root, Segment, Slice, SubPath};
use crate::Scope;

/// Why a path selected nothing, in Jayway's terms. Indices point into the path's segments.
#[derive(Debug, Clone, Copy)]
pub(super) enum Miss<'v> {
    /// A definite path ended on a missing member or an out-of-range index.
    NoResults,
    /// A member missing before the last segment ("Missing property in path ...").
    MissingProperty(usize),
    /// A name applied to something that is not an object.
    NotAnObject(usize, &'v Value),
    /// An index, union or slice applied to `null` ("The path ... is null").
    Null(usize),
    /// An index, union or slice applied to something that is neither an array nor `null`.
    NotAnArray(usize, &'v Value),
    /// A filter applied to a string, number, boolean or `null`.
    FilterOnPrimitive(usize, &'v Value),
}

impl Miss<'_> {
    /// Jayway reports most misses as `PathNotFoundException`, which Step Functions turns into an
    /// empty array for an indefinite path (recorded against AWS: `$.items[*]` on `{}` gives
    /// `[]`). Applying array or filter syntax to the wrong kind of node is an
    /// `InvalidPathException` instead, which fails even an indefinite path (`$[1:5]` on `{}`).
    pub(super) fn is_hard(&self) -> bool {
        matches!(self, Miss::NotAnArray(..) | Miss::FilterOnPrimitive(..))
    }
}

/// Evaluates `segments` against `start` and reports every miss, soft or hard; callers decide
/// whether a soft miss of an indefinite path means "empty array".
pub(super) fn select<'v>(
    start: &'v Value,
    segments: &[Segment],
    scope: &Scope<'v>,
) -> Result<Cow<'v, Value>, Miss<'v>> {
    let mut node = start;
    let last = segments.len().wrapping_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Name(name) => match node {
                Value::Object(map) => match map.get(&**name) {
                    Some(value) => node = value,
                    None if i == last => return Err(Miss::NoResults),
                    None => return Err(Miss::MissingProperty(i)),
                },
                _ => return Err(Miss::NotAnObject(i, node)),
            },
            Segment::Index(index) => match node {
                Value::Array(items) => {
                    match resolve_index(*index, items.len()).and_then(|j| items.get(j)) {
                        Some(value) => node = value,
                        None => return Err(Miss::NoResults),
                    }
                }
                Value::Null => return Err(Miss::Null(i)),
                _ => return Err(Miss::NotAnArray(i, node)),
            },
            // Jayway: a multi-name token at the end of a path merges the named members that
            // exist into one object, and counts as definite.
            Segment::Names(names) if i == last => match node {
                Value::Object(map) => return Ok(Cow::Owned(Value::Object(merge(map, names)))),
                _ => return Err(Miss::NotAnObject(i, node)),
            },
            _ => {
                return collect(node, &segments[i..], i, scope)
                    .map(|items| Cow::Owned(Value::Array(items)));
            }
        }
    }
    Ok(Cow::Borrowed(node))
}

/// Jayway's index rule: a negative index counts from the end (`-1` is the last element).
pub(super) fn resolve_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok()
    } else {
        len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)
    }
}

fn merge(map: &Map<String, Value>, names: &[Box<str>]) -> Map<String, Value> {
    let mut merged = Map::new();
    for name in names {
        if let Some(value) = map.get(&**name) {
            merged.insert((**name).to_owned(), value.clone());
        }
    }
    merged
}

/// Evaluates the indefinite part of a path: `segments[0]` is its first indefinite segment and
/// `base` that segment's index in the whole path (for error messages).
fn collect<'v>(
    start: &'v Value,
    segments: &[Segment],
    base: usize,
    scope: &Scope<'v>,
) -> Result<Vec<Value>, Miss<'v>> {
    // Jayway checks the node kind only for the first indefinite token (the last one whose
    // upstream is definite); afterwards mismatches are skipped silently.
    match (&segments[0], start) {
        (Segment::Names(_), Value::Object(_)) => {}
        (Segment::Names(_), _) => return Err(Miss::NotAnObject(base, start)),
        (Segment::Indices(_) | Segment::Slice(_), Value::Null) => return Err(Miss::Null(base)),
        (Segment::Indices(_) | Segment::Slice(_), Value::Array(_)) => {}
        (Segment::Indices(_) | Segment::Slice(_), _) => return Err(Miss::NotAnArray(base, start)),
        (Segment::Filter(_), Value::Object(_) | Value::Array(_)) => {}
        (Segment::Filter(_), _) => return Err(Miss::FilterOnPrimitive(base, start)),
        _ => {}
    }

    let mut current: Vec<&'v Value> = vec![start];
    let mut next: Vec<&'v Value> = Vec::new();
    let mut merge_names: Option<&[Box<str>]> = None;
    let mut k = 0;
    while k < segments.len() {
        let leaf = k + 1 == segments.len();
        match &segments[k] {
            Segment::Scan => {
                let Some(target) = segments.get(k + 1) else {
                    break;
                };
                let mut containers = Vec::new();
                for &node in &current {
                    walk(node, &mut containers);
                }
                match target {
                    // A definite property token under `..` only matches objects holding every
                    // named member (Jayway's PropertyPathTokenPredicate).
                    Segment::Names(names) if k + 2 == segments.len() => {
                        next.extend(containers.into_iter().filter(|node| {
                            node.as_object().is_some_and(|map| {
                                names.iter().all(|name| map.contains_key(&**name))
                            })
                        }));
                        merge_names = Some(names);
                    }
                    // `..[?(...)]` tests each container itself first, then applies the filter
                    // to it (Jayway's FilterPathTokenPredicate).
                    Segment::Filter(filter) => {
                        for node in containers {
                            if accept(&filter.expr, node, scope) {
                                apply(target, node, scope, &mut next);
                            }
                        }
                    }
                    _ => {
                        for node in containers {
                            apply(target, node, scope, &mut next);
                        }
                    }
                }
                k += 2;
            }
            Segment::Names(names) if leaf => {
                merge_names = Some(names);
                k += 1;
                continue;
            }
            segment => {
                for &node in &current {
                    apply(segment, node, scope, &mut next);
                }
                k += 1;
            }
        }
        std::mem::swap(&mut current, &mut next);
        next.clear();
    }

    Ok(match merge_names {
        Some(names) => current
            .into_iter()
            .filter_map(|node| node.as_object().map(|map| Value::Object(merge(map, names))))
            .collect(),
        None => current.into_iter().cloned().collect(),
    })
}

/// Pushes what one segment selects from `node`, skipping silently whatever does not apply.
fn apply<'v>(segment: &Segment, node: &'v Value, scope: &Scope<'v>, out: &mut Vec<&'v Value>) {
    match (segment, node) {
        (Segment::Name(name), Value::Object(map)) => out.extend(map.get(&**name)),
        (Segment::Names(names), Value::Object(map)) => {
            out.extend(names.iter().filter_map(|name| map.get(&**name)))
        }
        (Segment::Index(index), Value::Array(items)) => {
            out.extend(resolve_index(*index, items.len()).and_then(|j| items.get(j)));
        }
        (Segment::Indices(indices), Value::Array(items)) => {
            out.extend(
                indices.iter().filter_map(|&index| {
                    resolve_index(index, items.len()).and_then(|j| items.get(j))
                }),
            );
        }
        (Segment::Slice(slice), Value::Array(items)) => slice_into(*slice, items, out),
        (Segment::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Segment::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        // Jayway: a filter on an object yields the object itself if it passes, on an array the
        // elements that pass.
        (Segment::Filter(filter), Value::Object(_)) if accept(&filter.expr, node, scope) => {
            out.push(node);
        }
        (Segment::Filter(filter), Value::Array(items)) => {
            out.extend(
                items
                    .iter()
                    .filter(|item| accept(&filter.expr, item, scope)),
            );
        }
        _ => {}
    }
}

/// Jayway's slice rules, including their quirks: `[from:]` and `[:to]` count negative bounds
/// from the end and clamp; `[from:to]` clamps only `to` to the length, and a negative `from`
/// walks indices from `from` up, each negative one counted from the end (so `[-2:5]` on a long
/// array yields the last two elements and then the first five).
fn slice_into<'v>(slice: Slice, items: &'v [Value], out: &mut Vec<&'v Value>) {
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let (from, to) = match (slice.start, slice.end) {
        (Some(from), None) => {
            let from = if from < 0 {
                len.saturating_add(from)
            } else {
                from
            };
            (from.max(0), len)
        }
        (None, Some(to)) => {
            let to = if to < 0 { len.saturating_add(to) } else { to };
            (0, to.min(len))
        }
        // Indices below -len resolve to nothing; starting there keeps the loop short.
        (Some(from), Some(to)) => (from.max(-len), to.min(len)),
        (None, None) => return,
    };
    let mut i = from;
    while i < to {
        let effective = if i < 0 { len + i } else { i };
        if let Some(item) = usize::try_from(effective).ok().and_then(|j| items.get(j)) {
            out.push(item);
        }
        i += 1;
    }
}

/// Lists `node` and every object or array below it in pre-order, as Jayway's deep scan visits
/// them, without recursing.
fn walk<'v>(node: &'v Value, out: &mut Vec<&'v Value>) {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                out.push(node);
                stack.extend(map.values().rev().filter(|v| v.is_object() || v.is_array()));
            }
            Value::Array(items) => {
                out.push(node);
                stack.extend(items.iter().rev().filter(|v| v.is_object() || v.is_array()));
            }
            _ => {}
        }
    }
}

/// Whether `node` passes a filter. An invalid operation inside the filter makes it fail
/// (Jayway's `PredicatePathToken.accept` catches `InvalidPathException` and returns false).
fn accept<'v>(filter: &Filter, node: &'v Value, scope: &Scope<'v>) -> bool {
    test(filter, node, scope).unwrap_or(false)
}

/// `Err(())`: a hard miss somewhere in the expression.
fn test<'v>(filter: &Filter, node: &'v Value, scope: &Scope<'v>) -> Result<bool, ()> {
    Ok(match filter {
        Filter::Or(terms) => {
            for term in terms.iter() {
                if test(term, node, scope)? {
                    return Ok(true);
                }
            }
            false
        }
        Filter::And(terms) => {
            for term in terms.iter() {
                if !test(term, node, scope)? {
                    return Ok(false);
                }
            }
            true
        }
        Filter::Not(inner) => !test(inner, node, scope)?,
        // Jayway evaluates existence with REQUIRE_PROPERTIES: any miss means "absent".
        Filter::Exists(path) => match evaluate(path, node, scope) {
            Ok(_) => true,
            Err(miss) if miss.is_hard() => return Err(()),
            Err(_) => false,
        },
        Filter::Compare(comparison) => {
            let (left, op, right) = &**comparison;
            let left = operand(left, node, scope)?;
            let right = operand(right, node, scope)?;
            compare(left.as_deref(), *op, right.as_deref())
        }
    })
}

fn evaluate<'v>(
    path: &SubPath,
    node: &'v Value,
    scope: &Scope<'v>,
) -> Result<Cow<'v, Value>, Miss<'v>> {
    let start = match path.origin {
        Origin::Current => node,
        Origin::Root(Root::Input) => scope.input,
        Origin::Root(Root::Context) => scope.context,
        // Filters never parse a variable origin.
        Origin::Root(Root::Variable) => return Err(Miss::NoResults),
    };
    select(start, &path.segments, scope)
}

/// An operand's value; `None` is Jayway's UNDEFINED (the path did not resolve).
fn operand<'v, 'f>(
    operand: &'f Operand,
    node: &'v Value,
    scope: &Scope<'v>,
) -> Result<Option<Cow<'f, Value>>, ()>
where
    'v: 'f,
{
    match operand {
        Operand::Literal(value) => Ok(Some(Cow::Borrowed(value))),
        Operand::Path(path) => match evaluate(path, node, scope) {
            Ok(value) => Ok(Some(value)),
            Err(miss) if miss.is_hard() => Err(()),
            Err(_) => Ok(None),
        },
    }
}

/// Jayway's relational operators: `==` compares values (numbers by value); `!=` is its negation,
/// so it holds when either side is missing; ordering compares two numbers or two strings
/// (UTF-16 code units, as Java's `String.compareTo`) and is false for anything else.
fn compare(left: Option<&Value>, op: CmpOp, right: Option<&Value>) -> bool {
    let (Some(left), Some(right)) = (left, right) else {
        return op == CmpOp::Ne;
    };
    let ordering = || match (left, right) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::String(a), Value::String(b)) => Some(a.encode_utf16().cmp(b.encode_utf16())),
        _ => None,
    };
    match op {
        CmpOp::Eq => json_eq(left, right),
        CmpOp::Ne => !json_eq(left, right),
        CmpOp::Lt => ordering() == Some(Ordering::Less),
        CmpOp::Le => matches!(ordering(), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ordering() == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ordering(), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// Exact comparison of two JSON numbers, whatever mix of integer and float they are.
pub(crate) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => compare_float_integer(b.as_f64()?, x).map(Ordering::reverse),
        (None, Some(y)) => compare_float_integer(a.as_f64()?, y),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn compare_float_integer(x: f64, n: i128) -> Option<Ordering> {
    // Integral floats within i128 compare exactly as integers; any other float is either far
    // beyond every JSON integer or below 2^53 in magnitude, where `n as f64` orders correctly.
    if x.fract() == 0.0 && x.abs() < 1e38 {
        #[allow(clippy::cast_possible_truncation)]
        return Some((x as i128).cmp(&n));
    }
    #[allow(clippy::cast_precision_loss)]
    x.partial_cmp(&(n as f64))
}

/// Structural equality with numbers compared by value (`1 == 1.0`), without recursion.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    let mut pending = vec![(a, b)];
    while let Some(pair) = pending.pop() {
        match pair {
            (Value::Null, Value::Null) => {}
            (Value::Bool(x), Value::Bool(y)) if x == y => {}
            (Value::Number(x), Value::Number(y))
                if compare_numbers(x, y) == Some(Ordering::Equal) => {}
            (Value::String(x), Value::String(y)) if x == y => {}
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                pending.extend(x.iter().zip(y))
            }
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                for (key, value) in x {
                    match y.get(key) {
                        Some(other) => pending.push((value, other)),
                        None => return false,
                    }
                }
            }
            _ => return false,
        }
    }
    true
}

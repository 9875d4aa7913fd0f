//! The match expressions of a leaf (`["a", {"prefix": "b"}, ...]`) and how one event value
//! satisfies them.

use std::net::IpAddr;

use serde_json::Value;

/// A literal of a pattern: what exact matching and `anything-but` compare against.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    String(Box<str>),
    Number(f64),
    Bool(bool),
    Null,
}

impl Literal {
    /// Numbers compare by value (AWS matches `300` with `300.0`), everything else by type and
    /// content.
    pub(crate) fn equals(&self, value: &Value) -> bool {
        match (self, value) {
            (Literal::String(a), Value::String(b)) => **a == **b,
            (Literal::Number(a), Value::Number(b)) => b.as_f64() == Some(*a),
            (Literal::Bool(a), Value::Bool(b)) => a == b,
            (Literal::Null, Value::Null) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Exact(Literal),
    Exists(bool),
    Prefix(Box<str>),
    /// Lowercased.
    PrefixIgnoreCase(Box<str>),
    Suffix(Box<str>),
    /// Lowercased.
    SuffixIgnoreCase(Box<str>),
    /// Lowercased.
    EqualsIgnoreCase(Box<str>),
    Wildcard(Wildcard),
    Numeric(Range),
    Cidr(Cidr),
    AnythingBut(AnythingBut),
}

/// `anything-but`: matches every leaf (including `null`) that none of its terms matches.
#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    Literals(Vec<Literal>),
    Prefixes(Vec<Box<str>>),
    Suffixes(Vec<Box<str>>),
    /// Lowercased.
    IgnoreCase(Vec<Box<str>>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric condition: one bound, two, or equality.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range {
    pub(crate) lower: Option<(f64, bool)>,
    pub(crate) upper: Option<(f64, bool)>,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let above = match self.lower {
            None => true,
            Some((b, inclusive)) => x > b || (inclusive && x == b),
        };
        let below = match self.upper {
            None => true,
            Some((b, inclusive)) => x < b || (inclusive && x == b),
        };
        above && below
    }
}

/// An IPv4 or IPv6 network; addresses of the other family never match.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    pub(crate) fn new(ip: IpAddr, bits: u8) -> Option<Cidr> {
        match ip {
            IpAddr::V4(ip) if bits <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                Some(Cidr::V4 {
                    network: u32::from(ip) & mask,
                    mask,
                })
            }
            IpAddr::V6(ip) if bits <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                Some(Cidr::V6 {
                    network: u128::from(ip) & mask,
                    mask,
                })
            }
            _ => None,
        }
    }

    fn contains(&self, text: &str) -> bool {
        match (self, text.parse::<IpAddr>()) {
            (Cidr::V4 { network, mask }, Ok(IpAddr::V4(ip))) => u32::from(ip) & mask == *network,
            (Cidr::V6 { network, mask }, Ok(IpAddr::V6(ip))) => u128::from(ip) & mask == *network,
            _ => false,
        }
    }
}

/// A `wildcard` string: literal pieces between `*`s (escapes resolved).
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    pieces: Vec<Box<str>>,
    leading_star: bool,
    trailing_star: bool,
}

impl Wildcard {
    pub(crate) fn new(pieces: Vec<Box<str>>, leading_star: bool, trailing_star: bool) -> Self {
        Self {
            pieces,
            leading_star,
            trailing_star,
        }
    }

    /// `*` matches any run of characters, empty included. Greedy leftmost placement of each
    /// middle piece is enough for stars-only globs, so this is linear in practice.
    pub(crate) fn matches(&self, s: &str) -> bool {
        let pieces = &self.pieces[..];
        if pieces.is_empty() {
            return self.leading_star || s.is_empty();
        }
        if !self.leading_star && !self.trailing_star && pieces.len() == 1 {
            return s == &*pieces[0];
        }
        let mut rest = s;
        let mut middle = pieces;
        if !self.leading_star {
            let Some(r) = rest.strip_prefix(&*pieces[0]) else {
                return false;
            };
            rest = r;
            middle = &middle[1..];
        }
        let last = if self.trailing_star {
            None
        } else {
            let (last, m) = middle.split_last().expect("a piece ends the pattern");
            middle = m;
            Some(last)
        };
        for piece in middle {
            match rest.find(&**piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        match last {
            Some(last) => rest.ends_with(&**last),
            None => true,
        }
    }
}

fn starts_with_ignore_case(s: &str, lowered_prefix: &str) -> bool {
    let mut expected = lowered_prefix.chars();
    let mut lowered = s.chars().flat_map(char::to_lowercase);
    loop {
        match expected.next() {
            None => return true,
            Some(e) => {
                if lowered.next() != Some(e) {
                    return false;
                }
            }
        }
    }
}

fn ends_with_ignore_case(s: &str, lowered_suffix: &str) -> bool {
    let mut expected = lowered_suffix.chars().rev();
    let mut lowered = s.chars().rev().flat_map(|c| c.to_lowercase().rev());
    loop {
        match expected.next() {
            None => return true,
            Some(e) => {
                if lowered.next() != Some(e) {
                    return false;
                }
            }
        }
    }
}

fn equals_ignore_case(s: &str, lowered: &str) -> bool {
    s.chars().flat_map(char::to_lowercase).eq(lowered.chars())
}

impl AnythingBut {
    fn excludes(&self, leaf: &Value) -> bool {
        match self {
            AnythingBut::Literals(literals) => literals.iter().any(|l| l.equals(leaf)),
            // The string forms exclude strings only: `12` is anything but a prefix.
            AnythingBut::Prefixes(p) => leaf
                .as_str()
                .is_some_and(|s| p.iter().any(|p| s.starts_with(&**p))),
            AnythingBut::Suffixes(p) => leaf
                .as_str()
                .is_some_and(|s| p.iter().any(|p| s.ends_with(&**p))),
            AnythingBut::IgnoreCase(p) => leaf
                .as_str()
                .is_some_and(|s| p.iter().any(|p| equals_ignore_case(s, p))),
            AnythingBut::Wildcards(w) => leaf
                .as_str()
                .is_some_and(|s| w.iter().any(|w| w.matches(s))),
        }
    }
}

impl Matcher {
    /// Whether one leaf of the event (a string, number, boolean or null) satisfies this
    /// expression. `exists` is decided by the caller, which knows whether there is a leaf.
    pub(crate) fn matches_leaf(&self, leaf: &Value) -> bool {
        match self {
            Matcher::Exact(literal) => literal.equals(leaf),
            Matcher::Exists(wanted) => *wanted,
            Matcher::Prefix(p) => leaf.as_str().is_some_and(|s| s.starts_with(&**p)),
            Matcher::PrefixIgnoreCase(p) => {
                leaf.as_str().is_some_and(|s| starts_with_ignore_case(s, p))
            }
            Matcher::Suffix(p) => leaf.as_str().is_some_and(|s| s.ends_with(&**p)),
            Matcher::SuffixIgnoreCase(p) => {
                leaf.as_str().is_some_and(|s| ends_with_ignore_case(s, p))
            }
            Matcher::EqualsIgnoreCase(p) => leaf.as_str().is_some_and(|s| equals_ignore_case(s, p)),
            Matcher::Wildcard(w) => leaf.as_str().is_some_and(|s| w.matches(s)),
            Matcher::Numeric(range) => leaf
                .as_number()
                .and_then(serde_json::Number::as_f64)
                .is_some_and(|x| range.contains(x)),
            Matcher::Cidr(cidr) => leaf.as_str().is_some_and(|s| cidr.contains(s)),
            Matcher::AnythingBut(but) => !but.excludes(leaf),
        }
    }
}

/// The leaves of an event value: itself if it is a scalar, the scalars of an array (nested
/// arrays flattened, without recursion), none for an object.
pub(crate) fn any_leaf(value: &Value, mut f: impl FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => {
            let mut stack: Vec<std::slice::Iter<'_, Value>> = Vec::new();
            let mut current = items.iter();
            loop {
                match current.next() {
                    Some(Value::Array(inner)) => {
                        stack.push(std::mem::replace(&mut current, inner.iter()));
                    }
                    Some(Value::Object(_)) => {}
                    Some(leaf) => {
                        if f(leaf) {
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
        leaf => f(leaf),
    }
}

/// A leaf's expressions (any may match) against the event value at its path.
pub(crate) fn leaf_matches(matchers: &[Matcher], value: Option<&Value>) -> bool {
    let has_leaf = value.is_some_and(|v| any_leaf(v, |_| true));
    matchers.iter().any(|m| match m {
        Matcher::Exists(wanted) => *wanted == has_leaf,
        m => has_leaf && value.is_some_and(|v| any_leaf(v, |leaf| m.matches_leaf(leaf))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wildcard(pattern: &str) -> Wildcard {
        crate::compile::wildcard(pattern, crate::Dialect::EventBridge).expect("valid")
    }

    #[test]
    fn wildcards_match_any_run_of_characters() {
        let cases = [
            ("*.png", "a.png", true),
            ("*.png", ".png", true),
            ("*.png", "a.jpg", false),
            ("a*", "a", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("*/lib/*", "/usr/lib/x", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("a\\\\b", "a\\b", true),
        ];
        for (pattern, s, expected) in cases {
            assert_eq!(wildcard(pattern).matches(s), expected, "{pattern} ~ {s}");
        }
    }

    #[test]
    fn ignore_case_helpers() {
        assert!(starts_with_ignore_case("EvEnTbridge", "eventb"));
        assert!(!starts_with_ignore_case("Even", "eventb"));
        assert!(ends_with_ignore_case("image.PNG", ".png"));
        assert!(!ends_with_ignore_case("PNG", ".png"));
        assert!(equals_ignore_case("ÄBC", "äbc"));
    }

    #[test]
    fn deeply_nested_arrays_flatten_without_recursion() {
        let mut v = Value::from("x");
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        let found = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let found = any_leaf(&v, |leaf| leaf == "x");
                crate::dismantle(v);
                found
            })
            .expect("spawn")
            .join()
            .expect("no overflow");
        assert!(found);
    }
}

//! The evaluator's values. Input and bindings are borrowed, never copied: navigating
//! `$states.input.detail` yields references into the caller's `serde_json::Value`s, and only
//! values an expression builds are allocated (reference-counted, so passing them around is
//! cheap). Sequences (JSONata's flattening collections) are arrays with flags.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use serde_json::Value as Json;

use crate::ast::{Lambda, Node, RegexLit};
use crate::functions::Builtin;
use crate::number;

pub(crate) type EnvId = usize;

/// Array flags (JSONata's sequence bookkeeping).
pub(crate) const SEQUENCE: u8 = 1;
pub(crate) const KEEP_SINGLETON: u8 = 2;
pub(crate) const CONS: u8 = 4;
pub(crate) const OUTER_WRAPPER: u8 = 8;
pub(crate) const TUPLE_STREAM: u8 = 16;

#[derive(Clone)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Rc<str>),
    /// A string borrowed from the input, the bindings or the expression.
    Lit(&'a str),
    /// A borrowed JSON array or object (never a scalar: those are read into the variants above).
    Json(&'a Json),
    Array(Rc<Array<'a>>),
    Object(Rc<Object<'a>>),
    Func(Rc<Func<'a>>),
}

pub(crate) struct Array<'a> {
    pub items: Vec<Value<'a>>,
    pub flags: Cell<u8>,
    /// Nesting depth of arrays and objects in this value (for the nesting limit).
    pub depth: u32,
}

/// Deepest nesting of arrays and objects an evaluation may build: deeper values would make
/// dropping or serializing them recurse too deeply.
pub(crate) const MAX_NESTING: u32 = 500;

impl<'a> Array<'a> {
    pub(crate) fn set(&self, flag: u8) {
        self.flags.set(self.flags.get() | flag);
    }
}

/// An object key: borrowed where possible.
#[derive(Clone, Debug)]
pub(crate) enum Key<'a> {
    Lit(&'a str),
    Owned(Rc<str>),
}

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Key::Lit(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl Eq for Key<'_> {}
impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

/// Insertion-ordered map; indexed once it grows past a handful of keys.
#[derive(Clone, Default)]
pub(crate) struct Object<'a> {
    entries: Vec<(Key<'a>, Value<'a>)>,
    index: Option<HashMap<Key<'a>, usize>>,
    depth: u32,
}

const INDEX_FROM: usize = 12;

impl<'a> Object<'a> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
            index: None,
            depth: 0,
        }
    }

    pub(crate) fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(&Key::Lit(key)).copied(),
            None => self.entries.iter().position(|(k, _)| &**k == key),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub(crate) fn insert(&mut self, key: Key<'a>, value: Value<'a>) {
        if let Some(i) = self.position(&key) {
            self.entries[i].1 = value;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEX_FROM {
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect(),
            );
        }
    }

    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(i) = self.position(key) {
            self.entries.remove(i);
            if self.index.is_some() {
                self.index = Some(
                    self.entries
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.clone(), i))
                        .collect(),
                );
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key<'a>, &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

pub(crate) enum Func<'a> {
    Lambda {
        def: &'a Lambda,
        /// Parameters still to bind (a partially applied lambda); `None` = all of `def`'s.
        params: Option<Vec<&'a str>>,
        input: Option<Value<'a>>,
        env: EnvId,
        position: usize,
    },
    /// A pending tail call (the trampoline in `apply` runs it).
    Thunk {
        call: &'a Node,
        input: Option<Value<'a>>,
        env: EnvId,
    },
    Builtin(Builtin),
    Native(&'a crate::NativeFunction),
    Partial {
        func: Rc<Func<'a>>,
        args: Vec<Option<Value<'a>>>,
        /// Which arguments are `?` placeholders.
        holes: Vec<bool>,
    },
    Regex(&'a RegexLit),
    Transform {
        node: &'a Node,
        env: EnvId,
    },
    Chain(Rc<Func<'a>>, Rc<Func<'a>>),
}

impl<'a> Func<'a> {
    /// Number of arguments the function declares (JSONata passes a higher-order function's
    /// callback only as many of `value, index, array` as it declares).
    pub(crate) fn arity(&self) -> usize {
        match self {
            Func::Lambda { def, params, .. } => params.as_ref().map_or(def.params.len(), Vec::len),
            Func::Thunk { .. } => 0,
            Func::Builtin(b) => b.arity(),
            Func::Native(n) => n.arity,
            Func::Partial { holes, .. } => holes.iter().filter(|h| **h).count(),
            Func::Regex(_) => 1,
            Func::Transform { .. } => 1,
            Func::Chain(..) => 1,
        }
    }
}

/// A borrowed view of an array value.
#[derive(Clone, Copy)]
pub(crate) enum ArrRef<'v, 'a> {
    Json(&'a [Json]),
    Own(&'v Array<'a>),
}

impl<'v, 'a> ArrRef<'v, 'a> {
    pub(crate) fn len(self) -> usize {
        match self {
            ArrRef::Json(a) => a.len(),
            ArrRef::Own(a) => a.items.len(),
        }
    }
    pub(crate) fn is_empty(self) -> bool {
        self.len() == 0
    }
    pub(crate) fn get(self, i: usize) -> Option<Value<'a>> {
        match self {
            ArrRef::Json(a) => a.get(i).map(Value::from_json),
            ArrRef::Own(a) => a.items.get(i).cloned(),
        }
    }
    pub(crate) fn iter(self) -> impl Iterator<Item = Value<'a>> + 'v {
        let (json, own): (&'a [Json], &'v [Value<'a>]) = match self {
            ArrRef::Json(a) => (a, &[]),
            ArrRef::Own(a) => (&[], &a.items),
        };
        json.iter().map(Value::from_json).chain(own.iter().cloned())
    }
    pub(crate) fn to_vec(self) -> Vec<Value<'a>> {
        self.iter().collect()
    }
}

/// A borrowed view of an object value.
#[derive(Clone, Copy)]
pub(crate) enum ObjRef<'v, 'a> {
    Json(&'a serde_json::Map<String, Json>),
    Own(&'v Object<'a>),
}

impl<'v, 'a> ObjRef<'v, 'a> {
    pub(crate) fn len(self) -> usize {
        match self {
            ObjRef::Json(o) => o.len(),
            ObjRef::Own(o) => o.len(),
        }
    }
    pub(crate) fn get(self, key: &str) -> Option<Value<'a>> {
        match self {
            ObjRef::Json(o) => o.get(key).map(Value::from_json),
            ObjRef::Own(o) => o.get(key).cloned(),
        }
    }
    pub(crate) fn iter(self) -> Box<dyn Iterator<Item = (Key<'a>, Value<'a>)> + 'v>
    where
        'a: 'v,
    {
        match self {
            ObjRef::Json(o) => Box::new(
                o.iter()
                    .map(|(k, v)| (Key::Lit(k.as_str()), Value::from_json(v))),
            ),
            ObjRef::Own(o) => Box::new(o.iter().map(|(k, v)| (k.clone(), v.clone()))),
        }
    }
    pub(crate) fn keys(self) -> Vec<Key<'a>> {
        match self {
            ObjRef::Json(o) => o.keys().map(|k| Key::Lit(k.as_str())).collect(),
            ObjRef::Own(o) => o.iter().map(|(k, _)| k.clone()).collect(),
        }
    }
    pub(crate) fn to_object(self) -> Object<'a> {
        match self {
            ObjRef::Json(o) => {
                let mut out = Object::with_capacity(o.len());
                for (k, v) in o {
                    out.insert(Key::Lit(k.as_str()), Value::from_json(v));
                }
                out
            }
            ObjRef::Own(o) => o.clone(),
        }
    }
}

impl<'a> Value<'a> {
    pub(crate) fn from_json(json: &'a Json) -> Self {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Value::Lit(s),
            Json::Array(_) | Json::Object(_) => Value::Json(json),
        }
    }

    /// Builds an owned value from JSON (for values that outlive their source).
    pub(crate) fn from_json_owned(json: &Json) -> Value<'static> {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Value::Str(Rc::from(s.as_str())),
            Json::Array(items) => {
                Value::array(items.iter().map(Value::from_json_owned).collect(), 0)
            }
            Json::Object(map) => {
                let mut o = Object::with_capacity(map.len());
                for (k, v) in map {
                    o.insert(Key::Owned(Rc::from(k.as_str())), Value::from_json_owned(v));
                }
                Value::object(o)
            }
        }
    }

    pub(crate) fn array(items: Vec<Value<'a>>, flags: u8) -> Self {
        let depth = 1 + items.iter().map(Value::nesting).max().unwrap_or(0);
        Value::Array(Rc::new(Array {
            items,
            flags: Cell::new(flags),
            depth,
        }))
    }

    /// Nesting depth of arrays and objects (borrowed input counts as one level: its depth is
    /// bounded by the JSON parser that produced it).
    pub(crate) fn nesting(&self) -> u32 {
        match self {
            Value::Array(a) => a.depth,
            Value::Object(o) => o.depth,
            Value::Json(_) => 1,
            _ => 0,
        }
    }

    pub(crate) fn sequence(items: Vec<Value<'a>>) -> Self {
        Self::array(items, SEQUENCE)
    }

    pub(crate) fn string(s: impl Into<Rc<str>>) -> Self {
        Value::Str(s.into())
    }

    pub(crate) fn object(mut o: Object<'a>) -> Self {
        o.depth = 1 + o
            .entries
            .iter()
            .map(|(_, v)| v.nesting())
            .max()
            .unwrap_or(0);
        Value::Object(Rc::new(o))
    }

    pub(crate) fn as_array(&self) -> Option<ArrRef<'_, 'a>> {
        match self {
            Value::Array(a) => Some(ArrRef::Own(a)),
            Value::Json(Json::Array(a)) => Some(ArrRef::Json(a)),
            _ => None,
        }
    }

    pub(crate) fn as_object(&self) -> Option<ObjRef<'_, 'a>> {
        match self {
            Value::Object(o) => Some(ObjRef::Own(o)),
            Value::Json(Json::Object(o)) => Some(ObjRef::Json(o)),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Lit(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn is_array(&self) -> bool {
        self.as_array().is_some()
    }

    pub(crate) fn is_func(&self) -> bool {
        matches!(self, Value::Func(_))
    }

    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Lit(_))
    }

    pub(crate) fn flags(&self) -> u8 {
        match self {
            Value::Array(a) => a.flags.get(),
            _ => 0,
        }
    }

    pub(crate) fn has_flag(&self, flag: u8) -> bool {
        self.flags() & flag != 0
    }

    pub(crate) fn set_flag(&self, flag: u8) {
        if let Value::Array(a) = self {
            a.set(flag);
        }
    }

    pub(crate) fn is_sequence(&self) -> bool {
        self.has_flag(SEQUENCE)
    }

    /// JSONata's type name (`$type`).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::Str(_) | Value::Lit(_) => "string",
            Value::Func(_) => "function",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Json(Json::Array(_)) => "array",
            Value::Json(_) => "object",
        }
    }

    /// The signature symbol of this value's type.
    pub(crate) fn symbol(&self) -> char {
        match self {
            Value::Null => 'l',
            Value::Bool(_) => 'b',
            Value::Number(_) => 'n',
            Value::Str(_) | Value::Lit(_) => 's',
            Value::Func(_) => 'f',
            Value::Array(_) | Value::Json(Json::Array(_)) => 'a',
            Value::Object(_) | Value::Json(_) => 'o',
        }
    }

    /// `===`: primitives by value, arrays, objects and functions by identity.
    pub(crate) fn strict_eq(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Json(a), Value::Json(b)) => std::ptr::eq(*a, *b),
            (Value::Array(a), Value::Array(b)) => Rc::ptr_eq(a, b),
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            (Value::Func(a), Value::Func(b)) => {
                std::ptr::eq(Rc::as_ptr(a).cast::<u8>(), Rc::as_ptr(b).cast::<u8>())
            }
            _ => match (self.as_str(), other.as_str()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// Deep equality (`=`).
    pub(crate) fn deep_eq(&self, other: &Value<'_>) -> bool {
        if let (Some(a), Some(b)) = (self.as_array(), other.as_array()) {
            return a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_eq(&y));
        }
        if let (Some(a), Some(b)) = (self.as_object(), other.as_object()) {
            return a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(&k).is_some_and(|w| v.deep_eq(&w)));
        }
        self.strict_eq(other)
    }
}

/// JSONata's boolean cast (`$boolean`); `None` only for undefined.
pub(crate) fn truthy(value: Option<&Value<'_>>) -> Option<bool> {
    let value = value?;
    Some(match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::Str(_) | Value::Lit(_) => !value.as_str().unwrap_or("").is_empty(),
        Value::Func(_) => false,
        _ => {
            if let Some(a) = value.as_array() {
                match a.len() {
                    0 => false,
                    1 => truthy(a.get(0).as_ref()).unwrap_or(false),
                    _ => a.iter().any(|v| truthy(Some(&v)).unwrap_or(false)),
                }
            } else if let Some(o) = value.as_object() {
                o.len() > 0
            } else {
                false
            }
        }
    })
}

/// Serializes like `JSON.stringify` with JSONata's replacer: non-integers to 15 significant
/// digits, functions as `""`. `indent` is `Some(2)` for `$string(x, true)`.
pub(crate) fn stringify(value: &Value<'_>, pretty: bool, out: &mut String, depth: usize) {
    if depth > 10_000 {
        out.push_str("null");
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_finite() {
                let n = if n.fract() != 0.0 {
                    number::to_precision_15(*n)
                } else {
                    *n
                };
                out.push_str(&number::to_js_string(n));
            } else {
                out.push_str("null");
            }
        }
        Value::Str(_) | Value::Lit(_) => quote(value.as_str().unwrap_or(""), out),
        Value::Func(_) => out.push_str("\"\""),
        _ => {
            if let Some(a) = value.as_array() {
                if a.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, item) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(pretty, depth + 1, out);
                    stringify(&item, pretty, out, depth + 1);
                }
                newline(pretty, depth, out);
                out.push(']');
            } else if let Some(o) = value.as_object() {
                if o.len() == 0 {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(pretty, depth + 1, out);
                    quote(&k, out);
                    out.push(':');
                    if pretty {
                        out.push(' ');
                    }
                    stringify(&v, pretty, out, depth + 1);
                }
                newline(pretty, depth, out);
                out.push('}');
            }
        }
    }
}

fn newline(pretty: bool, depth: usize, out: &mut String) {
    if pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A short rendering of a value for error messages.
pub(crate) fn describe(value: &Value<'_>) -> String {
    let mut out = String::new();
    stringify(value, false, &mut out, 0);
    if out.len() > 200 {
        let mut cut = 200;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Converts a result to JSON. Functions inside objects are dropped and inside arrays become
/// `null` (as `JSON.stringify` does); a function or non-finite number at the top fails.
pub(crate) fn to_json(value: &Value<'_>, depth: usize) -> Result<Json, String> {
    if depth > 10_000 {
        return Err("nested too deeply".into());
    }
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => number_to_json(*n)?,
        Value::Str(s) => Json::String(s.to_string()),
        Value::Lit(s) => Json::String((*s).to_string()),
        Value::Json(j) => (*j).clone(),
        Value::Func(_) => return Err("a function".into()),
        Value::Array(a) => {
            let mut items = Vec::with_capacity(a.items.len());
            for item in &a.items {
                items.push(match item {
                    Value::Func(_) => Json::Null,
                    _ => to_json(item, depth + 1)?,
                });
            }
            Json::Array(items)
        }
        Value::Object(o) => {
            let mut map = serde_json::Map::with_capacity(o.len());
            for (k, v) in o.iter() {
                if matches!(v, Value::Func(_)) {
                    continue;
                }
                map.insert(k.to_string(), to_json(v, depth + 1)?);
            }
            Json::Object(map)
        }
    })
}

pub(crate) fn number_to_json(n: f64) -> Result<Json, String> {
    if !n.is_finite() {
        return Err(format!("the number {}", number::to_js_string(n)));
    }
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        // integral: keep it an integer in JSON
        return Ok(Json::from(n as i64));
    }
    Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
}

//! Source positions for diagnostics: from a JSON pointer back to `line:column` in the text.
//!
//! Validation works on a parsed [`serde_json::Value`] and reports [`Pointer`]s; a person reading
//! a diagnostic wants `file:line:col`. [`Positions::index`] scans the definition's text once and
//! records where every value (and every object member's key) starts, so any pointer can be
//! turned into a [`LineCol`]. The scanner also notices what serde_json silently drops: keys that
//! repeat an earlier key of the same object ([`Positions::duplicate_keys`]), which AWS rejects
//! for state names (`DUPLICATE_STATE_NAME`).
//!
//! Lines and columns are 1-based; columns count characters (Unicode scalar values), not bytes.
//! `\n`, `\r\n` and a lone `\r` each end a line. A leading byte order mark is skipped and takes
//! no column.
//!
//! The scanner is a single pass with an explicit stack: linear time, no recursion (so a
//! definition nested 100 000 levels deep is fine), no panics. It assumes the text is JSON (parse
//! it with [`parse_json`] first) and simply stops indexing at the first thing that is not.

use std::fmt;

use serde::Serialize;

use crate::Pointer;

/// A 1-based line and column (in characters) in a source text. Displays as `line:column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

impl LineCol {
    /// Line 1, column 1: the start of the text.
    pub const START: LineCol = LineCol { line: 1, column: 1 };

    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

impl Default for LineCol {
    fn default() -> Self {
        Self::START
    }
}

impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The text is not JSON: where serde_json gave up and why.
///
/// Displays as `line:column: message`, so a caller prints `file:{error}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct JsonSyntaxError {
    /// 1-based line, counted as [`Positions`] counts them.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
    /// serde_json's description, without its own "at line L column C" suffix.
    pub message: String,
}

impl JsonSyntaxError {
    pub fn position(&self) -> LineCol {
        LineCol::new(self.line, self.column)
    }
}

/// Parses `text` as JSON, reporting a syntax error with a character-based line and column that
/// agree with [`Positions`] (serde_json's own columns count bytes). A leading byte order mark is
/// ignored. serde_json's nesting limit (128) applies and is reported as a syntax error.
pub fn parse_json(text: &str) -> Result<serde_json::Value, JsonSyntaxError> {
    let (body, skipped) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, text.len() - rest.len()),
        None => (text, 0),
    };
    serde_json::from_str(body).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        let at = if e.line() == 0 {
            LineCol::START
        } else {
            line_col_at(text, skipped + serde_offset(body, e.line(), e.column()))
        };
        JsonSyntaxError {
            line: at.line,
            column: at.column,
            message,
        }
    })
}

/// The byte offset serde_json means by `line` (1-based, `\n`-separated) and `column` (bytes
/// consumed on that line, so the offending byte is at `column - 1`).
fn serde_offset(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    let mut remaining = line.saturating_sub(1);
    if remaining > 0 {
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                remaining -= 1;
                if remaining == 0 {
                    start = i + 1;
                    break;
                }
            }
        }
        if remaining > 0 {
            return text.len();
        }
    }
    (start + column.saturating_sub(1)).min(text.len())
}

/// The line and column of byte `offset` of `text` (moved back to a character boundary), with
/// the same line-break and byte-order-mark rules as [`Positions::index`].
pub fn line_col_at(text: &str, offset: usize) -> LineCol {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let mut s = Scanner::new(text);
    let mut line_start = s.pos;
    let mut line = 1u32;
    let bytes = text.as_bytes();
    let mut i = s.pos;
    while i < offset {
        match bytes[i] {
            b'\n' => {
                line = line.saturating_add(1);
                line_start = i + 1;
            }
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                line = line.saturating_add(1);
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    s.line = line;
    s.mark = line_start.min(offset);
    s.mark_col = 1;
    s.pos = offset;
    s.here()
}

/// What a node of the index is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Object,
    Array,
}

/// One value of the document, in document order (node 0 is the root).
#[derive(Debug, Clone)]
struct Node {
    value: LineCol,
    /// Where the member's key starts, for object members.
    key: Option<LineCol>,
    /// The enclosing container, `NO_PARENT` for the root.
    parent: u32,
    /// Member: the key's span in `Positions::keys`. Element: `(index, 0)`.
    name: (u32, u32),
    kind: Kind,
    /// Span in `Positions::children`: object members sorted by key (stably, so the last of equal
    /// keys is the one serde_json keeps), array elements in order.
    children: (u32, u32),
}

const NO_PARENT: u32 = u32::MAX;

/// How many bytes building the pointers of duplicate keys may copy: `Pointer::child` copies the
/// whole prefix, so a pointer `d` levels deep costs `O(d * len)`. Duplicates buried so deep in a
/// hostile input that they would blow this budget are left out rather than eat the memory.
const DUPLICATE_POINTER_BUDGET: usize = 64 << 20;

/// Where each value of a JSON text starts, by JSON pointer. Build it with [`Positions::index`].
#[derive(Debug, Clone, Default)]
pub struct Positions {
    nodes: Vec<Node>,
    children: Vec<u32>,
    /// Every member key, decoded, back to back.
    keys: String,
    duplicates: Vec<(Pointer, LineCol)>,
}

impl Positions {
    /// Indexes `text`. Never panics; on text that is not JSON it indexes what comes before the
    /// first error.
    pub fn index(text: &str) -> Positions {
        let mut b = Builder::default();
        b.run(text);
        b.finish()
    }

    /// Where the value at `p` starts (its first character: `{`, `[`, `"`, a digit, `-`, `t`,
    /// `f` or `n`).
    pub fn value(&self, p: &Pointer) -> Option<LineCol> {
        let id = self.find(p).ok()?;
        self.node(id).map(|n| n.value)
    }

    /// Where the key of the object member at `p` starts (its opening `"`); `None` for the root,
    /// array elements and pointers that resolve to nothing.
    pub fn key(&self, p: &Pointer) -> Option<LineCol> {
        let id = self.find(p).ok()?;
        self.node(id).and_then(|n| n.key)
    }

    /// The best position for a diagnostic about `p`: the member's key if `p` is an object
    /// member, else the value; if `p` does not exist (a missing field), the same for its nearest
    /// existing ancestor, so the diagnostic points at the enclosing object. `1:1` when nothing is
    /// indexed.
    pub fn locate(&self, p: &Pointer) -> LineCol {
        let id = match self.find(p) {
            Ok(id) | Err(Some(id)) => id,
            Err(None) => return LineCol::START,
        };
        self.node(id)
            .map_or(LineCol::START, |n| n.key.unwrap_or(n.value))
    }

    /// Object members whose key repeats an earlier key of the same object, in document order:
    /// the pointer of the repeated member and where its key starts. serde_json keeps the last
    /// value of a repeated key; pointers resolve to that one too.
    pub fn duplicate_keys(&self) -> &[(Pointer, LineCol)] {
        &self.duplicates
    }

    /// Whether nothing was indexed (empty or non-JSON text).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// How many values were indexed.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    fn node(&self, id: u32) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    fn key_of(&self, id: u32) -> &str {
        match self.node(id) {
            Some(n) => key_span(&self.keys, n.name),
            None => "",
        }
    }

    /// `Ok(node)` if `p` resolves, else `Err` of the deepest ancestor that does (`None` if not
    /// even the root exists).
    fn find(&self, p: &Pointer) -> Result<u32, Option<u32>> {
        if self.nodes.is_empty() {
            return Err(None);
        }
        let mut cur = 0u32;
        for token in p.tokens() {
            match self.child(cur, &token) {
                Some(c) => cur = c,
                None => return Err(Some(cur)),
            }
        }
        Ok(cur)
    }

    fn child(&self, id: u32, token: &str) -> Option<u32> {
        let n = self.node(id)?;
        let start = n.children.0 as usize;
        let kids = self.children.get(start..start + n.children.1 as usize)?;
        match n.kind {
            Kind::Scalar => None,
            Kind::Array => kids.get(array_index(token)?).copied(),
            Kind::Object => {
                let i = kids.partition_point(|&c| self.key_of(c) <= token);
                let c = *kids.get(i.checked_sub(1)?)?;
                (self.key_of(c) == token).then_some(c)
            }
        }
    }

    /// The pointer of node `id`, or `None` if building it would cost more than `budget` bytes
    /// of copying (which is then charged).
    fn pointer_of(&self, id: u32, budget: &mut usize) -> Option<Pointer> {
        let mut chain = Vec::new();
        let mut cur = id;
        while let Some(n) = self.node(cur) {
            if n.parent == NO_PARENT {
                break;
            }
            chain.push(cur);
            cur = n.parent;
        }
        let mut cost = 0usize;
        let mut len = 0usize;
        for &c in chain.iter().rev() {
            len += 1 + self.node(c).map_or(0, |n| n.name.1 as usize + 10);
            cost = cost.saturating_add(len);
        }
        *budget = budget.checked_sub(cost)?;
        let mut p = Pointer::root();
        for &c in chain.iter().rev() {
            let Some(n) = self.node(c) else { break };
            let parent_is_array = self.node(n.parent).is_some_and(|p| p.kind == Kind::Array);
            p = if parent_is_array {
                p.child(n.name.0)
            } else {
                p.child(key_span(&self.keys, n.name))
            };
        }
        Some(p)
    }
}

fn key_span(keys: &str, (start, len): (u32, u32)) -> &str {
    let start = start as usize;
    keys.get(start..start + len as usize).unwrap_or("")
}

/// An RFC 6901 array index: `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let b = token.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    token.parse().ok()
}

/// Cursor over the text that knows its line and (lazily) its column.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    /// A byte offset on the current line whose column is known: `mark_col`. Columns of later
    /// offsets are computed by counting characters from there, so the total work is linear.
    mark: usize,
    mark_col: u32,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let start = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        Self {
            bytes: text.as_bytes(),
            pos: start,
            line: 1,
            mark: start,
            mark_col: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The position of the byte at `pos`.
    fn here(&mut self) -> LineCol {
        let end = self.pos.min(self.bytes.len());
        let mut col = self.mark_col;
        if let Some(run) = self.bytes.get(self.mark..end) {
            let chars = run.iter().filter(|&&b| b & 0xC0 != 0x80).count();
            col = col.saturating_add(u32::try_from(chars).unwrap_or(u32::MAX));
        }
        self.mark = end;
        self.mark_col = col;
        LineCol::new(self.line, col)
    }

    fn newline(&mut self) {
        self.line = self.line.saturating_add(1);
        self.mark = self.pos;
        self.mark_col = 1;
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.newline();
                }
                b'\r' => {
                    self.pos += 1;
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    self.newline();
                }
                _ => break,
            }
        }
    }

    /// At a `"`: skips the string. Returns the byte span of its contents and whether it has
    /// escapes, or `None` if it is unterminated or holds a raw control character.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let rest = self.bytes.get(self.pos..)?;
            let i = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
            self.pos += i;
            match rest[i] {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return Some((start, end, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.pos += 2;
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let ok = self
            .bytes
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(word));
        if ok {
            self.pos += word.len();
        }
        ok
    }

    fn number(&mut self) {
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
    }
}

/// Decodes the contents of a JSON string with escapes, as serde_json does (`None` if an escape
/// is invalid, including a lone surrogate, which serde_json rejects too).
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let c = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = hex4(&mut chars)?;
                match hi {
                    0xD800..=0xDBFF => {
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let lo = hex4(&mut chars)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                    }
                    _ => char::from_u32(hi)?,
                }
            }
            _ => return None,
        };
        out.push(c);
    }
    Some(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

/// Where the next value goes.
#[derive(Clone, Copy)]
enum Slot {
    Root,
    Element {
        parent: u32,
    },
    Member {
        parent: u32,
        name: (u32, u32),
        key: LineCol,
    },
}

/// An open object or array.
struct Frame {
    node: u32,
    kind: Kind,
    /// Where this container's children start in `Builder::pending`.
    pending: usize,
}

#[derive(Default)]
struct Builder {
    out: Positions,
    /// Children of the open containers, innermost last.
    pending: Vec<u32>,
    frames: Vec<Frame>,
    /// Members found to repeat a key, as node ids.
    duplicates: Vec<u32>,
    /// Scratch space for sorting an object's members: (key span, node id).
    members: Vec<((u32, u32), u32)>,
}

impl Builder {
    fn run(&mut self, text: &str) {
        let mut s = Scanner::new(text);
        let mut slot = Slot::Root;
        'values: loop {
            s.skip_ws();
            let Some(c) = s.peek() else { break };
            let at = s.here();
            let Some(id) = self.add(at, slot) else { break };
            match c {
                b'{' => {
                    s.pos += 1;
                    self.open(id, Kind::Object);
                    s.skip_ws();
                    if s.peek() == Some(b'}') {
                        s.pos += 1;
                        self.close();
                    } else {
                        match self.member(&mut s, text, id) {
                            Some(next) => {
                                slot = next;
                                continue 'values;
                            }
                            None => break,
                        }
                    }
                }
                b'[' => {
                    s.pos += 1;
                    self.open(id, Kind::Array);
                    s.skip_ws();
                    if s.peek() == Some(b']') {
                        s.pos += 1;
                        self.close();
                    } else {
                        slot = Slot::Element { parent: id };
                        continue 'values;
                    }
                }
                b'"' => {
                    if s.string().is_none() {
                        break;
                    }
                }
                b't' | b'f' | b'n' => {
                    let word: &[u8] = match c {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    if !s.literal(word) {
                        break;
                    }
                }
                b'-' | b'0'..=b'9' => s.number(),
                _ => break,
            }
            // A value is complete: close finished containers, find where the next value goes.
            loop {
                s.skip_ws();
                let Some(frame) = self.frames.last() else {
                    break 'values;
                };
                let (node, kind) = (frame.node, frame.kind);
                match (kind, s.peek()) {
                    (Kind::Object, Some(b',')) => {
                        s.pos += 1;
                        s.skip_ws();
                        match self.member(&mut s, text, node) {
                            Some(next) => {
                                slot = next;
                                continue 'values;
                            }
                            None => break 'values,
                        }
                    }
                    (Kind::Array, Some(b',')) => {
                        s.pos += 1;
                        slot = Slot::Element { parent: node };
                        continue 'values;
                    }
                    (Kind::Object, Some(b'}')) | (Kind::Array, Some(b']')) => {
                        s.pos += 1;
                        self.close();
                    }
                    _ => break 'values,
                }
            }
        }
        // Text that stops early still leaves what was seen of open containers reachable.
        while !self.frames.is_empty() {
            self.close();
        }
    }

    /// At a member's key: reads `"key" :`, stores the key, returns the slot of its value.
    fn member(&mut self, s: &mut Scanner<'_>, text: &str, parent: u32) -> Option<Slot> {
        if s.peek() != Some(b'"') {
            return None;
        }
        let key = s.here();
        let (start, end, escaped) = s.string()?;
        let raw = text.get(start..end)?;
        let at = u32::try_from(self.out.keys.len()).ok()?;
        if escaped {
            self.out.keys.push_str(&unescape(raw)?);
        } else {
            self.out.keys.push_str(raw);
        }
        let len = u32::try_from(self.out.keys.len()).ok()?.checked_sub(at)?;
        s.skip_ws();
        if s.peek() != Some(b':') {
            return None;
        }
        s.pos += 1;
        Some(Slot::Member {
            parent,
            name: (at, len),
            key,
        })
    }

    /// Records a value starting at `at`; `None` once ids run out (a text over 4 GiB).
    fn add(&mut self, at: LineCol, slot: Slot) -> Option<u32> {
        let id = u32::try_from(self.out.nodes.len())
            .ok()
            .filter(|&id| id != NO_PARENT)?;
        let (parent, name, key) = match slot {
            Slot::Root => (NO_PARENT, (0, 0), None),
            Slot::Element { parent } => {
                let start = self.frames.last().map_or(self.pending.len(), |f| f.pending);
                let index = u32::try_from(self.pending.len() - start).ok()?;
                (parent, (index, 0), None)
            }
            Slot::Member { parent, name, key } => (parent, name, Some(key)),
        };
        if parent != NO_PARENT {
            self.pending.push(id);
        }
        self.out.nodes.push(Node {
            value: at,
            key,
            parent,
            name,
            kind: Kind::Scalar,
            children: (0, 0),
        });
        Some(id)
    }

    fn open(&mut self, id: u32, kind: Kind) {
        if let Some(n) = self.out.nodes.get_mut(id as usize) {
            n.kind = kind;
        }
        self.frames.push(Frame {
            node: id,
            kind,
            pending: self.pending.len(),
        });
    }

    fn close(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let start = self.out.children.len();
        let from = frame.pending.min(self.pending.len());
        self.out.children.extend(self.pending.drain(from..));
        let end = self.out.children.len();
        if frame.kind == Kind::Object && end - start > 1 {
            // Sort (key span, id) pairs rather than ids, so comparisons do not chase nodes.
            let keys = self.out.keys.as_bytes();
            let key = |(at, len): (u32, u32)| {
                let at = at as usize;
                keys.get(at..at + len as usize).unwrap_or_default()
            };
            let nodes = &self.out.nodes;
            let members = &mut self.members;
            members.clear();
            members.extend(
                self.out.children[start..end]
                    .iter()
                    .map(|&id| (nodes.get(id as usize).map_or((0, 0), |n| n.name), id)),
            );
            // Ids follow document order: members with equal keys stay in document order.
            members.sort_unstable_by(|a, b| key(a.0).cmp(key(b.0)).then(a.1.cmp(&b.1)));
            for pair in members.windows(2) {
                if key(pair[0].0) == key(pair[1].0) {
                    self.duplicates.push(pair[1].1);
                }
            }
            for (slot, &(_, id)) in self.out.children[start..end].iter_mut().zip(members.iter()) {
                *slot = id;
            }
        }
        if let Some(n) = self.out.nodes.get_mut(frame.node as usize) {
            // Both fit: there are fewer children than nodes, and node ids are u32.
            n.children = (start as u32, (end - start) as u32);
        }
    }

    fn finish(mut self) -> Positions {
        // Node ids follow document order, and a member's key comes right before its value.
        self.duplicates.sort_unstable();
        let mut budget = DUPLICATE_POINTER_BUDGET;
        let mut found = Vec::new();
        for &id in &self.duplicates {
            let Some(key) = self.out.node(id).and_then(|n| n.key) else {
                continue;
            };
            if let Some(p) = self.out.pointer_of(id, &mut budget) {
                found.push((p, key));
            }
        }
        self.out.duplicates = found;
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn ptr(tokens: &[&str]) -> Pointer {
        tokens.iter().fold(Pointer::root(), |p, t| p.child(t))
    }

    fn lc(line: u32, column: u32) -> LineCol {
        LineCol::new(line, column)
    }

    /// The byte offset of `at` in `text` (only `\n` line breaks, no BOM), if it exists.
    fn offset_of(text: &str, at: LineCol) -> Option<usize> {
        let line_start = if at.line == 1 {
            0
        } else {
            text.match_indices('\n').nth(at.line as usize - 2)?.0 + 1
        };
        let col = at.column as usize - 1;
        let line = &text[line_start..];
        if col == line.chars().count() {
            return Some(text.len());
        }
        line.char_indices().nth(col).map(|(i, _)| line_start + i)
    }

    fn first_value(text: &str) -> Value {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .next()
            .unwrap()
            .unwrap()
    }

    fn first_string(text: &str) -> String {
        serde_json::Deserializer::from_str(text)
            .into_iter::<String>()
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn nested_objects_and_arrays() {
        let text = r#"{"Comment": "x", "States": {"A": {"Type": "Pass", "Retry": [1, {"ErrorEquals": ["e"]}]}}, "Empty": {}, "E": []}"#;
        let pos = Positions::index(text);
        assert_eq!(pos.value(&Pointer::root()), Some(lc(1, 1)));
        assert_eq!(pos.key(&Pointer::root()), None);
        assert_eq!(pos.key(&ptr(&["Comment"])), Some(lc(1, 2)));
        assert_eq!(pos.value(&ptr(&["Comment"])), Some(lc(1, 13)));
        let retry = ptr(&["States", "A", "Retry"]);
        assert_eq!(pos.key(&retry), Some(lc(1, 51)));
        assert_eq!(pos.value(&retry), Some(lc(1, 60)));
        assert_eq!(pos.value(&retry.child(0)), Some(lc(1, 61)));
        assert_eq!(pos.key(&retry.child(0)), None);
        let ee = retry.child(1).child("ErrorEquals");
        assert_eq!(pos.value(&retry.child(1)), Some(lc(1, 64)));
        assert_eq!(pos.key(&ee), Some(lc(1, 65)));
        assert_eq!(pos.value(&ee), Some(lc(1, 80)));
        assert_eq!(pos.value(&ee.child(0)), Some(lc(1, 81)));
        assert_eq!(pos.value(&ptr(&["Empty"])), Some(lc(1, 100)));
        assert_eq!(pos.value(&ptr(&["E"])), Some(lc(1, 109)));
        assert_eq!(pos.value(&retry.child(2)), None);
        assert_eq!(pos.value(&ptr(&["Empty", "x"])), None);
        assert_eq!(pos.value(&ptr(&["Comment", "x"])), None);
        assert!(pos.duplicate_keys().is_empty());
    }

    #[test]
    fn array_indices_follow_rfc6901() {
        let pos = Positions::index("[10, 11, 12]");
        assert_eq!(pos.value(&Pointer::root().child(2)), Some(lc(1, 10)));
        for bad in ["01", "-1", "+1", "1.0", "", "3", "99999999999999999999999"] {
            assert_eq!(pos.value(&Pointer::root().child(bad)), None, "{bad}");
        }
    }

    #[test]
    fn multi_line_lf_and_crlf() {
        let lf =
            "{\n  \"StartAt\": \"A\",\n  \"States\": {\n\t\"A\": {\"Type\": \"Succeed\"}\n  }\n}\n";
        for text in [
            lf.to_owned(),
            lf.replace('\n', "\r\n"),
            lf.replace('\n', "\r"),
        ] {
            let pos = Positions::index(&text);
            assert_eq!(pos.key(&ptr(&["StartAt"])), Some(lc(2, 3)), "{text:?}");
            assert_eq!(pos.value(&ptr(&["StartAt"])), Some(lc(2, 14)));
            assert_eq!(pos.value(&ptr(&["States"])), Some(lc(3, 13)));
            assert_eq!(pos.key(&ptr(&["States", "A"])), Some(lc(4, 2)));
            assert_eq!(pos.value(&ptr(&["States", "A", "Type"])), Some(lc(4, 16)));
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "{\"é😀\": \"ünï\", \"b\": [\"😀😀\", 1]}";
        let pos = Positions::index(text);
        assert_eq!(pos.value(&ptr(&["é😀"])), Some(lc(1, 8)));
        assert_eq!(pos.key(&ptr(&["b"])), Some(lc(1, 15)));
        assert_eq!(pos.value(&ptr(&["b"]).child(1)), Some(lc(1, 27)));
    }

    #[test]
    fn keys_with_escapes_match_serde_json() {
        let text = r#"{"a\"b": 1, "caf\u00e9": 2, "\ud83d\ude00": 3, "x\/y~z": 4, "t\tn\n\\": 5, "café": 6}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let pos = Positions::index(text);
        for key in v.as_object().unwrap().keys() {
            assert!(pos.value(&ptr(&[key])).is_some(), "{key:?}");
        }
        assert_eq!(pos.key(&ptr(&["a\"b"])), Some(lc(1, 2)));
        assert_eq!(pos.key(&ptr(&["café"])), Some(lc(1, 76)));
        assert_eq!(pos.value(&ptr(&["😀"])), Some(lc(1, 45)));
        // `/` and `~` in a key go through the pointer's ~1 / ~0 escaping.
        let p = ptr(&["x/y~z"]);
        assert_eq!(p.as_str(), "/x~1y~0z");
        assert_eq!(pos.value(&p), Some(lc(1, 58)));
        assert_eq!(pos.value(&ptr(&["t\tn\n\\"])), Some(lc(1, 73)));
        // "caf\u00e9" and "café" are the same key: the second one repeats it, and wins.
        assert_eq!(pos.duplicate_keys(), &[(ptr(&["café"]), lc(1, 76))]);
        assert_eq!(pos.value(&ptr(&["café"])), Some(lc(1, 84)));
    }

    #[test]
    fn locate_prefers_key_then_value_then_ancestor() {
        let text = "{\n  \"States\": {\n    \"Check\": {\n      \"Retry\": [\n        {}\n      ]\n    }\n  }\n}";
        let pos = Positions::index(text);
        let check = ptr(&["States", "Check"]);
        assert_eq!(pos.locate(&check), lc(3, 5));
        assert_eq!(pos.locate(&check.child("Retry").child(0)), lc(5, 9));
        // A missing field points at the enclosing object (its member key).
        assert_eq!(pos.locate(&check.child("Next")), lc(3, 5));
        assert_eq!(
            pos.locate(&check.child("Retry").child(0).child("ErrorEquals")),
            lc(5, 9)
        );
        assert_eq!(
            pos.locate(&check.child("Retry").child(7).child("x")),
            lc(4, 7)
        );
        assert_eq!(pos.locate(&ptr(&["StartAt"])), lc(1, 1));
        assert_eq!(pos.locate(&Pointer::root()), lc(1, 1));
        // Nothing indexed at all.
        assert_eq!(Positions::index("").locate(&check), LineCol::START);
        assert_eq!(
            Positions::index("  \n ").locate(&Pointer::root()),
            LineCol::START
        );
    }

    #[test]
    fn root_position_skips_whitespace_and_bom() {
        let pos = Positions::index("\u{feff}\n  [1]");
        assert_eq!(pos.value(&Pointer::root()), Some(lc(2, 3)));
        assert_eq!(pos.value(&Pointer::root().child(0)), Some(lc(2, 4)));
        let pos = Positions::index("\u{feff}{\"a\": 1}");
        assert_eq!(pos.key(&ptr(&["a"])), Some(lc(1, 2)));
    }

    #[test]
    fn duplicate_keys_are_listed_in_document_order() {
        let text = r#"{
  "States": {
    "A": {"Type": "Pass", "Next": "B"},
    "B": {"Type": "Succeed"},
    "A": {"Type": "Fail", "Type": "Fail"}
  },
  "States": {"A": 1, "A": 2, "A": 3}
}"#;
        let pos = Positions::index(text);
        let states = ptr(&["States"]);
        assert_eq!(
            pos.duplicate_keys(),
            &[
                (states.child("A"), lc(5, 5)),
                (states.child("A").child("Type"), lc(5, 27)),
                (states.clone(), lc(7, 3)),
                (states.child("A"), lc(7, 22)),
                (states.child("A"), lc(7, 30)),
            ]
        );
        // Pointers resolve to the value serde_json keeps: the last.
        assert_eq!(pos.value(&states), Some(lc(7, 13)));
        assert_eq!(pos.value(&states.child("A")), Some(lc(7, 35)));
        assert_eq!(pos.value(&ptr(&["States", "B"])), None);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let depth = 100_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let pos = Positions::index(&text);
        assert_eq!(pos.len(), depth);
        let p = (0..1000).fold(Pointer::root(), |p, _| p.child(0));
        assert_eq!(pos.value(&p), Some(lc(1, 1001)));

        let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let pos = Positions::index(&text);
        assert_eq!(pos.len(), depth + 1);
        let p = (0..1000).fold(Pointer::root(), |p, _| p.child("a"));
        assert_eq!(pos.key(&p), Some(lc(1, 4997)));

        // Unclosed: indexes what it saw.
        let pos = Positions::index(&"[{\"a\":".repeat(depth));
        assert_eq!(pos.len(), 2 * depth);
        assert_eq!(
            pos.value(&Pointer::root().child(0).child("a").child(0)),
            Some(lc(1, 8))
        );
    }

    #[test]
    fn invalid_text_stops_indexing_without_panicking() {
        for text in [
            "",
            "{",
            "[",
            "{\"a",
            "{\"a\"",
            "{\"a\":",
            "[1,",
            "{\"a\" 1}",
            "[1 2]",
            "{1: 2}",
            "\"\\",
            "\"\\u12",
            "{\"\\ud800\": 1}",
            "{\"\\u00zz\": 1}",
            "[tru]",
            "nul",
            "}",
            "]]",
            "[\"a\nb\"]",
            "{\"a\":1,}",
            "\\",
            "\u{feff}",
            "[\"\\é\"]",
            "{\"\\é\":1}",
        ] {
            let pos = Positions::index(text);
            let _ = pos.locate(&ptr(&["a", "0"]));
            let _ = pos.duplicate_keys();
        }
        let pos = Positions::index("[1, 2, ?, 4]");
        assert_eq!(pos.value(&Pointer::root().child(1)), Some(lc(1, 5)));
        assert_eq!(pos.value(&Pointer::root().child(3)), None);
        let pos = Positions::index("{\"a\": [1], \"b\": x");
        assert_eq!(pos.value(&ptr(&["a"]).child(0)), Some(lc(1, 8)));
        assert_eq!(pos.value(&ptr(&["b"])), Some(lc(1, 17)));
    }

    #[test]
    fn parse_json_reports_character_positions() {
        assert_eq!(parse_json("{\"a\": [1, 2]}").unwrap(), json!({"a": [1, 2]}));
        assert_eq!(parse_json("\u{feff}[1]").unwrap(), json!([1]));

        let cases: &[(&str, (u32, u32), &str)] = &[
            ("{\"a\": x}", (1, 7), "expected value"),
            ("{\n  \"é😀\": x\n}", (2, 9), "expected value"),
            ("{\r\n  \"é\": x\r\n}", (2, 8), "expected value"),
            ("{\"a\": 1,}", (1, 9), "trailing comma"),
            ("{\"a\": 1", (1, 7), "EOF while parsing an object"),
            ("{\"a\": 1,\n", (2, 1), "EOF while parsing a value"),
            ("", (1, 1), "EOF while parsing a value"),
            ("[1] 2", (1, 5), "trailing characters"),
            ("\u{feff}\n [é", (2, 3), "expected value"),
        ];
        for &(text, (line, column), message) in cases {
            let e = parse_json(text).unwrap_err();
            assert_eq!(
                (e.line, e.column, e.message.as_str()),
                (line, column, message),
                "{text:?}"
            );
        }
        let e = parse_json("[\n\n  ?]").unwrap_err();
        assert_eq!(e.to_string(), "3:3: expected value");
        assert_eq!(e.position(), lc(3, 3));

        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let e = parse_json(&deep).unwrap_err();
        assert_eq!(e.message, "recursion limit exceeded");
    }

    #[test]
    fn line_col_display_and_serialize() {
        assert_eq!(lc(12, 3).to_string(), "12:3");
        assert_eq!(
            serde_json::to_value(lc(12, 3)).unwrap(),
            json!({"line": 12, "column": 3})
        );
    }

    #[test]
    fn large_input_is_linear() {
        // ~2 MB on one line: quadratic column counting would take far too long.
        let item = r#"{"Type": "Pass", "Result": {"k": [1, 2.5e3, true, null, "é"]}},"#;
        let text = format!("[{}0]", item.repeat(2_000_000 / item.len()));
        let pos = Positions::index(&text);
        let n = 2_000_000 / item.len();
        let last = Pointer::root()
            .child(n - 1)
            .child("Result")
            .child("k")
            .child(4);
        let at = pos.value(&last).unwrap();
        assert_eq!(
            first_value(&text[offset_of(&text, at).unwrap()..]),
            json!("é")
        );
    }

    #[test]
    #[ignore = "timing; run with --release -- --ignored --nocapture"]
    fn ten_megabytes_timing() {
        let state = r#"
    "State_NAME": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "f", "Payload.$": "$", "List": [1, 2, 3, "ü"]},
      "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}],
      "Next": "State_NEXT"
    },"#;
        let mut text = String::from("{\"StartAt\": \"State_0\", \"States\": {");
        let mut i = 0;
        while text.len() < 10 << 20 {
            text.push_str(
                &state
                    .replace("NAME", &i.to_string())
                    .replace("NEXT", &(i + 1).to_string()),
            );
            i += 1;
        }
        text.push_str("\"End\": {\"Type\": \"Succeed\"}}}");
        let t = std::time::Instant::now();
        let pos = Positions::index(&text);
        let elapsed = t.elapsed();
        eprintln!(
            "indexed {} bytes, {} values in {elapsed:?}",
            text.len(),
            pos.len()
        );
        assert!(pos.value(&ptr(&["States", "State_7", "Retry"])).is_some());
        assert!(elapsed < std::time::Duration::from_secs(1));

        // Worst shapes: 5M tiny array elements; one object with ~1M members (sorted on close).
        let flat = format!("[{}0]", "0,".repeat(5 << 20));
        let keys: Vec<String> = (0..1_000_000)
            .map(|i| format!("\"k{}\":0", i * 7919 % 1_000_003))
            .collect();
        let wide = format!("{{{}}}", keys.join(","));
        for text in [flat, wide] {
            let t = std::time::Instant::now();
            let pos = Positions::index(&text);
            let elapsed = t.elapsed();
            eprintln!(
                "indexed {} bytes, {} values in {elapsed:?}",
                text.len(),
                pos.len()
            );
            assert!(elapsed < std::time::Duration::from_secs(1));
        }
    }

    /// Every pointer of `v`, with the member key for object members.
    fn pointers(v: &Value) -> Vec<(Pointer, Option<String>, &Value)> {
        let mut out = vec![(Pointer::root(), None, v)];
        let mut i = 0;
        while i < out.len() {
            let (p, _, v) = out[i].clone();
            match v {
                Value::Array(items) => {
                    out.extend(items.iter().enumerate().map(|(j, x)| (p.child(j), None, x)))
                }
                Value::Object(m) => {
                    out.extend(m.iter().map(|(k, x)| (p.child(k), Some(k.clone()), x)))
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Writes a string with every character other than ASCII letters as a `\u` escape.
    fn escape_all(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        out.push('"');
        out
    }

    proptest! {
        #[test]
        fn index_never_panics(text in any::<String>()) {
            let pos = Positions::index(&text);
            let _ = pos.locate(&ptr(&["a"]).child(0));
        }

        #[test]
        fn index_never_panics_on_json_like_text(text in r#"[\[\]{}",:\\ \r\n\tu0-9a-fé😀trueflsn.eE+-]{0,64}"#) {
            let pos = Positions::index(&text);
            let _ = pos.locate(&ptr(&["a"]).child(0));
            let _ = pos.duplicate_keys();
        }

        #[test]
        fn every_value_and_key_is_located(v in arb_json(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            // Compare with what serde_json reads back (floats need not round-trip exactly).
            let whole: Value = serde_json::from_str(&text).unwrap();
            let pos = Positions::index(&text);
            prop_assert!(pos.duplicate_keys().is_empty());
            prop_assert_eq!(pointers(&whole).len(), pointers(&v).len());
            for (p, key, sub) in pointers(&whole) {
                let at = pos.value(&p);
                prop_assert!(at.is_some(), "no position for {}", p);
                let off = offset_of(&text, at.unwrap()).unwrap();
                prop_assert_eq!(&first_value(&text[off..]), sub, "at {} ({})", p, at.unwrap());
                prop_assert_eq!(pos.locate(&p), pos.key(&p).or(at).unwrap());
                match key {
                    Some(key) => {
                        let at = pos.key(&p).unwrap();
                        let off = offset_of(&text, at).unwrap();
                        prop_assert_eq!(first_string(&text[off..]), key);
                    }
                    None => prop_assert_eq!(pos.key(&p), None),
                }
            }
        }

        #[test]
        fn escaped_keys_resolve(keys in prop::collection::vec(any::<String>(), 1..5)) {
            let members: Vec<String> =
                keys.iter().enumerate().map(|(i, k)| format!("{}: {i}", escape_all(k))).collect();
            let text = format!("{{{}}}", members.join(",\n"));
            let v: Value = serde_json::from_str(&text).unwrap();
            let pos = Positions::index(&text);
            for (k, x) in v.as_object().unwrap() {
                let at = pos.value(&ptr(&[k])).unwrap();
                prop_assert_eq!(&first_value(&text[offset_of(&text, at).unwrap()..]), x);
            }
            let distinct: std::collections::HashSet<_> = keys.iter().collect();
            prop_assert_eq!(pos.duplicate_keys().len(), keys.len() - distinct.len());
        }
    }
}

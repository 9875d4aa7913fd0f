//! Evaluation of intrinsic calls, with AWS's run-time argument rules.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::{self, Write as _};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use sha2::Digest as _;

use super::{Arg, Call, Function, MAX_INPUT_CHARS, MAX_RANGE_ITEMS};
use crate::path::Root;
use crate::{Failure, Random, Scope, SplitMix64};

pub(super) fn eval(
    call: &Call,
    scope: &Scope<'_>,
    random: &mut dyn Random,
) -> Result<Value, Failure> {
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(eval_arg(arg, scope, random)?);
    }
    apply(call, args, random)
}

fn eval_arg<'v>(
    arg: &Arg,
    scope: &Scope<'v>,
    random: &mut dyn Random,
) -> Result<Cow<'v, Value>, Failure> {
    Ok(match arg {
        Arg::String(literal) => Cow::Owned(Value::String(literal.value().to_owned())),
        Arg::Number(number) => Cow::Owned(Value::Number(number.clone())),
        Arg::Bool(value) => Cow::Owned(Value::Bool(*value)),
        Arg::Null => Cow::Owned(Value::Null),
        Arg::Path(path) => path.select(scope).ok_or_else(|| {
            let (what, data) = match path.root() {
                Root::Input => ("input", scope.input),
                Root::Context => ("context object", scope.context),
                Root::Variable => ("variables", &Value::Null),
            };
            Failure::runtime(format!(
                "The JsonPath argument '{}' of an intrinsic function could not be found in the \
                 {what} '{}'",
                path.text(),
                truncated(data),
            ))
        })?,
        Arg::Call(call) => Cow::Owned(eval(call, scope, random)?),
    })
}

/// `data` as JSON, cut to a readable length for an error cause.
fn truncated(data: &Value) -> String {
    const MAX: usize = 1024;
    let mut text = data.to_string();
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// A failure of `call`: `States.IntrinsicFailure`, naming the call.
fn fail(call: &Call, message: impl fmt::Display) -> Failure {
    Failure::intrinsic(format!(
        "The function '{call}' had the following error: {message}"
    ))
}

/// "null", "a string", ... for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn ordinal(i: usize) -> &'static str {
    ["first", "second", "third"]
        .get(i)
        .copied()
        .unwrap_or("last")
}

struct Args<'c, 'v> {
    call: &'c Call,
    values: Vec<Cow<'v, Value>>,
}

impl<'v> Args<'_, 'v> {
    /// The `i`th argument's value (the parser guarantees the count; `null` if absent).
    fn get(&self, i: usize) -> &Value {
        self.values.get(i).map_or(&Value::Null, |value| value)
    }

    fn string(&self, i: usize) -> Result<&str, Failure> {
        match self.get(i) {
            Value::String(s) => Ok(s),
            other => Err(fail(
                self.call,
                format_args!(
                    "the {} argument must be a string, but it is {}",
                    ordinal(i),
                    kind(other)
                ),
            )),
        }
    }

    /// A string of at most [`MAX_INPUT_CHARS`] characters.
    fn bounded_string(&self, i: usize) -> Result<&str, Failure> {
        let s = self.string(i)?;
        if s.len() > MAX_INPUT_CHARS {
            let chars = s.encode_utf16().count();
            if chars > MAX_INPUT_CHARS {
                return Err(fail(
                    self.call,
                    format_args!(
                        "the input string can be at most {MAX_INPUT_CHARS} characters long, \
                         but it has {chars}"
                    ),
                ));
            }
        }
        Ok(s)
    }

    fn array(&self, i: usize) -> Result<&Vec<Value>, Failure> {
        match self.get(i) {
            Value::Array(items) => Ok(items),
            other => Err(fail(
                self.call,
                format_args!(
                    "the {} argument must be an array, but it is {}",
                    ordinal(i),
                    kind(other)
                ),
            )),
        }
    }

    fn take_array(&mut self, i: usize) -> Result<Vec<Value>, Failure> {
        self.array(i)?;
        match std::mem::replace(&mut self.values[i], Cow::Owned(Value::Null)).into_owned() {
            Value::Array(items) => Ok(items),
            _ => Ok(Vec::new()), // checked above
        }
    }

    fn object(&self, i: usize) -> Result<&Map<String, Value>, Failure> {
        match self.get(i) {
            Value::Object(map) => Ok(map),
            other => Err(fail(
                self.call,
                format_args!(
                    "the {} argument must be a JSON object, but it is {}",
                    ordinal(i),
                    kind(other)
                ),
            )),
        }
    }

    /// An integer; a non-integer number is rounded to the nearest integer, halves up (as Java's
    /// `Math.round`, which AWS uses: `States.MathAdd(-2.5, 0)` is `-2`).
    fn rounded(&self, i: usize, what: &str) -> Result<i64, Failure> {
        let value = self.get(i);
        let Value::Number(number) = value else {
            return Err(fail(
                self.call,
                format_args!("the {what} must be an integer, but it is {}", kind(value)),
            ));
        };
        if let Some(n) = number.as_i64() {
            return Ok(n);
        }
        let rounded = number.as_f64().map(round_half_up).unwrap_or(f64::NAN);
        // i64::MIN is exactly -2^63; anything below 2^63 converts exactly.
        if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&rounded) {
            Ok(rounded as i64)
        } else {
            Err(fail(
                self.call,
                format_args!("the {what} {number} is out of the integer range"),
            ))
        }
    }

    /// An integer-valued number (`2` or `2.0`), not rounded.
    fn exact_integer(&self, i: usize, what: &str) -> Result<i64, Failure> {
        let value = self.get(i);
        if let Value::Number(number) = value {
            if let Some(n) = number.as_i64() {
                return Ok(n);
            }
            if let Some(f) = number.as_f64()
                && f.fract() == 0.0
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
            {
                return Ok(f as i64);
            }
            return Err(fail(
                self.call,
                format_args!("the {what} must be an integer, but it is {number}"),
            ));
        }
        Err(fail(
            self.call,
            format_args!("the {what} must be an integer, but it is {}", kind(value)),
        ))
    }
}

/// Java's `Math.round`: the nearest integer, halves towards positive infinity.
fn round_half_up(x: f64) -> f64 {
    let floor = x.floor();
    if x - floor >= 0.5 { floor + 1.0 } else { floor }
}

fn apply(
    call: &Call,
    values: Vec<Cow<'_, Value>>,
    random: &mut dyn Random,
) -> Result<Value, Failure> {
    let mut args = Args { call, values };
    match call.function {
        Function::Format => format(&args),
        Function::StringToJson => {
            let text = args.string(0)?;
            if text.trim().is_empty() {
                // AWS: States.StringToJson('') and States.StringToJson(' ') are null.
                return Ok(Value::Null);
            }
            let mut value = crate::json::parse(text)
                .map_err(|e| fail(call, format_args!("the string is not valid JSON: {e}")))?;
            normalize_negative_zero(&mut value);
            Ok(value)
        }
        Function::JsonToString => serde_json::to_string(args.get(0))
            .map(Value::String)
            .map_err(|e| fail(call, e)),
        Function::Array => Ok(Value::Array(
            args.values.into_iter().map(Cow::into_owned).collect(),
        )),
        Function::ArrayPartition => {
            let size = args.rounded(1, "chunk size")?;
            if size <= 0 {
                return Err(fail(
                    call,
                    format_args!(
                        "the chunk size must be a non-zero, positive integer, but it is {size}"
                    ),
                ));
            }
            let items = args.take_array(0)?;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                chunks.push(Value::Array(items.by_ref().take(size).collect()));
            }
            Ok(Value::Array(chunks))
        }
        Function::ArrayContains => {
            let needle = args.get(1);
            Ok(Value::Bool(
                args.array(0)?.iter().any(|item| item == needle),
            ))
        }
        Function::ArrayRange => range(&args),
        Function::ArrayGetItem => {
            let index = args.exact_integer(1, "index")?;
            let items = args.array(0)?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    fail(
                        call,
                        format_args!(
                            "the index {index} is out of bounds for an array of length {}",
                            items.len()
                        ),
                    )
                })
        }
        Function::ArrayLength => Ok(Value::from(args.array(0)?.len())),
        Function::ArrayUnique => {
            let items = args.take_array(0)?;
            let mut seen = HashSet::with_capacity(items.len());
            Ok(Value::Array(
                items
                    .into_iter()
                    .filter(|item| seen.insert(canonical(item)))
                    .collect(),
            ))
        }
        Function::Base64Encode => {
            let text = args.bounded_string(0)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            ))
        }
        Function::Base64Decode => {
            let text = args.bounded_string(0)?;
            // MIME decoding: line breaks (and other blanks) are not part of the data.
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let engine = GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                GeneralPurposeConfig::new()
                    .with_decode_padding_mode(DecodePaddingMode::Indifferent),
            );
            let bytes = engine
                .decode(compact.as_bytes())
                .map_err(|e| fail(call, format_args!("the input is not valid Base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| fail(call, "the decoded data is not a valid UTF-8 string"))
        }
        Function::Hash => {
            let data = args.bounded_string(0)?.as_bytes();
            let digest = match args.string(1)? {
                "MD5" => md5::Md5::digest(data).to_vec(),
                "SHA-1" => sha1::Sha1::digest(data).to_vec(),
                "SHA-256" => sha2::Sha256::digest(data).to_vec(),
                "SHA-384" => sha2::Sha384::digest(data).to_vec(),
                "SHA-512" => sha2::Sha512::digest(data).to_vec(),
                other => {
                    return Err(fail(
                        call,
                        format_args!(
                            "the hashing algorithm '{other}' is not supported: use MD5, SHA-1, \
                             SHA-256, SHA-384 or SHA-512"
                        ),
                    ));
                }
            };
            let mut hex = String::with_capacity(digest.len() * 2);
            for byte in digest {
                let _ = write!(hex, "{byte:02x}");
            }
            Ok(Value::String(hex))
        }
        Function::JsonMerge => {
            match args.get(2) {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(fail(
                        call,
                        "Step Functions only supports the shallow merging mode: the third argument \
                         must be false",
                    ));
                }
                other => {
                    return Err(fail(
                        call,
                        format_args!(
                            "the third argument must be the boolean false, but it is {}",
                            kind(other)
                        ),
                    ));
                }
            }
            args.object(0)?;
            args.object(1)?;
            let (Value::Object(mut merged), Value::Object(right)) = (
                std::mem::replace(&mut args.values[0], Cow::Owned(Value::Null)).into_owned(),
                std::mem::replace(&mut args.values[1], Cow::Owned(Value::Null)).into_owned(),
            ) else {
                return Err(fail(call, "the first two arguments must be JSON objects"));
            };
            // Shallow: a key of the second object replaces the same key of the first, whole.
            for (key, value) in right {
                merged.insert(key, value);
            }
            Ok(Value::Object(merged))
        }
        Function::MathRandom => {
            let start = args.rounded(0, "start number")?;
            let end = args.rounded(1, "end number")?;
            if end <= start {
                return Err(fail(
                    call,
                    format_args!(
                        "the end number ({end}) must be greater than the start number ({start})"
                    ),
                ));
            }
            let draw = if args.values.len() == 3 {
                // "if you use this function with the same seed value, it will return identical
                // numbers": a seeded draw does not touch the caller's source.
                let seed = args.rounded(2, "seed")?;
                SplitMix64(seed as u64).next_u64()
            } else {
                random.next_u64()
            };
            // Start inclusive, end exclusive; the span fits in a u64 as end > start.
            let span = (i128::from(end) - i128::from(start)) as u128;
            let offset = (u128::from(draw) * span) >> 64;
            Ok(Value::from((i128::from(start) + offset as i128) as i64))
        }
        Function::MathAdd => {
            let range = i64::from(i32::MIN)..=i64::from(i32::MAX);
            let mut sum = 0i64;
            for (i, what) in [(0, "first value"), (1, "second value")] {
                let n = args.rounded(i, what)?;
                if !range.contains(&n) {
                    return Err(fail(
                        call,
                        format_args!(
                            "the {what} {n} is not an integer in the range of -2147483648 and \
                             2147483647"
                        ),
                    ));
                }
                sum += n;
            }
            Ok(Value::from(sum))
        }
        Function::StringSplit => {
            let text = args.string(0)?;
            let delimiters = args.string(1)?;
            // Every character of the second argument delimits, and empty pieces are dropped:
            // AWS splits ", , ," on "," into [" ", " "] and "a.b+c" on ".+" into [a, b, c].
            Ok(Value::Array(
                text.split(|c| delimiters.contains(c))
                    .filter(|piece| !piece.is_empty())
                    .map(|piece| Value::String(piece.to_owned()))
                    .collect(),
            ))
        }
        Function::Uuid => Ok(Value::String(uuid_v4(random))),
    }
}

/// serde_json reads the integer `-0` as the float `-0.0`; AWS reads it as the integer `0`
/// (`States.StringToJson('-0')` is `0`).
/// Without recursion: the parsed string may be nested deeply.
fn normalize_negative_zero(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
                *value = Value::from(0);
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

fn format(args: &Args<'_, '_>) -> Result<Value, Failure> {
    let call = args.call;
    let template = args.string(0)?;
    let holes = match call.args.first() {
        Some(Arg::String(literal)) => literal.placeholders().to_vec(),
        _ => super::placeholder_offsets(template),
    };
    let values = args.values.get(1..).unwrap_or_default();
    if holes.len() != values.len() {
        return Err(fail(
            call,
            format_args!(
                "the template has {} placeholder(s) '{{}}' but {} value(s) are given",
                holes.len(),
                values.len()
            ),
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut from = 0;
    for (hole, value) in holes.iter().zip(values) {
        out.push_str(&template[from..*hole]);
        render(value, &mut out);
        from = hole + 2;
    }
    out.push_str(&template[from..]);
    Ok(Value::String(out))
}

/// How `States.Format` shows a value: strings as they are, other scalars as JSON, arrays as
/// `[a, b]` and objects as `{key=value, key2=value2}` (AWS prints `{"Arg1": 1, "Arg2": []}` as
/// `{Arg1=1, Arg2=[]}`).
fn render(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                render(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

fn range(args: &Args<'_, '_>) -> Result<Value, Failure> {
    let call = args.call;
    let first = i128::from(args.rounded(0, "first element")?);
    let last = i128::from(args.rounded(1, "final element")?);
    let step = i128::from(args.rounded(2, "step")?);
    if step == 0 {
        return Err(fail(
            call,
            "the step (third argument) must be a non-zero integer",
        ));
    }
    // The final element is included when the steps land on it: (0, 9, 3) is [0, 3, 6, 9] and
    // (0, 10, 3) is [0, 3, 6, 9].
    let count = if (step > 0 && last < first) || (step < 0 && last > first) {
        0
    } else {
        (last - first) / step + 1
    };
    if count > MAX_RANGE_ITEMS as i128 {
        return Err(fail(
            call,
            format_args!(
                "the array would have {count} items, but it can contain at most {MAX_RANGE_ITEMS}"
            ),
        ));
    }
    Ok(Value::Array(
        (0..count)
            .map(|i| Value::from((first + i * step) as i64))
            .collect(),
    ))
}

/// A text equal for equal JSON values (object keys sorted), for `States.ArrayUnique`.
fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    write(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (key, item) in entries {
                    let _ = write!(out, "{}:", Value::String(key.clone()));
                    write(item, out);
                    out.push(',');
                }
                out.push('}');
            }
            scalar => {
                let _ = write!(out, "{scalar}");
            }
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// A version 4 (random) UUID, lower-case hex, from 122 bits of `random`.
fn uuid_v4(random: &mut dyn Random) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&random.next_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&random.next_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10xx (RFC 4122)
    let mut out = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

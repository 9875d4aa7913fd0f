//! JSONata's standard function library: string, numeric, aggregation, boolean, array, object,
//! higher-order, date/time (see `datetime.rs`) and `$formatNumber` (`format.rs`).

use std::sync::LazyLock;

use base64::Engine as _;

use crate::ast::RegexLit;
use crate::error::{Error, Result};
use crate::eval::{Eval, Input, compare_js_strings, is_numeric, lookup_field, sort_values};
use crate::number;
use crate::signature::Signature;
use crate::value::{
    EnvId, Func, Key, OUTER_WRAPPER, Object, SEQUENCE, Value, describe, stringify, truthy,
};

macro_rules! builtins {
    ($($variant:ident => $name:literal, $sig:literal, $arity:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Builtin { $($variant),* }

        const ALL: &[Builtin] = &[$(Builtin::$variant),*];

        impl Builtin {
            pub(crate) fn from_name(name: &str) -> Option<Self> {
                BY_NAME.get(name).copied()
            }
            pub(crate) fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            fn signature_text(self) -> &'static str {
                match self { $(Self::$variant => $sig),* }
            }
            /// The arity jsonata-js's implementation declares (what a callback receives).
            pub(crate) fn arity(self) -> usize {
                match self { $(Self::$variant => $arity),* }
            }
        }
    };
}

builtins! {
    Sum => "sum", "<a<n>:n>", 1;
    Count => "count", "<a:n>", 1;
    Max => "max", "<a<n>:n>", 1;
    Min => "min", "<a<n>:n>", 1;
    Average => "average", "<a<n>:n>", 1;
    String => "string", "<x-b?:s>", 1;
    Substring => "substring", "<s-nn?:s>", 3;
    SubstringBefore => "substringBefore", "<s-s:s>", 2;
    SubstringAfter => "substringAfter", "<s-s:s>", 2;
    Lowercase => "lowercase", "<s-:s>", 1;
    Uppercase => "uppercase", "<s-:s>", 1;
    Length => "length", "<s-:n>", 1;
    Trim => "trim", "<s-:s>", 1;
    Pad => "pad", "<s-ns?:s>", 3;
    Match => "match", "<s-f<s:o>n?:a<o>>", 3;
    Contains => "contains", "<s-(sf):b>", 2;
    Replace => "replace", "<s-(sf)(sf)n?:s>", 4;
    Split => "split", "<s-(sf)n?:a<s>>", 3;
    Join => "join", "<a<s>s?:s>", 2;
    FormatNumber => "formatNumber", "<n-so?:s>", 3;
    FormatBase => "formatBase", "<n-n?:s>", 2;
    FormatInteger => "formatInteger", "<n-s:s>", 2;
    ParseInteger => "parseInteger", "<s-s:n>", 2;
    Number => "number", "<(nsb)-:n>", 1;
    Floor => "floor", "<n-:n>", 1;
    Ceil => "ceil", "<n-:n>", 1;
    Round => "round", "<n-n?:n>", 2;
    Abs => "abs", "<n-:n>", 1;
    Sqrt => "sqrt", "<n-:n>", 1;
    Power => "power", "<n-n:n>", 2;
    Random => "random", "<:n>", 0;
    Boolean => "boolean", "<x-:b>", 1;
    Not => "not", "<x-:b>", 1;
    Map => "map", "<af>", 2;
    Zip => "zip", "<a+>", 0;
    Filter => "filter", "<af>", 2;
    Single => "single", "<af?>", 2;
    Reduce => "reduce", "<afj?:j>", 3;
    Sift => "sift", "<o-f?:o>", 2;
    Keys => "keys", "<x-:a<s>>", 1;
    Lookup => "lookup", "<x-s:x>", 2;
    Append => "append", "<xx:a>", 2;
    Exists => "exists", "<x:b>", 1;
    Spread => "spread", "<x-:a<o>>", 1;
    Merge => "merge", "<a<o>:o>", 1;
    Reverse => "reverse", "<a:a>", 1;
    Each => "each", "<o-f:a>", 2;
    Error => "error", "<s?:x>", 1;
    Assert => "assert", "<bs?:x>", 2;
    Type => "type", "<x:s>", 1;
    Sort => "sort", "<af?:a>", 2;
    Shuffle => "shuffle", "<a:a>", 1;
    Distinct => "distinct", "<x:x>", 1;
    Base64Encode => "base64encode", "<s-:s>", 1;
    Base64Decode => "base64decode", "<s-:s>", 1;
    EncodeUrlComponent => "encodeUrlComponent", "<s-:s>", 1;
    EncodeUrl => "encodeUrl", "<s-:s>", 1;
    DecodeUrlComponent => "decodeUrlComponent", "<s-:s>", 1;
    DecodeUrl => "decodeUrl", "<s-:s>", 1;
    Eval => "eval", "<sx?:x>", 2;
    ToMillis => "toMillis", "<s-s?:n>", 2;
    FromMillis => "fromMillis", "<n-s?s?:s>", 3;
    Clone => "clone", "<(oa)-:o>", 1;
    Now => "now", "<s?s?:s>", 2;
    Millis => "millis", "<:n>", 0;
}

static BY_NAME: LazyLock<std::collections::HashMap<&'static str, Builtin>> =
    LazyLock::new(|| ALL.iter().map(|b| (b.name(), *b)).collect());

static SIGNATURES: LazyLock<Vec<Signature>> = LazyLock::new(|| {
    ALL.iter()
        .map(|b| Signature::parse(b.signature_text()).expect("builtin signatures parse"))
        .collect()
});

type Args<'a> = Vec<Input<'a>>;
type Out<'a> = Result<Option<Value<'a>>>;

fn arg<'a>(args: &[Input<'a>], i: usize) -> Option<Value<'a>> {
    args.get(i).cloned().flatten()
}

fn arg_str(args: &[Input<'_>], i: usize) -> Option<String> {
    args.get(i)
        .and_then(|a| a.as_ref())
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn arg_num(args: &[Input<'_>], i: usize) -> Option<f64> {
    args.get(i).and_then(|a| a.as_ref()).and_then(Value::as_f64)
}

fn items<'a>(v: &Value<'a>) -> Vec<Value<'a>> {
    match v.as_array() {
        Some(a) => a.to_vec(),
        None => vec![v.clone()],
    }
}

fn num(n: f64) -> Option<Value<'static>> {
    Some(Value::Number(n))
}

impl Builtin {
    pub(crate) fn signature(self) -> &'static Signature {
        &SIGNATURES[self as usize]
    }

    pub(crate) fn call<'a>(
        self,
        ev: &Eval<'a>,
        args: Args<'a>,
        input: &Input<'a>,
        env: EnvId,
    ) -> Out<'a> {
        use Builtin as B;
        let a0 = arg(&args, 0);
        match self {
            B::Sum => {
                Ok(a0.map(|v| Value::Number(items(&v).iter().filter_map(Value::as_f64).sum())))
            }
            B::Count => Ok(num(a0.map_or(0, |v| items(&v).len()) as f64)),
            B::Max | B::Min => {
                let Some(v) = a0 else { return Ok(None) };
                let nums: Vec<f64> = items(&v).iter().filter_map(Value::as_f64).collect();
                if nums.is_empty() {
                    return Ok(None);
                }
                let r = if self == B::Max {
                    nums.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    nums.iter().copied().fold(f64::INFINITY, f64::min)
                };
                Ok(num(r))
            }
            B::Average => {
                let Some(v) = a0 else { return Ok(None) };
                let nums: Vec<f64> = items(&v).iter().filter_map(Value::as_f64).collect();
                if nums.is_empty() {
                    return Ok(None);
                }
                Ok(num(nums.iter().sum::<f64>() / nums.len() as f64))
            }
            B::String => {
                let Some(v) = a0 else { return Ok(None) };
                let pretty = matches!(arg(&args, 1), Some(Value::Bool(true)));
                Ok(Some(Value::string(string(&v, pretty)?)))
            }
            B::Substring => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                Ok(Some(Value::string(substring(
                    &s,
                    arg_num(&args, 1).unwrap_or(0.0),
                    arg_num(&args, 2),
                ))))
            }
            B::SubstringBefore | B::SubstringAfter => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                let chars = arg_str(&args, 1).unwrap_or_default();
                let out = match s.find(&chars) {
                    Some(pos) if self == B::SubstringBefore => s[..pos].to_string(),
                    Some(pos) => s[pos + chars.len()..].to_string(),
                    None => s,
                };
                Ok(Some(Value::string(out)))
            }
            B::Lowercase => Ok(arg_str(&args, 0).map(|s| Value::string(s.to_lowercase()))),
            B::Uppercase => Ok(arg_str(&args, 0).map(|s| Value::string(s.to_uppercase()))),
            B::Length => Ok(arg_str(&args, 0).map(|s| Value::Number(s.chars().count() as f64))),
            B::Trim => Ok(arg_str(&args, 0).map(|s| Value::string(trim(&s)))),
            B::Pad => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                let width = arg_num(&args, 1).unwrap_or(0.0).trunc();
                let mut pad = arg_str(&args, 2).unwrap_or_default();
                if pad.is_empty() {
                    pad = " ".into();
                }
                let len = s.chars().count() as f64;
                let pad_len = width.abs() - len;
                if pad_len <= 0.0 {
                    return Ok(Some(Value::string(s)));
                }
                ev.charge(pad_len as u64)?;
                ev.check_sequence(pad_len as usize)?;
                let padding: String = pad.chars().cycle().take(pad_len as usize).collect();
                Ok(Some(Value::string(if width > 0.0 {
                    s + &padding
                } else {
                    padding + &s
                })))
            }
            B::Match => regex_match(ev, &args, env),
            B::Contains => {
                let (Some(s), Some(token)) = (arg_str(&args, 0), arg(&args, 1)) else {
                    return Ok(None);
                };
                if let Some(t) = token.as_str() {
                    return Ok(Some(Value::Bool(s.contains(t))));
                }
                let mut m = Matcher::new(ev, &token, &s, env)?;
                Ok(Some(Value::Bool(m.next_match()?.is_some())))
            }
            B::Replace => replace(ev, &args, env),
            B::Split => split(ev, &args, env),
            B::Join => {
                let Some(v) = a0 else { return Ok(None) };
                let sep = arg_str(&args, 1).unwrap_or_default();
                let parts: Vec<String> = items(&v)
                    .iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect();
                Ok(Some(Value::string(parts.join(&sep))))
            }
            B::FormatNumber => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                let picture = arg_str(&args, 1).unwrap_or_default();
                let options = arg(&args, 2);
                Ok(Some(Value::string(crate::format::format_number(
                    n,
                    &picture,
                    options.as_ref(),
                )?)))
            }
            B::FormatBase => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                let value = round_half_even(n, 0.0);
                let radix = arg_num(&args, 1).map_or(10.0, |r| round_half_even(r, 0.0));
                if !(2.0..=36.0).contains(&radix) {
                    return Err(Error::new("D3100").value(number::to_js_string(radix)));
                }
                Ok(Some(Value::string(number::to_radix_string(
                    value,
                    radix as u32,
                ))))
            }
            B::FormatInteger => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                let picture = arg_str(&args, 1).unwrap_or_default();
                Ok(Some(Value::string(crate::datetime::format_integer(
                    n, &picture,
                )?)))
            }
            B::ParseInteger => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                let picture = arg_str(&args, 1).unwrap_or_default();
                Ok(crate::datetime::parse_integer(&s, &picture)?.map(Value::Number))
            }
            B::Number => number_cast(a0),
            B::Floor => Ok(arg_num(&args, 0).map(|n| Value::Number(n.floor()))),
            B::Ceil => Ok(arg_num(&args, 0).map(|n| Value::Number(n.ceil()))),
            B::Round => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                Ok(num(round_half_even(n, arg_num(&args, 1).unwrap_or(0.0))))
            }
            B::Abs => Ok(arg_num(&args, 0).map(|n| Value::Number(n.abs()))),
            B::Sqrt => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                if n < 0.0 {
                    return Err(Error::new("D3060").value(number::to_js_string(n)));
                }
                Ok(num(n.sqrt()))
            }
            B::Power => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                let e = arg_num(&args, 1).unwrap_or(f64::NAN);
                let r = n.powf(e);
                if !r.is_finite() {
                    return Err(Error::new("D3061")
                        .value(number::to_js_string(n))
                        .value2(number::to_js_string(e)));
                }
                Ok(num(r))
            }
            B::Random => Ok(num(next_random(ev))),
            B::Boolean => Ok(truthy(a0.as_ref()).map(Value::Bool)),
            B::Not => Ok(truthy(a0.as_ref()).map(|b| Value::Bool(!b))),
            B::Map | B::Filter => {
                let Some(arr) = a0 else { return Ok(None) };
                let Some(Value::Func(f)) = arg(&args, 1) else {
                    return Ok(None);
                };
                let list = items(&arr);
                let whole = Value::array(list.clone(), 0);
                let mut out = Vec::new();
                for (i, item) in list.into_iter().enumerate() {
                    let res = ev.call_hof(
                        &f,
                        [Some(item.clone()), num(i as f64), Some(whole.clone())],
                        env,
                    )?;
                    if self == B::Map {
                        out.extend(res);
                    } else if truthy(res.as_ref()).unwrap_or(false) {
                        out.push(item);
                    }
                }
                Ok(Some(Value::sequence(out)))
            }
            B::Single => {
                let Some(arr) = a0 else { return Ok(None) };
                let func = arg(&args, 1);
                let list = items(&arr);
                let whole = Value::array(list.clone(), 0);
                let mut found = None;
                for (i, item) in list.into_iter().enumerate() {
                    let positive = match &func {
                        Some(Value::Func(f)) => {
                            let res = ev.call_hof(
                                f,
                                [Some(item.clone()), num(i as f64), Some(whole.clone())],
                                env,
                            )?;
                            truthy(res.as_ref()).unwrap_or(false)
                        }
                        _ => true,
                    };
                    if positive {
                        if found.is_some() {
                            return Err(Error::new("D3138"));
                        }
                        found = Some(item);
                    }
                }
                match found {
                    Some(v) => Ok(Some(v)),
                    None => Err(Error::new("D3139")),
                }
            }
            B::Zip => {
                let arrays: Vec<Vec<Value<'a>>> = args
                    .iter()
                    .map(|a| match a {
                        Some(v) if v.is_array() => items(v),
                        _ => Vec::new(),
                    })
                    .collect();
                let len = arrays.iter().map(Vec::len).min().unwrap_or(0);
                let out = (0..len)
                    .map(|i| Value::array(arrays.iter().map(|a| a[i].clone()).collect(), 0))
                    .collect();
                Ok(Some(Value::array(out, 0)))
            }
            B::Reduce => {
                let Some(arr) = a0 else { return Ok(None) };
                let Some(Value::Func(f)) = arg(&args, 1) else {
                    return Ok(None);
                };
                let arity = f.arity();
                if arity < 2 {
                    return Err(Error::new("D3050"));
                }
                let list = items(&arr);
                let whole = Value::array(list.clone(), 0);
                let init = arg(&args, 2);
                let (mut acc, start) = match init {
                    None if !list.is_empty() => (Some(list[0].clone()), 1),
                    other => (other, 0),
                };
                for (i, item) in list.iter().enumerate().skip(start) {
                    let mut call = vec![acc, Some(item.clone())];
                    if arity >= 3 {
                        call.push(num(i as f64));
                    }
                    if arity >= 4 {
                        call.push(Some(whole.clone()));
                    }
                    acc = ev.apply_func(&f, call, &None, env)?;
                }
                Ok(acc)
            }
            B::Sift | B::Each => {
                let Some(Value::Func(f)) = arg(&args, 1) else {
                    return Ok(None);
                };
                let Some(obj) = a0 else {
                    return Ok(if self == B::Each {
                        Some(Value::sequence(Vec::new()))
                    } else {
                        None
                    });
                };
                let Some(o) = obj.as_object() else {
                    return Ok(if self == B::Each {
                        Some(Value::sequence(Vec::new()))
                    } else {
                        None
                    });
                };
                let entries: Vec<(Key<'a>, Value<'a>)> = o.iter().collect();
                let mut kept = Object::default();
                let mut out = Vec::new();
                for (k, v) in entries {
                    let key = Value::string(&*k);
                    let res =
                        ev.call_hof(&f, [Some(v.clone()), Some(key), Some(obj.clone())], env)?;
                    if self == B::Each {
                        out.extend(res);
                    } else if truthy(res.as_ref()).unwrap_or(false) {
                        kept.insert(k, v);
                    }
                }
                if self == B::Each {
                    return Ok(Some(Value::sequence(out)));
                }
                Ok((kept.len() > 0).then(|| Value::object(kept)))
            }
            B::Keys => Ok(Some(Value::sequence(
                keys(a0.as_ref())
                    .into_iter()
                    .map(|k| Value::string(&*k))
                    .collect(),
            ))),
            B::Lookup => {
                let key = arg_str(&args, 1).unwrap_or_default();
                Ok(lookup_field(a0.as_ref(), &key))
            }
            B::Append => Ok(append(a0, arg(&args, 1))),
            B::Exists => Ok(Some(Value::Bool(a0.is_some()))),
            B::Spread => Ok(spread(a0)),
            B::Merge => {
                let Some(v) = a0 else { return Ok(None) };
                let mut out = Object::default();
                for item in items(&v) {
                    if let Some(o) = item.as_object() {
                        for (k, x) in o.iter() {
                            out.insert(k, x);
                        }
                    }
                }
                Ok(Some(Value::object(out)))
            }
            B::Reverse => {
                let Some(v) = a0 else { return Ok(None) };
                let mut list = items(&v);
                if list.len() <= 1 {
                    return Ok(Some(v));
                }
                list.reverse();
                Ok(Some(Value::array(list, 0)))
            }
            B::Error => Err(Error::new("D3137").detail(
                arg_str(&args, 0)
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "$error() function evaluated".into()),
            )),
            B::Assert => {
                if !matches!(a0, Some(Value::Bool(true))) {
                    return Err(Error::new("D3141").detail(
                        arg_str(&args, 1)
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "$assert() statement failed".into()),
                    ));
                }
                Ok(None)
            }
            B::Type => Ok(a0.map(|v| Value::Lit(v.type_name()))),
            B::Sort => sort(ev, a0, arg(&args, 1), env),
            B::Shuffle => {
                let Some(v) = a0 else { return Ok(None) };
                let mut list = items(&v);
                if list.len() <= 1 {
                    return Ok(Some(v));
                }
                for i in (1..list.len()).rev() {
                    let j = (next_random(ev) * (i + 1) as f64) as usize;
                    list.swap(i, j.min(i));
                }
                Ok(Some(Value::array(list, 0)))
            }
            B::Distinct => {
                let Some(v) = a0 else { return Ok(None) };
                let Some(a) = v.as_array() else {
                    return Ok(Some(v));
                };
                if a.len() <= 1 {
                    return Ok(Some(v));
                }
                let mut out: Vec<Value<'a>> = Vec::new();
                for item in a.iter() {
                    if !out.iter().any(|x| x.deep_eq(&item)) {
                        out.push(item);
                    }
                }
                let flags = if v.is_sequence() { SEQUENCE } else { 0 };
                Ok(Some(Value::array(out, flags)))
            }
            B::Base64Encode => Ok(arg_str(&args, 0).map(|s| {
                let bytes: Vec<u8> = s.encode_utf16().map(|u| (u & 0xFF) as u8).collect();
                Value::string(base64::engine::general_purpose::STANDARD.encode(bytes))
            })),
            B::Base64Decode => Ok(arg_str(&args, 0).map(|s| {
                let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                let trimmed = cleaned.trim_end_matches('=');
                let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(trimmed)
                    .unwrap_or_default();
                Value::string(bytes.iter().map(|b| *b as char).collect::<String>())
            })),
            B::EncodeUrlComponent | B::EncodeUrl => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                Ok(Some(Value::string(crate::url::encode(
                    &s,
                    self == B::EncodeUrl,
                ))))
            }
            B::DecodeUrlComponent | B::DecodeUrl => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                match crate::url::decode(&s, self == B::DecodeUrl) {
                    Some(d) => Ok(Some(Value::string(d))),
                    None => Err(Error::new("D3140").token(self.name()).value(s)),
                }
            }
            B::Eval => {
                let Some(src) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                let focus = arg(&args, 1).or_else(|| input.clone());
                crate::eval_nested(ev, &src, focus)
            }
            B::ToMillis => {
                let Some(s) = arg_str(&args, 0) else {
                    return Ok(None);
                };
                Ok(
                    crate::datetime::to_millis(&s, arg_str(&args, 1).as_deref(), ev.now)?
                        .map(|m| Value::Number(m as f64)),
                )
            }
            B::FromMillis => {
                let Some(n) = arg_num(&args, 0) else {
                    return Ok(None);
                };
                Ok(Some(Value::string(crate::datetime::from_millis(
                    n,
                    arg_str(&args, 1).as_deref(),
                    arg_str(&args, 2).as_deref(),
                )?)))
            }
            B::Clone => Ok(a0.map(|v| deep_clone(&v))),
            B::Now => Ok(Some(Value::string(crate::datetime::from_millis(
                ev.now as f64,
                arg_str(&args, 0).as_deref(),
                arg_str(&args, 1).as_deref(),
            )?))),
            B::Millis => Ok(num(ev.now as f64)),
        }
    }
}

/// A uniform draw in [0, 1) from the evaluation's deterministic generator (SplitMix64).
pub(crate) fn next_random(ev: &Eval<'_>) -> f64 {
    (next_u64(ev) >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn next_u64(ev: &Eval<'_>) -> u64 {
    let state = ev.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    ev.rng.set(state);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `$string`.
pub(crate) fn string(v: &Value<'_>, pretty: bool) -> Result<String> {
    match v {
        Value::Str(_) | Value::Lit(_) => Ok(v.as_str().unwrap_or("").to_string()),
        Value::Func(_) => Ok(String::new()),
        Value::Number(n) if !n.is_finite() => {
            Err(Error::new("D3001").value(number::to_js_string(*n)))
        }
        _ => {
            if let Some(bad) = non_finite(v, 0) {
                return Err(Error::new("D1001").value(number::to_js_string(bad)));
            }
            let target = if v.has_flag(OUTER_WRAPPER) {
                v.as_array().and_then(|a| a.get(0)).unwrap_or(Value::Null)
            } else {
                v.clone()
            };
            let mut out = String::new();
            stringify(&target, pretty, &mut out, 0);
            Ok(out)
        }
    }
}

fn non_finite(v: &Value<'_>, depth: usize) -> Option<f64> {
    if depth > 10_000 {
        return None;
    }
    match v {
        Value::Number(n) if !n.is_finite() && !n.is_nan() => Some(*n),
        Value::Array(a) => a.items.iter().find_map(|x| non_finite(x, depth + 1)),
        Value::Object(o) => o.iter().find_map(|(_, x)| non_finite(x, depth + 1)),
        _ => None,
    }
}

fn js_slice_index(len: i64, index: f64) -> i64 {
    let i = if index.is_nan() { 0.0 } else { index.trunc() };
    if i < 0.0 {
        (len as f64 + i).max(0.0) as i64
    } else {
        (i.min(len as f64)) as i64
    }
}

fn substring(s: &str, start: f64, length: Option<f64>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    let mut start = start;
    if len as f64 + start < 0.0 {
        start = 0.0;
    }
    let from = js_slice_index(len, start);
    let to = match length {
        Some(l) => {
            if l <= 0.0 {
                return String::new();
            }
            let end = if start >= 0.0 {
                start + l
            } else {
                len as f64 + start + l
            };
            js_slice_index(len, end)
        }
        None => len,
    };
    if from >= to {
        return String::new();
    }
    chars[from as usize..to as usize].iter().collect()
}

fn trim(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    let out = out.strip_prefix(' ').unwrap_or(&out);
    out.strip_suffix(' ').unwrap_or(out).to_string()
}

/// JSONata's `$round`: half to even, at `precision` decimal places.
pub(crate) fn round_half_even(arg: f64, precision: f64) -> f64 {
    let shift = |x: f64, by: f64| -> f64 {
        if by == 0.0 || !x.is_finite() {
            return x;
        }
        let s = number::to_js_string(x);
        let (mantissa, exp) = match s.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
            None => (s, 0.0),
        };
        format!("{mantissa}e{}", number::to_js_string(exp + by))
            .parse()
            .unwrap_or(x)
    };
    let precision = precision.trunc();
    let value = shift(arg, precision);
    let mut result = number::js_round(value);
    let diff = result - value;
    if diff.abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    let result = shift(result, -precision);
    if result == 0.0 { 0.0 } else { result }
}

fn number_cast(v: Option<Value<'_>>) -> Out<'static> {
    let Some(v) = v else { return Ok(None) };
    match &v {
        Value::Number(n) => Ok(num(*n)),
        Value::Bool(b) => Ok(num(if *b { 1.0 } else { 0.0 })),
        _ => {
            if let Some(s) = v.as_str() {
                if let Some(n) = parse_decimal(s) {
                    return Ok(num(n));
                }
                let lower = s.to_ascii_lowercase();
                let radix = if lower.starts_with("0x") {
                    Some(16)
                } else if lower.starts_with("0o") {
                    Some(8)
                } else if lower.starts_with("0b") {
                    Some(2)
                } else {
                    None
                };
                if let Some(r) = radix
                    && s.len() > 2
                    && let Ok(n) = u64::from_str_radix(&s[2..], r)
                {
                    return Ok(num(n as f64));
                }
            }
            Err(Error::new("D3030").value(describe(&v)))
        }
    }
}

fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `$append` (also how grouping accumulates): concatenation, arrays spliced one level.
pub(crate) fn append<'a>(a: Option<Value<'a>>, b: Option<Value<'a>>) -> Option<Value<'a>> {
    let Some(a) = a else { return b };
    let Some(b) = b else { return Some(a) };
    let mut out = items(&a);
    out.extend(items(&b));
    Some(Value::array(out, 0))
}

fn keys<'a>(v: Option<&Value<'a>>) -> Vec<Key<'a>> {
    let Some(v) = v else { return Vec::new() };
    if let Some(a) = v.as_array() {
        let mut seen: Vec<Key<'a>> = Vec::new();
        for item in a.iter() {
            for k in keys(Some(&item)) {
                if !seen.contains(&k) {
                    seen.push(k);
                }
            }
        }
        return seen;
    }
    v.as_object().map(|o| o.keys()).unwrap_or_default()
}

fn spread(v: Option<Value<'_>>) -> Option<Value<'_>> {
    let v = v?;
    if let Some(a) = v.as_array() {
        let mut out: Option<Value<'_>> = Some(Value::sequence(Vec::new()));
        for item in a.iter() {
            out = append(out, spread(Some(item)));
        }
        return out;
    }
    if let Some(o) = v.as_object() {
        let mut out = Vec::new();
        for (k, x) in o.iter() {
            let mut single = Object::with_capacity(1);
            single.insert(k, x);
            out.push(Value::object(single));
        }
        return Some(Value::sequence(out));
    }
    Some(v)
}

/// `$clone`: a deep copy as `JSON.parse($string(x))` makes it (functions become `""`).
pub(crate) fn deep_clone<'a>(v: &Value<'a>) -> Value<'a> {
    fn copy<'a>(v: &Value<'a>, depth: usize) -> Value<'a> {
        if depth > 10_000 {
            return Value::Null;
        }
        match v {
            Value::Number(n) if n.fract() != 0.0 => Value::Number(number::to_precision_15(*n)),
            Value::Number(n) if !n.is_finite() => Value::Null,
            Value::Func(_) => Value::Lit(""),
            _ => {
                if let Some(a) = v.as_array() {
                    Value::array(a.iter().map(|x| copy(&x, depth + 1)).collect(), 0)
                } else if let Some(o) = v.as_object() {
                    let mut out = Object::with_capacity(o.len());
                    for (k, x) in o.iter() {
                        out.insert(k, copy(&x, depth + 1));
                    }
                    Value::object(out)
                } else {
                    v.clone()
                }
            }
        }
    }
    copy(v, 0)
}

fn js_truthy(v: &Option<Value<'_>>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => *n != 0.0 && !n.is_nan(),
        Some(s @ (Value::Str(_) | Value::Lit(_))) => !s.as_str().unwrap_or("").is_empty(),
        Some(_) => true,
    }
}

fn sort<'a>(
    ev: &Eval<'a>,
    arr: Option<Value<'a>>,
    comparator: Option<Value<'a>>,
    env: EnvId,
) -> Out<'a> {
    let Some(arr) = arr else { return Ok(None) };
    let list = items(&arr);
    if list.len() <= 1 {
        return Ok(Some(arr));
    }
    ev.charge(list.len() as u64)?;
    let sorted = match comparator {
        Some(Value::Func(f)) => sort_values(list, &mut |a, b| {
            let res = ev.apply_func(&f, vec![Some(a.clone()), Some(b.clone())], &None, env)?;
            Ok(js_truthy(&res))
        })?,
        _ => {
            let mut all_numbers = true;
            for v in &list {
                if !is_numeric(v)? {
                    all_numbers = false;
                    break;
                }
            }
            let all_strings = list.iter().all(Value::is_string);
            if !all_numbers && !all_strings {
                return Err(Error::new("D3070"));
            }
            sort_values(list, &mut |a, b| {
                Ok(match (a, b) {
                    (Value::Number(x), Value::Number(y)) => x > y,
                    _ => {
                        compare_js_strings(a.as_str().unwrap_or(""), b.as_str().unwrap_or(""))
                            == std::cmp::Ordering::Greater
                    }
                })
            })?
        }
    };
    Ok(Some(Value::array(sorted, 0)))
}

// ---------------------------------------------------------------------------------------------
// regular expressions and matchers

/// One match: `match`, char offsets, groups (`None` = the group did not participate).
pub(crate) struct MatchInfo {
    text: String,
    start: usize,
    end: usize,
    groups: Vec<Option<String>>,
}

fn char_offset(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

fn regex_find(lit: &RegexLit, s: &str, from_byte: usize) -> Option<(MatchInfo, usize)> {
    let caps = lit.regex.captures_at(s, from_byte)?;
    let m = caps.get(0)?;
    let groups = (1..caps.len())
        .map(|i| caps.get(i).map(|g| g.as_str().to_string()))
        .collect();
    Some((
        MatchInfo {
            text: m.as_str().to_string(),
            start: char_offset(s, m.start()),
            end: char_offset(s, m.end()),
            groups,
        },
        m.end(),
    ))
}

/// The object a regex yields when invoked as a function (`match`, `start`, `end`, `groups`).
pub(crate) fn regex_match_object<'a>(lit: &RegexLit, s: &str, from: usize) -> Option<Value<'a>> {
    regex_find(lit, s, from).map(|(m, _)| match_object(&m))
}

fn match_object<'a>(m: &MatchInfo) -> Value<'a> {
    let mut o = Object::with_capacity(4);
    o.insert(Key::Lit("match"), Value::string(m.text.as_str()));
    o.insert(Key::Lit("start"), Value::Number(m.start as f64));
    o.insert(Key::Lit("end"), Value::Number(m.end as f64));
    o.insert(Key::Lit("groups"), groups_value(&m.groups));
    Value::object(o)
}

fn groups_value<'a>(groups: &[Option<String>]) -> Value<'a> {
    Value::array(
        groups
            .iter()
            .map(|g| g.as_deref().map_or(Value::Null, Value::string))
            .collect(),
        0,
    )
}

/// Iterates the matches of a regex or of a custom matcher function over a string, with
/// jsonata-js's rule that a later zero-length match is an error (D1004).
struct Matcher<'e, 'a> {
    ev: &'e Eval<'a>,
    env: EnvId,
    kind: MatcherKind<'a>,
    text: String,
    started: bool,
}

enum MatcherKind<'a> {
    Regex { lit: &'a RegexLit, last: usize },
    Custom { next: Option<Value<'a>> },
}

impl<'e, 'a> Matcher<'e, 'a> {
    fn new(ev: &'e Eval<'a>, matcher: &Value<'a>, text: &str, env: EnvId) -> Result<Self> {
        let kind = match matcher {
            Value::Func(f) => match &**f {
                Func::Regex(lit) => MatcherKind::Regex { lit, last: 0 },
                _ => MatcherKind::Custom {
                    next: Some(matcher.clone()),
                },
            },
            _ => MatcherKind::Custom { next: None },
        };
        Ok(Self {
            ev,
            env,
            kind,
            text: text.to_string(),
            started: false,
        })
    }

    fn next_match(&mut self) -> Result<Option<MatchInfo>> {
        let first = !self.started;
        self.started = true;
        match &mut self.kind {
            MatcherKind::Regex { lit, last } => {
                if !first && *last >= self.text.len() {
                    return Ok(None);
                }
                match regex_find(lit, &self.text, *last) {
                    None => Ok(None),
                    Some((m, end)) => {
                        if !first && m.text.is_empty() {
                            return Err(Error::new("D1004").value(lit.source.clone()));
                        }
                        *last = end;
                        Ok(Some(m))
                    }
                }
            }
            MatcherKind::Custom { next } => {
                let Some(Value::Func(f)) = next.take() else {
                    return Ok(None);
                };
                let args = if first {
                    vec![Some(Value::string(self.text.as_str()))]
                } else {
                    Vec::new()
                };
                let res = self.ev.apply_func(&f, args, &None, self.env)?;
                let Some(res) = res else { return Ok(None) };
                let Some(o) = res.as_object() else {
                    return Err(Error::new("T1010"));
                };
                let start = o.get("start").and_then(|v| v.as_f64());
                let end = o.get("end").and_then(|v| v.as_f64());
                let groups = o.get("groups");
                let next_fn = o.get("next");
                if start.is_none()
                    && end.is_none()
                    && !groups.as_ref().is_some_and(Value::is_array)
                    && !next_fn.as_ref().is_some_and(Value::is_func)
                {
                    return Err(Error::new("T1010"));
                }
                *next = next_fn;
                Ok(Some(MatchInfo {
                    text: o
                        .get("match")
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    start: start.unwrap_or(0.0) as usize,
                    end: end.unwrap_or(0.0) as usize,
                    groups: groups
                        .map(|g| {
                            items(&g)
                                .iter()
                                .map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                }))
            }
        }
    }
}

fn limit_arg(args: &[Input<'_>], i: usize, code: &'static str) -> Result<Option<f64>> {
    match arg_num(args, i) {
        Some(l) if l < 0.0 => Err(Error::new(code).value(number::to_js_string(l))),
        other => Ok(other),
    }
}

fn regex_match<'a>(ev: &Eval<'a>, args: &[Input<'a>], env: EnvId) -> Out<'a> {
    let Some(s) = arg_str(args, 0) else {
        return Ok(None);
    };
    let limit = limit_arg(args, 2, "D3040")?;
    let Some(matcher) = arg(args, 1) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    if limit.is_none_or(|l| l > 0.0) {
        let mut m = Matcher::new(ev, &matcher, &s, env)?;
        while let Some(info) = m.next_match()? {
            let mut o = Object::with_capacity(3);
            o.insert(Key::Lit("match"), Value::string(info.text.as_str()));
            o.insert(Key::Lit("index"), Value::Number(info.start as f64));
            o.insert(Key::Lit("groups"), groups_value(&info.groups));
            out.push(Value::object(o));
            ev.charge(1)?;
            if limit.is_some_and(|l| out.len() as f64 >= l) {
                break;
            }
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn substitute(replacement: &str, m: &MatchInfo) -> String {
    let mut out = String::new();
    let chars: Vec<char> = replacement.chars().collect();
    let mut pos = 0;
    while pos < chars.len() {
        let c = chars[pos];
        if c != '$' {
            out.push(c);
            pos += 1;
            continue;
        }
        pos += 1;
        match chars.get(pos) {
            Some('$') => {
                out.push('$');
                pos += 1;
            }
            Some('0') => {
                out.push_str(&m.text);
                pos += 1;
            }
            _ => {
                let count = m.groups.len();
                let max_digits = if count == 0 {
                    1
                } else {
                    (count as f64).log10().floor() as usize + 1
                };
                let take = |n: usize| -> Option<usize> {
                    let digits: String = chars[pos..]
                        .iter()
                        .take(n)
                        .take_while(|c| c.is_ascii_digit())
                        .collect();
                    digits.parse().ok()
                };
                let mut index = take(max_digits);
                if max_digits > 1
                    && let Some(i) = index
                    && i > count
                {
                    index = take(max_digits - 1);
                }
                match index {
                    Some(i) => {
                        if count > 0
                            && i >= 1
                            && let Some(Some(g)) = m.groups.get(i - 1)
                        {
                            out.push_str(g);
                        }
                        pos += i.to_string().len();
                    }
                    None => out.push('$'),
                }
            }
        }
    }
    out
}

fn replace<'a>(ev: &Eval<'a>, args: &[Input<'a>], env: EnvId) -> Out<'a> {
    let Some(s) = arg_str(args, 0) else {
        return Ok(None);
    };
    let pattern = arg(args, 1);
    if pattern.as_ref().and_then(Value::as_str) == Some("") {
        return Err(Error::new("D3010"));
    }
    let limit = limit_arg(args, 3, "D3011")?;
    let replacement = arg(args, 2);
    let (Some(pattern), Some(replacement)) = (pattern, replacement) else {
        return Ok(Some(Value::string(s)));
    };
    if limit.is_some_and(|l| l <= 0.0) {
        return Ok(Some(Value::string(s)));
    }
    let within = |count: usize| limit.is_none_or(|l| (count as f64) < l);
    if let Some(p) = pattern.as_str() {
        let rep = replacement.as_str().unwrap_or("").to_string();
        let mut out = String::new();
        let mut rest = s.as_str();
        let mut count = 0;
        while within(count) {
            match rest.find(p) {
                Some(i) => {
                    out.push_str(&rest[..i]);
                    out.push_str(&rep);
                    rest = &rest[i + p.len()..];
                    count += 1;
                    ev.charge(1)?;
                }
                None => break,
            }
        }
        out.push_str(rest);
        return Ok(Some(Value::string(out)));
    }
    let chars: Vec<char> = s.chars().collect();
    let mut m = Matcher::new(ev, &pattern, &s, env)?;
    let mut out = String::new();
    let mut position = 0;
    let mut count = 0;
    while within(count) {
        let Some(info) = m.next_match()? else { break };
        out.extend(
            chars
                .get(position..info.start.min(chars.len()).max(position))
                .unwrap_or(&[]),
        );
        let replaced = match &replacement {
            Value::Func(f) => {
                let res = ev.apply_func(f, vec![Some(match_object(&info))], &None, env)?;
                match res {
                    Some(v) if v.is_string() => v.as_str().unwrap_or("").to_string(),
                    other => {
                        let mut e = Error::new("D3012");
                        if let Some(v) = other {
                            e = e.value(describe(&v));
                        }
                        return Err(e);
                    }
                }
            }
            other => substitute(other.as_str().unwrap_or(""), &info),
        };
        out.push_str(&replaced);
        position = info.start + info.text.chars().count();
        count += 1;
        ev.charge(1)?;
    }
    out.extend(chars.get(position.min(chars.len())..).unwrap_or(&[]));
    Ok(Some(Value::string(out)))
}

fn split<'a>(ev: &Eval<'a>, args: &[Input<'a>], env: EnvId) -> Out<'a> {
    let Some(s) = arg_str(args, 0) else {
        return Ok(None);
    };
    let limit = limit_arg(args, 2, "D3020")?;
    let Some(sep) = arg(args, 1) else {
        return Ok(None);
    };
    let max = limit.map_or(usize::MAX, |l| l as usize);
    let mut out: Vec<Value<'a>> = Vec::new();
    if max == 0 {
        return Ok(Some(Value::array(out, 0)));
    }
    if let Some(p) = sep.as_str() {
        if p.is_empty() {
            out = s
                .chars()
                .take(max)
                .map(|c| Value::string(c.to_string()))
                .collect();
        } else {
            out = s.split(p).take(max).map(Value::string).collect();
        }
        return Ok(Some(Value::array(out, 0)));
    }
    let chars: Vec<char> = s.chars().collect();
    let mut m = Matcher::new(ev, &sep, &s, env)?;
    let mut start = 0;
    let mut count = 0;
    let mut any = false;
    while count < max {
        let Some(info) = m.next_match()? else { break };
        any = true;
        let piece: String = chars
            .get(start..info.start.min(chars.len()).max(start))
            .unwrap_or(&[])
            .iter()
            .collect();
        out.push(Value::string(piece));
        start = info.end;
        count += 1;
        ev.charge(1)?;
    }
    if !any {
        out.push(Value::string(s));
    } else if count < max {
        let piece: String = chars
            .get(start.min(chars.len())..)
            .unwrap_or(&[])
            .iter()
            .collect();
        out.push(Value::string(piece));
    }
    Ok(Some(Value::array(out, 0)))
}

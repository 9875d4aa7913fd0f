//! The JSONata functions AWS Step Functions adds to the standard library, as its developer
//! guide ("JSONata functions provided by Step Functions") describes them: `$partition`,
//! `$range`, `$hash`, `$random` (with an optional seed), `$uuid` and `$parse`. Integer
//! parameters round down, as AWS documents.

use md5::Digest as _;
use serde_json::{Value as Json, json};

use crate::{Error, EvalError, Functions, NativeCall};

/// The most elements `$range` produces (as `States.ArrayRange`).
pub const MAX_RANGE: usize = 1000;

/// A registry with the six Step Functions functions.
pub fn functions() -> Functions {
    let mut f = Functions::new();
    register(&mut f);
    f
}

/// Adds the six Step Functions functions to `functions`.
pub fn register(functions: &mut Functions) {
    let entries: [(&str, &str, NativeFn); 6] = [
        ("partition", "<an:a>", partition),
        ("range", "<nnn:a>", range),
        ("hash", "<ss:s>", hash),
        ("random", "<n?:n>", random),
        ("uuid", "<:s>", uuid),
        ("parse", "<s:j>", parse),
    ];
    for (name, signature, implementation) in entries {
        functions
            .register(name, Some(signature), implementation)
            .expect("the AWS function signatures parse");
    }
}

type NativeFn = fn(&NativeCall<'_, '_>) -> Result<Option<Json>, EvalError>;

fn integer(call: &NativeCall<'_, '_>, i: usize) -> Option<f64> {
    call.arg(i).and_then(Json::as_f64).map(f64::floor)
}

fn partition(call: &NativeCall<'_, '_>) -> Result<Option<Json>, EvalError> {
    let Some(Json::Array(items)) = call.arg(0) else {
        return Ok(None);
    };
    let size = integer(call, 1).unwrap_or(0.0);
    if size < 1.0 {
        return Err(Error::custom(
            "D3200",
            "$partition: the chunk size must be a positive integer",
        ));
    }
    let size = size.min(items.len().max(1) as f64) as usize;
    Ok(Some(Json::Array(
        items
            .chunks(size)
            .map(|c| Json::Array(c.to_vec()))
            .collect(),
    )))
}

fn range(call: &NativeCall<'_, '_>) -> Result<Option<Json>, EvalError> {
    let (Some(start), Some(end), Some(step)) =
        (integer(call, 0), integer(call, 1), integer(call, 2))
    else {
        return Ok(None);
    };
    if step == 0.0 {
        return Err(Error::custom("D3201", "$range: the step must not be 0"));
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count > MAX_RANGE as f64 {
        return Err(Error::custom(
            "D3201",
            format!("$range: the range would have more than {MAX_RANGE} elements"),
        ));
    }
    let count = count.max(0.0) as usize;
    let mut items: Vec<Json> = (0..count)
        .map(|i| Json::from((start + step * i as f64) as i64))
        .collect();
    // AWS builds the range as a JSONata sequence, so one element comes out as that element
    // (`$range(1, 9, 9)` is `1`, not `[1]`).
    if items.len() == 1 {
        return Ok(items.pop());
    }
    Ok(Some(Json::Array(items)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(call: &NativeCall<'_, '_>) -> Result<Option<Json>, EvalError> {
    let (Some(Json::String(data)), Some(Json::String(algorithm))) = (call.arg(0), call.arg(1))
    else {
        return Ok(None);
    };
    let bytes = data.as_bytes();
    let digest = match algorithm.as_str() {
        "MD5" => hex(&md5::Md5::digest(bytes)),
        "SHA-1" => hex(&sha1::Sha1::digest(bytes)),
        "SHA-256" => hex(&sha2::Sha256::digest(bytes)),
        "SHA-384" => hex(&sha2::Sha384::digest(bytes)),
        "SHA-512" => hex(&sha2::Sha512::digest(bytes)),
        other => {
            return Err(Error::custom(
                "D3202",
                format!(
                    "$hash: the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, got {other}"
                ),
            ));
        }
    };
    Ok(Some(Json::String(digest)))
}

fn random(call: &NativeCall<'_, '_>) -> Result<Option<Json>, EvalError> {
    let value = match integer(call, 0) {
        // same seed, same number: SplitMix64 of the seed
        Some(seed) => {
            let mut z = (seed as i64 as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
        None => call.random(),
    };
    Ok(Some(json!(value)))
}

fn uuid(call: &NativeCall<'_, '_>) -> Result<Option<Json>, EvalError> {
    let (hi, lo) = (call.random_u64(), call.random_u64());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let h = hex(&bytes);
    Ok(Some(Json::String(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))))
}

fn parse(call: &NativeCall<'_, '_>) -> Result<Option<Json>, EvalError> {
    let Some(Json::String(text)) = call.arg(0) else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|e| {
        Error::custom(
            "D3203",
            format!("$parse: the argument is not valid JSON: {e}"),
        )
    })
}

//! Execution data of any depth. AWS documents no nesting limit for inputs, outputs and task
//! results, so payloads are parsed however deep they are, up to [`MAX_DEPTH`] (the deepest
//! JSON that fits in Step Functions' 256 KiB payload quota), instead of stopping at
//! serde_json's default of 128 levels.
//!
//! Parsing grows the stack on demand ([`serde_stacker`]), so it is safe on any thread. What is
//! done with a parsed value afterwards is not: serde_json's `Clone`, `Drop`, `PartialEq` and
//! `Serialize` recurse once per level, and the step core, the driver and the engine use them
//! everywhere. Threads that handle execution data therefore run with [`EXECUTION_STACK`] bytes
//! of stack, enough for those at [`MAX_DEPTH`]: a reservation of address space, of which only
//! what a deep value touches is ever backed by memory.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The deepest payload accepted: 131,072 levels, as deep as JSON of 262,144 characters (AWS's
/// payload quota, which counts characters) can be.
pub const MAX_DEPTH: usize = 131_072;

/// Stack for threads that handle execution data (the server's runtime, `sluice run`): what
/// serde_json's recursive operations need on a value [`MAX_DEPTH`] deep, with room to spare.
/// Measured per level: cloning nests deepest, ~550 bytes per object level in release builds
/// and ~2.2 KB in debug builds.
pub const EXECUTION_STACK: usize = if cfg!(debug_assertions) {
    512 << 20
} else {
    128 << 20
};

/// Parses a payload (an execution's input, a task's result, a callback's output) of any depth
/// up to [`MAX_DEPTH`]. Payloads of at most 128 levels, nearly all, parse exactly as
/// `serde_json::from_str` parses them.
pub fn parse(text: &str) -> serde_json::Result<Value> {
    from_str(text)
}

/// [`parse`] for bytes.
pub fn parse_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    from_slice(bytes)
}

/// [`parse`] into any type (an execution snapshot holding payloads).
pub fn from_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    match serde_json::from_str(text) {
        Err(e) if is_recursion_limit(&e) => {
            check_depth(text.as_bytes())?;
            let mut de = serde_json::Deserializer::from_str(text);
            deep(&mut de)
        }
        other => other,
    }
}

/// [`from_str`] for bytes.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    match serde_json::from_slice(bytes) {
        Err(e) if is_recursion_limit(&e) => {
            check_depth(bytes)?;
            let mut de = serde_json::Deserializer::from_slice(bytes);
            deep(&mut de)
        }
        other => other,
    }
}

/// Whether `text` is JSON (of any depth up to [`MAX_DEPTH`]), without building it.
pub fn check(text: &str) -> serde_json::Result<()> {
    from_str::<serde::de::IgnoredAny>(text).map(|_| ())
}

fn deep<'de, R: serde_json::de::Read<'de>, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<R>,
) -> serde_json::Result<T> {
    de.disable_recursion_limit();
    let value = T::deserialize(serde_stacker::Deserializer::new(&mut *de))?;
    if let Err(e) = de.end() {
        // Text after the value: the deep value it parsed goes, and its drop recurses.
        stacker::grow(EXECUTION_STACK, move || drop(value));
        return Err(e);
    }
    Ok(value)
}

fn is_recursion_limit(e: &serde_json::Error) -> bool {
    e.is_syntax() && e.to_string().starts_with("recursion limit exceeded")
}

/// Refuses text nested more than [`MAX_DEPTH`] levels, found by a scan of its brackets outside
/// strings (serde_json has no limit between 128 and none).
fn check_depth(bytes: &[u8]) -> serde_json::Result<()> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(serde::de::Error::custom(format_args!(
                        "JSON nested more than {MAX_DEPTH} levels deep"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The nesting depth of `value` (a scalar is 0), found without recursion.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, level)) = stack.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(level + 1);
                stack.extend(items.iter().map(|child| (child, level + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(level + 1);
                stack.extend(map.values().map(|child| (child, level + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Drops `value` without recursion: for a deep value on a thread without
/// [`EXECUTION_STACK`] (tests, or a caller that only parsed it to check it).
pub fn dismantle(value: Value) {
    let mut stack = vec![value];
    while let Some(mut value) = stack.pop() {
        match &mut value {
            Value::Array(items) => stack.append(items),
            Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread with half a MiB of stack: serde_json's own 128 levels fit in it
    /// (barely, in debug builds), what is deeper is parsed on stack grown on demand.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no panic, no overflow")
    }

    fn arrays(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    fn objects(depth: usize) -> String {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    #[test]
    fn payloads_parse_at_any_depth_up_to_the_limit_on_a_small_stack() {
        let depths = on_small_stack(|| {
            let mut depths = Vec::new();
            for text in [arrays(10_000), objects(10_000)] {
                let value = parse(&text).expect("parses");
                depths.push(depth(&value));
                dismantle(value);
                let value = parse_slice(text.as_bytes()).expect("parses");
                dismantle(value);
                check(&text).expect("checks");
            }
            let value = parse(&arrays(MAX_DEPTH)).expect("parses");
            depths.push(depth(&value));
            dismantle(value);
            depths
        });
        assert_eq!(depths, [10_000, 10_000, MAX_DEPTH]);
    }

    #[test]
    fn deeper_payloads_and_bad_json_are_errors_on_a_small_stack() {
        let errors = on_small_stack(|| {
            [
                arrays(MAX_DEPTH + 1),
                format!("{}]", arrays(10_000)),
                format!("{} x", arrays(10_000)),
                arrays(1000)[..1500].to_owned(),
            ]
            .map(|text| parse(&text).expect_err("refused").to_string())
        });
        assert!(
            errors[0].starts_with("JSON nested more than 131072 levels deep"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("trailing characters"), "{errors:?}");
        assert!(errors[2].starts_with("trailing characters"), "{errors:?}");
        assert!(errors[3].starts_with("EOF while parsing"), "{errors:?}");
    }

    #[test]
    fn brackets_inside_strings_do_not_count_toward_the_depth() {
        let text = format!(
            "{}\"{}\\\"]]\"{}",
            "[".repeat(200),
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(200)
        );
        let value = parse(&text).expect("parses");
        assert_eq!(depth(&value), 200);
    }

    #[test]
    fn shallow_payloads_parse_as_serde_json_parses_them() {
        for text in [
            "{}",
            "[1,{\"a\":[true,null]}]",
            "\"x\"",
            "1e3",
            &arrays(100),
        ] {
            assert_eq!(
                parse(text).unwrap(),
                serde_json::from_str::<Value>(text).unwrap()
            );
        }
        assert_eq!(
            parse("{").unwrap_err().to_string(),
            serde_json::from_str::<Value>("{").unwrap_err().to_string()
        );
    }
}

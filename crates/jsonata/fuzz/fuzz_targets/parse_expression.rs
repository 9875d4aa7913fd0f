//! Parsing any text never panics and never overflows the stack: it yields an expression or a
//! located `S0xxx` error. The text is also parsed repeated up to thousands of times, for the
//! long inputs (chains like `a.a.a…`, `1+1+1…`) the fuzzer's short inputs never reach.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_jsonata::Expression;

fn check(text: &str) {
    if let Err(e) = Expression::parse(text) {
        assert!(e.code().starts_with('S'));
        let _ = e.message();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&times, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    check(text);
    let times = usize::from(times) * 64 + 1;
    if !text.is_empty() && text.len() * times <= 1 << 20 {
        check(&text.repeat(times));
    }
});

//! Parsing any text never panics and never overflows the stack: it yields an expression or a
//! located `S0xxx` error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_jsonata::Expression;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Expression::parse(text) {
        assert!(e.code().starts_with('S'));
        let _ = e.message();
    }
});

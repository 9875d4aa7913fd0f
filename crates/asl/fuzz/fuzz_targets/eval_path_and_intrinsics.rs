//! JSONPath and intrinsic parsing and evaluation never panic, whatever the expression and input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sluice_asl::intrinsics::Intrinsic;
use sluice_asl::path::Path;
use sluice_asl::{Scope, SplitMix64};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let input = json!({"a": {"b": [1, 2.5, "x", null, {"c": true}]}, "s": "a,b", "n": 3});
    let ctx = json!({"Execution": {"Id": "e"}, "State": {"Name": "S"}});
    let scope = Scope::new(&input, &ctx);
    if let Ok(p) = Path::parse(text) {
        let _ = p.select(&scope);
        let _ = sluice_asl::path::set(input.clone(), &p, json!(1));
    }
    if let Ok(call) = Intrinsic::parse(text) {
        let _ = call.eval(&scope, &mut SplitMix64(1));
    }
});

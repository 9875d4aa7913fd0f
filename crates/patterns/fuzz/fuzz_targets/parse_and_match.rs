//! Parsing a pattern in every dialect never panics, and neither does matching it against
//! events: the input split at its first NUL into a pattern and an event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_patterns::{Dialect, Pattern, message_attributes};

const DIALECTS: [Dialect; 4] = [
    Dialect::EventBridge,
    Dialect::SnsAttributes,
    Dialect::SnsBody,
    Dialect::EventSourceMapping,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, event) = text.split_once('\0').unwrap_or((text, text));
    let event: Option<Value> = serde_json::from_str(event).ok();
    for dialect in DIALECTS {
        match Pattern::parse(pattern, dialect) {
            Ok(compiled) => {
                if let Some(event) = &event {
                    let _ = compiled.matches(event);
                    let _ = compiled.matches(&message_attributes(event));
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});

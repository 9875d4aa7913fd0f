//! An ItemReader's parsing never panics, whatever the object's text, its format, the CSV
//! delimiter and headers or the limit; a listing page of any shape reads or fails cleanly, and
//! any items batch or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_asl::items::batch::{self, Batching};
use sluice_asl::items::read::{self, CsvHeaders, Delimiter, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let delimiter = [
        Delimiter::Comma,
        Delimiter::Pipe,
        Delimiter::Semicolon,
        Delimiter::Space,
        Delimiter::Tab,
    ][usize::from(selector % 5)];
    let headers = if selector & 0x08 == 0 {
        CsvHeaders::FirstRow
    } else {
        CsvHeaders::Given(vec!["a".into(), "b".into()])
    };
    let limit = usize::from(selector >> 4);
    for format in [
        Format::Json,
        Format::Jsonl,
        Format::Csv { headers, delimiter },
    ] {
        if let Ok(items) = read::parse(text, &format, limit.max(1)) {
            let b = Batching {
                max_items: Some(u64::from(selector % 3) + 1),
                max_bytes: Some(u64::from(selector) * 8),
                batch_input: None,
            };
            let _ = batch::batch(items, &b);
        }
    }
    if let Ok(page) = serde_json::from_str::<Value>(text) {
        let _ = read::listed(&page);
    }
});

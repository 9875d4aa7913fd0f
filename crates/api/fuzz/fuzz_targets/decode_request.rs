//! The request decoder never panics: any operation, any body bytes; errors are AWS-shaped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::sfn::{Operation, decode_operation};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let operations = Operation::ALL;
    let operation = operations[usize::from(selector) % operations.len()];
    if let Err(error) = decode_operation(operation, body) {
        assert!(!error.kind.is_empty());
    }
});

//! Definition parsing and validation never panic, and locating every diagnostic in the source
//! text never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_asl::definition::StateMachine;
use sluice_asl::source::Positions;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let positions = Positions::index(text);
    if let Err(diags) = StateMachine::parse_str(text) {
        for d in diags.iter() {
            let _ = positions.locate(&d.location);
        }
    }
});

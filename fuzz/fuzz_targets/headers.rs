//! `headers`: see `sluice_protocol::fuzzing::headers` for the input layout and the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sluice_protocol::fuzzing::headers(data);
});

//! `client_parse`: see `sluice_protocol::fuzzing::client_parse` for the input layout and the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sluice_protocol::fuzzing::client_parse(data);
});

//! `js_api`: see `sluice_stream::fuzzing` for the input layout and the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sluice_stream::fuzzing::js_api(data);
});

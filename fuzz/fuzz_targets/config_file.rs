//! `config_file`: see `sluice::fuzzing::config_file` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sluice::fuzzing::config_file(data);
});

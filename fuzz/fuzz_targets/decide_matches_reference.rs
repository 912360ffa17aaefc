//! Fuzz target `decide_matches_reference`: see `mcpgw::policy::testkit::fuzzing::decide_matches_reference` for the property, and
//! `fuzz/README.md` for how to run it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Inputs over the property's size cap are accepted unchecked.
    if let Err(violation) = mcpgw::policy::testkit::fuzzing::decide_matches_reference(data) {
        panic!("property `decide_matches_reference` violated:\n{violation}");
    }
});

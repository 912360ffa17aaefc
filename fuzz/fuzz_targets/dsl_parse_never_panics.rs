//! Fuzz target `dsl_parse_never_panics`: see `mcpgw::policy::testkit::fuzzing::dsl_parse_never_panics` for the property, and
//! `fuzz/README.md` for how to run it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Inputs over the property's size cap are accepted unchecked.
    if let Err(violation) = mcpgw::policy::testkit::fuzzing::dsl_parse_never_panics(data) {
        panic!("property `dsl_parse_never_panics` violated:\n{violation}");
    }
});

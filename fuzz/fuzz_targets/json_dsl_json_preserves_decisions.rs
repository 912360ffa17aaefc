//! Fuzz target `json_dsl_json_preserves_decisions`: see `mcpgw::policy::testkit::fuzzing::json_dsl_json_preserves_decisions` for the property, and
//! `fuzz/README.md` for how to run it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Inputs over the property's size cap are accepted unchecked.
    if let Err(violation) = mcpgw::policy::testkit::fuzzing::json_dsl_json_preserves_decisions(data) {
        panic!("property `json_dsl_json_preserves_decisions` violated:\n{violation}");
    }
});

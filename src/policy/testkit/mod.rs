//! Test-only code: the one random-policy generator, the reference interpreter, and the fuzz
//! properties.
//!
//! Compiled for this crate's own unit tests and with the `testkit` cargo feature, which the
//! integration tests, the benchmarks, the examples and the fuzz targets turn on (the first
//! three through the crate's dev-dependency on itself). A release build never contains it.
//!
//! - [`choices`]: where a generator's choices come from, the bytes of a fuzz or proptest
//!   input or a seed;
//! - [`generate`]: the generator, one algorithm shaped by a [`generate::Shape`] and a
//!   [`generate::Vocabulary`];
//! - [`tricky`]: the vocabulary of the property tests and fuzz targets, small policies whose
//!   names collide and stress quoting, and the requests to ask them;
//! - [`workload`]: the vocabulary of the benchmarks, large realistic policies, and their
//!   request batches;
//! - [`reference`]: DESIGN.md section 4 read literally, to check the compiled table against;
//! - [`fuzzing`]: the fuzz targets' properties, also replayed by the integration tests.
//!
//! Like the rest of [`crate::policy`], it is pure and does not panic.

pub mod choices;
pub mod fuzzing;
pub mod generate;
pub mod reference;
pub mod tricky;
pub mod workload;
mod write_dsl;

//! Text with positions: the pieces every front end shares to point a problem back at its
//! source.
//!
//! A JSON parser whose tree remembers byte offsets and the one typed reader over it (`json`),
//! the byte-offset to line and column index (`LineIndex`, the one place that decides where a
//! line ends), diagnostics in the `file:line:col` form with the offending line and a caret
//! ([`Diagnostic`]), and "did you mean" hints. The policy engine, the `.mcp.json` reader and the policy tooling all
//! build on it; it depends on none of them.
//!
//! Like the policy engine, this module is pure: no I/O, no locks, no async, and no panics
//! (clippy denies `unwrap_used`, `expect_used` and `panic` in this module tree), because it
//! reads untrusted files.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod diagnostic;
pub(crate) mod json;
pub(crate) mod line_index;
pub(crate) mod suggest;

pub use diagnostic::{Diagnostic, Diagnostics, Severity, Span};
pub(crate) use line_index::LineIndex;

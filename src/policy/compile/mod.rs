//! Compilation of a validated policy into an immutable decision table.

pub(crate) mod fast;
pub(crate) mod glob_dfa;
pub(crate) mod literal;
pub(crate) mod pattern_set;
pub(crate) mod unit;

//! A compiled policy and where it came from: what one call is judged by, from its start to
//! its audit line.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::policy::DecisionTable;

/// A compiled policy and where it came from.
pub struct PolicySnapshot {
    /// The decision table.
    pub table: DecisionTable,
    /// The file it was read from.
    pub path: PathBuf,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}

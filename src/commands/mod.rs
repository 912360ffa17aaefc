//! The policy tooling subcommands: check, explain, fmt, test, diff; and lock.
//!
//! Each returns the process exit code. Output goes to stdout; problems with the inputs go to
//! stderr.

pub mod check;
pub mod diff;
pub mod explain;
pub mod fmt;
pub mod lock;
pub mod test_cases;

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, ConfigError};
use crate::policy::{CompileOptions, DecisionTable, PolicySet};

/// Exit code for "the inputs are broken" (bad policy file, unreadable file).
pub const EXIT_BAD_INPUT: u8 = 2;

/// Loads and compiles a rules file, or prints why not.
pub(crate) fn load_table(path: &Path, default_agent: Option<&str>) -> Result<(PolicySet, DecisionTable), ConfigError> {
    let policy = config::load_rules(path)?;
    let options = CompileOptions { default_agent: default_agent.map(str::to_owned) };
    let table = DecisionTable::compile_with(&policy, &options).map_err(ConfigError::Invalid)?;
    Ok((policy, table))
}

/// Prints a configuration error to stderr and returns the bad-input exit code.
pub(crate) fn fail(e: &ConfigError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(EXIT_BAD_INPUT)
}

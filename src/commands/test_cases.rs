//! `mcpgw test_cases` (to be written).

use std::process::ExitCode;

/// Runs the command.
pub fn run(_args: &crate::cli::TestArgs) -> ExitCode {
    eprintln!("not implemented yet");
    ExitCode::FAILURE
}

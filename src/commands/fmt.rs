//! `mcpgw fmt` (to be written).

use std::process::ExitCode;

/// Runs the command.
pub fn run(_args: &crate::cli::FmtArgs) -> ExitCode {
    eprintln!("not implemented yet");
    ExitCode::FAILURE
}

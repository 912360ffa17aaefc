//! Agent MCP Gateway: one MCP server in front of many, with a per-agent policy that puts deny
//! before allow.
//!
//! The crate is split along the lines of `DESIGN.md`: [`policy`] is a pure library (text to
//! AST to compiled decision table); [`config`] reads the two configuration files; the gateway
//! modules wire the policy to MCP over stdio or HTTP; [`commands`] holds the policy tooling.

pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod downstream;
pub mod error;
pub mod gateway;
pub mod http;
pub mod limits;
pub mod located;
pub mod logging;
pub mod mcp;
pub mod metrics;
pub mod policy;
pub mod reload;
pub mod serve;
pub mod transport;
pub mod wire;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// Runs the `mcpgw` command line and returns its exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Check(args)) => commands::check::run(&args),
        Some(Command::Explain(args)) => commands::explain::run(&args),
        Some(Command::Fmt(args)) => commands::fmt::run(&args),
        Some(Command::Test(args)) => commands::test_cases::run(&args),
        Some(Command::Diff(args)) => commands::diff::run(&args),
    }
}

fn serve(args: &cli::ServeArgs) -> ExitCode {
    serve::serve(args)
}

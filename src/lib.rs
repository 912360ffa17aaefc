//! Agent MCP Gateway: one MCP server in front of many, with a per-agent policy that puts deny
//! before allow.
//!
//! The top-level modules form layers; each uses only the ones above it:
//!
//! ```text
//! located, logging, error,        positioned JSON and diagnostics; the log, its clock and
//!   signals                       secrets; error codes; the stop signals
//! policy                          pure: rules -> AST -> decision table -> decide / explain
//! search                          pure: tool definitions -> BM25F index -> ranked hits
//! config                          the files: .mcp.json, rules, snapshots, load status
//! wire, mcp                       JSON-RPC as bytes; what MCP says (revisions, _meta, shaping)
//! downstream                      the MCP client towards each server
//! telemetry, limits               audit, metrics, Prometheus; rate and concurrency limits
//! gateway                         shared state and the meta-tools, one snapshot per call
//! server, reload                  the MCP server side (any revision); hot reload
//! stdio, http                     the front ends
//! serve, commands, cli            the runtime and the command line
//! ```

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
pub mod policy;
pub mod reload;
pub mod search;
pub mod serve;
pub mod server;
pub mod signals;
pub mod stdio;
pub mod telemetry;
pub mod wire;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// Runs the `mcpgw` command line and returns its exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Lock(_)) | Some(Command::Check(_)) => logging::init_at("warn,rmcp=warn"),
        _ => logging::init(),
    }
    match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Check(args)) => commands::check::run(&args),
        Some(Command::Explain(args)) => commands::explain::run(&args),
        Some(Command::Fmt(args)) => commands::fmt::run(&args),
        Some(Command::Test(args)) => commands::test_cases::run(&args),
        Some(Command::Diff(args)) => commands::diff::run(&args),
        Some(Command::Lock(args)) => commands::lock::run(&args),
    }
}

fn serve(args: &cli::ServeArgs) -> ExitCode {
    serve::serve(args)
}

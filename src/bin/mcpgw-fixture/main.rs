//! `mcpgw-fixture`: a small, predictable MCP server for the gateway's integration tests,
//! benchmarks and example config.
//!
//! Every tool exists to provoke one behaviour a gateway has to survive or pass through
//! unchanged: rich content blocks, progress, cancellation, crashes, garbage on stdout, huge
//! messages, tool-list changes and so on. See `catalogue.rs` for the list and `cli.rs` for the
//! flags. Logs go to stderr only; stdout carries nothing but the protocol (and the raw lines
//! that the `garbage` faults write on purpose).

mod catalogue;
mod cli;
mod event_log;
mod http;
mod media;
mod outbox;
mod server;
mod startup;
mod state;
mod stdio;
mod tools;

use std::{process::ExitCode, sync::Arc, time::Duration};

use clap::Parser as _;

use crate::{cli::Options, event_log::EventLog, state::State};

fn main() -> ExitCode {
    let options = Options::parse();
    if options.idle {
        idle_forever();
    }
    init_logging();
    let log = match EventLog::open(options.log_file.as_deref()) {
        Ok(log) => log,
        Err(error) => {
            eprintln!("mcpgw-fixture: cannot open log file: {error}");
            return ExitCode::from(2);
        }
    };
    log.record(format_args!("started pid={}", std::process::id()));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mcpgw-fixture: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match options.http {
            Some(addr) => {
                let state = Arc::new(State::new(&options, log, None));
                startup::apply(options.startup, &state).await;
                http::serve(state, addr, options.require_header).await
            }
            None => stdio::serve(&options, log).await,
        }
    });
    // Tokio's blocking stdin fallback (used when stdin is not a pipe) cannot be interrupted, so
    // waiting for the runtime to shut down could hang after the client has gone away.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mcpgw-fixture: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The state `close_stdout` re-executes into: alive, silent, and holding no protocol pipe.
fn idle_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Logs go to stderr through `tracing`, filtered by `RUST_LOG` (warnings only by default, so a
/// test that inspects stderr sees what the tools wrote rather than rmcp's chatter).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).with_env_filter(filter).init();
}

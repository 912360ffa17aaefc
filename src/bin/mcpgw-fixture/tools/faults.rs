//! Tools that misbehave at the process level, the way real MCP servers do: die mid-call,
//! flood stderr, print junk on stdout, or stop talking while staying alive.

use std::{io::Write as _, os::unix::process::CommandExt as _, process::Stdio};

use rmcp::{
    ErrorData,
    model::{CallToolResult, ContentBlock},
};
use serde::Deserialize;

use super::text;
use crate::state::State;

#[derive(Deserialize)]
pub struct CrashArgs {
    #[serde(default = "default_code")]
    code: i32,
}

fn default_code() -> i32 {
    1
}

/// Exits at once: the call never gets an answer and the transport closes under the client.
pub fn crash(state: &State, args: CrashArgs) -> Result<CallToolResult, ErrorData> {
    eprintln!("mcpgw-fixture: crash tool: exiting with code {}", args.code);
    state.log.record(format_args!("crash code={}", args.code));
    std::process::exit(args.code)
}

#[derive(Deserialize)]
pub struct StderrArgs {
    text: String,
    #[serde(default = "default_lines")]
    lines: u32,
}

fn default_lines() -> u32 {
    1
}

/// Writes to stderr with blocking writes, off the async threads: if the client never drains
/// the pipe, this call blocks, which is exactly what a test of stderr draining wants to see.
pub async fn stderr(args: StderrArgs) -> CallToolResult {
    let written = tokio::task::spawn_blocking(move || {
        let mut stderr = std::io::stderr().lock();
        for _ in 0..args.lines {
            writeln!(stderr, "{}", args.text)?;
        }
        stderr.flush()
    })
    .await;
    match written {
        Ok(Ok(())) => text("ok"),
        Ok(Err(error)) => CallToolResult::error(vec![ContentBlock::text(format!("cannot write to stderr: {error}"))]),
        Err(error) => CallToolResult::error(vec![ContentBlock::text(format!("stderr writer panicked: {error}"))]),
    }
}

/// Puts one non-JSON line on stdout between protocol messages, then answers normally.
pub fn garbage(state: &State) -> CallToolResult {
    state.write_raw_stdout("garbage: this line is not JSON");
    text("ok")
}

/// Closes stdout while the process stays alive, so the client sees EOF from a live server.
///
/// The crate forbids `unsafe` and nix's `dup2` needs its `fs` feature, so there is no direct
/// way to close fd 1. Instead the process re-executes itself in `--idle` mode with stdout
/// redirected to /dev/null: same pid, still running, and every descriptor on the old pipe is
/// gone (std opens files close-on-exec, and `exec` replaces fd 1). The call never answers.
pub async fn close_stdout(state: &State) -> CallToolResult {
    let Some(outbox) = &state.protocol_stdout else {
        return CallToolResult::error(vec![ContentBlock::text("close_stdout only works over stdio")]);
    };
    state.log.record("close_stdout");
    outbox.flush().await;
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe).arg("--idle").stdout(Stdio::null()).exec(),
        Err(error) => error,
    };
    CallToolResult::error(vec![ContentBlock::text(format!("cannot re-execute to close stdout: {error}"))])
}

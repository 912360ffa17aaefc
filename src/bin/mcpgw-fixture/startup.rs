//! `--startup FAULT`: misbehaviour before the first message, for testing how a client copes
//! with servers that die, hang, babble or leave children behind.

use std::process::Stdio;

use crate::{cli::StartupFault, state::State};

/// Applies the fault, if any. Returns only when the fixture should go on to serve.
pub async fn apply(fault: Option<StartupFault>, state: &State) {
    let Some(fault) = fault else { return };
    match fault {
        StartupFault::Exit => {
            eprintln!("mcpgw-fixture: startup fault `exit`: exiting with code 3");
            state.log.record("startup exit");
            std::process::exit(3);
        }
        StartupFault::Garbage => {
            state.log.record("startup garbage");
            state.write_raw_stdout("this is not JSON-RPC");
            state.write_raw_stdout("<<< neither is this >>>");
        }
        StartupFault::Hang => {
            eprintln!("mcpgw-fixture: startup fault `hang`: never answering initialize");
            state.log.record("startup hang");
            std::future::pending::<()>().await;
        }
        StartupFault::Grandchild => spawn_grandchild(state),
    }
}

/// Starts `sleep 1000` in our process group (the default for a spawned child), so only a
/// client that kills the whole group cleans it up. Its stdio is detached so it cannot keep the
/// protocol pipes open.
fn spawn_grandchild(state: &State) {
    let spawned = tokio::process::Command::new("sleep")
        .arg("1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            if let Some(pid) = child.id() {
                state.set_grandchild(pid);
                state.log.record(format_args!("grandchild pid={pid}"));
            }
            // Reap it if it dies while we live, so its pid really disappears from /proc.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(error) => eprintln!("mcpgw-fixture: cannot spawn the grandchild: {error}"),
    }
}

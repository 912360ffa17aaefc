//! A server run as a child process, speaking newline-delimited JSON-RPC on its stdin and
//! stdout. Its stderr goes to the gateway's log (and a tail kept for the status), never to an
//! agent.

use std::sync::Arc;

use tokio::process::ChildStdout;
use tokio_util::sync::CancellationToken;

use crate::downstream::process::ChildProcess;
use crate::downstream::rpc::{EventHandler, Forward, Outlet, RequestError, RequestHead, Rpc};
use crate::downstream::stderr_tail::{StderrTail, spawn_drain};
use crate::logging::secrets::Secrets;
use crate::wire::Sink;
use crate::wire::lines::{Frame, LineReader, spawn_writer};

/// Messages queued for a child's stdin before senders wait.
const STDIN_QUEUE: usize = 4096;

/// Writes to the child's stdin.
struct StdioOutlet {
    /// Taken when the connection closes, which ends the writer and closes the pipe.
    stdin: std::sync::Mutex<Option<Sink>>,
}

impl Outlet for StdioOutlet {
    fn send_request(&self, rpc: &Arc<Rpc>, id: u64, message: Vec<u8>, _head: RequestHead) {
        self.send(rpc, message, Some(id));
    }

    fn send_other(&self, rpc: &Arc<Rpc>, message: Vec<u8>, _method: Option<&str>) {
        self.send(rpc, message, None);
    }

    fn abandon(&self, _id: u64) {}

    fn cancels_by_notification(&self) -> bool {
        true
    }

    fn close(&self) {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl StdioOutlet {
    fn send(&self, rpc: &Arc<Rpc>, message: Vec<u8>, id: Option<u64>) {
        let stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if stdin.is_none_or(|s| s.send_soon(message).is_err())
            && let Some(id) = id
        {
            rpc.fail(id, RequestError::Closed);
        }
    }
}

/// A started child: its client, its process and its stderr tail.
pub struct Started {
    /// The JSON-RPC client over its pipes.
    pub rpc: Arc<Rpc>,
    /// The process (and its group).
    pub process: Arc<ChildProcess>,
    /// The last lines of its stderr.
    pub tail: Arc<StderrTail>,
    /// Cancelled when its stdout ends.
    pub stdout_closed: CancellationToken,
}

/// What starting a child needs.
pub struct Launch<'a> {
    /// The server's name.
    pub name: &'a Arc<str>,
    /// The program.
    pub command: &'a str,
    /// Its arguments.
    pub args: &'a [String],
    /// Environment laid over the gateway's.
    pub env: &'a [(String, String)],
    /// The working directory.
    pub cwd: Option<&'a std::path::Path>,
    /// The server's secrets, kept out of its logged stderr.
    pub secrets: &'a Secrets,
    /// The cap on one message.
    pub max_message: usize,
}

/// A child that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("could not start `{command}`: {source}")]
pub struct SpawnError {
    /// The program.
    pub command: String,
    /// Why.
    pub source: std::io::Error,
}

/// Starts the child and its reader and writer tasks.
pub fn start(launch: &Launch<'_>, events: EventHandler, forward: Forward) -> Result<Started, SpawnError> {
    let (process, pipes) = ChildProcess::spawn(launch.command, launch.args, launch.env, launch.cwd)
        .map_err(|source| SpawnError { command: launch.command.to_owned(), source })?;
    let process = Arc::new(process);
    let tail = Arc::new(StderrTail::default());
    spawn_drain(launch.name.clone(), pipes.stderr, tail.clone(), launch.secrets.clone());
    let stdin_closed = CancellationToken::new();
    let stdin = spawn_writer(pipes.stdin, STDIN_QUEUE, stdin_closed.clone());
    let rpc = Rpc::new(
        launch.name.clone(),
        Box::new(StdioOutlet { stdin: std::sync::Mutex::new(Some(stdin)) }),
        events,
        forward,
    );
    let stdout_closed = CancellationToken::new();
    spawn_reader(rpc.clone(), pipes.stdout, launch.max_message, stdout_closed.clone());
    // Weak: the client owns the stdin writer, whose end this waits for.
    let weak = Arc::downgrade(&rpc);
    tokio::spawn(async move {
        stdin_closed.cancelled().await;
        if let Some(rpc) = weak.upgrade() {
            rpc.close();
        }
    });
    Ok(Started { rpc, process, tail, stdout_closed })
}

fn spawn_reader(rpc: Arc<Rpc>, stdout: ChildStdout, max: usize, closed: CancellationToken) {
    tokio::spawn(async move {
        let _closed = closed.drop_guard();
        let mut reader = LineReader::new(stdout, max);
        while let Some(frame) = reader.next().await {
            match frame {
                Frame::Line(line) => rpc.on_message(line, None),
                Frame::Oversized { head, size } => rpc.on_oversized(&head, size, max),
            }
        }
        rpc.close();
    });
}

//! Connecting the benchmark client: to a child process over its stdio pipes, or to a
//! streamable HTTP endpoint. The same rmcp client is used for every target.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
};
use rmcp::service::{Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, serve_client};
use tokio::process::{Child, Command};

use crate::raw_http::RawSession;

/// Far above rmcp's 16 MiB default line cap; benchmarks never come near it.
const LINE_CAP: usize = 1 << 30;

/// The client side: names itself and asks for the newest protocol that still has `initialize`
/// (so Python servers understand it too).
#[derive(Debug, Clone, Default)]
pub struct BenchClient;

impl ClientHandler for BenchClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("mcp-bench", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }
}

/// One MCP session.
pub type Session = RunningService<RoleClient, BenchClient>;

/// A child process in its own process group, killed (group and all) on [`Spawned::kill`].
pub struct Spawned {
    child: Child,
    pid: u32,
}

impl Spawned {
    /// Starts `command` with piped stdin/stdout; its stderr goes to `stderr` (or nowhere).
    pub fn start(command: &[String], stderr: Option<&str>) -> Result<Self, String> {
        let (program, args) = command.split_first().ok_or("no command to run")?;
        let err = match stderr {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open {path}: {e}"))?,
            ),
            None => Stdio::null(),
        };
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let pid = child.id().ok_or("the child exited at once")?;
        Ok(Spawned { child, pid })
    }

    /// The child's pid (also its process group).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Runs the MCP handshake over the child's pipes.
    pub async fn connect(&mut self) -> Result<Session, String> {
        let stdout = self.child.stdout.take().ok_or("stdout already taken")?;
        let stdin = self.child.stdin.take().ok_or("stdin already taken")?;
        let transport = AsyncRwTransport::new_client(stdout, stdin).with_max_line_length(LINE_CAP);
        serve_client(BenchClient, transport).await.map_err(|e| format!("initialize failed: {e}"))
    }

    /// Terminates the whole process group: SIGTERM, then SIGKILL after a grace period.
    pub async fn kill(mut self) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let group = Pid::from_raw(self.pid as i32);
        let _ = killpg(group, Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await.is_err() {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
        // Anything else left in the group (downstreams of a gateway) goes too.
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// Connects to a streamable HTTP endpoint (a session of its own).
pub async fn connect_http(url: &str) -> Result<Session, String> {
    let transport = StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(url));
    serve_client(BenchClient, transport).await.map_err(|e| format!("cannot connect to {url}: {e}"))
}

/// One client connection, either rmcp's or the keep-alive HTTP one.
#[derive(Clone)]
pub enum Caller {
    /// An rmcp peer (stdio, or streamable HTTP with a new TCP connection per request).
    Rmcp(Peer<RoleClient>),
    /// The minimal HTTP/1.1 keep-alive client.
    Raw(Arc<RawSession>),
}

impl Caller {
    /// Calls a tool.
    pub async fn call_tool(&self, params: CallToolRequestParams) -> Result<CallToolResult, String> {
        match self {
            Caller::Rmcp(peer) => peer.call_tool(params).await.map_err(|e| format!("protocol error: {e}")),
            Caller::Raw(session) => session.call_tool(&params).await,
        }
    }
}

/// The peers a measurement drives, and the process to watch.
pub struct Target {
    /// One rmcp session per connection.
    pub sessions: Vec<Session>,
    /// Or one keep-alive HTTP session per connection.
    pub raw: Vec<Arc<RawSession>>,
    /// The spawned child, for stdio targets.
    pub child: Option<Spawned>,
    /// The process whose memory and CPU are reported.
    pub pid: Option<u32>,
    /// `stdio` or `http`.
    pub transport: &'static str,
}

impl Target {
    /// Spawns `command` (stdio) or opens `connections` sessions to `http` (with the keep-alive
    /// client when `keep_alive` is set).
    pub async fn open(
        http: Option<&str>,
        command: &[String],
        pid: Option<u32>,
        connections: usize,
        stderr: Option<&str>,
        keep_alive: bool,
    ) -> Result<Self, String> {
        match http {
            Some(url) if keep_alive => {
                let opened = futures::future::join_all((0..connections.max(1)).map(|_| RawSession::connect(url))).await;
                let raw = opened.into_iter().map(|r| r.map(Arc::new)).collect::<Result<Vec<_>, _>>()?;
                Ok(Target { sessions: Vec::new(), raw, child: None, pid, transport: "http-keepalive" })
            }
            Some(url) => {
                let opened = futures::future::join_all((0..connections.max(1)).map(|_| connect_http(url))).await;
                let sessions = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
                Ok(Target { sessions, raw: Vec::new(), child: None, pid, transport: "http" })
            }
            None => {
                if connections > 1 {
                    return Err("a stdio target has exactly one connection".into());
                }
                let mut child = Spawned::start(command, stderr)?;
                let session = child.connect().await?;
                let pid = Some(child.pid());
                Ok(Target { sessions: vec![session], raw: Vec::new(), child: Some(child), pid, transport: "stdio" })
            }
        }
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.sessions.len() + self.raw.len()
    }

    /// The caller of connection `i` (round robin).
    pub fn peer(&self, i: usize) -> Caller {
        if self.raw.is_empty() {
            Caller::Rmcp(self.sessions[i % self.sessions.len()].peer().clone())
        } else {
            Caller::Raw(self.raw[i % self.raw.len()].clone())
        }
    }

    /// Closes every session and stops the child.
    pub async fn close(self) {
        for mut s in self.sessions {
            let _ = s.close_with_timeout(Duration::from_secs(2)).await;
        }
        if let Some(child) = self.child {
            child.kill().await;
        }
    }
}

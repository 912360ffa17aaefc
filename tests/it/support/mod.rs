//! Shared helpers for integration tests that run MCP servers (the fixture, the gateway) as
//! real child processes and talk to them with an rmcp client.
//!
//! - [`cli`]: running the `mcpgw` command line to its end;
//! - [`process`]: spawning a binary with piped stdio and a continuously drained stderr;
//! - [`client`]: an rmcp client over a child's pipes (or HTTP) that records notifications;
//! - [`collector`]: a real OpenTelemetry collector (rotel) whose debug output tests read;
//! - [`config`]: temporary config files;
//! - [`http`]: the gateway served over HTTP, and a raw HTTP/1.1 client;
//! - [`procfs`]: checking from `/proc` whether processes are still alive;
//! - [`raw`]: the gateway over raw pipes, for bytes no MCP library would send.
//!

pub mod cli;
pub mod client;
pub mod collector;
pub mod config;
pub mod gateway;
pub mod http;
pub mod process;
pub mod procfs;
pub mod raw;

use std::time::Duration;

pub use client::{McpClient, Recorder};
pub use config::{
    TempFiles, everything_server, filesystem_server, fixture_server, mcp_json, memory_server, python_sdk_server,
    reference_servers,
};
pub use gateway::{
    GatewayUnderTest, META_TOOLS, allow_all, error_code, exec, first_text, gateway_error, gateway_error_code,
    gateway_spawn, logged_fixture, pid_of, server_names, structured, tool_names,
};
pub use process::{ChildProcess, Spawn};

/// The fixture MCP server (the workspace crate `fixture/`), built beside `mcpgw`.
pub fn fixture_bin() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::path::Path::new(mcpgw_bin()).parent().expect("the binaries' directory");
        dir.join("mcpgw-fixture").to_string_lossy().into_owned()
    })
}

/// The gateway binary.
pub fn mcpgw_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mcpgw")
}

/// A free loopback address (bound and released: another process may take it, so only for
/// programs that must be told their port).
pub fn free_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}

/// Starts `spawn` (`what` in messages) and waits until it accepts connections on `addr`.
pub async fn listening(spawn: Spawn, what: &str, addr: std::net::SocketAddr) -> ChildProcess {
    let child = spawn.spawn().unwrap_or_else(|e| panic!("spawn {what} (scripts/setup-test-deps.sh installs it): {e}"));
    let up = eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    })
    .await;
    assert!(up, "{what} did not listen on {addr}: {}", child.stderr().text());
    child
}

/// Long enough for the gateway to see a file event, debounce it (150 ms) and reload: a test
/// that shows that something did *not* cause a reload waits this long first.
pub const RELOAD_SETTLE: Duration = Duration::from_millis(800);

/// Polls `condition` every few milliseconds until it holds or `timeout` passes. Returns
/// whether it held. Prefer this to fixed sleeps: it is as fast as the system allows.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

//! Several mcpgw replicas behind a real HAProxy with the shipped `deploy/haproxy.cfg`
//! (DESIGN section 15): 2026-07-28 requests spread over every replica, a legacy session
//! stays on the replica that created it, and when that replica dies its session gets 404
//! from the others while everything else goes on. HAProxy comes from Debian's packages
//! (`scripts/setup-test-deps.sh` installs it).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::support::http::{HttpGateway, HttpGatewayBuilder, RawResponse, raw_request};
use crate::support::*;

const TOKEN: &str = "token-of-the-agent-dev";
const AUTH: &str = "Bearer token-of-the-agent-dev";

/// A free loopback port, for HAProxy to listen on.
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}

async fn replica() -> HttpGateway {
    let servers = [("fx", fixture_server(&["--name", "fx"]))];
    HttpGatewayBuilder::new(&servers, allow_all())
        .gateway_section(json!({"http": {"tokens": [{"agent": "dev", "token": TOKEN}]}}))
        .start()
        .await
}

/// HAProxy on `listen` in front of `replicas`, with the shipped config, once it answers.
async fn haproxy(listen: SocketAddr, replicas: &[&HttpGateway]) -> ChildProcess {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy.cfg");
    let mut spawn = Spawn::new("haproxy").arg("-f").arg(config.to_str().unwrap()).arg("-db");
    spawn = spawn.env("MCPGW_LISTEN", listen.to_string());
    for (i, r) in replicas.iter().enumerate() {
        spawn = spawn.env(format!("MCPGW_R{}", i + 1), r.addr.to_string());
    }
    let child = spawn.spawn().expect("spawn haproxy (scripts/setup-test-deps.sh installs it)");
    let up = eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok()
    })
    .await;
    assert!(up, "haproxy did not listen on {listen}: {}", child.stderr().text());
    child
}

/// A 2026-07-28 `list_servers` call through `addr`.
async fn stateless_call(addr: SocketAddr, id: u64) -> RawResponse {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
    "name": "list_servers", "arguments": {},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "replicas", "version": "1"}
    }}});
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("authorization", AUTH),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "list_servers"),
    ];
    raw_request(addr, "POST", "/mcp", &headers, &body.to_string()).await.expect("a response through haproxy")
}

/// `list_servers` calls each replica has audited.
fn calls_per_replica(replicas: &[&HttpGateway]) -> Vec<usize> {
    replicas.iter().map(|r| r.audit_lines().iter().filter(|l| l["operation"] == "list_servers").count()).collect()
}

/// The requests of a legacy session `session`.
fn session_headers(session: &str) -> [(&str, &str); 5] {
    [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("authorization", AUTH),
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-06-18"),
    ]
}

/// A `list_servers` call in the legacy session `session` through `addr`.
async fn session_call(addr: SocketAddr, session: &str, id: u64) -> std::io::Result<RawResponse> {
    let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "list_servers", "arguments": {}}});
    raw_request(addr, "POST", "/mcp", &session_headers(session), &call.to_string()).await
}

/// Waits until the replicas have audited `n` calls in all.
async fn audited(replicas: &[&HttpGateway], n: usize) -> bool {
    eventually(Duration::from_secs(5), || calls_per_replica(replicas).iter().sum::<usize>() >= n).await
}

#[tokio::test]
async fn behind_haproxy_stateless_requests_spread_and_a_session_stays_on_its_replica_until_it_dies() {
    let (a, b, c) = (replica().await, replica().await, replica().await);
    let replicas = [&a, &b, &c];
    let listen = free_port();
    let mut proxy = haproxy(listen, &replicas).await;
    // Stateless calls, round-robin over the replicas in service: each serves some.
    let mut sent = 0;
    while sent < 60 && !calls_per_replica(&replicas).iter().all(|n| *n > 0) {
        let r = stateless_call(listen, sent as u64).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.header("mcp-session-id").is_none(), "{r:?}");
        sent += 1;
        assert!(audited(&replicas, sent).await, "{:?}", calls_per_replica(&replicas));
    }
    let spread = calls_per_replica(&replicas);
    assert!(spread.iter().all(|n| *n > 0), "every replica served stateless calls: {spread:?} after {sent}");

    // A legacy session: every one of its calls on the replica that created it.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("authorization", AUTH),
    ];
    let r = raw_request(listen, "POST", "/mcp", &headers, &init.to_string()).await.unwrap();
    let session = r.header("mcp-session-id").expect("a session id").to_owned();
    for id in 0..6 {
        let r = session_call(listen, &session, id).await.unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
    assert!(audited(&replicas, sent + 6).await, "{:?}", calls_per_replica(&replicas));
    let grew: Vec<usize> = calls_per_replica(&replicas).iter().zip(&spread).map(|(n, before)| n - before).collect();
    let home = grew.iter().position(|n| *n == 6);
    assert!(home.is_some() && grew.iter().sum::<usize>() == 6, "the session's calls all went to one replica: {grew:?}");

    // Its replica dies: the session is gone (404 from another replica; its client starts a
    // new one), and everything else goes on.
    replicas[home.unwrap()].signal(Signal::SIGKILL);
    let mut status = None;
    for id in 10..50 {
        if let Ok(r) = session_call(listen, &session, id).await {
            status = Some(r.status);
            if r.status == 404 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, Some(404), "the dead replica's session is unknown elsewhere");
    for id in 100..106 {
        let r = stateless_call(listen, id).await;
        assert_eq!(r.status, 200, "stateless calls go on without the dead replica: {r:?}");
    }
    let url = format!("http://{listen}/mcp");
    let fresh = McpClient::connect_http(&url, &[("authorization", AUTH)]).await.expect("a new session elsewhere");
    fresh.call_tool("list_servers", json!({})).await.expect("a call in the new session");
    fresh.close().await;
    proxy.kill_group().await;
}

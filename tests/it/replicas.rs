//! Several mcpgw replicas behind a real HAProxy with the shipped `deploy/haproxy.cfg`
//! (DESIGN section 15): 2026-07-28 requests spread over every replica, a legacy session
//! stays on the replica that created it, and when that replica dies its session gets 404
//! from the others while everything else goes on; and a rate limit held in a real Redis
//! across replicas, which falls back to per-replica limits while Redis is down and comes back
//! with it. HAProxy and Redis come from Debian's packages (`scripts/setup-test-deps.sh`
//! installs them).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::support::http::{HttpGateway, HttpGatewayBuilder, RawResponse, raw_request};
use crate::support::*;

const TOKEN: &str = "token-of-the-agent-dev";
const AUTH: &str = "Bearer token-of-the-agent-dev";

async fn replica() -> HttpGateway {
    let servers = [("fx", fixture_server(&["--name", "fx"]))];
    HttpGatewayBuilder::new(&servers, allow_all())
        .gateway_section(json!({"http": {"tokens": [{"agent": "dev", "token": TOKEN}]}}))
        .start()
        .await
}

const OPERATOR: &str = "token-of-the-operator-x";

/// A replica whose agent `dev` has `limits`, counted in the Redis at `redis`.
async fn limited_replica(redis: SocketAddr, limits: Value) -> HttpGateway {
    let servers = [("fx", fixture_server(&["--name", "fx"]))];
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["fx"]}, "limits": limits}}});
    HttpGatewayBuilder::new(&servers, rules)
        .gateway_section(json!({
            "http": {"tokens": [{"agent": "dev", "token": TOKEN}], "admin_tokens": [{"token": OPERATOR}]},
            "redis": {"url": format!("redis://{redis}/0")}
        }))
        .start()
        .await
}

/// `redis-server` on `addr`, in memory only, once it accepts connections.
async fn redis_server(addr: SocketAddr) -> ChildProcess {
    let spawn = Spawn::new("redis-server").args([
        "--port",
        &addr.port().to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    listening(spawn, "redis-server", addr).await
}

/// The `shared_limits` part of a replica's `/ready`.
async fn shared_state(r: &HttpGateway) -> Value {
    let auth = format!("Bearer {OPERATOR}");
    let ready = r.get("/ready", &[("authorization", &auth)]).await;
    serde_json::from_str::<Value>(&ready.body).unwrap_or_default()["shared_limits"].clone()
}

/// Whether a stateless call was refused by the rate limit (else it must have succeeded).
fn rate_limited(r: &RawResponse) -> bool {
    let result = r.result();
    if result["structuredContent"]["error"]["code"] == "RATE_LIMITED" {
        return true;
    }
    assert_ne!(result["isError"], true, "neither served nor rate limited: {r:?}");
    false
}

#[tokio::test]
async fn a_rate_limit_in_redis_holds_across_replicas_falls_back_while_redis_is_down_and_comes_back() {
    const RATE: u32 = 5;
    let redis_addr = free_port();
    let mut redis = redis_server(redis_addr).await;
    let limits = json!({"requests_per_second": RATE});
    let (a, b) = (limited_replica(redis_addr, limits.clone()).await, limited_replica(redis_addr, limits).await);
    // One burst, alternating between the replicas: the allowance is one, not one per replica.
    let started = std::time::Instant::now();
    let mut allowed = 0u32;
    for id in 0..30u64 {
        let r = stateless_call(if id % 2 == 0 { a.addr } else { b.addr }, id).await;
        assert_eq!(r.status, 200, "{r:?}");
        allowed += u32::from(!rate_limited(&r));
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The burst (one second's worth) plus what refilled meanwhile, plus one of slack for
    // the edges of the measurement.
    let most = f64::from(RATE) + elapsed * f64::from(RATE) + 1.0;
    assert!(allowed >= RATE, "the shared burst is allowed: {allowed}");
    assert!(
        f64::from(allowed) <= most,
        "{allowed} calls allowed in {elapsed:.2} s; at most {most:.1} across both replicas"
    );
    assert_eq!(shared_state(&a).await["state"], "shared", "{}", a.stderr());

    // Redis goes away: calls are still answered, limited by each replica alone.
    redis.kill_group().await;
    for id in 100..110u64 {
        let r = stateless_call(a.addr, id).await;
        assert_eq!(r.status, 200, "calls go on without Redis: {r:?}");
    }
    let state = shared_state(&a).await;
    assert_eq!(state["state"], "fallback", "{state}");
    assert!(state["fallback_checks"].as_u64().is_some_and(|n| n > 0), "{state}");
    assert!(a.stderr().contains("Redis is unreachable"), "{}", a.stderr());
    let metrics = a.get("/metrics", &[("authorization", &format!("Bearer {OPERATOR}"))]).await;
    assert!(metrics.body.contains("mcpgw_shared_limits_fallback 1"), "{}", metrics.body);

    // Redis is back: the next calls are counted there again.
    let _redis = redis_server(redis_addr).await;
    let mut back = false;
    for id in 200..260u64 {
        stateless_call(a.addr, id).await;
        if shared_state(&a).await["state"] == "shared" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(back, "the gateway returns to Redis: {}", a.stderr());
    assert!(a.stderr().contains("Redis answers again"), "{}", a.stderr());
}

/// HAProxy on `listen` in front of `replicas`, with the shipped config, once it answers.
async fn haproxy(listen: SocketAddr, replicas: &[&HttpGateway]) -> ChildProcess {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy.cfg");
    let mut spawn = Spawn::new("haproxy").arg("-f").arg(config.to_str().unwrap()).arg("-db");
    spawn = spawn.env("MCPGW_LISTEN", listen.to_string());
    for (i, r) in replicas.iter().enumerate() {
        spawn = spawn.env(format!("MCPGW_R{}", i + 1), r.addr.to_string());
    }
    listening(spawn, "haproxy", listen).await
}

/// A 2026-07-28 `list_servers` call through `addr`.
async fn stateless_call(addr: SocketAddr, id: u64) -> RawResponse {
    stateless_tool(addr, id, "list_servers", json!({})).await
}

/// A 2026-07-28 call of the gateway tool `tool` through `addr`.
async fn stateless_tool(addr: SocketAddr, id: u64, tool: &str, arguments: Value) -> RawResponse {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
    "name": tool, "arguments": arguments,
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
        ("mcp-name", tool),
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

/// The calls in flight on `r`'s server, as its status says.
async fn in_flight(r: &HttpGateway) -> u64 {
    let status = stateless_tool(r.addr, 9_000, "get_gateway_status", json!({})).await;
    status.result()["structuredContent"]["servers"][0]["in_flight"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_limit_of_calls_in_flight_in_redis_holds_across_replicas() {
    let redis_addr = free_port();
    let _redis = redis_server(redis_addr).await;
    let limits = json!({"max_concurrent_calls": 2});
    let (a, b) = (limited_replica(redis_addr, limits.clone()).await, limited_replica(redis_addr, limits).await);
    let sleep = |id| {
        let addr = a.addr;
        tokio::spawn(async move {
            stateless_tool(addr, id, "execute_tool", json!({"server": "fx", "tool": "sleep", "args": {"ms": 4000}}))
                .await
        })
    };
    let running = [sleep(1), sleep(2)];
    let mut both = false;
    for _ in 0..100 {
        if in_flight(&a).await >= 2 {
            both = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(both, "the two calls are in flight on replica a: {}", a.stderr());
    // Both of the agent's slots are taken on replica a: replica b refuses a third call.
    let echo = json!({"server": "fx", "tool": "echo", "args": {"text": "third"}});
    let r = stateless_tool(b.addr, 3, "execute_tool", echo.clone()).await;
    assert_eq!(r.result()["structuredContent"]["error"]["code"], "RATE_LIMITED", "{r:?}");
    let message = r.result()["structuredContent"]["error"]["message"].clone();
    assert!(message.as_str().unwrap().contains("2 calls in flight"), "{r:?}");
    for call in running {
        let r = call.await.unwrap();
        assert_eq!(r.result()["content"][0]["text"], "slept 4000", "{r:?}");
    }
    // The slots are given back: replica b serves again.
    let mut served = false;
    for id in 10..40 {
        let r = stateless_tool(b.addr, id, "execute_tool", echo.clone()).await;
        if r.result()["content"][0]["text"] == "third" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the slots came back after the calls ended");
}

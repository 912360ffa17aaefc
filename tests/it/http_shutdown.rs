//! Graceful shutdown of the HTTP gateway: on SIGTERM it stops taking connections, lets the
//! calls in flight finish (within a bound), stops every downstream process, and exits 0.

use std::time::Duration;

use crate::support::http::{HttpGateway, raw_request};
use crate::support::*;
use nix::sys::signal::Signal;
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

fn servers() -> Vec<(&'static str, Value)> {
    vec![("notes", fixture_server(&["--name", "notes"])), ("media", fixture_server(&["--name", "media"]))]
}

fn rules() -> Value {
    json!({"agents": {"backend": {"allow": {"servers": ["notes", "media"]}}}})
}

async fn downstream_pid(client: &McpClient, server: &str) -> u32 {
    let r = client
        .call_tool("execute_tool", json!({"agent_id": "backend", "server": server, "tool": "pid", "args": {}}))
        .await
        .unwrap();
    pid_of(&r)
}

#[tokio::test]
async fn sigterm_finishes_calls_in_flight_and_stops_downstreams() {
    let mut gw = HttpGateway::start(&servers(), rules()).await;
    let client = gw.client(None).await;
    let watcher = gw.client(None).await;
    let pids = [downstream_pid(&client, "notes").await, downstream_pid(&client, "media").await];
    assert_eq!(procfs::count_alive(&pids), 2);

    let slow = json!({"agent_id": "backend", "server": "notes", "tool": "sleep", "args": {"ms": 800}});
    let call = client.start_call("execute_tool", slow, PeerRequestOptions::no_options()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = watcher.call_tool("get_gateway_status", json!({"agent_id": "backend"})).await.unwrap();
        if structured(&r)["servers"][0]["in_flight"].as_u64() == Some(1) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the slow call never started: {r:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    gw.signal(Signal::SIGTERM);
    // The call in flight still gets its answer.
    let result = tokio::time::timeout(Duration::from_secs(10), call.result()).await.expect("the call ends");
    let result = result.unwrap_or_else(|e| panic!("the call in flight was cut off: {e}\n{}", gw.stderr()));
    assert_eq!(first_text(&result), "slept 800", "{result:?}");

    let status = gw.child.wait_exit(Duration::from_secs(15)).await;
    let stderr = gw.stderr();
    let status = status.unwrap_or_else(|| panic!("the gateway did not exit after SIGTERM:\n{stderr}"));
    assert!(status.success(), "exit status {status:?}:\n{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    for pid in pids {
        assert!(procfs::wait_gone(pid, Duration::from_secs(5)).await, "downstream {pid} outlived the gateway");
    }
    // Nothing listens any more.
    assert!(raw_request(gw.addr, "GET", "/health", &[], "").await.is_err());
}

#[tokio::test]
async fn sigterm_with_a_call_that_never_ends_is_bounded() {
    let mut gw = HttpGateway::start(&servers(), rules()).await;
    let client = gw.client(None).await;
    let pid = downstream_pid(&client, "notes").await;
    let hang = json!({"agent_id": "backend", "server": "notes", "tool": "hang", "args": {}, "timeout_ms": 600000});
    let call = client.start_call("execute_tool", hang, PeerRequestOptions::no_options()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = gw.metrics(&[]).await;
        if m.value("mcpgw_server_calls_total{server=\"notes\"}") >= 2.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the hanging call never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal(Signal::SIGTERM);
    // The drain is bounded (a few seconds), not the call's ten-minute timeout.
    let status = gw.child.wait_exit(Duration::from_secs(15)).await;
    let stderr = gw.stderr();
    let status = status.unwrap_or_else(|| panic!("the gateway did not exit after SIGTERM:\n{stderr}"));
    assert!(status.success(), "exit status {status:?}:\n{stderr}");
    assert!(procfs::wait_gone(pid, Duration::from_secs(5)).await, "the downstream outlived the gateway");
    // The caller still learns why its call ended: the server was stopped under it.
    let outcome = tokio::time::timeout(Duration::from_secs(5), call.result()).await;
    let result = outcome.expect("the client was left waiting").expect("a result, not a broken stream");
    assert_eq!(error_code(&result).as_deref(), Some("SERVER_UNAVAILABLE"), "{result:?}");
    assert!(stderr.contains("still running after 10 s"), "{stderr}");
}

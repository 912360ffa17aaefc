//! Many clients at once: 100 MCP sessions over HTTP, all open together, each listing servers
//! and calling a tool with its own arguments, get their own correct answers through one shared
//! downstream connection.

use std::time::Duration;

use crate::support::http::HttpGateway;
use crate::support::*;
use serde_json::json;

const CLIENTS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_sessions() {
    let servers = [("notes", fixture_server(&["--name", "notes"])), ("media", fixture_server(&["--name", "media"]))];
    let rules = json!({"agents": {
        "backend.*": {"allow": {"servers": ["notes", "media"]}},
        "intern.*": {"allow": {"servers": ["notes"]}}
    }});
    let gw = HttpGateway::start(&servers, rules).await;
    let url = gw.url();

    // Every client connects first and only then do they all call, so the sessions really are
    // open at the same time.
    let connect = (0..CLIENTS).map(|_| McpClient::connect_http(&url, &[]));
    let clients: Vec<McpClient> = tokio::time::timeout(Duration::from_secs(15), futures::future::join_all(connect))
        .await
        .expect("100 clients connect within 15 s")
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", gw.stderr()));

    let work = clients.iter().enumerate().map(|(i, client)| async move {
        let (agent, expected): (String, &[&str]) = if i % 2 == 0 {
            (format!("backend.{i}"), &["notes", "media"])
        } else {
            (format!("intern.{i}"), &["notes"])
        };
        let r = client.call_tool("list_servers", json!({"agent_id": agent})).await.expect("list_servers");
        assert_eq!(server_names(&r), expected, "client {i}: {r:?}");
        let args = json!({"agent_id": agent, "server": "notes", "tool": "add", "args": {"a": i, "b": 1000}});
        let r = client.call_tool("execute_tool", args).await.expect("execute_tool");
        assert_eq!(r.structured_content, Some(json!({"sum": i + 1000})), "client {i}: {r:?}");
        let text = format!("client {i}");
        let args = json!({"agent_id": agent, "server": "notes", "tool": "echo", "args": {"text": text}});
        let r = client.call_tool("execute_tool", args).await.expect("execute_tool");
        assert_eq!(first_text(&r), text, "{r:?}");
    });
    tokio::time::timeout(Duration::from_secs(15), futures::future::join_all(work))
        .await
        .expect("every client finishes within 15 s");

    // One downstream process served them all.
    let r = clients[0].call_tool("get_gateway_status", json!({"agent_id": "backend.0"})).await.unwrap();
    let notes = &structured(&r)["servers"][0];
    assert_eq!(notes["name"], "notes", "{r:?}");
    assert_eq!(notes["calls"].as_u64(), Some(2 * CLIENTS as u64), "{r:?}");
    assert_eq!(notes["restarts"].as_u64(), Some(0), "{r:?}");
    let m = gw.metrics(&[]).await;
    let total: f64 = m.series("mcpgw_calls_total").iter().map(|(_, v)| v).sum();
    assert_eq!(total, (3 * CLIENTS + 1) as f64, "{}", m.text);

    let closing = clients.into_iter().map(McpClient::close);
    tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(closing)).await.expect("clients close");
    assert_eq!(gw.get("/health", &[]).await.status, 200);
}

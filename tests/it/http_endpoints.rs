//! `/health`, `/ready` and `/metrics` of the gateway served over HTTP: readiness turns 503
//! when a configured server has failed, and the Prometheus text follows the calls, the
//! downstream servers, the reloads and the policy snapshot.

use std::time::Duration;

use crate::support::http::{HttpGateway, HttpGatewayBuilder, Metrics};
use crate::support::*;
use serde_json::{Value, json};

fn servers() -> Vec<(&'static str, Value)> {
    vec![
        ("notes", fixture_server(&["--name", "notes"])),
        ("broken", fixture_server(&["--name", "broken", "--startup", "exit"])),
    ]
}

fn rules() -> Value {
    json!({"agents": {
        "backend": {"allow": {"servers": ["notes", "broken"]}, "deny": {"tools": {"notes": ["crash"]}}}
    }})
}

/// Polls `/metrics` until `condition` holds; returns the last exposition.
async fn wait_metrics(gw: &HttpGateway, what: &str, condition: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = gw.metrics(&[]).await;
        if condition(&m) {
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}:\n{}", m.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn health_and_ready() {
    let gw = HttpGateway::start(&servers(), rules()).await;
    let r = gw.get("/health", &[]).await;
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})), "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));

    // Nothing started yet: servers that are not needed yet do not make the gateway unready.
    let r = gw.get("/ready", &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let body = r.json();
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(
        body["servers"],
        json!([{"name": "notes", "status": "not_started"}, {"name": "broken", "status": "not_started"}])
    );
    assert!(body["policy"].as_str().is_some_and(|s| s.starts_with("sha256:")), "{body}");

    let client = gw.client(None).await;
    let r = client
        .call_tool(
            "execute_tool",
            json!({"agent_id": "backend", "server": "notes", "tool": "echo", "args": {"text": "a"}}),
        )
        .await
        .unwrap();
    assert_eq!(first_text(&r), "a", "{r:?}");
    let r = gw.get("/ready", &[]).await;
    assert_eq!((r.status, &r.json()["servers"][0]["status"]), (200, &json!("ready")), "{r:?}");

    // A server that fails to start makes the gateway unready (503), and says which.
    let r = client
        .call_tool(
            "execute_tool",
            json!({"agent_id": "backend", "server": "broken", "tool": "echo", "args": {"text": "a"}}),
        )
        .await
        .unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "{r:?}");
    let r = gw.get("/ready", &[]).await;
    assert_eq!(r.status, 503, "{r:?}");
    let body = r.json();
    assert_eq!(body["ready"], false, "{body}");
    assert_eq!(body["servers"][1], json!({"name": "broken", "status": "failed"}), "{body}");
    // Liveness is unaffected.
    assert_eq!(gw.get("/health", &[]).await.status, 200);
    client.close().await;
}

#[tokio::test]
async fn metrics_follow_calls_servers_and_reloads() {
    let gw = HttpGateway::start(&servers(), rules()).await;
    let client = gw.client(None).await;
    let status = client.call_tool("get_gateway_status", json!({"agent_id": "backend"})).await.unwrap();
    let snapshot = structured(&status)["policy"]["snapshot"].as_str().expect("a snapshot id").to_owned();

    let m = gw.metrics(&[]).await;
    assert_eq!(m.get(&format!("mcpgw_policy_info{{snapshot=\"{snapshot}\"}}")), Some(1.0), "{}", m.text);
    assert_eq!(m.series("mcpgw_policy_info").len(), 1, "{}", m.text);
    for file in ["rules", "mcp_config"] {
        assert_eq!(m.get(&format!("mcpgw_reloads_total{{file=\"{file}\"}}")), Some(1.0), "{}", m.text);
        assert_eq!(m.get(&format!("mcpgw_reload_failures_total{{file=\"{file}\"}}")), Some(0.0), "{}", m.text);
    }
    assert_eq!(m.get("mcpgw_server_calls_total{server=\"notes\"}"), Some(0.0), "{}", m.text);
    assert_eq!(m.get("mcpgw_server_up{server=\"notes\"}"), Some(0.0), "{}", m.text);
    assert_eq!(m.value("mcpgw_calls_total{agent=\"backend\",operation=\"get_gateway_status\"}"), 1.0, "{}", m.text);

    let exec = |tool: &str, args: Value| json!({"agent_id": "backend", "server": "notes", "tool": tool, "args": args});
    for i in 0..3 {
        let r = client.call_tool("execute_tool", exec("add", json!({"a": i, "b": 1}))).await.unwrap();
        assert_eq!(r.structured_content, Some(json!({"sum": i + 1})), "{r:?}");
    }
    let r = client.call_tool("execute_tool", exec("crash", json!({}))).await.unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{r:?}");
    let r = client.call_tool("execute_tool", exec("fail", json!({"message": "downstream says no"}))).await.unwrap();
    assert_eq!((r.is_error, error_code(&r)), (Some(true), None), "{r:?}");
    let r = client.call_tool("list_servers", json!({"agent_id": "stranger"})).await.unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{r:?}");

    let m = gw.metrics(&[]).await;
    let series = |name: &str, op: &str| format!("{name}{{agent=\"backend\",operation=\"{op}\"}}");
    assert_eq!(m.get(&series("mcpgw_calls_total", "execute_tool")), Some(5.0), "{}", m.text);
    // Only the policy denial is a gateway error; a downstream isError result is not.
    assert_eq!(m.get(&series("mcpgw_call_errors_total", "execute_tool")), Some(1.0), "{}", m.text);
    assert_eq!(m.get("mcpgw_calls_total{agent=\"(unknown)\",operation=\"list_servers\"}"), Some(1.0), "{}", m.text);
    assert_eq!(
        m.get("mcpgw_call_errors_total{agent=\"(unknown)\",operation=\"list_servers\"}"),
        Some(1.0),
        "{}",
        m.text
    );

    // The histogram: cumulative buckets ending in +Inf = count, and a positive sum.
    let labels = "agent=\"backend\",operation=\"execute_tool\"";
    assert_eq!(m.get(&format!("mcpgw_call_duration_seconds_count{{{labels}}}")), Some(5.0), "{}", m.text);
    assert!(m.value(&format!("mcpgw_call_duration_seconds_sum{{{labels}}}")) > 0.0, "{}", m.text);
    let buckets: Vec<(String, f64)> =
        m.series("mcpgw_call_duration_seconds_bucket").into_iter().filter(|(s, _)| s.contains(labels)).collect();
    assert!(buckets.len() >= 2, "{}", m.text);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "buckets are cumulative: {buckets:?}");
    let last = buckets.last().unwrap();
    assert!(last.0.contains("le=\"+Inf\"") && last.1 == 5.0, "{buckets:?}");

    // Per server: the three forwarded calls, the isError result is not a server error.
    assert_eq!(m.get("mcpgw_server_calls_total{server=\"notes\"}"), Some(4.0), "{}", m.text);
    assert_eq!(m.get("mcpgw_server_errors_total{server=\"notes\"}"), Some(0.0), "{}", m.text);
    assert_eq!(m.get("mcpgw_server_up{server=\"notes\"}"), Some(1.0), "{}", m.text);
    assert_eq!(m.get("mcpgw_server_restarts_total{server=\"notes\"}"), Some(0.0), "{}", m.text);

    // A rules reload moves the reload counter and the snapshot id.
    let mut new_rules = rules();
    new_rules["agents"]["ops"] = json!({"allow": {"servers": ["notes"]}});
    std::fs::write(gw.files.file_path("rules.json"), new_rules.to_string()).unwrap();
    let m = wait_metrics(&gw, "the rules reload", |m| m.value("mcpgw_reloads_total{file=\"rules\"}") >= 2.0).await;
    let status = client.call_tool("get_gateway_status", json!({"agent_id": "ops"})).await.unwrap();
    let new_snapshot = structured(&status)["policy"]["snapshot"].as_str().expect("a snapshot id").to_owned();
    assert_ne!(new_snapshot, snapshot);
    let m = if m.get(&format!("mcpgw_policy_info{{snapshot=\"{new_snapshot}\"}}")).is_some() {
        m
    } else {
        gw.metrics(&[]).await
    };
    assert_eq!(m.get(&format!("mcpgw_policy_info{{snapshot=\"{new_snapshot}\"}}")), Some(1.0), "{}", m.text);
    assert_eq!(m.series("mcpgw_policy_info").len(), 1, "{}", m.text);

    // A failed reload counts as a failure and keeps the snapshot.
    std::fs::write(gw.files.file_path("rules.json"), "{\"agents\": {\"ops\": ").unwrap();
    let m =
        wait_metrics(&gw, "the failed reload", |m| m.value("mcpgw_reload_failures_total{file=\"rules\"}") >= 1.0).await;
    assert_eq!(m.get(&format!("mcpgw_policy_info{{snapshot=\"{new_snapshot}\"}}")), Some(1.0), "{}", m.text);
    assert_eq!(m.get("mcpgw_reload_failures_total{file=\"mcp_config\"}"), Some(0.0), "{}", m.text);

    // A failed downstream start is a server error and clears `up`.
    let r = client
        .call_tool("execute_tool", json!({"agent_id": "backend", "server": "broken", "tool": "echo", "args": {}}))
        .await
        .unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "{r:?}");
    let m = gw.metrics(&[]).await;
    assert_eq!(m.get("mcpgw_server_up{server=\"broken\"}"), Some(0.0), "{}", m.text);
    client.close().await;
}

#[tokio::test]
async fn transport_and_address_from_the_environment() {
    let gw = HttpGatewayBuilder::new(&servers(), rules()).via_env().start().await;
    assert!(gw.addr.ip().is_loopback() && gw.addr.port() != 0, "{}", gw.addr);
    assert_eq!(gw.get("/health", &[]).await.status, 200);
    let client = gw.client(None).await;
    let r = client.call_tool("list_servers", json!({"agent_id": "backend"})).await.unwrap();
    assert_eq!(server_names(&r), ["notes", "broken"], "{r:?}");
    client.close().await;
}

#[tokio::test]
async fn serves_on_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let gw = HttpGatewayBuilder::new(&servers(), rules()).start_on("[::1]:0").await;
    assert_eq!(gw.addr.ip(), std::net::Ipv6Addr::LOCALHOST);
    assert_eq!(gw.get("/health", &[]).await.status, 200);
    let client = gw.client(None).await;
    let r = client.call_tool("list_servers", json!({"agent_id": "backend"})).await.unwrap();
    assert_eq!(server_names(&r), ["notes", "broken"], "{r:?}");
    client.close().await;
}

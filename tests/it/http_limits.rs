//! Per-agent rate limits over HTTP: requests per second and calls in flight, from the
//! `limits` of an agent block. An over-limit call gets `RATE_LIMITED` with a retry hint, other
//! agents are unaffected, and the limits reload with the policy.

use std::time::Duration;

use crate::support::http::HttpGateway;
use crate::support::*;
use serde_json::{Value, json};

fn servers() -> Vec<(&'static str, Value)> {
    vec![("notes", fixture_server(&["--name", "notes"]))]
}

fn rules(limited: Value) -> Value {
    json!({"agents": {
        "limited": {"allow": {"servers": ["notes"]}, "limits": limited},
        "free": {"allow": {"servers": ["notes"]}}
    }})
}

fn echo(agent: &str, text: &str) -> Value {
    json!({"agent_id": agent, "server": "notes", "tool": "echo", "args": {"text": text}})
}

/// The `retry_after_ms` of a `RATE_LIMITED` error; panics on anything else.
fn retry_after(r: &rmcp::model::CallToolResult) -> u64 {
    assert_eq!(error_code(r).as_deref(), Some("RATE_LIMITED"), "{r:?}");
    let error = gateway_error(r);
    error["retry_after_ms"].as_u64().unwrap_or_else(|| panic!("no retry_after_ms in {error}"))
}

/// Makes `n` calls at once and returns how many went through and the limited results.
async fn burst(client: &McpClient, agent: &str, n: usize) -> (usize, Vec<rmcp::model::CallToolResult>) {
    let calls = (0..n).map(|i| client.call_tool("execute_tool", echo(agent, &format!("m{i}"))));
    let results = futures::future::join_all(calls).await;
    let mut ok = 0;
    let mut limited = Vec::new();
    for r in results {
        let r = r.expect("execute_tool");
        match error_code(&r) {
            None => ok += 1,
            Some(_) => limited.push(r),
        }
    }
    (ok, limited)
}

/// Polls until the rules file has been reloaded `n` times in all.
async fn wait_rules_reloads(client: &McpClient, agent: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = client.call_tool("get_gateway_status", json!({"agent_id": agent})).await.unwrap();
        if error_code(&r).is_none() && structured(&r)["reload"]["rules"]["attempts"].as_u64() >= Some(n) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the rules were not reloaded: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_per_second() {
    let gw = HttpGateway::start(&servers(), rules(json!({"requests_per_second": 2}))).await;
    let client = gw.client(None).await;
    // A burst well over the limit: at most the bucket (2) plus what refills meanwhile passes.
    let started = tokio::time::Instant::now();
    let (ok, limited) = burst(&client, "limited", 12).await;
    let allowance = 2 + (started.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    assert!(ok >= 1 && ok <= allowance, "{ok} calls passed, at most {allowance} may");
    assert!(!limited.is_empty());
    for r in &limited {
        let wait = retry_after(r);
        assert!((1..=500).contains(&wait), "a 2/s limit never needs more than 500 ms: {wait}");
        assert!(first_text(r).contains("rate limit"), "{r:?}");
    }
    // Other agents are not limited.
    let (ok, limited) = burst(&client, "free", 12).await;
    assert_eq!((ok, limited.len()), (12, 0));
    // After the hinted wait the agent may call again.
    let mut r = client.call_tool("execute_tool", echo("limited", "again")).await.unwrap();
    for _ in 0..20 {
        if error_code(&r).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(retry_after(&r))).await;
        r = client.call_tool("execute_tool", echo("limited", "again")).await.unwrap();
    }
    assert_eq!(first_text(&r), "again", "{r:?}");
    // Limited calls are audited with their code.
    let lines = gw.audit_lines();
    assert!(lines.iter().any(|l| l["agent_id"] == "limited" && l["outcome"] == "RATE_LIMITED"), "{lines:#?}");
    client.close().await;
}

#[tokio::test]
async fn concurrent_calls() {
    let gw = HttpGateway::start(&servers(), rules(json!({"max_concurrent_calls": 1}))).await;
    let client = gw.client(None).await;
    let other = gw.client(None).await;
    let slow = json!({"agent_id": "limited", "server": "notes", "tool": "sleep", "args": {"ms": 1500}});
    let first = client.start_call("execute_tool", slow, rmcp::service::PeerRequestOptions::no_options()).await.unwrap();
    // Wait until the slow call is in flight downstream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = other.call_tool("get_gateway_status", json!({"agent_id": "free"})).await.unwrap();
        if structured(&r)["servers"][0]["in_flight"].as_u64() == Some(1) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the slow call never started: {r:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A second call of the same agent, from another session, is over the limit.
    let r = other.call_tool("execute_tool", echo("limited", "second")).await.unwrap();
    let wait = retry_after(&r);
    assert!(wait >= 1, "{r:?}");
    assert!(first_text(&r).contains("in flight"), "{r:?}");
    // Another agent is not.
    let r = other.call_tool("execute_tool", echo("free", "meanwhile")).await.unwrap();
    assert_eq!(first_text(&r), "meanwhile", "{r:?}");
    // Once the first call is done, the slot is free again.
    let done = first.result().await.unwrap();
    assert_eq!(first_text(&done), "slept 1500", "{done:?}");
    let r = other.call_tool("execute_tool", echo("limited", "third")).await.unwrap();
    assert_eq!(first_text(&r), "third", "{r:?}");
    client.close().await;
    other.close().await;
}

#[tokio::test]
async fn limits_reload_with_the_policy() {
    let gw = HttpGateway::start(&servers(), rules(json!({}))).await;
    let client = gw.client(None).await;
    let (ok, _) = burst(&client, "limited", 10).await;
    assert_eq!(ok, 10, "no limit yet");

    let rules_path = gw.files.file_path("rules.json");
    std::fs::write(&rules_path, rules(json!({"requests_per_second": 1})).to_string()).unwrap();
    wait_rules_reloads(&client, "free", 2).await;
    let (ok, limited) = burst(&client, "limited", 10).await;
    assert!(ok <= 3 && !limited.is_empty(), "{ok} passed under a 1/s limit");
    for r in &limited {
        assert!((1..=1000).contains(&retry_after(r)), "{r:?}");
    }

    // Lifting the limit again takes effect at once, too.
    std::fs::write(&rules_path, rules(json!({"requests_per_second": 1000})).to_string()).unwrap();
    wait_rules_reloads(&client, "free", 3).await;
    let (ok, limited) = burst(&client, "limited", 10).await;
    assert_eq!((ok, limited.len()), (10, 0));
    client.close().await;
}

//! Tasks through the gateway (issue 13), with `@modelcontextprotocol/server-everything`'s
//! `simulate-research-query`, a tool that runs only as a 2025-11-25 task: a caller that takes
//! tasks gets a handle under the gateway's own id and polls, waits and lists; a caller that
//! takes none gets the outcome as if the tool were plain; and nobody reaches a task another
//! agent created.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::http::{HttpGateway, HttpGatewayBuilder, RawResponse};
use crate::support::raw::{RawGateway, rpc_error_code};
use crate::support::*;

const RESEARCH: &str = "simulate-research-query";

fn research(topic: &str) -> Value {
    exec("everything", RESEARCH, json!({"topic": topic}))
}

fn report_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_else(|| panic!("no report: {result}"))
}

#[tokio::test]
async fn a_2025_client_runs_a_task_polls_lists_and_waits_for_it() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("everything", everything_server())], &allow_all(), &[]);
    let mut gw = RawGateway::start_as(&spawn, "2025-11-25", json!({"tasks": {}})).await;
    let init = gw.request("ping", json!({})).await;
    assert!(init.get("result").is_some(), "{init}");

    let created = gw
        .request("tools/call", json!({"name": "execute_tool", "arguments": research("rust"), "task": {"ttl": 60000}}))
        .await;
    let task = &created["result"]["task"];
    let id = task["taskId"].as_str().unwrap_or_else(|| panic!("no task: {created}")).to_owned();
    assert!(id.starts_with("mcpgw-"), "the gateway's own id, not the server's: {created}");
    assert!(task["ttl"].is_number() && task["status"].is_string(), "{created}");

    let status = gw.request("tasks/get", json!({"taskId": id})).await;
    assert_eq!(status["result"]["taskId"], id.as_str(), "{status}");
    assert!(["working", "completed"].contains(&status["result"]["status"].as_str().unwrap_or("")), "{status}");

    let list = gw.request("tasks/list", json!({})).await;
    let ids: Vec<&str> =
        list["result"]["tasks"].as_array().map_or(vec![], |t| t.iter().filter_map(|t| t["taskId"].as_str()).collect());
    assert_eq!(ids, [id.as_str()], "{list}");

    let outcome = gw.request("tasks/result", json!({"taskId": id})).await;
    assert!(report_of(&outcome["result"]).contains("Research Report: rust"), "{outcome}");
    let done = gw.request("tasks/get", json!({"taskId": id})).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");

    let unknown = gw.request("tasks/get", json!({"taskId": "mcpgw-000000000000000000000000"})).await;
    assert_eq!(rpc_error_code(&unknown), Some(-32602), "{unknown}");
    // The server's own id is no handle at the gateway.
    let missing = gw.request("tasks/get", json!({"taskId": "1"})).await;
    assert_eq!(rpc_error_code(&missing), Some(-32602), "{missing}");
}

#[tokio::test]
async fn a_caller_that_takes_no_tasks_gets_the_outcome_of_a_task_only_tool() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("everything", everything_server())], &allow_all(), &[]);
    // A 2025-06-18 client knows no tasks at all.
    let mut gw = RawGateway::start(&spawn).await;
    let r = gw.request("tools/call", json!({"name": "execute_tool", "arguments": research("plain")})).await;
    assert!(r["result"].get("task").is_none(), "{r}");
    assert!(report_of(&r["result"]).contains("Research Report: plain"), "{r}");
}

const ALICE: &str = "alice-task-token-0000001";
const BOB: &str = "bob-task-token-000000002";

async fn http_gateway() -> HttpGateway {
    let rules = json!({"agents": {
        "alice": {"allow": {"servers": ["everything"]}},
        "bob": {"allow": {"servers": ["everything"]}}
    }});
    HttpGatewayBuilder::new(&[("everything", everything_server())], rules)
        .gateway_section(
            json!({"http": {"tokens": [{"agent": "alice", "token": ALICE}, {"agent": "bob", "token": BOB}]}}),
        )
        .start()
        .await
}

/// A stateless 2026-07-28 request of `token`'s agent, its client taking tasks or not.
async fn modern(gw: &HttpGateway, token: &str, method: &str, name: &str, params: Value, tasks: bool) -> RawResponse {
    let caps = if tasks { json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}) } else { json!({}) };
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps,
        "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"}
    });
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
        ("mcp-name", name),
    ];
    gw.post_mcp(&headers, &body).await
}

#[tokio::test]
async fn a_2026_client_polls_its_task_to_the_outcome_and_no_other_agent_reaches_it() {
    let gw = http_gateway().await;
    let call = |topic: &str| json!({"name": "execute_tool", "arguments": {"server": "everything", "tool": RESEARCH, "args": {"topic": topic}}});
    let created = modern(&gw, ALICE, "tools/call", "execute_tool", call("tokio"), true).await;
    let task = created.result();
    assert_eq!(task["resultType"], "task", "{created:?}");
    assert!(task["ttlMs"].is_number(), "2026-07-28 field names: {task}");
    let id = task["taskId"].as_str().unwrap_or_else(|| panic!("no task id: {task}")).to_owned();
    assert!(id.starts_with("mcpgw-"), "{task}");

    // Bob holds the id, and still it is as if it did not exist.
    for method in ["tasks/get", "tasks/cancel"] {
        let r = modern(&gw, BOB, method, &id, json!({"taskId": id}), true).await;
        let msg = r.messages().pop().unwrap_or_default();
        assert_eq!(rpc_error_code(&msg), Some(-32602), "{method} of another agent's task: {r:?}");
    }

    let mut last = Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        last = modern(&gw, ALICE, "tasks/get", &id, json!({"taskId": id}), true).await.result();
        if last["status"] == "completed" {
            break;
        }
        assert_eq!(last["status"], "working", "{last}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["taskId"], id.as_str(), "{last}");
    assert!(report_of(&last["result"]).contains("Research Report: tokio"), "the outcome rides on tasks/get: {last}");

    // Without the tasks extension the same call just answers.
    let plain = modern(&gw, BOB, "tools/call", "execute_tool", call("bob"), false).await;
    let result = plain.result();
    assert_eq!(result["resultType"], "complete", "{plain:?}");
    assert!(report_of(&result).contains("Research Report: bob"), "{plain:?}");
}

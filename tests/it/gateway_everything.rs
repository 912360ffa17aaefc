//! The gateway in front of a real third-party MCP server: `@modelcontextprotocol/server-everything`
//! from npm, run with node over stdio. Install it first with `scripts/setup-test-deps.sh`
//! (it goes into the git-ignored `.tools/npm`); without it these tests fail and say so.

use std::time::Duration;

use crate::support::*;
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

async fn start() -> GatewayUnderTest {
    let server = everything_server();
    let rules = json!({"agents": {"dev": {
        "allow": {"servers": ["everything"]},
        "deny": {"tools": {"everything": ["get-env", "trigger-*-request*"]}}
    }}});
    GatewayUnderTest::start(&[("everything", server)], &rules, &["--timeout-ms", "20000"]).await
}

fn exec(tool: &str, args: Value) -> Value {
    json!({"agent_id": "dev", "server": "everything", "tool": tool, "args": args})
}

#[tokio::test]
async fn discovers_and_calls_the_reference_servers_tools() {
    let gw = start().await;
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    assert_eq!(structured(&r)["servers"][0]["description"], "MCP reference server", "{r:?}");

    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "everything"})).await;
    assert_eq!(error_code(&r), None, "{r:?}");
    let names = tool_names(&r);
    for expected in ["echo", "get-sum", "trigger-long-running-operation", "get-structured-content"] {
        assert!(names.iter().any(|n| n == expected), "`{expected}` missing from {names:?}");
    }
    for denied in ["get-env", "trigger-sampling-request", "trigger-elicitation-request"] {
        assert!(!names.iter().any(|n| n == denied), "denied `{denied}` was listed: {names:?}");
    }
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "everything", "names": ["get-sum"]})).await;
    let sum = &structured(&r)["tools"][0];
    assert_eq!(sum["inputSchema"]["required"], json!(["a", "b"]), "{sum}");
    assert_eq!(sum["annotations"]["readOnlyHint"], true, "annotations pass through: {sum}");

    let r = gw.call("execute_tool", exec("echo", json!({"message": "through the gateway"}))).await;
    assert_eq!(first_text(&r), "Echo: through the gateway", "{r:?}");
    let r = gw.call("execute_tool", exec("get-sum", json!({"a": 19, "b": 23}))).await;
    assert_eq!(first_text(&r), "The sum of 19 and 23 is 42.", "{r:?}");
    let r = gw.call("execute_tool", exec("get-structured-content", json!({"location": "Chicago"}))).await;
    let s = r.structured_content.clone().unwrap_or_else(|| panic!("no structuredContent: {r:?}"));
    assert!(s["temperature"].is_number() && s["conditions"].is_string(), "{s}");
    // A JSON-string `args` works with a third-party server too.
    let r = gw.call("execute_tool", exec("get-sum", json!("{\"a\": 1, \"b\": 2}"))).await;
    assert_eq!(first_text(&r), "The sum of 1 and 2 is 3.", "{r:?}");

    let r = gw.call("execute_tool", exec("get-env", json!({}))).await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{r:?}");
    let r = gw.call("execute_tool", exec("no-such-tool", json!({}))).await;
    assert_eq!(error_code(&r).as_deref(), Some("TOOL_NOT_FOUND"), "{r:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn forwards_progress_of_the_long_running_operation() {
    let gw = start().await;
    let call = gw
        .client
        .start_call(
            "execute_tool",
            exec("trigger-long-running-operation", json!({"duration": 1, "steps": 4})),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let token = call.progress_token().clone();
    let r = call.result().await.unwrap();
    assert_eq!(error_code(&r), None, "{r:?}");
    assert_eq!(first_text(&r), "Long running operation completed. Duration: 1 seconds, Steps: 4.");
    let rec = gw.client.recorder();
    assert!(
        eventually(Duration::from_secs(3), || rec.progress_for(&token).len() == 4).await,
        "progress: {:?}",
        rec.progress()
    );
    let got = rec.progress_for(&token);
    let values: Vec<f64> = got.iter().map(|p| p.progress).collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0], "{got:?}");
    assert!(got.iter().all(|p| p.total == Some(4.0)), "{got:?}");
    assert_eq!(rec.progress().len(), 4, "{:?}", rec.progress());
    gw.client.close().await;
}

//! A first end-to-end pass: the real gateway over stdio in front of two fixture servers.

use crate::support::*;
use serde_json::json;

fn rules() -> serde_json::Value {
    json!({"agents": {
        "backend": {"allow": {"servers": ["notes", "media"], "tools": {"notes": ["echo", "add", "sleep"]}},
                    "deny": {"tools": {"notes": ["crash"]}}},
        "intern": {"allow": {"servers": ["notes"], "tools": {"notes": ["echo"]}}}
    }})
}

#[tokio::test]
async fn smoke() {
    let gw = GatewayUnderTest::start(
        &[("notes", fixture_server(&["--name", "notes"])), ("media", fixture_server(&["--name", "media"]))],
        &rules(),
        &[],
    )
    .await;
    let tools = gw.client.list_tools().await.unwrap();
    assert_eq!(tools.len(), META_TOOLS.len());
    let r = gw.call("list_servers", json!({"agent_id": "backend"})).await;
    assert_eq!(structured(&r)["servers"][0]["name"], "notes", "{r:?}");
    let r = gw.call("get_server_tools", json!({"agent_id": "backend", "server": "notes"})).await;
    let names: Vec<&str> =
        structured(&r)["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo", "add", "sleep"], "{r:?}");
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "backend", "server": "notes", "tool": "add", "args": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(r.structured_content, Some(json!({"sum": 5})), "{r:?}");
    let r = gw
        .call("execute_tool", json!({"agent_id": "intern", "server": "notes", "tool": "add", "args": {"a": 2, "b": 3}}))
        .await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{r:?}");
    let r = gw.call("get_gateway_status", json!({"agent_id": "backend"})).await;
    assert!(structured(&r)["policy"]["snapshot"].as_str().unwrap().starts_with("sha256:"), "{r:?}");
}

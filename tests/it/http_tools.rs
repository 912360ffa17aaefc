//! The four gateway tools over streamable HTTP behave exactly as over stdio: the same calls
//! against two gateways on the same configuration (one on stdio, one on HTTP) give the same
//! results. Also: progress is forwarded over HTTP, and stateless (protocol 2026-07-28) clients
//! that POST without a session are served by the same tools.

use std::time::Duration;

use crate::support::http::{HttpGateway, stateless_request};
use crate::support::*;
use serde_json::{Value, json};

fn servers() -> Vec<(&'static str, Value)> {
    vec![("notes", fixture_server(&["--name", "notes"])), ("media", fixture_server(&["--name", "media"]))]
}

fn rules() -> Value {
    json!({"agents": {
        "backend": {"allow": {"servers": ["notes", "media"], "tools": {"notes": ["*"]}},
                    "deny": {"tools": {"notes": ["crash", "hang", "close_stdout"]}}},
        "intern": {"allow": {"servers": ["notes"], "tools": {"notes": ["echo"]}}}
    }})
}

/// Every call of the comparison, in order (the order matters: `include_metadata` reports
/// whether a server has started).
fn calls() -> Vec<(&'static str, Value)> {
    let exec = |agent: &str, server: &str, tool: &str, args: Value| json!({"agent_id": agent, "server": server, "tool": tool, "args": args});
    vec![
        ("list_servers", json!({"agent_id": "backend"})),
        ("list_servers", json!({"agent_id": "intern"})),
        ("list_servers", json!({"agent_id": "backend", "include_metadata": true})),
        ("list_servers", json!({})),
        ("list_servers", json!({"agent_id": "nobody"})),
        ("list_servers", json!({"agent_id": "bad id!"})),
        ("list_servers", json!({"agent_id": "backend", "surprise": 1})),
        ("get_server_tools", json!({"agent_id": "backend", "server": "notes"})),
        ("get_server_tools", json!({"agent_id": "backend", "server": "notes", "names": "echo,add"})),
        ("get_server_tools", json!({"agent_id": "backend", "server": "notes", "names": ["structured", "nope"]})),
        ("get_server_tools", json!({"agent_id": "backend", "server": "notes", "pattern": "s*"})),
        ("get_server_tools", json!({"agent_id": "backend", "server": "notes", "max_schema_tokens": 120})),
        ("get_server_tools", json!({"agent_id": "intern", "server": "notes"})),
        ("get_server_tools", json!({"agent_id": "intern", "server": "media"})),
        ("get_server_tools", json!({"agent_id": "backend", "server": "nope"})),
        ("list_servers", json!({"agent_id": "backend", "include_metadata": true})),
        ("execute_tool", exec("backend", "notes", "add", json!({"a": 2, "b": 3}))),
        ("execute_tool", exec("backend", "notes", "echo", json!({"text": "héllo"}))),
        ("execute_tool", exec("backend", "notes", "structured", json!({"value": {"x": [1, 2, null]}}))),
        ("execute_tool", exec("backend", "notes", "image", json!({}))),
        ("execute_tool", exec("backend", "notes", "fail", json!({"message": "boom"}))),
        ("execute_tool", exec("backend", "notes", "crash", json!({}))),
        ("execute_tool", exec("backend", "notes", "no_such_tool", json!({}))),
        ("execute_tool", exec("backend", "notes", "add", json!("{\"a\": 1, \"b\": 1}"))),
        ("execute_tool", exec("backend", "notes", "add", json!([1, 2]))),
        ("execute_tool", exec("backend", "media", "echo", json!({"text": "m"}))),
        ("execute_tool", exec("intern", "notes", "add", json!({"a": 1, "b": 1}))),
        ("execute_tool", exec("intern", "media", "echo", json!({"text": "x"}))),
        (
            "execute_tool",
            json!({"agent_id": "backend", "server": "notes", "tool": "add", "args": {"a": 1, "b": 2}, "timeout_ms": -5}),
        ),
        (
            "execute_tool",
            json!({"agent_id": "backend", "server": "notes", "tool": "sleep", "args": {"ms": 5000}, "timeout_ms": 100}),
        ),
        ("execute_tool", json!({"agent_id": "backend", "server": "notes"})),
    ]
}

/// The parts of `get_gateway_status` that must agree (timestamps and latencies may not).
fn status_essentials(status: &Value) -> Value {
    let servers: Vec<Value> = status["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| json!({"name": s["name"], "status": s["status"], "transport": s["transport"], "calls": s["calls"]}))
        .collect();
    let ops: Vec<Value> = status["metrics"]["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| json!({"operation": o["operation"], "count": o["count"], "errors": o["errors"]}))
        .collect();
    let mut policy = status["policy"].clone();
    policy.as_object_mut().expect("policy").remove("loaded_at");
    json!({
        "policy": policy,
        "servers": servers,
        "operations": ops,
        "reloads": [status["reload"]["rules"]["attempts"], status["reload"]["mcp_config"]["attempts"]],
        "keys": status.as_object().expect("status").keys().collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_behaves_as_over_stdio() {
    let servers = servers();
    let rules = rules();
    let (stdio, http) =
        tokio::join!(GatewayUnderTest::start(&servers, &rules, &[]), HttpGateway::start(&servers, rules.clone()));
    let client = http.client(None).await;

    let stdio_tools = stdio.client.list_tools().await.expect("tools/list over stdio");
    let http_tools = client.list_tools().await.expect("tools/list over HTTP");
    assert_eq!(serde_json::to_value(&http_tools).unwrap(), serde_json::to_value(&stdio_tools).unwrap());
    assert_eq!(http_tools.len(), META_TOOLS.len());

    for (tool, args) in calls() {
        let (a, b) = tokio::join!(stdio.client.call_tool(tool, args.clone()), client.call_tool(tool, args.clone()));
        let a = serde_json::to_value(a.unwrap_or_else(|e| panic!("{tool} {args} over stdio: {e}"))).unwrap();
        let b = serde_json::to_value(b.unwrap_or_else(|e| panic!("{tool} {args} over HTTP: {e}"))).unwrap();
        assert_eq!(b, a, "{tool} {args}: HTTP (left) differs from stdio (right)");
    }

    // Spot checks, so that "the same" is not "the same and both wrong".
    let r = client
        .call_tool(
            "execute_tool",
            json!({"agent_id": "backend", "server": "notes", "tool": "add", "args": {"a": 20, "b": 22}}),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content, Some(json!({"sum": 42})), "{r:?}");
    let r = client
        .call_tool(
            "execute_tool",
            json!({"agent_id": "backend", "server": "notes", "tool": "fail", "args": {"message": "boom"}}),
        )
        .await
        .unwrap();
    assert_eq!((r.is_error, error_code(&r), first_text(&r)), (Some(true), None, "boom".to_owned()), "{r:?}");
    let r = client
        .call_tool("execute_tool", json!({"agent_id": "intern", "server": "notes", "tool": "add", "args": {}}))
        .await
        .unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{r:?}");
    let r = client.call_tool("list_servers", json!({})).await.unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{r:?}");

    let a = stdio.call("get_gateway_status", json!({"agent_id": "backend"})).await;
    let b = client.call_tool("get_gateway_status", json!({"agent_id": "backend"})).await.unwrap();
    let (a, b) = (status_essentials(structured(&a)), status_essentials(structured(&b)));
    // The HTTP side made the spot checks above, so compare before them by operation names only.
    assert_eq!(b["policy"], a["policy"]);
    assert_eq!(b["keys"], a["keys"]);
    assert_eq!(b["reloads"], a["reloads"]);
    let names = |v: &Value| v["servers"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(&b), names(&a));
    assert!(
        b["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["operation"] == "execute_tool" && o["count"].as_u64() > Some(10)),
        "{b}"
    );
    client.close().await;
}

#[tokio::test]
async fn progress_is_forwarded_over_http() {
    let http = HttpGateway::start(&servers(), rules()).await;
    let client = http.client(None).await;
    let args =
        json!({"agent_id": "backend", "server": "notes", "tool": "progress", "args": {"steps": 3, "interval_ms": 5}});
    let (result, progress) = client.call_with_progress("execute_tool", args, 3, Duration::from_secs(5)).await;
    let result = result.expect("execute_tool progress");
    assert_eq!(first_text(&result), "done 3", "{result:?}");
    let steps: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert_eq!(steps, [1.0, 2.0, 3.0], "{progress:?}");
    client.close().await;
}

#[tokio::test]
async fn stateless_clients_are_served_without_a_session() {
    let http = HttpGateway::start(&servers(), rules()).await;
    let stateless = [("mcp-protocol-version", "2026-07-28")];

    let list = stateless_request(1, "tools/list", json!({}));
    let r = http.post_mcp(&[stateless[0], ("mcp-method", "tools/list")], &list).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("mcp-session-id").is_none(), "a stateless request must not open a session: {r:?}");
    let messages = r.messages();
    let tools = messages.last().expect("a response")["result"]["tools"].as_array().expect("tools").clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, META_TOOLS);

    let call = |id, name: &str, arguments: Value| {
        stateless_request(id, "tools/call", json!({"name": name, "arguments": arguments}))
    };
    let r = http
        .post_mcp(
            &[stateless[0], ("mcp-method", "tools/call"), ("mcp-name", "list_servers")],
            &call(2, "list_servers", json!({"agent_id": "intern"})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let result = r.result();
    assert_eq!(result["structuredContent"], json!({"servers": [{"name": "notes", "transport": "stdio"}]}), "{r:?}");

    let r = http
        .post_mcp(
            &[stateless[0], ("mcp-method", "tools/call"), ("mcp-name", "execute_tool")],
            &call(
                3,
                "execute_tool",
                json!({"agent_id": "backend", "server": "notes", "tool": "add", "args": {"a": 4, "b": 5}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let result = r.result();
    assert_eq!(result["structuredContent"], json!({"sum": 9}), "{r:?}");

    let r = http
        .post_mcp(
            &[stateless[0], ("mcp-method", "tools/call"), ("mcp-name", "execute_tool")],
            &call(4, "execute_tool", json!({"agent_id": "intern", "server": "notes", "tool": "add", "args": {}})),
        )
        .await;
    let result = r.result();
    assert_eq!(result["isError"], true, "{r:?}");
    assert_eq!(result["structuredContent"]["error"]["code"], "DENIED_BY_POLICY", "{r:?}");

    // A session client shares the same downstream connection: the notes server started by
    // the stateless calls above is ready, not started again.
    let client = http.client(None).await;
    let r = client.call_tool("list_servers", json!({"agent_id": "backend", "include_metadata": true})).await.unwrap();
    assert_eq!(structured(&r)["servers"][0]["status"], "ready", "{r:?}");
    let r = client.call_tool("get_gateway_status", json!({"agent_id": "backend"})).await.unwrap();
    let notes = &structured(&r)["servers"][0];
    assert_eq!((notes["name"].as_str(), notes["restarts"].as_u64()), (Some("notes"), Some(0)), "{r:?}");
    client.close().await;
}

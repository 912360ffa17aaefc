//! Requests for input during a call (elicitation, sampling, roots), across both protocol
//! eras on both sides of the gateway (issue 13): a 2025 server asks with a request, a
//! 2026-07-28 server with an input round; a 2025 client takes requests, a 2026-07-28 client
//! retries with answers. Every pair works, the answers reach the waiting server, and states
//! that are forged, another agent's, replayed or unanswered are refused.

use serde_json::{Value, json};

use crate::support::raw::RawGateway;
use crate::support::*;

/// A fixture that offers `ask`, speaking `era` (`legacy` or `2026-07-28`).
fn asking(era: &str) -> Value {
    fixture_server(&["--name", "s", "--input-tools", "--protocol", era])
}

/// The `_meta` of a 2026-07-28 request from a client that can answer everything.
fn modern_meta(caps: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps,
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "1"}
    })
}

fn all_caps() -> Value {
    json!({"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {}})
}

/// `execute_tool` of `ask` as a 2026-07-28 request, with `extra` params members.
fn modern_ask(kind: &str, extra: Value) -> Value {
    let mut params = json!({
        "name": "execute_tool",
        "arguments": {"agent_id": "dev", "server": "s", "tool": "ask", "args": {"kind": kind}},
        "_meta": modern_meta(all_caps())
    });
    if let (Some(p), Value::Object(extra)) = (params.as_object_mut(), extra) {
        p.extend(extra);
    }
    params
}

/// The answer the test client gives to each kind, as the fixture reports it.
fn expected(kind: &str) -> &'static str {
    match kind {
        "elicitation" => "\"name\":\"Ada\"",
        "sampling" => "hello from the test client",
        _ => "file:///tmp/test-root",
    }
}

#[tokio::test]
async fn a_2025_client_answers_servers_of_both_eras() {
    for era in ["legacy", "2026-07-28"] {
        let files = TempFiles::new();
        let spawn = gateway_spawn(&files, &[("s", asking(era))], &allow_all(), &[]);
        let gw = McpClient::spawn_answering(&spawn).await;
        for kind in ["elicitation", "sampling", "roots"] {
            let r = gw.call_tool("execute_tool", exec("s", "ask", json!({"kind": kind}))).await.unwrap();
            let text = first_text(&r);
            assert!(text.starts_with("answered: ") && text.contains(expected(kind)), "{era} {kind}: {r:?}");
        }
        assert_eq!(gw.recorder().asked(), ["elicitation/create", "sampling/createMessage", "roots/list"], "{era}");
        gw.close().await;
    }
}

#[tokio::test]
async fn a_2025_client_without_the_capability_makes_the_server_get_the_error() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", asking("legacy"))], &allow_all(), &[]);
    let gw = McpClient::spawn(&spawn).await;
    let r = gw.call_tool("execute_tool", exec("s", "ask", json!({"kind": "elicitation"}))).await.unwrap();
    assert!(first_text(&r).contains("the client did not answer"), "{r:?}");
    assert!(first_text(&r).contains("does not support `elicitation/create`"), "{r:?}");
    assert!(gw.recorder().asked().is_empty(), "the client was never asked");
    gw.close().await;
}

#[tokio::test]
async fn a_2026_client_answers_servers_of_both_eras_by_retrying() {
    for era in ["legacy", "2026-07-28"] {
        let files = TempFiles::new();
        let spawn = gateway_spawn(&files, &[("s", asking(era))], &allow_all(), &[]);
        let mut gw = RawGateway::start(&spawn).await;
        for kind in ["elicitation", "sampling", "roots"] {
            let first = gw.request("tools/call", modern_ask(kind, json!({}))).await;
            let round = &first["result"];
            assert_eq!(round["resultType"], "input_required", "{era} {kind}: {first}");
            let requests = round["inputRequests"].as_object().expect("inputRequests");
            assert_eq!(requests.len(), 1, "{first}");
            let (key, request) = requests.iter().next().unwrap();
            let method = request["method"].as_str().unwrap();
            let answer = match method {
                "elicitation/create" => json!({"action": "accept", "content": {"name": "Ada"}}),
                "sampling/createMessage" => {
                    json!({"role": "assistant", "content": {"type": "text", "text": "hello from the test client"}, "model": "m"})
                }
                "roots/list" => json!({"roots": [{"uri": "file:///tmp/test-root"}]}),
                other => panic!("{era} {kind}: unexpected request {other}"),
            };
            let state = round["requestState"].as_str().expect("requestState");
            assert!(state.starts_with("mcpgw1."), "the gateway's own state: {state}");
            let retry = modern_ask(kind, json!({"inputResponses": {key: answer}, "requestState": state}));
            let done = gw.request("tools/call", retry).await;
            let text = done["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned();
            assert!(text.contains(expected(kind)), "{era} {kind}: {done}");
            assert_eq!(done["result"]["resultType"], "complete", "{done}");
        }
    }
}

#[tokio::test]
async fn bad_states_are_refused_and_the_gateway_keeps_serving() {
    let files = TempFiles::new();
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["*"]}}, "eve": {"allow": {"servers": ["*"]}}}});
    let spawn = gateway_spawn(&files, &[("s", asking("legacy"))], &rules, &[]);
    let mut gw = RawGateway::start(&spawn).await;
    let first = gw.request("tools/call", modern_ask("elicitation", json!({}))).await;
    let state = first["result"]["requestState"].as_str().unwrap().to_owned();
    let answer = json!({"mcpgw-0": {"action": "accept", "content": {"name": "Ada"}}});
    let refused = |r: &Value, why: &str| {
        let e = &r["result"]["structuredContent"]["error"];
        assert_eq!(e["code"], "INVALID_ARGUMENT", "{why}: {r}");
        e["message"].as_str().unwrap_or_default().to_owned()
    };
    // Another agent's retry with this state.
    let mut eve = modern_ask("elicitation", json!({"inputResponses": answer, "requestState": state}));
    eve["arguments"]["agent_id"] = json!("eve");
    let r = gw.request("tools/call", eve).await;
    assert!(refused(&r, "another agent").contains("another agent"), "{r}");
    // A state altered by one character.
    let mut tampered = state.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let r = gw
        .request("tools/call", modern_ask("elicitation", json!({"inputResponses": answer, "requestState": tampered})))
        .await;
    assert!(refused(&r, "tampered").contains("forged") || refused(&r, "tampered").contains("issued"), "{r}");
    // Answers without a state, and a state made up.
    let r = gw.request("tools/call", modern_ask("elicitation", json!({"inputResponses": answer}))).await;
    refused(&r, "no state");
    let r = gw
        .request("tools/call", modern_ask("elicitation", json!({"inputResponses": answer, "requestState": "made-up"})))
        .await;
    refused(&r, "made up");
    // Answers for a request that was never made: the parked call is not resumed with them.
    let wrong = json!({"not-asked": {"action": "accept", "content": {"name": "x"}}});
    let r = gw
        .request("tools/call", modern_ask("elicitation", json!({"inputResponses": wrong, "requestState": state})))
        .await;
    assert!(refused(&r, "unasked").contains("no answer for `mcpgw-0`"), "{r}");
    // That retry used the state up: the real answer now comes too late.
    let r = gw
        .request("tools/call", modern_ask("elicitation", json!({"inputResponses": answer, "requestState": state})))
        .await;
    assert!(refused(&r, "replayed").contains("no longer waiting"), "{r}");
    // A new round still works end to end.
    let first = gw.request("tools/call", modern_ask("elicitation", json!({}))).await;
    let state = first["result"]["requestState"].as_str().unwrap().to_owned();
    let done = gw
        .request("tools/call", modern_ask("elicitation", json!({"inputResponses": answer, "requestState": state})))
        .await;
    assert!(done["result"]["content"][0]["text"].as_str().unwrap().contains("Ada"), "{done}");
    gw.assert_answering("bad states").await;
}

#[tokio::test]
async fn a_2026_client_without_the_capability_is_never_asked() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", asking("legacy"))], &allow_all(), &[]);
    let mut gw = RawGateway::start(&spawn).await;
    let mut params = modern_ask("sampling", json!({}));
    params["_meta"] = modern_meta(json!({"elicitation": {}}));
    let r = gw.request("tools/call", params).await;
    assert_ne!(r["result"]["resultType"], "input_required", "{r}");
    let text = r["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("does not support `sampling/createMessage`"), "{r}");
}

#[tokio::test]
async fn a_server_entry_can_refuse_to_forward_sampling() {
    let mut server = asking("legacy");
    server["forward"] = json!({"sampling": false});
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", server)], &allow_all(), &[]);
    let gw = McpClient::spawn_answering(&spawn).await;
    let r = gw.call_tool("execute_tool", exec("s", "ask", json!({"kind": "sampling"}))).await.unwrap();
    assert!(first_text(&r).contains("does not forward `sampling/createMessage`"), "{r:?}");
    let r = gw.call_tool("execute_tool", exec("s", "ask", json!({"kind": "elicitation"}))).await.unwrap();
    assert!(first_text(&r).contains("Ada"), "elicitation still goes through: {r:?}");
    assert_eq!(gw.recorder().asked(), ["elicitation/create"], "the client was never asked to sample");
    gw.close().await;
}

#[tokio::test]
async fn an_answer_after_the_calls_budget_is_refused() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", asking("legacy"))], &allow_all(), &[]);
    let mut gw = RawGateway::start(&spawn).await;
    let mut params = modern_ask("elicitation", json!({}));
    params["arguments"]["timeout_ms"] = json!(300);
    let first = gw.request("tools/call", params.clone()).await;
    let state = first["result"]["requestState"].as_str().expect("an input round").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let answer = json!({"mcpgw-0": {"action": "accept", "content": {"name": "Ada"}}});
    params
        .as_object_mut()
        .unwrap()
        .extend([("inputResponses".to_owned(), answer), ("requestState".to_owned(), json!(state))]);
    let r = gw.request("tools/call", params).await;
    let e = &r["result"]["structuredContent"]["error"];
    assert_eq!(e["code"], "INVALID_ARGUMENT", "{r}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("expired") || message.contains("no longer waiting"), "{r}");
    gw.assert_answering("a late answer").await;
}

#[tokio::test]
async fn over_http_2026_requests_need_no_session_and_headers_must_match() {
    let servers = [("s", fixture_server(&["--name", "s"]))];
    let gw = crate::support::http::HttpGateway::start(&servers, allow_all()).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "execute_tool",
        "arguments": {"agent_id": "dev", "server": "s", "tool": "echo", "args": {"text": "stateless"}},
        "_meta": modern_meta(json!({}))}});
    let good = [("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "execute_tool")];
    let r = gw.post_mcp(&good, &body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.result()["content"][0]["text"], "stateless", "{r:?}");
    assert_eq!(r.result()["resultType"], "complete", "{r:?}");
    assert!(r.header("mcp-session-id").is_none(), "no session for 2026-07-28: {r:?}");
    // `execute_tool` declares `server` and `tool` as `Mcp-Param-*` headers: sent, they must agree.
    let definitions = gw
        .post_mcp(
            &[("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list")],
            &json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": modern_meta(json!({}))}}),
        )
        .await;
    let execute =
        definitions.result()["tools"].as_array().unwrap().iter().find(|t| t["name"] == "execute_tool").cloned();
    let properties = &execute.expect("execute_tool is listed")["inputSchema"]["properties"];
    assert_eq!(
        (&properties["server"]["x-mcp-header"], &properties["tool"]["x-mcp-header"]),
        (&json!("Server"), &json!("Tool"))
    );
    let params = [good.as_slice(), &[("mcp-param-server", "s"), ("mcp-param-tool", "=?base64?ZWNobw==?=")]].concat();
    let r = gw.post_mcp(&params, &body).await;
    assert_eq!(r.result()["content"][0]["text"], "stateless", "matching Mcp-Param-* headers: {r:?}");
    for (what, headers) in [
        ("Mcp-Param-Server", [good.as_slice(), &[("mcp-param-server", "other")]].concat()),
        ("Mcp-Param-Tool", [good.as_slice(), &[("mcp-param-tool", "echo2")]].concat()),
        (
            "a doubled Mcp-Param-Tool",
            [good.as_slice(), &[("mcp-param-tool", "echo"), ("mcp-param-tool", "echo")]].concat(),
        ),
        (
            "Mcp-Name",
            vec![("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "list_servers")],
        ),
        (
            "Mcp-Method",
            vec![("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list"), ("mcp-name", "execute_tool")],
        ),
        ("a missing Mcp-Method", vec![("mcp-protocol-version", "2026-07-28"), ("mcp-name", "execute_tool")]),
        (
            "MCP-Protocol-Version",
            vec![("mcp-protocol-version", "2025-06-18"), ("mcp-method", "tools/call"), ("mcp-name", "execute_tool")],
        ),
    ] {
        let r = gw.post_mcp(&headers, &body).await;
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert_eq!(r.json()["error"]["code"], -32020, "{what}: {r:?}");
    }
    assert_eq!(gw.get("/health", &[]).await.status, 200);
}

#[tokio::test]
async fn a_servers_log_messages_reach_the_caller_of_the_call() {
    // A 2025 client hears every level until it sets one; with servers of both eras.
    for era in ["legacy", "2026-07-28"] {
        let files = TempFiles::new();
        let spawn =
            gateway_spawn(&files, &[("s", fixture_server(&["--name", "s", "--protocol", era]))], &allow_all(), &[]);
        let mut gw = RawGateway::start(&spawn).await;
        gw.clear_stash();
        let r = gw.call("execute_tool", exec("s", "storm", json!({"count": 3}))).await;
        assert_eq!(r["result"]["content"][0]["text"], "ok", "{r}");
        let logs: Vec<Value> = gw
            .clear_stash()
            .into_iter()
            .filter(|m| m["method"] == "notifications/message")
            .map(|m| m["params"]["data"]["storm"].clone())
            .collect();
        assert_eq!(logs, [json!(1), json!(2), json!(3)], "{era}: the logs come before the result, in order");
        // With a level set, quieter messages stay away.
        let r = gw.request("logging/setLevel", json!({"level": "error"})).await;
        assert_eq!(r["result"], json!({}), "{r}");
        gw.call("execute_tool", exec("s", "storm", json!({"count": 3}))).await;
        assert!(gw.clear_stash().iter().all(|m| m["method"] != "notifications/message"), "{era}: info below error");
    }
    // A 2026-07-28 client hears them only when its request asks, at its level.
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", fixture_server(&["--name", "s"]))], &allow_all(), &[]);
    let mut gw = RawGateway::start(&spawn).await;
    let storm = |meta: Value| json!({"name": "execute_tool", "arguments": {"agent_id": "dev", "server": "s", "tool": "storm", "args": {"count": 3}}, "_meta": meta});
    gw.clear_stash();
    let r = gw.request("tools/call", storm(modern_meta(json!({})))).await;
    assert_eq!(r["result"]["content"][0]["text"], "ok", "{r}");
    assert!(gw.clear_stash().iter().all(|m| m["method"] != "notifications/message"), "logs without asking");
    let mut meta = modern_meta(json!({}));
    meta["io.modelcontextprotocol/logLevel"] = json!("info");
    let r = gw.request("tools/call", storm(meta)).await;
    assert_eq!(r["result"]["content"][0]["text"], "ok", "{r}");
    let logs = gw.clear_stash().into_iter().filter(|m| m["method"] == "notifications/message").count();
    assert_eq!(logs, 3, "the logs the request asked for");
}

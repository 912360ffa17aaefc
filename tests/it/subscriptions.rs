//! Resource subscriptions and list changes through the gateway (DESIGN section 12), in front of
//! server-everything, which sends `notifications/resources/updated` for the resources a client
//! subscribed to once `toggle-subscriber-updates` is on: a legacy client's
//! `resources/subscribe`, a 2026-07-28 client's `subscriptions/listen`, and two agents over
//! HTTP, of whom only the subscriber hears the updates.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::gateway::audited_operations;
use crate::support::http::HttpGatewayBuilder;
use crate::support::raw::{RawGateway, rpc_error_code};
use crate::support::*;

const DOC: &str = "mcpgw://everything/demo://resource/static/document/architecture.md";
const DENIED: &str = "mcpgw://everything/demo://resource/static/document/features.md";

/// `dev` may use server-everything except the resource `features.md`.
fn rules() -> Value {
    json!({"agents": {"dev": {
        "allow": {"servers": ["everything"]},
        "deny": {"resources": {"*": ["*features.md"]}}
    }}})
}

fn toggle() -> Value {
    json!({"server": "everything", "tool": "toggle-subscriber-updates", "args": {}})
}

/// The messages read until one matches `want`, within `timeout`.
async fn until(gw: &mut RawGateway, timeout: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = gw.clear_stash().into_iter().find(&want) {
            return Some(found);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = gw.next(left).await?;
        if want(&msg) {
            return Some(msg);
        }
    }
}

#[tokio::test]
async fn a_legacy_client_subscribes_hears_updates_under_the_gateways_uri_and_unsubscribes() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("everything", everything_server())], &rules(), &["--agent", "dev"]);
    let mut gw = RawGateway::start(&spawn).await;
    let caps = &gw.initialize_result()["capabilities"];
    assert_eq!(caps["resources"]["subscribe"], true, "{caps}");
    assert_eq!(caps["prompts"]["listChanged"], true, "{caps}");
    let r = gw.request("resources/subscribe", json!({"uri": DOC})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    // Denied, existing or not; unknown servers and missing URIs: clear errors.
    for (uri, says) in [
        (json!(DENIED), "DENIED_BY_POLICY"),
        (json!("mcpgw://everything/demo://resource/static/document/no-such-features.md"), "DENIED_BY_POLICY"),
        (json!("mcpgw://nowhere/x://y"), "DENIED_BY_POLICY"),
        (json!(7), "needs a string `uri`"),
    ] {
        let r = gw.request("resources/subscribe", json!({"uri": uri})).await;
        assert!(rpc_error_code(&r).is_some(), "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains(says), "{says}: {r}");
    }
    let r = gw.call("execute_tool", toggle()).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let updated = until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/resources/updated").await;
    let updated = updated.expect("an update of the subscribed resource");
    assert_eq!(updated["params"]["uri"], DOC, "{updated}");
    let r = gw.request("resources/unsubscribe", json!({"uri": DOC})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = gw.request("resources/unsubscribe", json!({"uri": DOC})).await;
    assert!(r["error"]["message"].as_str().unwrap().contains("no subscription"), "{r}");
    // A reload may change every list: the client hears it.
    files.write_json("rules.json", &json!({"agents": {"dev": {"allow": {"servers": ["everything"]}}}}));
    let changed =
        until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/resources/list_changed").await;
    assert!(changed.is_some(), "a reload announces the resource list may have changed");
    // Subscriptions are audited like reads.
    let subs = audited_operations(&files.file_path("audit.jsonl"), "resources/subscribe", 3).await;
    assert_eq!(subs[0]["decision"], "allow", "{subs:?}");
    assert_eq!(subs[1]["outcome"], "DENIED_BY_POLICY", "{subs:?}");
}

/// The `_meta` of a 2026-07-28 request.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "1"}
    })
}

#[tokio::test]
async fn a_2026_client_listens_and_hears_only_what_it_asked_for_stamped_with_its_stream() {
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("everything", everything_server())], &rules(), &["--agent", "dev"]);
    let mut gw = RawGateway::start(&spawn).await;
    // A denied resource fails the whole request.
    let denied = json!({"notifications": {"resourceSubscriptions": [DENIED]}, "_meta": modern_meta()});
    let r = gw.request("subscriptions/listen", denied).await;
    assert!(r["error"]["message"].as_str().unwrap().starts_with("DENIED_BY_POLICY"), "{r}");
    let r = gw.request("subscriptions/listen", json!({"_meta": modern_meta()})).await;
    assert!(r["error"]["message"].as_str().unwrap().contains("`notifications`"), "{r}");

    let listen = json!({"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": true, "promptsListChanged": true, "resourceSubscriptions": [DOC]},
        "_meta": modern_meta()
    }});
    gw.send_line(listen.to_string().as_bytes()).await;
    let ack = until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/subscriptions/acknowledged")
        .await
        .expect("the stream is acknowledged");
    // Meta mode's tools never change, so that part is not honored; resource lists were not asked.
    assert_eq!(
        ack["params"],
        json!({"notifications": {"promptsListChanged": true, "resourceSubscriptions": [DOC]},
               "_meta": {"io.modelcontextprotocol/subscriptionId": "listen-1"}}),
        "{ack}"
    );
    let call = json!({"name": "execute_tool", "arguments": toggle(), "_meta": modern_meta()});
    let r = gw.request("tools/call", call).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let updated = until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/resources/updated")
        .await
        .expect("an update on the stream");
    assert_eq!(
        updated["params"],
        json!({"uri": DOC, "_meta": {"io.modelcontextprotocol/subscriptionId": "listen-1"}}),
        "{updated}"
    );
    // A reload: prompts were asked for, resource lists were not.
    files.write_json("rules.json", &json!({"agents": {"dev": {"allow": {"servers": ["everything"]}}}}));
    // (This client also initialized, so it hears the legacy, unstamped notices too.)
    let on_stream = |m: &Value, method: &str| {
        m["method"] == method && m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1"
    };
    let prompts = until(&mut gw, Duration::from_secs(20), |m| on_stream(m, "notifications/prompts/list_changed")).await;
    assert!(prompts.is_some(), "the prompt list change, on the stream");
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "listen-1"}});
    gw.send_line(cancel.to_string().as_bytes()).await;
    let end = until(&mut gw, Duration::from_secs(10), |m| m["id"] == "listen-1").await.expect("the stream ends");
    assert_eq!(end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "listen-1", "{end}");
    let seen = gw.clear_stash();
    assert!(
        !seen.iter().any(|m| on_stream(m, "notifications/resources/list_changed")),
        "no resource list change on a stream that did not ask: {seen:?}"
    );
}

/// Two agents over HTTP, one server: the subscriber hears the updates of its resource; the
/// other agent, who may not use that server, may not subscribe and hears none of them.
#[tokio::test]
async fn over_http_only_the_subscribers_session_hears_the_updates() {
    let rules = json!({"agents": {
        "dev": {"allow": {"servers": ["everything"]}},
        "other": {"allow": {"servers": ["fx"]}}
    }});
    let servers = [("everything", everything_server()), ("fx", fixture_server(&["--name", "fx"]))];
    let gw = HttpGatewayBuilder::new(&servers, rules)
        .gateway_section(json!({"http": {"tokens": [{"agent": "dev", "token": "token-of-agent-dev"}, {"agent": "other", "token": "token-of-agent-other"}]}}))
        .start()
        .await;
    let dev = McpClient::connect_http_with(
        &gw.url(),
        &[("authorization", "Bearer token-of-agent-dev")],
        Recorder::answering_as("dev"),
    )
    .await
    .unwrap();
    let other = McpClient::connect_http_with(
        &gw.url(),
        &[("authorization", "Bearer token-of-agent-other")],
        Recorder::answering_as("other"),
    )
    .await
    .unwrap();
    #[allow(deprecated, reason = "resources/subscribe is the legacy way, and this client is legacy")]
    dev.peer().subscribe(rmcp::model::SubscribeRequestParams::new(DOC)).await.unwrap();
    #[allow(deprecated, reason = "as above")]
    let refused = other.peer().subscribe(rmcp::model::SubscribeRequestParams::new(DOC)).await;
    assert!(refused.is_err(), "the other agent may not use the server: {refused:?}");
    let r = dev.call_tool("execute_tool", toggle()).await.unwrap();
    assert!(r.is_error != Some(true), "{r:?}");
    assert!(
        eventually(Duration::from_secs(20), || dev.recorder().updated().iter().any(|u| u == DOC)).await,
        "the subscriber hears its update: {:?}\n{}",
        dev.recorder().updated(),
        gw.stderr()
    );
    // The relay decides for every session in one pass, so by now it has passed over the
    // other agent's session too.
    assert!(other.recorder().updated().is_empty(), "{:?}", other.recorder().updated());
    dev.close().await;
    other.close().await;
}

/// A server on the official Python SDK that the gateway speaks 2026-07-28 with and that
/// announces its changes only on `subscriptions/listen` streams: the gateway listens, so its
/// clients, legacy ones included, hear the updates they subscribed to and every list change
/// (the tool list's in direct mode), and read the new state.
#[tokio::test]
async fn a_2026_server_is_heard_on_the_stream_the_gateway_listens_on() {
    const NOTE: &str = "mcpgw://notes/note://today";
    let files = TempFiles::new();
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["notes"]}}}});
    let servers = [("notes", python_sdk_server("live_notes.py"))];
    let spawn = gateway_spawn(&files, &servers, &rules, &["--agent", "dev", "--expose", "both"]);
    let mut gw = RawGateway::start(&spawn).await;
    let r = gw.request("resources/subscribe", json!({"uri": NOTE})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let edit = json!({"server": "notes", "tool": "edit_note", "args": {"text": "second"}});
    let r = gw.call("execute_tool", edit).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let updated = until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/resources/updated").await;
    assert_eq!(updated.expect("the update of the subscribed note")["params"]["uri"], NOTE);
    let r = gw.request("resources/read", json!({"uri": NOTE})).await;
    assert_eq!(r["result"]["contents"][0]["text"], "second", "{r}");
    let r = gw.call("get_gateway_status", json!({})).await;
    assert_eq!(r["result"]["structuredContent"]["servers"][0]["protocol_version"], "2026-07-28", "{r}");

    let r = gw.call("execute_tool", json!({"server": "notes", "tool": "add_prompt", "args": {}})).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let changed =
        until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/prompts/list_changed").await;
    assert!(changed.is_some(), "the prompt list change");
    let r = gw.request("prompts/list", json!({})).await;
    let prompts: Vec<&str> =
        r["result"]["prompts"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(prompts, ["notes__greet"], "{r}");

    let r = gw.call("notes__add_tool", json!({})).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let changed = until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/tools/list_changed").await;
    assert!(changed.is_some(), "the tool list change, in direct mode");
    let r = gw.request("tools/list", json!({})).await;
    let tools: Vec<&str> = r["result"]["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(tools.contains(&"notes__extra"), "{tools:?}");

    // A restarted server is listened to again, for the same note.
    let r = gw.call("execute_tool", json!({"server": "notes", "tool": "pid", "args": {}})).await;
    let pid = r["result"]["structuredContent"]["result"].as_u64().expect("the server's pid");
    let killed = std::process::Command::new("kill").arg(pid.to_string()).status().expect("run kill");
    assert!(killed.success());
    gw.clear_stash();
    let edit = json!({"server": "notes", "tool": "edit_note", "args": {"text": "third"}});
    let mut edited = false;
    for _ in 0..40 {
        let r = gw.call("execute_tool", edit.clone()).await;
        if r["result"]["isError"] != true {
            edited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(edited, "the server came back");
    let updated = until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/resources/updated").await;
    assert_eq!(updated.expect("the update after the restart")["params"]["uri"], NOTE);

    // A server that ends its stream is listened to again.
    let r = gw.call("execute_tool", json!({"server": "notes", "tool": "end_streams", "args": {}})).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let mut heard = false;
    for n in 0..40 {
        let edit = json!({"server": "notes", "tool": "edit_note", "args": {"text": format!("edit {n}")}});
        let r = gw.call("execute_tool", edit).await;
        assert!(r["result"]["isError"] != true, "{r}");
        let is_update = |m: &Value| m["method"] == "notifications/resources/updated";
        if until(&mut gw, Duration::from_millis(250), is_update).await.is_some() {
            heard = true;
            break;
        }
    }
    assert!(heard, "no update after the server ended its stream");
}

/// How many `subscriptions/listen` streams the live-notes server at `addr` has open, asked
/// directly (2026-07-28 over HTTP, no gateway).
async fn open_streams(addr: std::net::SocketAddr) -> u64 {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "streams", "arguments": {}, "_meta": modern_meta()}});
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "streams")
        .body(body.to_string())
        .send()
        .await
        .expect("the server answers");
    let text = resp.text().await.expect("a body");
    let json = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or(&text);
    let answer: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"));
    answer["result"]["structuredContent"]["result"].as_u64().unwrap_or_else(|| panic!("{answer}"))
}

/// The same over HTTP: the gateway's stream to the server is a POST whose event stream stays
/// open, and the updates it carries reach the subscriber. When a reload takes the server out,
/// the gateway closes that stream rather than leave it reading.
#[tokio::test]
async fn over_http_a_2026_servers_stream_is_one_long_lived_post() {
    const NOTE: &str = "mcpgw://notes/note://today";
    let entry = python_sdk_server("live_notes.py");
    let addr = free_port();
    let spawn = Spawn::new(entry["command"].as_str().unwrap())
        .arg(entry["args"][0].as_str().unwrap())
        .args(["--http", &addr.port().to_string()]);
    let _server = listening(spawn, "live_notes.py", addr).await;
    let files = TempFiles::new();
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["notes"]}}}});
    let servers = [("notes", json!({"url": format!("http://{addr}/mcp")}))];
    let spawn = gateway_spawn(&files, &servers, &rules, &["--agent", "dev"]);
    let mut gw = RawGateway::start(&spawn).await;
    let r = gw.request("resources/subscribe", json!({"uri": NOTE})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = gw.call("get_gateway_status", json!({})).await;
    assert_eq!(r["result"]["structuredContent"]["servers"][0]["protocol_version"], "2026-07-28", "{r}");
    for text in ["second", "third"] {
        let edit = json!({"server": "notes", "tool": "edit_note", "args": {"text": text}});
        let r = gw.call("execute_tool", edit).await;
        assert!(r["result"]["isError"] != true, "{r}");
        let updated =
            until(&mut gw, Duration::from_secs(20), |m| m["method"] == "notifications/resources/updated").await;
        assert_eq!(updated.expect("the update of the subscribed note")["params"]["uri"], NOTE);
    }
    assert_eq!(open_streams(addr).await, 1, "the gateway's one stream");
    files.write(".mcp.json", mcp_json(&[("fx", fixture_server(&[]))]));
    let mut open = 1;
    for _ in 0..100 {
        open = open_streams(addr).await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "the stream of a server the reload took out is closed");
}

//! The gateway's four tools and their result shapes (DESIGN.md section 5), through the real
//! `mcpgw` binary with fixture servers behind it: the size of the gateway's own `tools/list` in
//! every identity mode, `list_servers` (order, description, transport, metadata),
//! `get_server_tools` (names, pattern, token budget, counts that leak nothing),
//! `execute_tool` pass-through of every part of a result, and `get_gateway_status`.

use crate::support::*;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// Compact JSON bytes / 4, as DESIGN.md counts tokens (rounded up for one tool).
fn tokens(v: &Value) -> u64 {
    (serde_json::to_string(v).unwrap().len() as u64).div_ceil(4)
}

/// The result as JSON (what a client sees on the wire).
fn wire(r: &CallToolResult) -> Value {
    serde_json::to_value(r).unwrap()
}

/// The text block of a structured gateway result must be its structuredContent, as compact
/// JSON.
fn assert_text_mirrors_structured(r: &CallToolResult) {
    let text = first_text(r);
    let parsed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("text is not JSON ({e}): {text}"));
    assert_eq!(&parsed, structured(r), "text and structuredContent differ");
    assert_eq!(text, serde_json::to_string(structured(r)).unwrap(), "the text is compact JSON");
}

#[tokio::test]
async fn own_tools_list_stays_under_600_tokens_in_every_identity_mode() {
    let rules = allow_all();
    let servers = [("notes", fixture_server(&[]))];
    let modes: [(&str, &[&str]); 3] =
        [("required", &[]), ("optional", &["--default-agent", "dev"]), ("absent", &["--agent", "dev"])];
    for (mode, args) in modes {
        let gw = GatewayUnderTest::start(&servers, &rules, args).await;
        let tools = gw.client.list_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, META_TOOLS, "{mode}");
        let list = json!({"tools": tools});
        let bytes = serde_json::to_string(&list).unwrap().len();
        assert!(bytes / 4 <= 600, "{mode}: tools/list is {} tokens ({bytes} bytes)", bytes / 4);
        for t in &tools {
            assert!(t.description.as_deref().is_some_and(|d| !d.is_empty() && d.len() < 200), "{mode}: {t:?}");
            let schema = Value::Object((*t.input_schema).clone());
            let has_param = schema["properties"].get("agent_id").is_some();
            let required = schema["required"].as_array().is_some_and(|r| r.iter().any(|x| x == "agent_id"));
            match mode {
                "required" => assert!(has_param && required, "{mode}: {schema}"),
                "optional" => assert!(has_param && !required, "{mode}: {schema}"),
                _ => assert!(!has_param && !required, "{mode}: {schema}"),
            }
        }
        gw.client.close().await;
    }
}

#[tokio::test]
async fn list_servers_keeps_config_order_and_hides_denied_servers() {
    let servers = [
        ("zeta", json!({"command": fixture_bin(), "args": ["--name", "zeta"], "description": "The last letter"})),
        ("secret", fixture_server(&["--name", "secret"])),
        ("alpha", fixture_server(&["--name", "alpha"])),
        ("remote", json!({"url": "http://127.0.0.1:9/mcp", "description": "Never started"})),
    ];
    let rules = json!({"agents": {
        "dev": {"allow": {"servers": ["*"]}, "deny": {"servers": ["secret"]}},
        "solo": {"allow": {"servers": ["alpha"]}}
    }});
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;

    let r = gw.call("list_servers", json!({"agent_id": "dev"})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_text_mirrors_structured(&r);
    assert_eq!(
        structured(&r),
        &json!({"servers": [
            {"name": "zeta", "description": "The last letter", "transport": "stdio"},
            {"name": "alpha", "transport": "stdio"},
            {"name": "remote", "description": "Never started", "transport": "http"},
        ]}),
        "config order, no denied server, no metadata unless asked"
    );
    let r = gw.call("list_servers", json!({"agent_id": "solo"})).await;
    assert_eq!(server_names(&r), ["alpha"]);

    // Metadata: the target, the status before and after first use, and the tool count once known.
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    let list = structured(&r)["servers"].as_array().unwrap().clone();
    assert_eq!(list[0]["command"], format!("{} --name zeta", fixture_bin()));
    assert_eq!(list[0]["status"], "not_started", "servers start lazily: {list:?}");
    assert!(list[0].get("tool_count").is_none(), "the tool count is unknown before the first listing");
    assert_eq!(list[2]["url"], "http://127.0.0.1:9/mcp");
    assert!(list[2].get("command").is_none());

    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "zeta"})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    let list = structured(&r)["servers"].as_array().unwrap().clone();
    assert_eq!(list[0]["status"], "ready", "{list:?}");
    assert_eq!(list[0]["tool_count"], 16, "the fixture's 16 built-in tools: {list:?}");
    assert_eq!(list[1]["status"], "not_started", "using one server starts only that one: {list:?}");
    gw.client.close().await;
}

fn catalogue_rules() -> Value {
    json!({"agents": {
        "dev": {
            "allow": {"servers": ["tools"], "tools": {"tools": ["echo", "add", "image", "extra_*"]}},
            "deny": {"tools": {"tools": ["extra_1*"]}}
        },
        "all": {"allow": {"servers": ["tools"]}}
    }})
}

#[tokio::test]
async fn get_server_tools_lists_only_permitted_tools_with_honest_counts() {
    let servers = [("tools", fixture_server(&["--name", "tools", "--extra-tools", "25"]))];
    let gw = GatewayUnderTest::start(&servers, &catalogue_rules(), &[]).await;

    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools"})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_text_mirrors_structured(&r);
    let body = structured(&r).clone();
    let names = tool_names(&r);
    // extra_1 and extra_10..extra_19 are denied: 14 of the 25 extras remain.
    let mut expected = vec!["echo".to_owned(), "add".to_owned(), "image".to_owned(), "extra_0".to_owned()];
    expected.extend((2..10).chain(20..25).map(|i| format!("extra_{i}")));
    assert_eq!(names, expected, "server order, permitted tools only");
    assert_eq!(body["server"], "tools");
    assert_eq!(body["total_available"], 17, "denied tools are never counted: {body}");
    assert_eq!(body["returned"], 17);
    assert!(body.get("truncated").is_none());
    let sum: u64 = body["tools"].as_array().unwrap().iter().map(tokens).sum();
    assert_eq!(body["tokens_used"], sum, "tokens_used is the sum of ceil(compact JSON / 4)");

    // Each tool has the definition fields, and nothing the agent did not ask for.
    let add = &body["tools"][1];
    assert_eq!(add["name"], "add");
    assert!(add["description"].as_str().unwrap().starts_with("Add two numbers"));
    assert_eq!(add["inputSchema"]["required"], json!(["a", "b"]));
    assert_eq!(add["outputSchema"]["required"], json!(["sum"]), "outputSchema passes through");
    assert!(body["tools"][0].get("outputSchema").is_none());

    // The agent with the implicit grant sees all 16 + 25 tools.
    let r = gw.call("get_server_tools", json!({"agent_id": "all", "server": "tools"})).await;
    assert_eq!(structured(&r)["total_available"], 41);

    // Names, as a comma string and as an array; names that are denied or unknown are left out
    // without being told apart.
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools", "names": "add, echo"})).await;
    assert_eq!(tool_names(&r), ["echo", "add"], "server order, not the order asked");
    let r = gw
        .call(
            "get_server_tools",
            json!({"agent_id": "dev", "server": "tools", "names": ["image", "crash", "extra_12", "nope"]}),
        )
        .await;
    assert_eq!(tool_names(&r), ["image"]);
    assert_eq!(structured(&r)["total_available"], 1, "{:?}", structured(&r));

    // A glob pattern.
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools", "pattern": "extra_2*"})).await;
    assert_eq!(tool_names(&r), ["extra_2", "extra_20", "extra_21", "extra_22", "extra_23", "extra_24"]);
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools", "pattern": "*_1*"})).await;
    assert_eq!(tool_names(&r), Vec::<String>::new(), "every extra_1* is denied");
    assert_eq!(structured(&r)["total_available"], 0);
    gw.client.close().await;
}

#[tokio::test]
async fn max_schema_tokens_takes_tools_in_order_until_the_budget_is_spent() {
    let servers = [("tools", fixture_server(&["--name", "tools", "--extra-tools", "25"]))];
    let gw = GatewayUnderTest::start(&servers, &catalogue_rules(), &[]).await;
    let full = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools"})).await;
    let all: Vec<Value> = structured(&full)["tools"].as_array().unwrap().clone();
    let costs: Vec<u64> = all.iter().map(tokens).collect();

    // Exactly the first three fit; a budget one token short of the fourth stops there.
    let budget = costs[..4].iter().sum::<u64>() - 1;
    let r =
        gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools", "max_schema_tokens": budget})).await;
    let body = structured(&r);
    assert_eq!(body["returned"], 3, "{body}");
    assert_eq!(body["tools"].as_array().unwrap()[..], all[..3]);
    assert_eq!(body["tokens_used"], costs[..3].iter().sum::<u64>());
    assert_eq!(body["truncated"], true);
    assert_eq!(body["total_available"], 17, "the total ignores the budget");

    // A budget that fits everything is not truncated.
    let plenty = costs.iter().sum::<u64>();
    let r =
        gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools", "max_schema_tokens": plenty})).await;
    assert_eq!(structured(&r)["returned"], 17);
    assert!(structured(&r).get("truncated").is_none(), "{:?}", structured(&r));

    // A budget below the first tool returns nothing, truncated.
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "tools", "max_schema_tokens": 1})).await;
    assert_eq!(structured(&r)["returned"], 0);
    assert_eq!(structured(&r)["tokens_used"], 0);
    assert_eq!(structured(&r)["truncated"], true);
    gw.client.close().await;
}

#[tokio::test]
async fn execute_tool_passes_every_part_of_a_result_through_unchanged() {
    let servers = [("media", fixture_server(&["--name", "media"]))];
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["media"]}}}});
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;
    // The same fixture, called directly, is the reference.
    let direct = McpClient::fixture(&["--name", "media"]).await;

    let cases = [
        ("echo", json!({"text": "héllo \"world\"\n"})),
        ("add", json!({"a": 2, "b": 40})),
        ("image", json!({})),
        ("structured", json!({"value": {"nested": [1, 2.5, null, true, "x"]}})),
        ("fail", json!({"message": "it went wrong"})),
        ("progress", json!({"steps": 2, "interval_ms": 1})),
    ];
    for (tool, args) in cases {
        let expected = direct.call_tool(tool, args.clone()).await.unwrap();
        let got =
            gw.call("execute_tool", json!({"agent_id": "dev", "server": "media", "tool": tool, "args": args})).await;
        assert_eq!(wire(&got), wire(&expected), "{tool}: the gateway changed the result");
    }

    // The shapes themselves, so the comparison above cannot pass vacuously.
    let image = gw.call("execute_tool", json!({"agent_id": "dev", "server": "media", "tool": "image"})).await;
    let w = wire(&image);
    let kinds: Vec<&str> = w["content"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["image", "audio", "resource"], "{w}");
    assert_eq!(w["content"][0]["mimeType"], "image/png");
    assert_eq!(w["content"][1]["mimeType"], "audio/wav");
    assert_eq!(w["content"][2]["resource"]["uri"], "fixture://hello.txt");
    assert_eq!(w["content"][2]["resource"]["text"], "hello from the fixture");
    assert_eq!(w["_meta"], json!({"fixture": true}), "result _meta passes through");
    assert_ne!(image.is_error, Some(true));

    let add = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "media", "tool": "add", "args": {"a": 2, "b": 3}}))
        .await;
    assert_eq!(add.structured_content, Some(json!({"sum": 5})), "not wrapped in a second JSON layer");
    assert_eq!(first_text(&add), "5");

    let fail = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "media", "tool": "fail", "args": {"message": "boom"}}),
        )
        .await;
    assert_eq!(fail.is_error, Some(true));
    assert_eq!(first_text(&fail), "boom");
    assert_eq!(error_code(&fail), None, "a downstream isError result is not a gateway error");
    assert!(fail.structured_content.is_none());
    direct.close().await;
    gw.client.close().await;
}

#[tokio::test]
async fn execute_tool_accepts_args_as_a_json_string_and_honours_timeout_ms() {
    let servers = [("s", fixture_server(&[]))];
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["s"]}}}});
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "s", "tool": "add", "args": "{\"a\": 1.5, \"b\": 2}"}),
        )
        .await;
    assert_eq!(r.structured_content, Some(json!({"sum": 3.5})), "{r:?}");
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": "echo", "args": {"text": "{\"a\":1}"}}))
        .await;
    assert_eq!(first_text(&r), "{\"a\":1}", "a string inside args stays a string");
    // No args at all, and null args, are an empty call.
    let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": "pid", "args": null})).await;
    assert!(structured(&r)["pid"].is_u64(), "{r:?}");
    // A timeout that is long enough lets the call finish.
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "s", "tool": "sleep", "args": {"ms": 150}, "timeout_ms": 5000}),
        )
        .await;
    assert_eq!(first_text(&r), "slept 150", "{r:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn get_gateway_status_reports_reloads_policy_servers_and_the_callers_metrics() {
    let servers = [("a", fixture_server(&["--name", "a"])), ("b", fixture_server(&["--name", "b"]))];
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["a"]}}, "ops": {"allow": {"servers": ["*"]}}}});
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;
    gw.call("execute_tool", json!({"agent_id": "dev", "server": "a", "tool": "echo", "args": {"text": "x"}})).await;
    gw.call("execute_tool", json!({"agent_id": "dev", "server": "a", "tool": "nope"})).await;
    gw.call("list_servers", json!({"agent_id": "ops"})).await;

    let r = gw.call("get_gateway_status", json!({"agent_id": "dev"})).await;
    assert_text_mirrors_structured(&r);
    let s = structured(&r).clone();
    for file in ["rules", "mcp_config"] {
        let f = &s["reload"][file];
        assert!(f["last_attempt"].is_string() && f["last_success"].is_string(), "{file}: {f}");
        assert!(f["last_error"].is_null(), "{file}: {f}");
        assert_eq!(f["attempts"], 1, "{file}: {f}");
        assert_eq!(f["failures"], 0, "{file}: {f}");
        assert!(f["warnings"].is_array(), "{file}: {f}");
    }
    assert!(s["policy"]["snapshot"].as_str().unwrap().starts_with("sha256:"), "{s}");
    assert_eq!(s["policy"]["agents"], 2);
    assert_eq!(s["policy"]["defaults"]["deny_on_missing_agent"], true);
    let servers = s["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "only servers the caller may use: {s}");
    assert_eq!(servers[0]["name"], "a");
    assert_eq!(servers[0]["status"], "ready");
    assert_eq!(servers[0]["restarts"], 0);
    assert_eq!(servers[0]["transport"], "stdio");

    let ops = s["metrics"]["operations"].as_array().unwrap();
    let exec = ops.iter().find(|o| o["operation"] == "execute_tool").expect("execute_tool metrics");
    assert_eq!(exec["count"], 2, "{ops:?}");
    assert_eq!(exec["errors"], 1, "{ops:?}");
    for q in ["p50_ms", "p95_ms", "p99_ms"] {
        assert!(exec[q].as_f64().is_some_and(|v| v >= 0.0), "{exec}");
    }
    assert!(ops.iter().all(|o| o["operation"] != "list_servers"), "another agent's metrics leaked: {ops:?}");

    // Without --debug, neither agent ids nor config paths appear.
    let text = s.to_string();
    assert!(s.get("debug").is_none());
    assert!(!text.contains(gw.files.path().to_str().unwrap()), "a config path leaked: {text}");
    assert!(!text.contains("\"dev\"") && !text.contains("ops"), "an agent id leaked: {text}");
    gw.client.close().await;

    let gw = GatewayUnderTest::start(&[("a", fixture_server(&[]))], &rules, &["--debug"]).await;
    let s = gw.status(Some("dev")).await;
    assert_eq!(s["debug"]["agent_id"], "dev", "{s}");
    assert_eq!(s["debug"]["rules_path"], gw.rules_path().display().to_string());
    assert_eq!(s["debug"]["mcp_config_path"], gw.mcp_path().display().to_string());
    gw.client.close().await;
}

//! `search_tools` through the real gateway: tools of every server the agent may use, ranked,
//! with full definitions for `execute_tool`; denied tools never found; servers not started
//! yet started for the search; bad input answered, never a hang.

use serde_json::{Value, json};

use crate::support::*;

/// `dev` may use `a` and server-everything, but not server-everything's `echo`, nor `hidden`.
fn rules() -> Value {
    json!({"agents": {"dev": {
        "allow": {"servers": ["a", "everything"]},
        "deny": {"tools": {"everything": ["echo"]}}
    }}})
}

async fn gateway() -> GatewayUnderTest {
    let servers = [
        ("a", fixture_server(&["--name", "a"])),
        ("everything", everything_server()),
        ("hidden", fixture_server(&["--name", "hidden"])),
    ];
    GatewayUnderTest::start(&servers, &rules(), &["--agent", "dev"]).await
}

fn hits(r: &rmcp::model::CallToolResult) -> Vec<(String, String)> {
    structured(r)["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .map(|t| (t["server"].as_str().unwrap().to_owned(), t["name"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn search_finds_allowed_tools_across_servers_never_denied_ones() {
    let gw = gateway().await;
    // No server has started: the search starts them.
    let r = gw.call("search_tools", json!({"query": "echo back the text I send", "limit": 10})).await;
    let found = hits(&r);
    assert_eq!(found.first(), Some(&("a".to_owned(), "echo".to_owned())), "{found:?}");
    assert!(!found.iter().any(|(s, t)| s == "everything" && t == "echo"), "a denied tool was found: {found:?}");
    assert!(!found.iter().any(|(s, _)| s == "hidden"), "a server the agent may not use: {found:?}");
    // Full definitions, ready for execute_tool.
    let first = &structured(&r)["tools"][0];
    assert!(first["inputSchema"]["properties"]["text"].is_object(), "{first}");
    let r = gw.call("execute_tool", exec_as_bound("a", "echo", json!({"text": "found it"}))).await;
    assert_eq!(first_text(&r), "found it");
    let r = gw.call("search_tools", json!({"query": "add two numbers"})).await;
    assert!(
        hits(&r).iter().take(3).any(|(s, t)| s == "everything" && t == "get-sum" || s == "a" && t == "add"),
        "{:?}",
        hits(&r)
    );
    // One server only.
    let r = gw.call("search_tools", json!({"query": "echo", "server": "everything"})).await;
    assert!(hits(&r).iter().all(|(s, _)| s == "everything"), "{:?}", hits(&r));
    for server in ["hidden", "nowhere"] {
        let r = gw.call("search_tools", json!({"query": "echo", "server": server})).await;
        assert_eq!(gateway_error_code(&r), "DENIED_BY_POLICY", "{server}: {r:?}");
    }
}

fn exec_as_bound(server: &str, tool: &str, args: Value) -> Value {
    json!({"server": server, "tool": tool, "args": args})
}

#[tokio::test]
async fn bad_queries_get_a_clear_answer_and_the_budget_holds() {
    let gw = gateway().await;
    let r = gw.call("search_tools", json!({"query": ""})).await;
    assert_eq!(gateway_error_code(&r), "INVALID_ARGUMENT", "an empty query is refused: {r:?}");
    let r = gw.call("search_tools", json!({"query": "   the of ?"})).await;
    assert_eq!(hits(&r), Vec::<(String, String)>::new(), "a query of no words finds nothing");
    let huge = "echo ".repeat(200_000);
    let r = gw.call("search_tools", json!({"query": huge})).await;
    assert!(hits(&r).len() <= 5, "a 1 MB query is answered: {:?}", hits(&r));
    let r = gw.call("search_tools", json!({"query": "echo", "limit": 0})).await;
    assert_eq!(gateway_error_code(&r), "INVALID_ARGUMENT", "{r:?}");
    let r = gw.call("search_tools", json!({"query": "tool", "limit": 1_000_000_000u64})).await;
    assert!(hits(&r).len() <= 50, "a huge limit is capped: {}", hits(&r).len());
    let r = gw.call("search_tools", json!({"query": "echo", "max_schema_tokens": 1})).await;
    assert_eq!(
        (structured(&r)["returned"].clone(), structured(&r)["truncated"].clone()),
        (json!(0), json!(true)),
        "{r:?}"
    );
    let r = gw.call("search_tools", json!({"query": "echo", "limit": 3, "max_schema_tokens": 100_000})).await;
    let used = structured(&r)["tokens_used"].as_u64().unwrap();
    assert!(used > 0 && hits(&r).len() <= 3, "{r:?}");
    let r = gw.call("search_tools", json!({})).await;
    assert_eq!(gateway_error_code(&r), "INVALID_ARGUMENT", "a query is required: {r:?}");
}

//! Resources and prompts through the gateway, under the policy (DESIGN section 12), with
//! server-everything behind it: the aggregated lists, reads and gets routed to the server
//! they name, denied items hidden and refused, and the `read_resource` tool.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::gateway::{audited_operations, read_audit};
use crate::support::raw::{RawGateway, rpc_error_code};
use crate::support::*;

/// `dev` may use server-everything except the resource `features.md` and the `args-*` prompts.
fn rules(servers: &[&str]) -> Value {
    json!({"agents": {"dev": {
        "allow": {"servers": servers},
        "deny": {"resources": {"*": ["*features.md"]}, "prompts": {"*": ["args-*"]}}
    }}})
}

/// server-everything's own list `member` of `method`, straight from a process of its own.
async fn everything_list(method: &str, member: &str) -> Vec<Value> {
    let entry = everything_server();
    let args: Vec<String> = entry["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    let mut child = Spawn::new("node").args(args).spawn().expect("spawn server-everything");
    let (stdout, mut stdin) = child.take_pipes().expect("its pipes");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": {}});
    for m in [init, json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), list] {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await.unwrap().unwrap().unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap_or_default();
        if msg["id"] == 2 {
            return msg["result"][member].as_array().unwrap().clone();
        }
    }
}

async fn gateway(files: &TempFiles, servers: &[&str], args: &[&str]) -> RawGateway {
    let entries: Vec<(&str, Value)> = servers.iter().map(|s| (*s, everything_server())).collect();
    RawGateway::start(&gateway_spawn(files, &entries, &rules(servers), args)).await
}

#[tokio::test]
async fn lists_are_the_servers_own_namespaced_less_what_the_policy_denies() {
    let files = TempFiles::new();
    let mut gw = gateway(&files, &["everything"], &["--agent", "dev"]).await;
    for (method, member, key, wrap) in [
        ("resources/list", "resources", "uri", true),
        ("resources/templates/list", "resourceTemplates", "uriTemplate", true),
        ("prompts/list", "prompts", "name", false),
    ] {
        let own = everything_list(method, member).await;
        let mut want = Vec::new();
        for mut item in own {
            let name = item[key].as_str().unwrap().to_owned();
            if name.ends_with("features.md") || name.starts_with("args-") {
                continue;
            }
            item[key] = json!(if wrap { format!("mcpgw://everything/{name}") } else { format!("everything__{name}") });
            want.push(item);
        }
        let got = gw.request(method, json!({})).await;
        assert_eq!(got["result"][member], json!(want), "{method}: {got}");
    }
    let resources = gw.request("resources/list", json!({})).await;
    assert_eq!(resources["result"]["resources"].as_array().unwrap().len(), 6, "7 resources, one denied");
}

#[tokio::test]
async fn reads_and_gets_reach_their_server_and_denials_are_refused() {
    let files = TempFiles::new();
    let mut gw = gateway(&files, &["everything"], &["--agent", "dev"]).await;
    let doc = "mcpgw://everything/demo://resource/static/document/architecture.md";
    let r = gw.request("resources/read", json!({"uri": doc})).await;
    assert_eq!(r["result"]["contents"][0]["uri"], doc, "{r}");
    assert!(r["result"]["contents"][0]["text"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
    // A link a tool returned, as the server wrote it.
    let links = gw
        .call("execute_tool", json!({"server": "everything", "tool": "get-resource-links", "args": {"count": 2}}))
        .await;
    let link = links["result"]["content"].as_array().unwrap().iter().find(|c| c["type"] == "resource_link").cloned();
    let uri = link.expect("a resource link")["uri"].as_str().unwrap().to_owned();
    let r = gw.request("resources/read", json!({"uri": uri})).await;
    assert_eq!(r["result"]["contents"][0]["uri"], format!("mcpgw://everything/{uri}"), "{r}");
    // Denied: refused whether or not it exists, and the same way.
    for denied in [
        "mcpgw://everything/demo://resource/static/document/features.md",
        "mcpgw://everything/demo://resource/static/document/no-such-features.md",
    ] {
        let r = gw.request("resources/read", json!({"uri": denied})).await;
        assert_eq!(rpc_error_code(&r), Some(-32602), "{r}");
        assert!(r["error"]["message"].as_str().unwrap().starts_with("DENIED_BY_POLICY"), "{r}");
    }
    let r = gw.request("resources/read", json!({"uri": "mcpgw://nowhere/x://y"})).await;
    assert!(r.get("error").is_some(), "{r}");
    let r = gw.request("prompts/get", json!({"name": "everything__simple-prompt"})).await;
    assert_eq!(r["result"]["messages"][0]["content"]["text"], "This is a simple prompt without arguments.", "{r}");
    let r = gw.request("prompts/get", json!({"name": "everything__args-prompt", "arguments": {"city": "Oslo"}})).await;
    assert!(r["error"]["message"].as_str().unwrap().starts_with("DENIED_BY_POLICY"), "{r}");
    let r = gw.request("prompts/get", json!({"name": "nowhere__simple-prompt"})).await;
    assert_eq!(rpc_error_code(&r), Some(-32602), "{r}");
    // The tool, for clients that only call tools.
    let r = gw
        .call(
            "read_resource",
            json!({"server": "everything", "uri": "demo://resource/static/document/architecture.md"}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["type"], "resource", "{r}");
    let r = gw
        .call("read_resource", json!({"server": "everything", "uri": "demo://resource/static/document/features.md"}))
        .await;
    assert_eq!(r["result"]["structuredContent"]["error"]["code"], "DENIED_BY_POLICY", "{r}");
    // Audited like tool calls.
    let path = files.file_path("audit.jsonl");
    // Every line written: the two `read_resource` calls were the last.
    eventually(Duration::from_secs(5), || {
        read_audit(&path).iter().filter(|l| l["operation"] == "read_resource").count() >= 2
    })
    .await;
    let audit = read_audit(&path);
    let reads: Vec<&Value> = audit.iter().filter(|l| l["operation"] == "resources/read").collect();
    assert_eq!(reads[0]["decision"], "allow");
    assert_eq!(reads[2]["outcome"], "DENIED_BY_POLICY", "{reads:?}");
    assert!(audit.iter().any(|l| l["operation"] == "prompts/get" && l["outcome"] == "DENIED_BY_POLICY"));
    assert!(audit.iter().any(|l| l["operation"] == "read_resource" && l["outcome"] == "ok"));
    // The audit line names the resource and the prompt, as it names a tool.
    assert_eq!(reads[0]["tool"], "demo://resource/static/document/architecture.md", "{reads:?}");
    assert!(audit.iter().any(|l| l["operation"] == "prompts/get" && l["tool"] == "simple-prompt"), "{audit:?}");
}

/// `completion/complete` of a prompt argument (with the context that narrows it) and of a
/// template variable, named the gateway's way; a denied prompt is refused the same whether or
/// not it exists, and every completion is audited.
#[tokio::test]
async fn completions_reach_their_server_and_denied_prompts_are_refused() {
    let files = TempFiles::new();
    let mut gw = gateway(&files, &["everything"], &["--agent", "dev"]).await;
    let init = gw.initialize_result().clone();
    assert!(init["capabilities"].get("completions").is_some(), "{init}");
    let complete = |reference: Value, argument: Value, context: Option<Value>| {
        let mut params = json!({"ref": reference, "argument": argument});
        if let Some(c) = context {
            params["context"] = c;
        }
        params
    };
    let prompt = json!({"type": "ref/prompt", "name": "everything__completable-prompt"});
    let r = gw
        .request("completion/complete", complete(prompt.clone(), json!({"name": "department", "value": "En"}), None))
        .await;
    assert_eq!(r["result"]["completion"]["values"], json!(["Engineering"]), "{r}");
    let context = json!({"arguments": {"department": "Sales"}});
    let r =
        gw.request("completion/complete", complete(prompt, json!({"name": "name", "value": ""}), Some(context))).await;
    assert_eq!(r["result"]["completion"]["values"], json!(["David", "Eve", "Frank"]), "{r}");
    let template =
        json!({"type": "ref/resource", "uri": "mcpgw://everything/demo://resource/dynamic/text/{resourceId}"});
    let r =
        gw.request("completion/complete", complete(template, json!({"name": "resourceId", "value": "7"}), None)).await;
    assert_eq!(r["result"]["completion"]["values"], json!(["7"]), "{r}");
    // Denied, existing or not: the same refusal, nothing of the server's.
    for name in ["everything__args-prompt", "everything__args-no-such-prompt"] {
        let reference = json!({"type": "ref/prompt", "name": name});
        let r =
            gw.request("completion/complete", complete(reference, json!({"name": "city", "value": "O"}), None)).await;
        assert_eq!(rpc_error_code(&r), Some(-32602), "{r}");
        assert!(r["error"]["message"].as_str().unwrap().starts_with("DENIED_BY_POLICY"), "{r}");
    }
    // Not the gateway's names, or not a reference at all: clear errors.
    for (reference, says) in [
        (json!({"type": "ref/prompt", "name": "completable-prompt"}), "SERVER__PROMPT"),
        (
            json!({"type": "ref/resource", "uri": "demo://resource/dynamic/text/{resourceId}"}),
            "mcpgw://SERVER/TEMPLATE",
        ),
        (json!({"type": "ref/tool", "name": "x"}), "`ref/prompt` or `ref/resource`"),
    ] {
        let r = gw.request("completion/complete", complete(reference, json!({"name": "a", "value": ""}), None)).await;
        assert_eq!(rpc_error_code(&r), Some(-32602), "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains(says), "{says}: {r}");
    }
    let r = gw
        .request(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "everything__completable-prompt"}}),
        )
        .await;
    assert!(r["error"]["message"].as_str().unwrap().contains("`argument`"), "{r}");
    let completions = audited_operations(&files.file_path("audit.jsonl"), "completion/complete", 6).await;
    assert_eq!(completions[0]["tool"], "completable-prompt", "{completions:?}");
    assert_eq!(completions[0]["decision"], "allow", "{completions:?}");
    assert_eq!(completions[3]["outcome"], "DENIED_BY_POLICY", "{completions:?}");
}

#[tokio::test]
async fn the_same_uri_on_two_servers_stays_two_resources() {
    let files = TempFiles::new();
    let mut gw = gateway(&files, &["e1", "e2"], &["--agent", "dev"]).await;
    let listed = gw.request("resources/list", json!({})).await;
    let uris: Vec<&str> =
        listed["result"]["resources"].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    let doc = "demo://resource/static/document/architecture.md";
    assert!(
        uris.contains(&format!("mcpgw://e1/{doc}").as_str()) && uris.contains(&format!("mcpgw://e2/{doc}").as_str())
    );
    assert_eq!(uris.len(), 12, "{uris:?}");
    // The server's own URI is ambiguous here: the gateway says so rather than guess.
    let r = gw.request("resources/read", json!({"uri": doc})).await;
    assert!(r["error"]["message"].as_str().unwrap().contains("mcpgw://SERVER/"), "{r}");
    let r = gw.request("resources/read", json!({"uri": format!("mcpgw://e2/{doc}")})).await;
    assert_eq!(r["result"]["contents"][0]["uri"], format!("mcpgw://e2/{doc}"), "{r}");
    let path = files.file_path("audit.jsonl");
    eventually(Duration::from_secs(5), || read_audit(&path).iter().any(|l| l["operation"] == "resources/read")).await;
    let read = read_audit(&path).into_iter().find(|l| l["operation"] == "resources/read").unwrap();
    assert_eq!(read["server"], "e2", "the read went to the server it named");
}

#[tokio::test]
async fn without_an_agent_known_beforehand_the_protocol_lists_are_not_served() {
    let files = TempFiles::new();
    let entries = [("everything", everything_server())];
    let mut gw = RawGateway::start(&gateway_spawn(&files, &entries, &rules(&["everything"]), &[])).await;
    for method in ["resources/list", "prompts/list", "resources/read", "prompts/get"] {
        let r = gw.request(method, json!({})).await;
        assert_eq!(rpc_error_code(&r), Some(-32601), "{method}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("read_resource"), "{r}");
    }
    // The tool works with an agent_id.
    let r = gw.call("read_resource", json!({"agent_id": "dev", "server": "everything", "uri": "demo://resource/static/document/architecture.md"})).await;
    assert_eq!(r["result"]["content"][0]["type"], "resource", "{r}");
}

/// Two server-filesystem instances over two directories that hold the same file names: the
/// same path shape on each reads that server's own file, and neither reaches the other's
/// directory, also with a client that offers its own roots (which a shared server must not
/// take for its directories).
#[tokio::test]
async fn two_filesystem_servers_over_two_directories_never_cross() {
    let files = TempFiles::new();
    let (a, b) = (files.path().join("a"), files.path().join("b"));
    for (dir, text) in [(&a, "the file of a"), (&b, "the file of b")] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("same.txt"), text).unwrap();
    }
    let servers = [("fa", filesystem_server(&a)), ("fb", filesystem_server(&b))];
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["fa", "fb"]}}}});
    let spawn = gateway_spawn(&files, &servers, &rules, &["--agent", "dev"]);
    let client = McpClient::spawn_answering(&spawn).await;
    let read = |server: &str, path: &std::path::Path| json!({"server": server, "tool": "read_text_file", "args": {"path": path.join("same.txt")}});
    for (server, dir, text) in [("fa", &a, "the file of a"), ("fb", &b, "the file of b")] {
        let r = client.call_tool("execute_tool", read(server, dir)).await.unwrap();
        assert_eq!(first_text(&r), text, "{server}: {r:?}");
    }
    for (server, other) in [("fa", &b), ("fb", &a)] {
        let r = client.call_tool("execute_tool", read(server, other)).await.unwrap();
        assert_eq!(r.is_error, Some(true), "{server} read the other's directory: {r:?}");
        assert!(first_text(&r).contains("ccess denied"), "{server}: {r:?}");
        let listed = json!({"server": server, "tool": "list_allowed_directories", "args": {}});
        let r = client.call_tool("execute_tool", listed).await.unwrap();
        let dirs = first_text(&r);
        assert!(!dirs.contains(other.to_str().unwrap()) && !dirs.contains("test-root"), "{server}: {dirs}");
    }
    client.close().await;
}

/// A link that a tool returned names the server's own URI, which two servers may share and no
/// list may hold (server-everything's links point at its templates): a read of it goes to the
/// server whose result gave it, for the agent it was given to.
#[tokio::test]
async fn a_link_from_a_tool_result_is_read_from_the_server_that_returned_it() {
    let files = TempFiles::new();
    let mut gw = gateway(&files, &["e1", "e2"], &["--agent", "dev"]).await;
    let links =
        gw.call("execute_tool", json!({"server": "e2", "tool": "get-resource-links", "args": {"count": 2}})).await;
    let uris: Vec<String> = links["result"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "resource_link")
        .map(|c| c["uri"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uris.len(), 2, "{links}");
    for uri in &uris {
        let r = gw.request("resources/read", json!({"uri": uri})).await;
        assert_eq!(r["result"]["contents"][0]["uri"], format!("mcpgw://e2/{uri}"), "{r}");
    }
    // A URI no result gave and no list holds stays ambiguous between the two.
    let r = gw.request("resources/read", json!({"uri": "demo://resource/dynamic/text/9"})).await;
    assert_eq!(rpc_error_code(&r), Some(-32002), "{r}");
}

/// The handshake declares resources, prompts and completions only when one of the agent's
/// servers may offer them. Direct mode starts the servers at the handshake, so it knows: the
/// fixture offers tools alone, server-everything all three. In meta mode a server not started
/// yet may offer anything; once it runs, a 2026-07-28 `server/discover` says what it offers.
#[tokio::test]
async fn the_declared_capabilities_follow_what_the_agents_servers_offer() {
    let beyond_tools = |caps: &Value| -> Vec<String> {
        ["resources", "prompts", "completions"]
            .iter()
            .filter(|k| caps.get(**k).is_some())
            .map(|k| k.to_string())
            .collect()
    };
    let files = TempFiles::new();
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["fx", "everything"]}}}});
    let direct = ["--agent", "dev", "--expose", "direct"];
    let gw = RawGateway::start(&gateway_spawn(&files, &[("fx", fixture_server(&[]))], &rules, &direct)).await;
    let caps = gw.initialize_result()["capabilities"].clone();
    assert!(beyond_tools(&caps).is_empty(), "{caps}");
    drop(gw);
    let both = [("fx", fixture_server(&[])), ("everything", everything_server())];
    let gw = RawGateway::start(&gateway_spawn(&files, &both, &rules, &direct)).await;
    let caps = gw.initialize_result()["capabilities"].clone();
    assert_eq!(beyond_tools(&caps), ["resources", "prompts", "completions"], "{caps}");
    assert_eq!(caps["resources"]["subscribe"], true, "{caps}");
    drop(gw);

    let mut gw =
        RawGateway::start(&gateway_spawn(&files, &[("fx", fixture_server(&[]))], &rules, &["--agent", "dev"])).await;
    let caps = gw.initialize_result()["capabilities"].clone();
    assert_eq!(beyond_tools(&caps), ["resources", "prompts", "completions"], "not started yet: {caps}");
    let r = gw.call("execute_tool", json!({"server": "fx", "tool": "echo", "args": {"text": "hi"}})).await;
    assert!(r["result"]["isError"] != true, "{r}");
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "1"}
    });
    let r = gw.request("server/discover", json!({"_meta": meta})).await;
    let caps = r["result"]["capabilities"].clone();
    assert!(caps.get("tools").is_some() && beyond_tools(&caps).is_empty(), "{r}");
}

/// Bad resource URIs and prompt names get clear errors that tell nothing: a server the agent
/// may not use is refused exactly as one that does not exist, for reads, subscriptions, gets
/// and completions alike.
#[tokio::test]
async fn bad_uris_and_names_get_clear_errors_that_reveal_nothing() {
    let files = TempFiles::new();
    let servers = [("everything", everything_server()), ("fx", fixture_server(&[]))];
    let mut gw =
        RawGateway::start(&gateway_spawn(&files, &servers, &rules(&["everything"]), &["--agent", "dev"])).await;
    let message = |r: &Value| r["error"]["message"].as_str().unwrap_or_else(|| panic!("an error: {r}")).to_owned();
    let complete =
        |uri: &str| json!({"ref": {"type": "ref/resource", "uri": uri}, "argument": {"name": "a", "value": ""}});
    let prompt_completion =
        |name: &str| json!({"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": "a", "value": ""}});
    for (method, denied, missing) in [
        ("resources/read", json!({"uri": "mcpgw://fx/fx://a"}), json!({"uri": "mcpgw://nowhere/fx://a"})),
        ("resources/subscribe", json!({"uri": "mcpgw://fx/fx://a"}), json!({"uri": "mcpgw://nowhere/fx://a"})),
        ("completion/complete", complete("mcpgw://fx/fx://{a}"), complete("mcpgw://nowhere/fx://{a}")),
        ("prompts/get", json!({"name": "fx__p"}), json!({"name": "nowhere__p"})),
        ("completion/complete", prompt_completion("fx__p"), prompt_completion("nowhere__p")),
    ] {
        let denied = message(&gw.request(method, denied).await);
        let missing = message(&gw.request(method, missing).await);
        assert!(denied.starts_with("DENIED_BY_POLICY"), "{method}: {denied}");
        assert_eq!(denied.replace("`fx`", "`S`"), missing.replace("`nowhere`", "`S`"), "{method}");
    }
    for (uri, says) in [
        (json!("mcpgw://"), "malformed gateway URI"),
        (json!("mcpgw://everything"), "malformed gateway URI"),
        (json!("mcpgw://everything/"), "malformed gateway URI"),
        (json!(7), "needs a string `uri`"),
        (json!(null), "needs a string `uri`"),
    ] {
        let r = gw.request("resources/read", json!({"uri": uri})).await;
        assert_eq!(rpc_error_code(&r), Some(-32602), "{uri}: {r}");
        assert!(message(&r).contains(says), "{uri}: {r}");
    }
    // A megabyte of URI: refused, and not echoed whole.
    let r = gw.request("resources/read", json!({"uri": format!("mcpgw://everything/{}", "x".repeat(1 << 20))})).await;
    assert!(message(&r).len() < 2000, "{}", &message(&r)[..200]);
}

//! Who may talk to the gateway over HTTP: bearer tokens name the agent (401 without a valid
//! one), a request naming another agent is refused and audited, an unauthenticated gateway
//! will not listen beyond loopback, and only allowed `Host` and `Origin` values are served
//! (DNS rebinding protection).

use std::time::Duration;

use crate::support::http::{HttpGateway, HttpGatewayBuilder, initialize_body, sha256_hex, stateless_request};
use crate::support::*;
use serde_json::{Value, json};

const BACKEND_TOKEN: &str = "backend-secret-token-0001";
const INTERN_TOKEN: &str = "intern-secret-token-0002";
const OPERATOR_TOKEN: &str = "operator-secret-token-0009";

fn servers() -> Vec<(&'static str, Value)> {
    vec![("notes", fixture_server(&["--name", "notes"])), ("media", fixture_server(&["--name", "media"]))]
}

fn rules() -> Value {
    json!({"agents": {
        "backend": {"allow": {"servers": ["notes", "media"]}},
        "intern": {"allow": {"servers": ["notes"], "tools": {"notes": ["echo"]}}},
        "admin": {"allow": {"servers": ["*"]}}
    }})
}

/// Tokens for `backend` (through an environment variable) and `intern` (as a hash).
fn token_section() -> Value {
    json!({"http": {"tokens": [
        {"agent": "backend", "token": "${MCPGW_TEST_BACKEND_TOKEN}"},
        {"agent": "intern", "token_sha256": sha256_hex(INTERN_TOKEN)}
    ], "admin_tokens": [{"token": OPERATOR_TOKEN}]}})
}

async fn start_with_tokens(servers: &[(&str, Value)]) -> HttpGateway {
    HttpGatewayBuilder::new(servers, rules())
        .gateway_section(token_section())
        .env("MCPGW_TEST_BACKEND_TOKEN", BACKEND_TOKEN)
        .start()
        .await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn missing_and_bad_tokens_get_401() {
    let servers = servers();
    let gw = start_with_tokens(&servers).await;
    let good = bearer(BACKEND_TOKEN);
    let cases: [(&str, &[(&str, &str)]); 5] = [
        ("no token", &[]),
        ("unknown token", &[("authorization", "Bearer not-a-real-token-at-all")]),
        ("a token's hash instead of the token", &[("authorization", &format!("Bearer {}", sha256_hex(INTERN_TOKEN)))]),
        ("another scheme", &[("authorization", "Basic YmFja2VuZDpzZWNyZXQ=")]),
        ("an empty bearer", &[("authorization", "Bearer ")]),
    ];
    for (what, headers) in cases {
        let r = gw.post_mcp(headers, &initialize_body()).await;
        assert_eq!(r.status, 401, "/mcp with {what}: {r:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}: {r:?}");
        assert_eq!(r.json()["error"]["code"], "UNAUTHORIZED", "{what}: {r:?}");
        let r = gw.get("/metrics", headers).await;
        assert_eq!(r.status, 401, "/metrics with {what}: {r:?}");
    }
    // A stateless request needs a token too.
    let r = gw
        .post_mcp(
            &[("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list")],
            &stateless_request(1, "tools/list", json!({})),
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");

    // Liveness and readiness stay open for probes.
    assert_eq!(gw.get("/health", &[]).await.status, 200);
    assert_eq!(gw.get("/ready", &[]).await.status, 200);
    // /metrics answers an operator token; an agent's token is refused (it would show other
    // agents' series). /mcp answers an agent's token; the scheme name is case-insensitive.
    let m = gw.metrics(&[("authorization", &bearer(OPERATOR_TOKEN))]).await;
    assert!(m.get("mcpgw_reloads_total{file=\"rules\"}").is_some(), "{}", m.text);
    assert_eq!(gw.get("/metrics", &[("authorization", &good)]).await.status, 403);
    let lower = format!("bearer {INTERN_TOKEN}");
    assert_eq!(gw.post_mcp(&[("authorization", &lower)], &initialize_body()).await.status, 200);
    let r = gw.post_mcp(&[("authorization", &good)], &initialize_body()).await;
    assert_eq!(r.status, 200, "{r:?}");
    // An operator token cannot act as an agent.
    assert_eq!(gw.post_mcp(&[("authorization", &bearer(OPERATOR_TOKEN))], &initialize_body()).await.status, 403);

    // The rmcp client fails to connect without a valid token.
    let e = gw.try_client(None).await.err().expect("no token must fail");
    assert!(e.contains("401") || e.to_lowercase().contains("auth"), "{e}");
    assert!(gw.try_client(Some("wrong-token-wrong-token")).await.is_err());
    let audit_before = gw.audit_lines().len();
    assert_eq!(audit_before, 0, "refused requests never reach a tool: {:?}", gw.audit_lines());
}

#[tokio::test]
async fn the_token_names_the_agent() {
    let servers = servers();
    let gw = start_with_tokens(&servers).await;
    let backend = gw.client(Some(BACKEND_TOKEN)).await;
    let intern = gw.client(Some(INTERN_TOKEN)).await;

    // The agent is not a parameter: the token says who calls.
    for tool in backend.list_tools().await.unwrap() {
        let schema = serde_json::to_value(&tool.input_schema).unwrap();
        assert!(schema["properties"].get("agent_id").is_none(), "{}: {schema}", tool.name);
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        assert!(!required.contains(&json!("agent_id")), "{}: {schema}", tool.name);
    }
    let r = backend.call_tool("list_servers", json!({})).await.unwrap();
    assert_eq!(server_names(&r), ["notes", "media"], "{r:?}");
    let r = intern.call_tool("list_servers", json!({})).await.unwrap();
    assert_eq!(server_names(&r), ["notes"], "{r:?}");
    let r = intern
        .call_tool("execute_tool", json!({"server": "notes", "tool": "add", "args": {"a": 1, "b": 2}}))
        .await
        .unwrap();
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{r:?}");
    let r = backend
        .call_tool("execute_tool", json!({"server": "notes", "tool": "add", "args": {"a": 1, "b": 2}}))
        .await
        .unwrap();
    assert_eq!(r.structured_content, Some(json!({"sum": 3})), "{r:?}");
    // Repeating one's own id is fine.
    let r = intern.call_tool("list_servers", json!({"agent_id": "intern"})).await.unwrap();
    assert_eq!(server_names(&r), ["notes"], "{r:?}");

    // Claiming another agent is refused and audited as spoofing.
    for claimed in ["admin", "backend"] {
        let r = intern.call_tool("list_servers", json!({"agent_id": claimed})).await.unwrap();
        assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{r:?}");
        let r = intern
            .call_tool(
                "execute_tool",
                json!({"agent_id": claimed, "server": "media", "tool": "echo", "args": {"text": "x"}}),
            )
            .await
            .unwrap();
        assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{r:?}");
    }
    let mut lines = Vec::new();
    eventually(Duration::from_secs(5), || {
        lines = gw.audit_lines();
        lines.iter().filter(|l| l.get("spoofed_agent_id").is_some()).count() >= 4
    })
    .await;
    let spoofs: Vec<&Value> = lines.iter().filter(|l| l.get("spoofed_agent_id").is_some()).collect();
    assert_eq!(spoofs.len(), 4, "{lines:#?}");
    for line in &spoofs {
        assert_eq!(line["agent_id"], "intern", "{line}");
        assert_eq!(line["outcome"], "INVALID_AGENT_ID", "{line}");
        assert!(["admin", "backend"].contains(&line["spoofed_agent_id"].as_str().unwrap()), "{line}");
    }
    // Honest calls are audited under the token's agent, without a spoofing mark.
    let honest: Vec<&Value> = lines.iter().filter(|l| l.get("spoofed_agent_id").is_none()).collect();
    assert!(honest.iter().any(|l| l["agent_id"] == "backend" && l["operation"] == "execute_tool"), "{lines:#?}");

    // Stateless requests carry the token's identity too.
    let auth = bearer(INTERN_TOKEN);
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "list_servers"),
    ];
    let body = stateless_request(7, "tools/call", json!({"name": "list_servers", "arguments": {}}));
    let r = gw.post_mcp(&headers, &body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.result()["structuredContent"], json!({"servers": [{"name": "notes", "transport": "stdio"}]}), "{r:?}");
    let body = stateless_request(8, "tools/call", json!({"name": "list_servers", "arguments": {"agent_id": "admin"}}));
    let r = gw.post_mcp(&headers, &body).await;
    assert_eq!(r.result()["structuredContent"]["error"]["code"], "INVALID_AGENT_ID", "{r:?}");

    backend.close().await;
    intern.close().await;
}

#[tokio::test]
async fn tokens_reload_with_the_mcp_config() {
    let servers = servers();
    let gw = start_with_tokens(&servers).await;
    let new_token = "rotated-backend-token-0003";
    let section = json!({"http": {"tokens": [{"agent": "backend", "token": new_token}]}});
    std::fs::write(gw.files.file_path(".mcp.json"), crate::support::http::mcp_json_with_gateway(&servers, &section))
        .unwrap();
    let old = bearer(BACKEND_TOKEN);
    let new = bearer(new_token);
    let status = |auth: String| {
        let gw = &gw;
        async move { gw.post_mcp(&[("authorization", &auth)], &initialize_body()).await.status }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(new.clone()).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the new token was never accepted:\n{}", gw.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status(old.clone()).await, 401);
    let intern = bearer(INTERN_TOKEN);
    assert_eq!(status(intern).await, 401);
    let client = gw.client(Some(new_token)).await;
    let r = client.call_tool("list_servers", json!({})).await.unwrap();
    assert_eq!(server_names(&r), ["notes", "media"], "{r:?}");

    // Removing every token by a reload does not turn authentication off.
    std::fs::write(
        gw.files.file_path(".mcp.json"),
        crate::support::http::mcp_json_with_gateway(&servers, &json!({"http": {}})),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(new.clone()).await == 200 {
        assert!(tokio::time::Instant::now() < deadline, "the removed token is still accepted:\n{}", gw.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gw.get("/metrics", &[]).await.status, 401);
    assert_eq!(gw.post_mcp(&[], &initialize_body()).await.status, 401);
    client.close().await;
}

#[tokio::test]
async fn unauthenticated_gateway_refuses_a_non_loopback_address() {
    let servers = servers();
    let files = TempFiles::new();
    // The check must come before binding: 0.0.0.0 is never actually listened on.
    let spawn = HttpGatewayBuilder::new(&servers, rules()).spawn_spec(&files, "0.0.0.0:0");
    let mut child = spawn.spawn().expect("spawn mcpgw");
    let status = child.wait_exit(Duration::from_secs(15)).await.expect("the gateway must exit");
    // The pipe may still be draining after the exit.
    child.stderr().wait_for_line("gateway.http.tokens", Duration::from_secs(5)).await;
    let stderr = child.stderr().text();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refusing to serve 0.0.0.0:0 without authentication"), "{stderr}");
    assert!(stderr.contains("--allow-unauthenticated") && stderr.contains("gateway.http.tokens"), "{stderr}");
    assert!(!stderr.contains("Gateway is ready"), "{stderr}");

    // An empty token list is no authentication either.
    let files = TempFiles::new();
    let spawn = HttpGatewayBuilder::new(&servers, rules())
        .gateway_section(json!({"http": {"tokens": []}}))
        .spawn_spec(&files, "0.0.0.0:0");
    let mut child = spawn.spawn().expect("spawn mcpgw");
    let status = child.wait_exit(Duration::from_secs(15)).await.expect("the gateway must exit");
    assert_eq!(status.code(), Some(1), "{}", child.stderr().text());

    // On loopback, no tokens is fine and agent_id is a parameter again.
    let gw = HttpGateway::start(&servers, rules()).await;
    let client = gw.client(None).await;
    let tools = client.list_tools().await.unwrap();
    let list_servers = tools.iter().find(|t| t.name == "list_servers").expect("list_servers is listed");
    let schema = serde_json::to_value(&list_servers.input_schema).unwrap();
    assert_eq!(schema["required"], json!(["agent_id"]), "{schema}");
    let r = client.call_tool("list_servers", json!({"agent_id": "intern"})).await.unwrap();
    assert_eq!(server_names(&r), ["notes"], "{r:?}");
    client.close().await;
}

#[tokio::test]
async fn only_allowed_hosts_and_origins_are_served() {
    let servers = servers();
    let section =
        json!({"http": {"allowed_hosts": ["gateway.internal"], "allowed_origins": ["https://app.example.com"]}});
    let gw = HttpGatewayBuilder::new(&servers, rules()).gateway_section(section).start().await;
    let port = gw.addr.port();
    let localhost = format!("localhost:{port}");
    let local_origin = format!("http://localhost:{port}");
    let loopback_origin = format!("http://127.0.0.1:{port}");
    let cases: [(&str, &str, u16); 10] = [
        ("host", "evil.example", 403),
        ("host", "evil.example:80", 403),
        ("host", "127.0.0.1.evil.example", 403),
        ("host", &localhost, 200),
        ("host", "gateway.internal", 200),
        ("origin", "http://evil.example", 403),
        ("origin", "https://app.example.com.evil.example", 403),
        ("origin", "https://app.example.com", 200),
        ("origin", &local_origin, 200),
        ("origin", &loopback_origin, 200),
    ];
    for (name, value, expected) in cases {
        let r = gw.post_mcp(&[(name, value)], &initialize_body()).await;
        assert_eq!(r.status, expected, "{name}: {value}: {r:?}");
        if expected == 200 {
            assert_eq!(r.result()["serverInfo"]["name"], "mcpgw", "{r:?}");
        }
    }
    // Without tokens, /metrics is guarded the same way (a rebinding page could read it).
    assert_eq!(gw.get("/metrics", &[("host", "evil.example")]).await.status, 403);
    assert_eq!(gw.get("/metrics", &[("origin", "http://evil.example")]).await.status, 403);
    assert_eq!(gw.get("/metrics", &[("host", "gateway.internal")]).await.status, 200);
    assert_eq!(gw.get("/metrics", &[]).await.status, 200);
}

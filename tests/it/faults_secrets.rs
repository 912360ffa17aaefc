//! Secrets in `.mcp.json` never come out of the gateway: values of `${VAR}` (in `command`,
//! `args`, `env`, `url` and `headers`) and configured header values are not in its stderr log,
//! the audit log (with and without `--audit-args`), `get_gateway_status` (with and without
//! `--debug`), `list_servers` with metadata, or any error an agent sees. Servers that work
//! and servers that fail (cannot start, refuse the headers, are not listening, crash with a
//! secret in their stderr) are used, a reload with new values and a reload that fails are
//! made, and every output is searched for each distinctive secret string.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

/// Every secret, as `(environment variable, value)`. Each value is distinctive, so a leak in
/// any form (log line, message, JSON field) is found by a plain substring search.
const SECRETS: &[(&str, &str)] = &[
    ("MCPGW_T_ENV", "envsecret-Q7x9Kp2w"),
    ("MCPGW_T_ARG", "argsecret-Zr4Lm8vc"),
    ("MCPGW_T_URL", "urlsecret-Hn3Wq1bd"),
    ("MCPGW_T_HDR", "hdrsecret-Vb6Yt0ne"),
    ("MCPGW_T_CMD", "cmdsecret-Jk8Ue2ra"),
    ("MCPGW_T_DEAD", "deadsecret-Mw2Zp5qu"),
    ("MCPGW_T_WRONG", "wrongsecret-Xc9Lr3fi"),
    ("MCPGW_T_BADURL", "ftp://badurlsecret-Gy7Ko1ts"),
    ("MCPGW_T_RELOADED", "reloadedsecret-Ud4Na8pe"),
];

/// A header value written literally in the file (no `${VAR}`): still never shown.
const LITERAL_HEADER: &str = "literalhdr-Pq5Ds3mh";

fn secret(var: &str) -> &'static str {
    SECRETS.iter().find(|(v, _)| *v == var).map(|(_, s)| *s).unwrap()
}

/// Every string that must never appear, with a short name for failure messages. The bad
/// URL is checked without its scheme, which the gateway may legitimately quote.
fn needles() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> =
        SECRETS.iter().map(|(var, value)| (*var, value.trim_start_matches("ftp://"))).collect();
    out.push(("literal header", LITERAL_HEADER));
    out
}

fn assert_clean(what: &str, text: &str) {
    for (name, needle) in needles() {
        if let Some(at) = text.find(needle) {
            let from = text[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
            let context = &text[from..(at + needle.len() + 100).min(text.len())];
            panic!("{what} leaks {name}: ...{context}...");
        }
    }
}

/// Starts the fixture over HTTP, requiring both headers; returns it and its `/mcp` URL.
async fn http_fixture() -> (ChildProcess, String) {
    crate::support::http::http_fixture([
        "--name".to_owned(),
        "web".to_owned(),
        "--require-header".to_owned(),
        format!("X-Api-Key: {}", secret("MCPGW_T_HDR")),
        "--require-header".to_owned(),
        format!("Authorization: Bearer {LITERAL_HEADER}"),
    ])
    .await
}

/// The servers: each puts a secret somewhere, and several fail in ways that produce messages.
fn servers(files: &TempFiles, url: &str, env_value_var: &str) -> Vec<(&'static str, Value)> {
    let log_dir = files.path().display().to_string();
    let query_url = format!("{url}?key=${{MCPGW_T_URL}}");
    vec![
        // Works: secrets in env and args.
        (
            "local",
            json!({
                "command": fixture_bin(),
                "args": ["--name", "local", "--log-file", format!("{log_dir}/${{MCPGW_T_ARG}}.log")],
                "env": {"API_TOKEN": format!("${{{env_value_var}}}"), "OTHER": "x-${MCPGW_T_ENV}-y"}
            }),
        ),
        // Works: secrets in the URL and both headers.
        (
            "web",
            json!({"url": query_url, "headers": {"X-Api-Key": "${MCPGW_T_HDR}", "Authorization": format!("Bearer {LITERAL_HEADER}")}}),
        ),
        // Cannot start: the command itself holds a secret.
        ("nocmd", json!({"command": "/nonexistent/${MCPGW_T_CMD}/server", "args": ["${MCPGW_T_ARG}"]})),
        // Refuses the headers (401).
        (
            "wrong",
            json!({"url": url, "headers": {"X-Api-Key": "${MCPGW_T_WRONG}", "Authorization": "Bearer ${MCPGW_T_WRONG}"}}),
        ),
        // Nothing listens there; the path holds a secret.
        ("dead", json!({"url": "http://127.0.0.1:9/${MCPGW_T_DEAD}/mcp", "headers": {"X-Api-Key": "${MCPGW_T_HDR}"}})),
        // Exits at startup; its argument holds a secret.
        ("broken", json!({"command": fixture_bin(), "args": ["--name", "${MCPGW_T_ARG}", "--startup", "exit"]})),
    ]
}

async fn start(extra: &[&str], env_value_var: &str) -> (GatewayUnderTest, ChildProcess) {
    let (web, url) = http_fixture().await;
    let files = TempFiles::new();
    let mut spawn =
        gateway_spawn(&files, &servers(&files, &url, env_value_var), &allow_all(), extra).env("RUST_LOG", "debug");
    for (var, value) in SECRETS {
        spawn = spawn.env(var, value);
    }
    (GatewayUnderTest::from_spawn(files, &spawn).await, web)
}

/// Uses every server, in ways that succeed and ways that fail; returns every answer as text.
async fn exercise(gw: &GatewayUnderTest) -> String {
    let mut out = String::new();
    let mut keep = |r: rmcp::model::CallToolResult| {
        out.push_str(&serde_json::to_string(&r).unwrap());
        out.push('\n');
        r
    };
    // The working servers work: `web` only answers with both secret headers, and `local`
    // writes its event log to the path with the expanded argument (checked by the caller).
    let r = keep(
        gw.call("execute_tool", json!({"agent_id": "dev", "server": "local", "tool": "echo", "args": {"text": "hi"}}))
            .await,
    );
    assert_eq!(first_text(&r), "hi", "{r:?}");
    let r = keep(
        gw.call("execute_tool", json!({"agent_id": "dev", "server": "web", "tool": "add", "args": {"a": 1, "b": 2}}))
            .await,
    );
    assert_eq!(r.structured_content, Some(json!({"sum": 3})), "{r:?}");
    // Every failing server, twice (start failure, then backoff), through both tools.
    for server in ["nocmd", "wrong", "dead", "broken"] {
        for _ in 0..2 {
            let r = keep(
                gw.call(
                    "execute_tool",
                    json!({"agent_id": "dev", "server": server, "tool": "echo", "args": {"text": "x"}}),
                )
                .await,
            );
            assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "{server}: {r:?}");
            keep(gw.call("get_server_tools", json!({"agent_id": "dev", "server": server})).await);
        }
    }
    // A downstream error, a crash (with its stderr tail in the message) and a restart.
    keep(
        gw.call("execute_tool", json!({"agent_id": "dev", "server": "local", "tool": "add", "args": {"a": "x"}})).await,
    );
    let r = keep(
        gw.call("execute_tool", json!({"agent_id": "dev", "server": "local", "tool": "crash", "args": {"code": 4}}))
            .await,
    );
    assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "{r:?}");
    keep(
        gw.call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "local", "tool": "echo", "args": {"text": "again"}}),
        )
        .await,
    );
    keep(gw.call("get_server_tools", json!({"agent_id": "dev", "server": "web"})).await);
    keep(gw.call("list_servers", json!({"agent_id": "dev"})).await);
    let r = keep(gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await);
    // The targets are shown as written, `${VAR}` and all.
    let listed = serde_json::to_string(&r.structured_content).unwrap();
    assert!(listed.contains("${MCPGW_T_URL}"), "{listed}");
    keep(gw.call("get_gateway_status", json!({"agent_id": "dev"})).await);
    out
}

/// Reloads `.mcp.json` with a new secret value, then with one that fails validation.
async fn reload_twice(gw: &mut GatewayUnderTest, web_url: &str) -> String {
    let mut out = String::new();
    let files = &gw.files;
    let mut changed = servers(files, web_url, "MCPGW_T_RELOADED");
    files.write(".mcp.json", mcp_json(&changed));
    let reloaded = eventually(Duration::from_secs(10), || {
        gw.client.child().stderr().count_lines_containing("MCP config reloaded") >= 1
    })
    .await;
    assert!(reloaded, "the first reload never happened:\n{}", gw.stderr());
    // `local` changed (its env), so it restarts with the new secret.
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "local", "tool": "echo", "args": {"text": "reloaded"}}),
        )
        .await;
    assert_eq!(first_text(&r), "reloaded", "{r:?}");
    out.push_str(&serde_json::to_string(&r).unwrap());
    // A URL that is not http(s) after expansion: the reload fails and says why.
    changed.push(("badurl", json!({"url": "${MCPGW_T_BADURL}"})));
    gw.files.write(".mcp.json", mcp_json(&changed));
    let failed = eventually(Duration::from_secs(10), || {
        gw.client.child().stderr().count_lines_containing("MCP config reload failed") >= 1
    })
    .await;
    assert!(failed, "the failing reload was never reported:\n{}", gw.stderr());
    let status = gw.status(Some("dev")).await;
    let error = status["reload"]["mcp_config"]["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("badurl"), "the reload error names the server: {status}");
    out.push_str(&status.to_string());
    out
}

#[tokio::test]
async fn secrets_stay_out_of_logs_audit_status_and_errors() {
    let (mut gw, _web) = start(&[], "MCPGW_T_ENV").await;
    let answers = exercise(&gw).await;
    let url = {
        let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
        let web = structured(&r)["servers"].as_array().unwrap().iter().find(|s| s["name"] == "wrong").unwrap().clone();
        web["url"].as_str().unwrap().to_owned()
    };
    let event_log = gw.files.file_path(&format!("{}.log", secret("MCPGW_T_ARG")));
    assert!(event_log.exists(), "the argument was expanded for the server itself");
    let reloads = reload_twice(&mut gw, &url).await;
    assert_clean("tool results and errors", &answers);
    assert_clean("tool results after reloads", &reloads);
    let audit = std::fs::read_to_string(&gw.audit).unwrap_or_default();
    assert!(!audit.is_empty());
    assert_clean("the audit log", &audit);
    let stderr = gw.stderr();
    assert!(stderr.contains("downstream started"), "the log is at debug level and complete:\n{stderr}");
    assert_clean("the gateway's log (RUST_LOG=debug)", &stderr);
    gw.client.close().await;
}

#[tokio::test]
async fn secrets_stay_out_with_debug_status_and_audited_arguments() {
    let (mut gw, _web) = start(&["--debug", "--audit-args"], "MCPGW_T_ENV").await;
    let answers = exercise(&gw).await;
    let status = gw.status(Some("dev")).await;
    assert!(status.get("debug").is_some(), "--debug adds the debug section: {status}");
    assert_clean("tool results and errors (--debug)", &answers);
    assert_clean("get_gateway_status (--debug)", &status.to_string());
    let lines = gw.wait_audit(10, Duration::from_secs(5)).await;
    assert!(lines.iter().any(|l| l.get("args").is_some()), "--audit-args logs arguments: {lines:?}");
    let audit = std::fs::read_to_string(&gw.audit).unwrap_or_default();
    assert_clean("the audit log (--audit-args)", &audit);
    assert_clean("the gateway's log (--debug)", &gw.stderr());
    gw.client.close().await;
}

#[tokio::test]
async fn a_config_that_fails_at_startup_does_not_print_its_secrets() {
    let files = TempFiles::new();
    let servers = [("badurl", json!({"url": "${MCPGW_T_BADURL}", "headers": {"X-Api-Key": "${MCPGW_T_HDR}"}}))];
    let mut spawn = gateway_spawn(&files, &servers, &allow_all(), &[]);
    for (var, value) in SECRETS {
        spawn = spawn.env(var, value);
    }
    let mut child = spawn.spawn().unwrap();
    let status = child.wait_exit(Duration::from_secs(10)).await.expect("the gateway exits on a bad config");
    assert!(!status.success());
    let line = child.stderr().wait_for_line("server `badurl`", Duration::from_secs(5)).await;
    assert!(line.is_some(), "the error names the server:\n{}", child.stderr().text());
    let stderr = child.stderr().text();
    assert_clean("the startup error", &stderr);
}

#[tokio::test]
async fn a_failed_reload_does_not_quote_literal_header_or_env_values() {
    // Literal values (no `${VAR}`) that appear only in the broken files, so the log writer
    // has never seen them: only the quoting of source lines can keep them out.
    const HEADER: &str = "newliteral-Rk2Vd9xa";
    const ENV: &str = "envliteral-Ty5Bq3cu";
    const SYNTAX: &str = "syntaxliteral-Wm8Hn1oz";
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("ok", fixture_server(&[]))], &allow_all(), &["--debug"]);
    let mut gw = GatewayUnderTest::from_spawn(files, &spawn).await;
    let check = |what: &str, text: &str| {
        for needle in [HEADER, ENV, SYNTAX] {
            assert!(!text.contains(needle), "{what} quotes `{needle}`:\n{text}");
        }
    };
    // A semantic error on the line of a literal header and a literal env value.
    let broken = [
        ("ok", fixture_server(&[])),
        (
            "web",
            json!({"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": format!("Bearer {HEADER}"), "X-Count": 5}}),
        ),
        ("tool", json!({"command": "x", "env": {"API_KEY": ENV}, "timeout_ms": "soon"})),
    ];
    gw.files.write(".mcp.json", mcp_json(&broken));
    let failed = eventually(Duration::from_secs(10), || {
        gw.client.child().stderr().count_lines_containing("MCP config reload failed") >= 1
    })
    .await;
    assert!(failed, "the reload never failed:\n{}", gw.stderr());
    let status = gw.status(Some("dev")).await;
    let error = status["reload"]["mcp_config"]["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("X-Count") || error.contains("headers"), "the error is still useful: {error}");
    assert!(error.contains("timeout_ms"), "both errors are reported: {error}");
    check("get_gateway_status --debug after a failed reload", &status.to_string());
    // A syntax error on the line of a literal header.
    let text = format!(
        "{{\"mcpServers\": {{\"web\": {{\"url\": \"http://127.0.0.1:9/mcp\", \"headers\": {{\"Authorization\": \"Bearer {SYNTAX}\" \"oops\"}}}}}}}}\n"
    );
    gw.files.write(".mcp.json", text);
    let failed = eventually(Duration::from_secs(10), || {
        gw.client.child().stderr().count_lines_containing("MCP config reload failed") >= 2
    })
    .await;
    assert!(failed, "the second reload never failed:\n{}", gw.stderr());
    let status = gw.status(Some("dev")).await;
    let error = status["reload"]["mcp_config"]["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("\"Authorization\""), "the quoted line keeps its keys: {error}");
    check("get_gateway_status --debug after a syntax error", &status.to_string());
    check("the gateway's log", &gw.stderr());
    gw.client.close().await;
}

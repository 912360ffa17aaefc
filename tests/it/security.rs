//! The gateway around the policy, tried as an attacker would (issue 12): what one client can
//! make the gateway write, hold or tell, and what reaches another agent.

use serde_json::json;

use crate::support::*;

/// A forged log record: if this text ever starts a line of the gateway's log, a client wrote
/// a log line of its own.
const FORGED: &str = "1999-01-01T00:00:00.000000Z ERROR mcpgw: FORGED LINE";

fn injected(what: &str) -> String {
    format!("{what}\n{FORGED}\x1b[2J\r")
}

#[tokio::test]
async fn no_client_or_server_value_can_forge_a_log_line() {
    let servers = [("s", fixture_server(&[]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &["--agent", "dev"]).await;
    // A spoofed agent id is logged at the default level.
    let r = gw.call("execute_tool", json!({"agent_id": injected("mallory"), "server": "s", "tool": "echo"})).await;
    assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"));
    // Server and tool names and URIs from the client.
    let r = gw.call("execute_tool", json!({"server": injected("s"), "tool": injected("t")})).await;
    assert!(error_code(&r).is_some());
    let r = gw.call("execute_tool", exec("s", &injected("echo"), json!({}))).await;
    assert!(error_code(&r).is_some());
    // A downstream's stderr.
    let r = gw.call("execute_tool", exec("s", "stderr", json!({"text": injected("from the server")}))).await;
    assert_eq!(error_code(&r), None, "{r:?}");
    let mut gw = gw;
    let logged = gw.client.child().stderr().wait_for_line("from the server", std::time::Duration::from_secs(5)).await;
    assert!(logged.is_some(), "the server's stderr line is logged");
    let log = gw.client.child().stderr().text();
    for line in log.lines() {
        assert!(!line.starts_with("1999-01-01"), "a forged line in the log:\n{log}");
        assert!(!line.contains('\x1b') && !line.contains('\r'), "raw control characters in the log: {line:?}");
    }
    assert!(log.contains("mallory\\n1999-01-01"), "the spoofed id is shown escaped:\n{log}");
    gw.client.close().await;
}

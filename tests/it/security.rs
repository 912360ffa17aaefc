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

const ALICE: &str = "alice-token-0000000001";
const BOB: &str = "bob-token-00000000000002";

/// An HTTP gateway with two agents, each with its own token, sharing the server `shared`.
async fn two_agents(servers: &[(&str, serde_json::Value)]) -> crate::support::http::HttpGateway {
    let rules = json!({"agents": {
        "alice": {"allow": {"servers": ["shared"]}},
        "bob": {"allow": {"servers": ["shared"]}}
    }});
    crate::support::http::HttpGatewayBuilder::new(servers, rules)
        .gateway_section(json!({"http": {"tokens": [
            {"agent": "alice", "token": ALICE},
            {"agent": "bob", "token": BOB}
        ]}}))
        .start()
        .await
}

#[tokio::test]
async fn one_agents_crash_never_shows_its_stderr_to_another() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = two_agents(&servers).await;
    let alice = gw.client(Some(ALICE)).await;
    let bob = gw.client(Some(BOB)).await;
    let waiting = alice.call_tool("execute_tool", json!({"server": "shared", "tool": "sleep", "args": {"ms": 20000}}));
    let crash = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = bob
            .call_tool(
                "execute_tool",
                json!({"server": "shared", "tool": "stderr", "args": {"text": "BOB-SECRET-DB-PASSWORD=hunter2"}}),
            )
            .await
            .unwrap();
        assert_eq!(error_code(&r), None, "{r:?}");
        bob.call_tool("execute_tool", json!({"server": "shared", "tool": "crash", "args": {"code": 9}})).await
    };
    let (alices, _) = tokio::join!(waiting, crash);
    let alices = alices.unwrap();
    let e = gateway_error(&alices);
    assert_eq!(e["code"], "SERVER_UNAVAILABLE", "{alices:?}");
    let text = serde_json::to_string(&alices).unwrap();
    assert!(!text.contains("hunter2"), "bob's secret reached alice: {text}");
    assert!(e["message"].as_str().unwrap().contains("exited with code 9"), "the cause is named: {e}");
    assert!(gw.stderr().contains("BOB-SECRET-DB-PASSWORD"), "the operator's log keeps it");
}

//! Identity, audit and metrics (DESIGN.md sections 4, 5 and 7; issue 5), through the real
//! `mcpgw` binary: one audit line with every field for each operation and outcome, arguments
//! only with `--audit-args`, per-agent metrics in `get_gateway_status`, the default agent (flag,
//! environment, or an agent named `default`), and a bound identity that refuses and audits
//! requests naming another agent.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

fn rules() -> Value {
    json!({"agents": {
        "dev": {"allow": {"servers": ["tools", "broken", "ghost"]}, "deny": {"tools": {"tools": ["crash"]}}},
        "ops": {"allow": {"servers": ["ops_only"]}}
    }})
}

fn servers() -> Vec<(&'static str, Value)> {
    vec![
        ("tools", fixture_server(&["--name", "tools"])),
        ("broken", fixture_server(&["--name", "broken", "--startup", "exit"])),
        ("ops_only", fixture_server(&["--name", "ops_only"])),
    ]
}

fn exec(tool: &str, args: Value) -> Value {
    json!({"agent_id": "dev", "server": "tools", "tool": tool, "args": args})
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_rfc3339_utc(ts: &str) -> bool {
    let b = ts.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

const FIELDS: [&str; 12] = [
    "ts",
    "decision_id",
    "agent_id",
    "operation",
    "server",
    "tool",
    "decision",
    "reason",
    "determining_rules",
    "snapshot",
    "outcome",
    "latency_ms",
];

#[tokio::test]
async fn every_operation_and_outcome_gets_one_complete_audit_line() {
    let gw = GatewayUnderTest::start(&servers(), &rules(), &["--timeout-ms", "5000"]).await;
    let calls: Vec<(&str, Value, &str)> = vec![
        ("list_servers", json!({"agent_id": "dev"}), "ok"),
        ("get_server_tools", json!({"agent_id": "dev", "server": "tools"}), "ok"),
        ("execute_tool", exec("echo", json!({"text": "secret-value"})), "ok"),
        ("get_gateway_status", json!({"agent_id": "dev"}), "ok"),
        ("execute_tool", exec("crash", json!({})), "DENIED_BY_POLICY"),
        ("get_server_tools", json!({"agent_id": "dev", "server": "ops_only"}), "DENIED_BY_POLICY"),
        ("list_servers", json!({"agent_id": "ghost"}), "INVALID_AGENT_ID"),
        ("execute_tool", exec("echo", json!([1])), "INVALID_ARGUMENT"),
        ("execute_tool", exec("nope", json!({})), "TOOL_NOT_FOUND"),
        ("execute_tool", json!({"agent_id": "dev", "server": "ghost", "tool": "x"}), "UNKNOWN_SERVER"),
        (
            "execute_tool",
            json!({"agent_id": "dev", "server": "tools", "tool": "sleep", "args": {"ms": 5000}, "timeout_ms": 150}),
            "TIMEOUT",
        ),
        ("execute_tool", exec("add", json!({"a": "x"})), "DOWNSTREAM_ERROR"),
        ("execute_tool", json!({"agent_id": "dev", "server": "broken", "tool": "echo"}), "SERVER_UNAVAILABLE"),
    ];
    for (op, args, expected) in &calls {
        let r = gw.call(op, args.clone()).await;
        assert_eq!(error_code(&r).as_deref().unwrap_or("ok"), *expected, "{op} {args}: {r:?}");
    }
    let snapshot = gw.status(Some("dev")).await["policy"]["snapshot"].as_str().unwrap().to_owned();
    let lines = gw.wait_audit(calls.len(), Duration::from_secs(5)).await;
    let lines = &lines[..calls.len()];
    let mut ids = BTreeSet::new();
    for ((op, args, expected), line) in calls.iter().zip(lines) {
        for field in FIELDS {
            assert!(line.get(field).is_some(), "{op} {args}: `{field}` missing in {line}");
        }
        assert!(is_rfc3339_utc(line["ts"].as_str().unwrap()), "{line}");
        assert!(ids.insert(line["decision_id"].as_str().unwrap().to_owned()), "decision ids are unique: {line}");
        assert_eq!(line["operation"], *op, "{line}");
        assert_eq!(line["outcome"], *expected, "{line}");
        assert_eq!(line["agent_id"], args["agent_id"], "{line}");
        assert!(line["latency_ms"].as_f64().is_some_and(|l| l >= 0.0), "{line}");
        assert!(line["determining_rules"].is_array(), "{line}");
        if let Some(server) = args.get("server") {
            assert_eq!(&line["server"], server, "{line}");
        }
        match (*op, *expected) {
            // Refused before the policy was asked.
            (_, "INVALID_ARGUMENT") => assert!(line["decision"].is_null(), "{line}"),
            // Many decisions (one per server), none of them the call's: only the snapshot.
            ("list_servers" | "get_gateway_status", "ok") => {
                assert!(line["decision"].is_null() && line["reason"].is_null(), "{line}");
                assert_eq!(line["snapshot"], snapshot.as_str(), "{line}");
            }
            _ => {
                assert!(matches!(line["decision"].as_str(), Some("allow" | "deny")), "{line}");
                assert!(line["reason"].is_string(), "{line}");
                assert_eq!(line["snapshot"], snapshot.as_str(), "{line}");
            }
        }
        assert!(line.get("args").is_none(), "arguments are not logged without --audit-args: {line}");
    }
    let raw = std::fs::read_to_string(&gw.audit).unwrap();
    assert!(!raw.contains("secret-value"), "tool arguments leaked into the audit log");

    // The details of a few.
    let denied = &lines[4];
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["reason"], "explicit_deny");
    assert_eq!(denied["tool"], "crash");
    assert_eq!(denied["determining_rules"][0]["location"], "agents.dev.deny.tools.tools[0]", "{denied}");
    assert_eq!(denied["determining_rules"][0]["pattern"], "crash", "{denied}");
    let allowed = &lines[2];
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["tool"], "echo");
    assert_eq!(allowed["reason"], "implicit_grant", "{allowed}");
    assert_eq!(lines[5]["reason"], "no_matching_allow", "{}", lines[5]);
    assert!(lines[5]["determining_rules"].as_array().unwrap().is_empty(), "a default deny has no rules");
    assert_eq!(lines[6]["reason"], "unknown_agent", "{}", lines[6]);
    assert!(lines[10]["latency_ms"].as_f64().unwrap() >= 150.0, "{}", lines[10]);
    gw.client.close().await;
}

#[tokio::test]
async fn audit_args_logs_arguments_only_when_asked() {
    let gw = GatewayUnderTest::start(&servers(), &rules(), &["--audit-args"]).await;
    let r = gw.call("execute_tool", exec("echo", json!({"text": "logged-value"}))).await;
    assert_eq!(first_text(&r), "logged-value");
    // A JSON-string `args` is logged as the object it holds.
    gw.call("execute_tool", exec("add", json!({"a": 1, "b": 2}).to_string().into())).await;
    let lines = gw.wait_audit(2, Duration::from_secs(5)).await;
    assert_eq!(lines[0]["args"], json!({"text": "logged-value"}), "{}", lines[0]);
    assert_eq!(lines[1]["args"], json!({"a": 1, "b": 2}), "{}", lines[1]);
    gw.client.close().await;
}

#[tokio::test]
async fn metrics_are_per_agent_and_per_server() {
    let gw = GatewayUnderTest::start(&servers(), &rules(), &[]).await;
    for _ in 0..3 {
        gw.call("execute_tool", exec("echo", json!({"text": "x"}))).await;
    }
    gw.call("execute_tool", exec("nope", json!({}))).await;
    gw.call("execute_tool", exec("add", json!({"a": "x"}))).await;
    gw.call("list_servers", json!({"agent_id": "dev"})).await;
    gw.call("list_servers", json!({"agent_id": "ops"})).await;
    gw.call("get_server_tools", json!({"agent_id": "ops", "server": "ops_only"})).await;

    let dev = gw.status(Some("dev")).await;
    let ops: Vec<Value> = dev["metrics"]["operations"].as_array().unwrap().clone();
    let row = |op: &str| ops.iter().find(|o| o["operation"] == op).cloned().unwrap_or_else(|| panic!("{op}: {ops:?}"));
    assert_eq!(row("execute_tool")["count"], 5, "{ops:?}");
    assert_eq!(row("execute_tool")["errors"], 2, "{ops:?}");
    assert_eq!(row("list_servers")["count"], 1, "only dev's own calls: {ops:?}");
    assert!(ops.iter().all(|o| o["operation"] != "get_server_tools"), "ops's calls are not dev's: {ops:?}");
    let p = row("execute_tool");
    let (p50, p95, p99) = (p["p50_ms"].as_f64().unwrap(), p["p95_ms"].as_f64().unwrap(), p["p99_ms"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p95 && p95 <= p99, "{p}");

    // Per server: the calls that reached it (TOOL_NOT_FOUND never did), and its errors.
    let tools = dev["servers"].as_array().unwrap().iter().find(|s| s["name"] == "tools").unwrap().clone();
    assert_eq!(tools["calls"], 4, "{tools}");
    assert_eq!(tools["errors"], 1, "{tools}");
    assert_eq!(tools["restarts"], 0, "{tools}");

    let ops_status = gw.status(Some("ops")).await;
    let rows = ops_status["metrics"]["operations"].as_array().unwrap();
    let ops_count: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(
        ops_count, 2,
        "list_servers and get_server_tools (this status call is counted after it answers): {rows:?}"
    );
    gw.client.close().await;
}

/// The `agent_id` parameter in the four schemas: required, optional or absent.
async fn agent_param(gw: &GatewayUnderTest) -> &'static str {
    let tools = gw.client.list_tools().await.unwrap();
    let modes: BTreeSet<&str> = tools
        .iter()
        .map(|t| {
            let schema = Value::Object((*t.input_schema).clone());
            match (schema["properties"].get("agent_id"), schema["required"].as_array()) {
                (None, _) => "absent",
                (Some(_), Some(r)) if r.iter().any(|x| x == "agent_id") => "required",
                (Some(_), _) => "optional",
            }
        })
        .collect();
    assert_eq!(modes.len(), 1, "the same in every tool: {modes:?}");
    modes.into_iter().next().unwrap()
}

async fn servers_without_agent_id(gw: &GatewayUnderTest) -> Result<Vec<String>, String> {
    let r = gw.call("list_servers", json!({})).await;
    match error_code(&r) {
        None => Ok(server_names(&r)),
        Some(code) => Err(code),
    }
}

#[tokio::test]
async fn the_default_agent_comes_from_the_flag_the_environment_or_the_rules() {
    let with_default = {
        let mut r = rules();
        r["agents"]["default"] = json!({"allow": {"servers": ["ops_only"]}});
        r
    };
    /// What the case is, the rules, the flags, the environment, and the servers expected.
    type Case<'a> = (&'a str, Value, Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        ("--default-agent", rules(), vec!["--default-agent", "dev"], vec![], vec!["tools", "broken"]),
        ("GATEWAY_DEFAULT_AGENT", rules(), vec![], vec![("GATEWAY_DEFAULT_AGENT", "dev")], vec!["tools", "broken"]),
        ("agent named default", with_default.clone(), vec![], vec![], vec!["ops_only"]),
        ("the flag wins over `default`", with_default, vec!["--default-agent", "dev"], vec![], vec!["tools", "broken"]),
    ];
    for (what, rules, args, env, expected) in cases {
        let gw = GatewayUnderTest::start_env(&servers(), &rules, &args, &env).await;
        assert_eq!(agent_param(&gw).await, "optional", "{what}");
        assert_eq!(servers_without_agent_id(&gw).await, Ok(expected.iter().map(|s| s.to_string()).collect()), "{what}");
        let r = gw.call("list_servers", json!({"agent_id": ""})).await;
        assert_eq!(server_names(&r), expected, "{what}: an empty id is a missing id");
        // An explicit id is judged as itself, and an unknown one is refused (deny_on_missing_agent
        // is true by default): the default agent never stands in for it.
        let r = gw.call("list_servers", json!({"agent_id": "ops"})).await;
        assert_eq!(server_names(&r), ["ops_only"], "{what}");
        let r = gw.call("list_servers", json!({"agent_id": "ghost"})).await;
        assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{what}: {r:?}");
        gw.client.close().await;
    }

    // No default at all: agent_id is required and its absence is INVALID_AGENT_ID.
    let gw = GatewayUnderTest::start(&servers(), &rules(), &[]).await;
    assert_eq!(agent_param(&gw).await, "required");
    assert_eq!(servers_without_agent_id(&gw).await, Err("INVALID_AGENT_ID".to_owned()));
    gw.client.close().await;
}

#[tokio::test]
async fn unknown_agents_fall_back_to_the_default_only_when_the_rules_say_so() {
    let mut lenient = rules();
    lenient["defaults"] = json!({"deny_on_missing_agent": false});
    let gw = GatewayUnderTest::start(&servers(), &lenient, &["--default-agent", "ops"]).await;
    let r = gw.call("list_servers", json!({"agent_id": "ghost"})).await;
    assert_eq!(server_names(&r), ["ops_only"], "judged as the default agent: {r:?}");
    let r = gw
        .call("execute_tool", json!({"agent_id": "ghost", "server": "tools", "tool": "echo", "args": {"text": "x"}}))
        .await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "never allow-all: {r:?}");
    // The audit line says whose rules decided.
    let lines = gw.wait_audit(2, Duration::from_secs(3)).await;
    assert_eq!(lines[1]["agent_id"], "ghost", "{}", lines[1]);
    assert_eq!(lines[1]["judged_as"], "ops", "{}", lines[1]);
    gw.client.close().await;

    // Lenient but with no default agent: still refused.
    let gw = GatewayUnderTest::start(&servers(), &lenient, &[]).await;
    let r = gw.call("list_servers", json!({"agent_id": "ghost"})).await;
    assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{r:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn a_bound_identity_hides_agent_id_and_refuses_and_audits_spoofing() {
    for (what, args, env) in
        [("--agent", vec!["--agent", "dev"], vec![]), ("GATEWAY_AGENT", vec![], vec![("GATEWAY_AGENT", "dev")])]
    {
        let gw = GatewayUnderTest::start_env(&servers(), &rules(), &args, &env).await;
        assert_eq!(agent_param(&gw).await, "absent", "{what}");
        assert_eq!(servers_without_agent_id(&gw).await, Ok(vec!["tools".to_owned(), "broken".to_owned()]), "{what}");
        let r = gw.call("list_servers", json!({"agent_id": "dev"})).await;
        assert_eq!(server_names(&r), ["tools", "broken"], "{what}: repeating the bound id is fine");

        // Claiming to be `ops` to reach ops's server.
        let r = gw
            .call(
                "execute_tool",
                json!({"agent_id": "ops", "server": "ops_only", "tool": "echo", "args": {"text": "x"}}),
            )
            .await;
        let e = gateway_error(&r);
        assert_eq!(e["code"], "INVALID_AGENT_ID", "{what}: {r:?}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("`dev`") && msg.contains("`ops`"), "{what}: {msg}");
        let r = gw.call("list_servers", json!({"agent_id": "ops"})).await;
        assert_eq!(error_code(&r).as_deref(), Some("INVALID_AGENT_ID"), "{what}");

        let lines = gw.wait_audit(4, Duration::from_secs(5)).await;
        let spoof = &lines[2];
        assert_eq!(spoof["operation"], "execute_tool", "{spoof}");
        assert_eq!(spoof["agent_id"], "dev", "{what}: audited as the bound agent: {spoof}");
        assert_eq!(spoof["spoofed_agent_id"], "ops", "{what}: {spoof}");
        assert_eq!(spoof["outcome"], "INVALID_AGENT_ID", "{spoof}");
        assert!(lines[0].get("spoofed_agent_id").is_none(), "{}", lines[0]);
        assert_eq!(lines[0]["agent_id"], "dev", "{}", lines[0]);
        gw.client.close().await;
    }
}

//! Every gateway error code of DESIGN.md section 5, through the real `mcpgw` binary: each comes
//! back as an `isError` tool result with `{"error": {"code", "message", ...}}` and the message
//! as text, never as a protocol error and never as a hang.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

fn rules() -> Value {
    json!({"agents": {
        "dev": {
            "allow": {"servers": ["tools", "broken", "stuck", "ghost_server", "secret_*"]},
            "deny": {"servers": ["secret_*"], "tools": {"tools": ["crash"]}}
        },
        "intern": {"allow": {"servers": ["tools"], "tools": {"tools": ["echo"]}}}
    }})
}

fn servers(log: &std::path::Path) -> Vec<(&'static str, Value)> {
    vec![
        ("tools", logged_fixture("tools", log, &[])),
        ("secret_db", fixture_server(&["--name", "secret_db"])),
        ("other", fixture_server(&["--name", "other"])),
        ("broken", fixture_server(&["--name", "broken", "--startup", "exit"])),
        ("stuck", fixture_server(&["--name", "stuck", "--startup", "hang"])),
    ]
}

async fn start(extra: &[&str]) -> (GatewayUnderTest, std::path::PathBuf) {
    let files = TempFiles::new();
    let log = files.file_path("fixture.log");
    let spawn = gateway_spawn(&files, &servers(&log), &rules(), extra);
    (GatewayUnderTest::from_spawn(files, &spawn).await, log)
}

#[tokio::test]
async fn invalid_agent_id_for_unknown_malformed_and_missing_ids() {
    let (gw, _) = start(&[]).await;
    let ops = [
        ("list_servers", json!({})),
        ("get_server_tools", json!({"server": "tools"})),
        ("execute_tool", json!({"server": "tools", "tool": "echo", "args": {"text": "x"}})),
        ("get_gateway_status", json!({})),
    ];
    for (op, base) in ops {
        for agent in [json!("ghost"), json!("bad id!"), json!("x".repeat(300)), json!(""), Value::Null] {
            let mut args = base.clone();
            if !agent.is_null() {
                args["agent_id"] = agent.clone();
            }
            let r = gw.call(op, args).await;
            assert_eq!(gateway_error_code(&r), "INVALID_AGENT_ID", "{op} as {agent}: {r:?}");
        }
        // The no-default case says what is missing.
        let r = gw.call(op, base.clone()).await;
        let msg = gateway_error(&r)["message"].as_str().unwrap().to_owned();
        assert!(msg.contains("agent_id") && msg.contains("required"), "{op}: {msg}");
        let mut args = base.clone();
        args["agent_id"] = json!("ghost");
        let r = gw.call(op, args).await;
        assert!(gateway_error(&r)["message"].as_str().unwrap().contains("`ghost`"), "{op}: {r:?}");
        // A non-string id is a bad argument, not an identity.
        let mut args = base;
        args["agent_id"] = json!(7);
        let r = gw.call(op, args).await;
        assert_eq!(gateway_error_code(&r), "INVALID_ARGUMENT", "{op}: {r:?}");
    }
    gw.client.close().await;
}

#[tokio::test]
async fn denied_servers_look_the_same_whether_they_exist_or_not() {
    let (gw, _) = start(&[]).await;
    // `other` exists and `nowhere` does not; neither is allowed: same code, same shape, same
    // message but for the name.
    for (op, extra) in [("get_server_tools", json!({})), ("execute_tool", json!({"tool": "echo"}))] {
        let mut seen = Vec::new();
        for server in ["other", "nowhere"] {
            let mut args = json!({"agent_id": "dev", "server": server});
            args.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let r = gw.call(op, args).await;
            let e = gateway_error(&r).clone();
            assert_eq!(e["code"], "DENIED_BY_POLICY", "{op} {server}: {r:?}");
            assert_eq!(e["server"], server);
            assert!(e.get("rule").is_none(), "a default deny has no rule: {e}");
            assert!(e["message"].as_str().unwrap().contains("no allow rule grants it"), "{e}");
            seen.push(e.to_string().replace("nowhere", "other"));
        }
        assert_eq!(seen[0], seen[1], "{op}: a missing server must not be told apart from a denied one");
    }
    // An explicit deny names the rule, for an existing and a missing server alike.
    for server in ["secret_db", "secret_nothing"] {
        let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": server, "tool": "echo"})).await;
        let e = gateway_error(&r);
        assert_eq!(e["code"], "DENIED_BY_POLICY", "{server}: {r:?}");
        assert_eq!(e["rule"], "deny `secret_*` at agents.dev.deny.servers[0]", "{server}: {e}");
    }
    // A denied tool names its rule and the tool; an intern's unlisted tool has no rule.
    let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "crash"})).await;
    let e = gateway_error(&r);
    assert_eq!(e["code"], "DENIED_BY_POLICY");
    assert_eq!(e["rule"], "deny `crash` at agents.dev.deny.tools.tools[0]");
    assert_eq!(e["tool"], "crash");
    let r = gw.call("execute_tool", json!({"agent_id": "intern", "server": "tools", "tool": "add"})).await;
    assert_eq!(gateway_error_code(&r), "DENIED_BY_POLICY");
    // The denied tool was never run: the server is still up.
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "echo", "args": {"text": "up"}}))
        .await;
    assert_eq!(first_text(&r), "up");
    // list_servers leaves denied servers out instead of failing.
    let r = gw.call("list_servers", json!({"agent_id": "dev"})).await;
    assert_eq!(server_names(&r), ["tools", "broken", "stuck"]);
    gw.client.close().await;
}

#[tokio::test]
async fn unknown_server_and_tool_not_found() {
    let (gw, _) = start(&[]).await;
    for op in ["get_server_tools", "execute_tool"] {
        let r = gw.call(op, json!({"agent_id": "dev", "server": "ghost_server", "tool": "echo"})).await;
        if op == "get_server_tools" {
            // get_server_tools takes no `tool`: the typo is reported first.
            assert_eq!(gateway_error_code(&r), "INVALID_ARGUMENT", "{r:?}");
            let r = gw.call(op, json!({"agent_id": "dev", "server": "ghost_server"})).await;
            assert_eq!(gateway_error_code(&r), "UNKNOWN_SERVER", "{r:?}");
            assert_eq!(gateway_error(&r)["server"], "ghost_server");
        } else {
            assert_eq!(gateway_error_code(&r), "UNKNOWN_SERVER", "{r:?}");
        }
    }
    let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "no_such_tool"})).await;
    let e = gateway_error(&r);
    assert_eq!(e["code"], "TOOL_NOT_FOUND", "{r:?}");
    assert_eq!(e["server"], "tools");
    assert_eq!(e["tool"], "no_such_tool");
    gw.client.close().await;
}

#[tokio::test]
async fn server_unavailable_names_the_exit_and_keeps_the_stderr_for_the_operator() {
    let (mut gw, _) = start(&["--debug"]).await;
    // SERVER_UNAVAILABLE with the exit status, not the TIMEOUT of the 60 s default budget.
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "broken", "tool": "echo", "args": {"text": "x"}}))
        .await;
    let e = gateway_error(&r);
    assert_eq!(e["code"], "SERVER_UNAVAILABLE", "{r:?}");
    assert_eq!(e["server"], "broken");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("exited with code 3"), "the exit status: {msg}");
    // A shared server's stderr may hold another agent's data: never in an agent's error.
    assert!(!msg.contains("startup fault"), "the stderr tail reached an agent: {msg}");
    // Again, and through get_server_tools: still a clear error, not a hang.
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "broken"})).await;
    assert_eq!(gateway_error_code(&r), "SERVER_UNAVAILABLE", "{r:?}");
    let s = gw.status(Some("dev")).await;
    let broken = s["servers"].as_array().unwrap().iter().find(|s| s["name"] == "broken").unwrap().clone();
    assert_eq!(broken["status"], "failed", "{broken}");
    assert!(broken["last_error"].as_str().unwrap().contains("exited with code 3"), "{broken}");
    assert!(!broken["last_error"].as_str().unwrap().contains("startup fault"), "{broken}");
    // The operator finds the stderr in the log, and in the status in debug mode.
    assert!(s["debug"]["servers"]["broken"]["last_stderr"].as_str().unwrap().contains("startup fault `exit`"), "{s}");
    let logged = gw.client.child().stderr().count_lines_containing("startup fault `exit`: exiting with code 3");
    assert!(logged >= 1, "{}", gw.client.child().stderr().text());
    gw.client.close().await;
}

#[tokio::test]
async fn a_server_that_never_answers_initialize_fails_within_the_timeout() {
    let (gw, _) = start(&["--timeout-ms", "800"]).await;
    for (op, args) in [
        ("execute_tool", json!({"agent_id": "dev", "server": "stuck", "tool": "echo", "timeout_ms": 600})),
        ("get_server_tools", json!({"agent_id": "dev", "server": "stuck"})),
    ] {
        let r = gw.call(op, args).await;
        let e = gateway_error(&r);
        assert!(
            e["code"] == "SERVER_UNAVAILABLE" || e["code"] == "TIMEOUT",
            "{op}: a start that hangs is an error, got {r:?}"
        );
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("initialize") || msg.contains("start"), "{op}: {msg}");
    }
    // Other servers are not held up by the stuck one.
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "add", "args": {"a": 1, "b": 1}}))
        .await;
    assert_eq!(r.structured_content, Some(json!({"sum": 2})), "{r:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn timeout_cancels_the_downstream_call() {
    let (gw, log) = start(&["--timeout-ms", "400"]).await;
    // The caller's timeout_ms (the message names it, not the 400 ms default).
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "tools", "tool": "sleep", "args": {"ms": 20000}, "timeout_ms": 300}),
        )
        .await;
    let e = gateway_error(&r);
    assert_eq!(e["code"], "TIMEOUT", "{r:?}");
    assert!(e["message"].as_str().unwrap().contains("300 ms"), "{e}");
    let cancelled = eventually(Duration::from_secs(3), || {
        std::fs::read_to_string(&log).unwrap_or_default().lines().any(|l| l.starts_with("cancelled "))
    })
    .await;
    assert!(cancelled, "the fixture never saw the cancellation: {}", std::fs::read_to_string(&log).unwrap_or_default());

    // The gateway's default timeout (--timeout-ms), and a tool that ignores cancellation.
    let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "hang"})).await;
    assert_eq!(gateway_error_code(&r), "TIMEOUT", "{r:?}");
    // The server keeps serving.
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "tools", "tool": "echo", "args": {"text": "still here"}}),
        )
        .await;
    assert_eq!(first_text(&r), "still here", "{r:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn invalid_argument_names_the_bad_parameter() {
    let (gw, _) = start(&[]).await;
    let base = json!({"agent_id": "dev", "server": "tools", "tool": "echo"});
    let with = |k: &str, v: Value| {
        let mut a = base.clone();
        a[k] = v;
        a
    };
    let cases = [
        ("execute_tool", with("args", json!([1, 2])), "args"),
        ("execute_tool", with("args", json!("not json")), "args"),
        ("execute_tool", with("args", json!("[1]")), "args"),
        ("execute_tool", with("args", json!(3)), "args"),
        ("execute_tool", with("timeout_ms", json!(-1)), "timeout_ms"),
        ("execute_tool", with("timeout_ms", json!(0)), "timeout_ms"),
        ("execute_tool", with("timeout_ms", json!("5")), "timeout_ms"),
        ("execute_tool", with("timeout_ms", json!(1.5)), "timeout_ms"),
        ("execute_tool", with("server", json!(1)), "server"),
        ("execute_tool", with("tool", json!("")), "tool"),
        ("execute_tool", json!({"agent_id": "dev", "server": "tools"}), "tool"),
        ("execute_tool", with("arguments", json!({})), "arguments"),
        ("get_server_tools", json!({"agent_id": "dev"}), "server"),
        ("get_server_tools", json!({"agent_id": "dev", "server": "tools", "names": 3}), "names"),
        ("get_server_tools", json!({"agent_id": "dev", "server": "tools", "names": [1]}), "names"),
        ("get_server_tools", json!({"agent_id": "dev", "server": "tools", "pattern": ["*"]}), "pattern"),
        (
            "get_server_tools",
            json!({"agent_id": "dev", "server": "tools", "max_schema_tokens": 0}),
            "max_schema_tokens",
        ),
        (
            "get_server_tools",
            json!({"agent_id": "dev", "server": "tools", "max_schema_tokens": -5}),
            "max_schema_tokens",
        ),
        ("list_servers", json!({"agent_id": "dev", "include_metadata": "yes"}), "include_metadata"),
        ("get_gateway_status", json!({"agent_id": "dev", "verbose": true}), "verbose"),
    ];
    for (op, args, param) in cases {
        let r = gw.call(op, args.clone()).await;
        let e = gateway_error(&r);
        assert_eq!(e["code"], "INVALID_ARGUMENT", "{op} {args}: {r:?}");
        assert!(e["message"].as_str().unwrap().contains(&format!("`{param}`")), "{op} {args}: {e}");
    }
    // An unknown gateway tool is a protocol error (there is no such tool to return a result).
    let err = gw.client.call_tool("no_such_gateway_tool", json!({})).await.unwrap_err();
    assert!(err.to_string().contains("no_such_gateway_tool"), "{err}");
    gw.client.close().await;
}

#[tokio::test]
async fn downstream_protocol_errors_are_downstream_error() {
    let (gw, _) = start(&[]).await;
    // The fixture answers bad arguments with JSON-RPC -32602.
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "add", "args": {"a": "two"}}))
        .await;
    let e = gateway_error(&r);
    assert_eq!(e["code"], "DOWNSTREAM_ERROR", "{r:?}");
    assert_eq!(e["server"], "tools");
    assert_eq!(e["tool"], "add");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("-32602") && msg.contains("invalid arguments"), "{msg}");
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "tools", "tool": "big", "args": {"bytes": 1u64 << 40}}),
        )
        .await;
    assert_eq!(gateway_error_code(&r), "DOWNSTREAM_ERROR", "{r:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn a_short_timeout_is_kept_while_another_call_is_starting_the_server() {
    let (gw, _) = start(&[]).await;
    // The first call starts `stuck` with a long timeout; the second must not wait for it: it
    // ends while the first is still pending.
    let (slow, quick) = {
        let slow =
            gw.call("execute_tool", json!({"agent_id": "dev", "server": "stuck", "tool": "echo", "timeout_ms": 2000}));
        tokio::pin!(slow);
        let quick = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            gw.call("execute_tool", json!({"agent_id": "dev", "server": "stuck", "tool": "echo", "timeout_ms": 300}))
                .await
        };
        let quick = tokio::select! {
            biased;
            r = &mut slow => panic!("the 300 ms call waited for another call's start, which ended first: {r:?}"),
            r = quick => r,
        };
        (slow.await, quick)
    };
    let code = gateway_error_code(&quick);
    assert!(code == "TIMEOUT" || code == "SERVER_UNAVAILABLE", "{quick:?}");
    assert_eq!(gateway_error_code(&slow), "SERVER_UNAVAILABLE", "{slow:?}");
    gw.client.close().await;
}

#[tokio::test]
async fn rate_limits_answer_rate_limited_with_a_retry_hint() {
    let files = TempFiles::new();
    let rules = json!({"agents": {
        "burst": {"allow": {"servers": ["tools"]}, "limits": {"requests_per_second": 2}},
        "single": {"allow": {"servers": ["tools"]}, "limits": {"max_concurrent_calls": 1}}
    }});
    let spawn = gateway_spawn(&files, &[("tools", fixture_server(&[]))], &rules, &[]);
    let gw = GatewayUnderTest::from_spawn(files, &spawn).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let r = gw.call("list_servers", json!({"agent_id": "burst"})).await;
        codes.push(error_code(&r));
        if let Some(c) = error_code(&r) {
            assert_eq!(c, "RATE_LIMITED");
            assert!(gateway_error(&r)["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000), "{r:?}");
        }
    }
    assert_eq!(codes, [None, None, Some("RATE_LIMITED".to_owned())]);
    let sleep = |ms: u64| {
        gw.call("execute_tool", json!({"agent_id": "single", "server": "tools", "tool": "sleep", "args": {"ms": ms}}))
    };
    let (a, b) = tokio::join!(sleep(800), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sleep(1).await
    });
    assert_eq!(first_text(&a), "slept 800", "{a:?}");
    assert_eq!(error_code(&b).as_deref(), Some("RATE_LIMITED"), "{b:?}");
    let r = sleep(1).await;
    assert_eq!(first_text(&r), "slept 1", "the slot is free again: {r:?}");
    gw.client.close().await;
}

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

pub(crate) const ALICE: &str = "alice-token-0000000001";
pub(crate) const BOB: &str = "bob-token-00000000000002";

/// An HTTP gateway with two agents, each with its own token, sharing the server `shared`.
pub(crate) async fn two_agents(servers: &[(&str, serde_json::Value)]) -> crate::support::http::HttpGateway {
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

/// A gateway with tokens for alice, bob and an operator, and `limits` in `gateway.http`.
async fn guarded(
    servers: &[(&str, serde_json::Value)],
    limits: serde_json::Value,
) -> crate::support::http::HttpGateway {
    let rules = json!({"agents": {
        "alice": {"allow": {"servers": ["shared"]}},
        "bob": {"allow": {"servers": ["shared"]}}
    }});
    crate::support::http::HttpGatewayBuilder::new(servers, rules)
        .gateway_section(json!({"http": {
            "tokens": [{"agent": "alice", "token": ALICE}, {"agent": "bob", "token": BOB}],
            "admin_tokens": [{"token": OPERATOR}],
            "limits": limits
        }}))
        .start()
        .await
}

const OPERATOR: &str = "operator-token-000000003";

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

/// Opens a session for `token` with a raw `initialize`; returns its id.
async fn open_session(gw: &crate::support::http::HttpGateway, token: &str) -> String {
    let a = auth(token);
    let r = gw.post_mcp(&[("authorization", &a)], &crate::support::http::initialize_body()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.header("mcp-session-id").expect("a session id").to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = gw.post_mcp(&[("authorization", &a), ("mcp-session-id", &id)], &note).await;
    assert_eq!(r.status, 202, "{r:?}");
    id
}

fn call_body(id: u64, tool: &str, args: serde_json::Value) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "execute_tool", "arguments": {"server": "shared", "tool": tool, "args": args}}})
}

#[tokio::test]
async fn a_session_answers_only_to_the_agent_that_opened_it() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = guarded(&servers, json!({})).await;
    let bob_session = open_session(&gw, BOB).await;
    let (bob, alice) = (auth(BOB), auth(ALICE));
    // Bob's slow call, on a connection of its own.
    let addr = gw.addr;
    let bob_call = {
        let (bob, session) = (bob.clone(), bob_session.clone());
        tokio::spawn(async move {
            let body = call_body(7, "sleep", json!({"ms": 1500})).to_string();
            let headers = [
                ("authorization", bob.as_str()),
                ("mcp-session-id", session.as_str()),
                ("accept", "application/json, text/event-stream"),
                ("content-type", "application/json"),
            ];
            crate::support::http::raw_request(addr, "POST", "/mcp", &headers, &body).await.unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let with_bobs = |extra: &'static [(&'static str, &'static str)]| {
        let mut h = vec![("authorization", alice.clone()), ("mcp-session-id", bob_session.clone())];
        h.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        h
    };
    fn as_refs<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        h.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
    // Resume Bob's stream, open a stream on his session, cancel his call, call in his
    // session, delete it: each is 404, as for a session that does not exist.
    let resume = with_bobs(&[("last-event-id", "1/0"), ("accept", "text/event-stream")]);
    assert_eq!(gw.get("/mcp", &as_refs(&resume)).await.status, 404);
    let stream = with_bobs(&[("accept", "text/event-stream")]);
    assert_eq!(gw.get("/mcp", &as_refs(&stream)).await.status, 404);
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}});
    assert_eq!(gw.post_mcp(&as_refs(&with_bobs(&[])), &cancel).await.status, 404);
    assert_eq!(gw.post_mcp(&as_refs(&with_bobs(&[])), &call_body(8, "echo", json!({"text": "x"}))).await.status, 404);
    assert_eq!(gw.request("DELETE", "/mcp", &as_refs(&with_bobs(&[])), "").await.status, 404);
    // A made-up session is 404 alike: nothing tells the two apart.
    let made_up = [("authorization", alice.as_str()), ("mcp-session-id", "0123456789abcdef0123456789abcdef")];
    assert_eq!(gw.request("DELETE", "/mcp", &made_up, "").await.status, 404);
    // Bob's call was neither cancelled nor stolen: he gets his result.
    let r = bob_call.await.unwrap();
    let messages = r.messages();
    assert_eq!(messages.last().unwrap()["result"]["content"][0]["text"], "slept 1500", "{r:?}");
    // And his session still works; he may delete it himself.
    let bobs = [("authorization", bob.as_str()), ("mcp-session-id", bob_session.as_str())];
    assert_eq!(gw.post_mcp(&bobs, &call_body(9, "echo", json!({"text": "still mine"}))).await.status, 200);
    assert_eq!(gw.request("DELETE", "/mcp", &bobs, "").await.status, 200);
    assert_eq!(gw.post_mcp(&bobs, &call_body(10, "echo", json!({"text": "gone"}))).await.status, 404);
    // Session ids are secrets: never logged at info.
    assert!(!gw.stderr().contains(&bob_session), "a session id in the log:\n{}", gw.stderr());
}

#[tokio::test]
async fn sessions_are_capped_per_agent_evicting_the_oldest_idle_one() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = guarded(&servers, json!({"sessions_per_agent": 2, "sessions_total": 3})).await;
    let first = open_session(&gw, ALICE).await;
    let second = open_session(&gw, ALICE).await;
    let third = open_session(&gw, ALICE).await;
    let alice = auth(ALICE);
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let status = |session: &str| {
        let headers = [("authorization", alice.clone()), ("mcp-session-id", session.to_owned())];
        let gw = &gw;
        let ping = ping.clone();
        async move { gw.post_mcp(&headers.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), &ping).await.status }
    };
    assert_eq!(status(&first).await, 404, "the oldest idle session was evicted");
    assert_eq!(status(&second).await, 200);
    assert_eq!(status(&third).await, 200);
    // Bob's sessions count against the total: the oldest idle one of all goes.
    let _bobs = open_session(&gw, BOB).await;
    let ready = gw.get("/ready", &[("authorization", &auth(OPERATOR))]).await;
    assert_eq!(ready.json()["sessions"], 3, "{ready:?}");
    // With every session busy, a new one is refused with 503 rather than evicting a call.
    let busy = guarded(&servers, json!({"sessions_per_agent": 1})).await;
    let only = open_session(&busy, ALICE).await;
    let addr = busy.addr;
    let long_call = tokio::spawn(async move {
        let a = auth(ALICE);
        let headers = [
            ("authorization", a.as_str()),
            ("mcp-session-id", only.as_str()),
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
        ];
        let body = call_body(3, "sleep", json!({"ms": 1500})).to_string();
        crate::support::http::raw_request(addr, "POST", "/mcp", &headers, &body).await.unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = busy.post_mcp(&[("authorization", &auth(ALICE))], &crate::support::http::initialize_body()).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("too many sessions"), "{r:?}");
    assert_eq!(long_call.await.unwrap().status, 200);
}

#[tokio::test]
async fn operator_endpoints_tell_agents_nothing_about_others() {
    let servers =
        [("shared", fixture_server(&["--name", "shared"])), ("secret", fixture_server(&["--name", "secret"]))];
    let rules = json!({"agents": {
        "alice": {"allow": {"servers": ["shared"]}},
        "bob": {"allow": {"servers": ["shared", "secret"]}}
    }});
    let gw = crate::support::http::HttpGatewayBuilder::new(&servers, rules)
        .gateway_section(json!({"http": {
            "tokens": [{"agent": "alice", "token": ALICE}, {"agent": "bob", "token": BOB}],
            "admin_tokens": [{"token": OPERATOR}]
        }}))
        .args(&["--admin-listen", "127.0.0.1:0"])
        .start()
        .await;
    let bob = gw.client(Some(BOB)).await;
    bob.call_tool("list_servers", json!({})).await.unwrap();
    // /metrics: not for an agent's token, nor for nobody.
    assert_eq!(gw.get("/metrics", &[("authorization", &auth(ALICE))]).await.status, 403);
    assert_eq!(gw.get("/metrics", &[]).await.status, 401);
    let m = gw.metrics(&[("authorization", &auth(OPERATOR))]).await;
    assert!(m.text.contains("agent=\"bob\""), "{}", m.text);
    // /ready: anyone learns whether the gateway is ready, and nothing else.
    let r = gw.get("/ready", &[]).await;
    assert_eq!(r.json(), json!({"ready": true}), "{r:?}");
    let r = gw.get("/ready", &[("authorization", &auth(ALICE))]).await;
    assert_eq!(r.json(), json!({"ready": true}), "{r:?}");
    let r = gw.get("/ready", &[("authorization", &auth(OPERATOR))]).await;
    assert!(r.body.contains("secret") && r.body.contains("sha256:"), "{r:?}");
    // /health says the process is up, and only that.
    assert_eq!(gw.get("/health", &[]).await.json(), json!({"status": "ok"}));
    // The operator's own listener serves the detail without a token.
    let admin = gw
        .stderr()
        .lines()
        .find_map(|l| l.split("Operator endpoints on http://").nth(1).map(|a| a.split(' ').next().unwrap().to_owned()))
        .expect("the operator listener's address");
    let addr: std::net::SocketAddr = admin.parse().unwrap();
    let r = crate::support::http::raw_request(addr, "GET", "/metrics", &[], "").await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("agent=\"bob\""), "{r:?}");
    bob.close().await;
}

#[tokio::test]
async fn slow_headers_time_out_and_health_answers_past_the_connection_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = guarded(&servers, json!({"header_timeout_ms": 1000, "connections": 4})).await;
    // A client that sends its headers a byte at a time is cut off.
    let mut slow = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let cut = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if slow.write_all(b"x").await.is_err() {
                return;
            }
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(std::time::Duration::from_millis(300), slow.read(&mut buf)).await
            {
                return;
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "a connection still sending headers was never closed");
    // Fill every connection slot with idle connections: /health still answers, and other
    // requests are refused at once rather than queued.
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n").await.unwrap();
        idle.push(c);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = gw.get("/health", &[]).await;
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})), "{r:?}");
    let r = gw.get("/ready", &[]).await;
    assert_eq!(r.status, 503, "{r:?}");
    drop(idle);
}

#[tokio::test]
async fn request_bodies_in_flight_share_a_budget() {
    use tokio::io::AsyncWriteExt;
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = guarded(&servers, json!({"body_bytes_per_agent": 1_000_000, "body_bytes_total": 1_500_000})).await;
    // Alice starts a 900 kB body and holds it half-sent.
    let mut held = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 900000\r\n\r\n{{",
        auth(ALICE)
    );
    held.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let big = |n: usize| json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "p".repeat(n)}});
    // Another 900 kB of hers does not fit her share; Bob's does not fit what is left in all.
    let r = gw.post_mcp(&[("authorization", &auth(ALICE))], &big(900_000)).await;
    assert_eq!(r.status, 503, "{r:?}");
    let r = gw.post_mcp(&[("authorization", &auth(BOB))], &big(900_000)).await;
    assert_eq!(r.status, 503, "{r:?}");
    // Small bodies still pass, and once hers is gone, his big one does too.
    let r = gw.post_mcp(&[("authorization", &auth(BOB))], &big(10)).await;
    assert_ne!(r.status, 503, "{r:?}");
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = gw.post_mcp(&[("authorization", &auth(BOB))], &big(900_000)).await;
    assert_ne!(r.status, 503, "{r:?}");
}

#[tokio::test]
async fn two_host_headers_are_refused() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = guarded(&servers, json!({})).await;
    let a = auth(ALICE);
    let r = gw
        .post_mcp(
            &[("authorization", &a), ("host", "127.0.0.1"), ("host", "evil.example")],
            &crate::support::http::initialize_body(),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // A malformed Authorization header is refused, not guessed at.
    let r =
        gw.post_mcp(&[("authorization", &format!("Bearer  {ALICE}"))], &crate::support::http::initialize_body()).await;
    assert_eq!(r.status, 401, "{r:?}");
}

#[tokio::test]
async fn a_client_that_pipelines_without_reading_stops_being_read() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    const REQUESTS: usize = 30_000;
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", fixture_server(&["--name", "s"]))], &allow_all(), &[]);
    let mut child = spawn.spawn().expect("spawn the gateway");
    let pid = child.pid();
    let (stdout, mut stdin) = child.take_pipes().expect("the gateway's pipes");
    let init = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let mut input = format!("{init}\n").into_bytes();
    for i in 0..REQUESTS {
        input.extend_from_slice(
            format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"execute_tool","arguments":{{"agent_id":"dev","server":"s","tool":"echo","args":{{"text":"request {i} with some padding to make it longer"}}}}}}}}"#)
                .as_bytes(),
        );
        input.push(b'\n');
    }
    // Write everything from a task: once the gateway stops reading, the pipe fills and the
    // writer waits.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
        stdin
    });
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let rss = crate::support::procfs::rss_kb(pid).expect("the gateway runs");
    assert!(rss < 120_000, "the gateway grew to {rss} kB holding unread answers");
    assert!(!writer.is_finished(), "the gateway read all {REQUESTS} requests without anyone reading its answers");
    // Once the client reads, every request is answered.
    let mut lines = BufReader::new(stdout).lines();
    let mut answered = 0;
    while answered < REQUESTS + 1 {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("answers keep coming")
            .unwrap()
            .expect("stdout stays open");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v.get("result").is_some(), "{v}");
        answered += 1;
    }
    drop(writer.await.unwrap());
    child.kill_group().await;
}

#[tokio::test]
async fn names_echoed_into_errors_and_audit_are_bounded() {
    let servers = [("s", fixture_server(&["--name", "s"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let huge = "t".repeat(5 << 20);
    for args in [
        json!({"agent_id": "dev", "server": "s", "tool": huge}),
        json!({"agent_id": "dev", "server": huge, "tool": "echo"}),
        json!({"agent_id": "dev", "server": "s", "tool": "echo", huge.clone(): 1}),
    ] {
        let r = gw.call("execute_tool", args).await;
        assert!(error_code(&r).is_some(), "{r:?}");
        let size = serde_json::to_string(&r).unwrap().len();
        assert!(size < 4096, "a reply of {size} bytes echoes the name: {}", &serde_json::to_string(&r).unwrap()[..300]);
        assert!(first_text(&r).contains("bytes in all"), "the cut says how long the name was: {}", first_text(&r));
    }
    let lines = gw.wait_audit(3, std::time::Duration::from_secs(5)).await;
    for line in &lines {
        let size = line.to_string().len();
        assert!(size < 4096, "an audit line of {size} bytes: the name was not cut");
    }
    gw.client.close().await;
}

#[tokio::test]
async fn a_malformed_reply_fails_its_call_at_once() {
    let servers = [("s", fixture_server(&["--name", "s"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    for kind in ["truncated", "deep"] {
        // The call's own budget is 60 s; a gateway that waits for a well-formed answer would
        // hit the guard below instead.
        let call = gw.call("execute_tool", exec("s", "garbage", json!({"reply": kind})));
        let r = tokio::time::timeout(std::time::Duration::from_secs(20), call).await.expect("the call hung");
        let e = gateway_error(&r);
        assert_eq!(e["code"], "DOWNSTREAM_ERROR", "{kind}: {r:?}");
        assert!(e["message"].as_str().unwrap().contains("malformed"), "{kind}: {e}");
    }
    // The server keeps serving other calls.
    let r = gw.call("execute_tool", exec("s", "echo", json!({"text": "still here"}))).await;
    assert_eq!(first_text(&r), "still here");
    gw.client.close().await;
}

/// Opens `GET /mcp` on `session` over a raw connection, waits for the stream's response head,
/// and closes the connection.
async fn open_and_close_stream(gw: &crate::support::http::HttpGateway, token: &str, session: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let request = format!(
        "GET /mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nMcp-Session-Id: {session}\r\n\
         Accept: text/event-stream\r\n\r\n",
        gw.addr
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the stream closed before its head: {}", String::from_utf8_lossy(&head));
        head.extend_from_slice(&buf[..n]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
}

#[tokio::test]
async fn a_session_whose_stream_was_closed_is_idle_again() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = guarded(&servers, json!({"sessions_per_agent": 1})).await;
    let first = open_session(&gw, ALICE).await;
    open_and_close_stream(&gw, ALICE, &first).await;
    // The closed stream no longer pins the session: the next one evicts it.
    let r = eventually_status(&gw, ALICE).await;
    assert_eq!(r.status, 200, "a session with a closed stream kept its slot: {r:?}");
}

/// `initialize` for `token`, retried for a moment while the server notices the closed stream.
async fn eventually_status(gw: &crate::support::http::HttpGateway, token: &str) -> crate::support::http::RawResponse {
    let a = auth(token);
    let mut last = None;
    for _ in 0..50 {
        let r = gw.post_mcp(&[("authorization", &a)], &crate::support::http::initialize_body()).await;
        if r.status == 200 {
            return r;
        }
        last = Some(r);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last.expect("at least one try")
}

#[tokio::test]
async fn ready_detail_is_dns_rebinding_checked_without_tokens() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = crate::support::http::HttpGateway::start(&servers, allow_all()).await;
    let local = gw.get("/ready", &[]).await;
    assert!(local.json().get("servers").is_some(), "a local operator sees the detail: {local:?}");
    let rebound = gw.get("/ready", &[("host", "evil.example")]).await;
    assert_eq!(rebound.json(), json!({"ready": true}), "a rebound page sees no detail: {rebound:?}");
}

#[tokio::test]
async fn operator_tokens_alone_guard_the_operator_endpoints_not_mcp() {
    let servers = [("shared", fixture_server(&["--name", "shared"]))];
    let gw = crate::support::http::HttpGatewayBuilder::new(&servers, allow_all())
        .gateway_section(json!({"http": {"admin_tokens": [{"token": OPERATOR}]}}))
        .start()
        .await;
    let r = gw.post_mcp(&[], &crate::support::http::initialize_body()).await;
    assert_eq!(r.status, 200, "agents need no token when none is configured: {r:?}");
    assert_eq!(gw.get("/metrics", &[]).await.status, 403);
    assert!(gw.get("/ready", &[]).await.json().get("servers").is_none());
    assert_eq!(gw.get("/metrics", &[("authorization", &auth(OPERATOR))]).await.status, 200);
    let r = gw.post_mcp(&[("authorization", &auth(OPERATOR))], &crate::support::http::initialize_body()).await;
    assert_eq!(r.status, 403, "an operator token is no agent's: {r:?}");
}

//! The downstream side of the gateway (DESIGN.md section 6), through the real `mcpgw` binary:
//! many calls in flight across servers, crashes and restarts, large messages and the size cap,
//! child stderr kept off the protocol stream, progress and cancellation forwarding, and the
//! tool-list cache following `notifications/tools/list_changed`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::support::http::http_fixture;
use crate::support::*;
use rmcp::model::CallToolRequestParams;
use rmcp::service::PeerRequestOptions;
use rmcp::transport::async_rw::AsyncRwTransport;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};

/// Calls in flight on each server, from `get_gateway_status`.
async fn in_flight(gw: &GatewayUnderTest) -> u64 {
    let s = gw.status(Some("dev")).await;
    s["servers"].as_array().unwrap().iter().map(|s| s["in_flight"].as_u64().unwrap_or(0)).sum()
}

async fn wait_in_flight(gw: &GatewayUnderTest, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = in_flight(gw).await;
        if now >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {now} of {n} calls ever were in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn sixty_calls_in_flight_across_three_servers_all_answer_correctly() {
    let servers = [
        ("a", fixture_server(&["--name", "a"])),
        ("b", fixture_server(&["--name", "b"])),
        ("c", fixture_server(&["--name", "c"])),
    ];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let names = ["a", "b", "c"];
    // Warm up, so the calls below exercise multiplexing rather than process starts.
    for s in names {
        gw.call("execute_tool", exec(s, "echo", json!({"text": "warm"}))).await;
    }
    let slow = (0..60).map(|i| {
        let gw = &gw;
        async move {
            let ms = 600 + i;
            let r = gw.call("execute_tool", exec(names[i as usize % 3], "sleep", json!({"ms": ms}))).await;
            assert_eq!(first_text(&r), format!("slept {ms}"), "call {i}: {r:?}");
        }
    });
    let quick = (0..30).map(|i| {
        let gw = &gw;
        async move {
            let r = gw.call("execute_tool", exec(names[i % 3], "add", json!({"a": i, "b": 1000}))).await;
            assert_eq!(r.structured_content, Some(json!({"sum": i + 1000})), "add {i}: {r:?}");
        }
    });
    // 50 calls in flight at once: the gateway runs them concurrently, not one after another.
    let watch = async {
        wait_in_flight(&gw, 50).await;
    };
    tokio::join!(futures::future::join_all(slow), futures::future::join_all(quick), watch);
    let s = gw.status(Some("dev")).await;
    for server in s["servers"].as_array().unwrap() {
        assert_eq!(server["restarts"], 0, "{server}");
        assert_eq!(server["errors"], 0, "{server}");
        assert_eq!(server["calls"], 31, "{server}");
    }
    gw.client.close().await;
}

#[tokio::test]
async fn a_crash_fails_the_calls_in_flight_and_the_next_call_restarts_the_server() {
    let servers = [("crashy", fixture_server(&["--name", "crashy"])), ("calm", fixture_server(&["--name", "calm"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let first = pid_of(&gw.call("execute_tool", exec("crashy", "pid", json!({}))).await);
    let calm = pid_of(&gw.call("execute_tool", exec("calm", "pid", json!({}))).await);

    let sleeping = gw.call("execute_tool", exec("crashy", "sleep", json!({"ms": 20000})));
    let crash = async {
        wait_in_flight(&gw, 1).await;
        gw.call("execute_tool", exec("crashy", "crash", json!({"code": 7}))).await
    };
    let (slept, crashed) = tokio::join!(sleeping, crash);
    // SERVER_UNAVAILABLE with the exit status: the crash ended both calls, not the 20 s sleep
    // (that answers `slept 20000`) nor the 60 s default timeout (that would be TIMEOUT).
    for r in [&slept, &crashed] {
        let e = gateway_error(r);
        assert_eq!(e["code"], "SERVER_UNAVAILABLE", "{r:?}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("exited with code 7"), "{msg}");
        assert!(!msg.contains("crash tool"), "a server's stderr never reaches an agent: {msg}");
    }
    assert!(crate::support::procfs::wait_gone(first, Duration::from_secs(2)).await);
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    assert_eq!(structured(&r)["servers"][0]["status"], "restarting", "{r:?}");

    // The next call starts it again; the other server was never touched.
    let second = pid_of(&gw.call("execute_tool", exec("crashy", "pid", json!({}))).await);
    assert_ne!(first, second);
    assert_eq!(pid_of(&gw.call("execute_tool", exec("calm", "pid", json!({}))).await), calm);
    let s = gw.status(Some("dev")).await;
    let crashy = &s["servers"][0];
    assert_eq!(crashy["status"], "ready", "{crashy}");
    assert_eq!(crashy["restarts"], 1, "{crashy}");
    assert!(crashy["last_error"].as_str().unwrap().contains("exited with code 7"), "{crashy}");
    assert_eq!(s["servers"][1]["restarts"], 0);

    // Crashing again in a row backs off, but the gateway never gives up on the server.
    let r = gw.call("execute_tool", exec("crashy", "crash", json!({}))).await;
    assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"));
    let mut third = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while third.is_none() && Instant::now() < deadline {
        let r = gw.call("execute_tool", exec("crashy", "pid", json!({}))).await;
        match error_code(&r) {
            None => third = Some(pid_of(&r)),
            Some(code) => {
                assert_eq!(code, "SERVER_UNAVAILABLE", "{r:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(third.is_some_and(|p| p != second), "the server was not restarted after backoff");
    gw.client.close().await;
}

#[tokio::test]
async fn a_server_that_closes_stdout_is_replaced_and_its_process_stopped() {
    let servers = [("mute", fixture_server(&["--name", "mute"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let first = pid_of(&gw.call("execute_tool", exec("mute", "pid", json!({}))).await);
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "mute", "tool": "close_stdout", "timeout_ms": 5000}))
        .await;
    assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "{r:?}");
    let second = pid_of(&gw.call("execute_tool", exec("mute", "pid", json!({}))).await);
    assert_ne!(first, second);
    // The old process was alive but mute; the gateway must not leave it behind.
    assert!(crate::support::procfs::wait_gone(first, Duration::from_secs(4)).await, "pid {first} was left running");
    gw.client.close().await;
}

#[tokio::test]
async fn messages_of_64_mib_pass_in_both_directions() {
    const SIZE: usize = 64 * 1024 * 1024;
    let servers = [("big", fixture_server(&["--name", "big"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    // A 64 MiB result.
    let started = Instant::now();
    let r = gw.call("execute_tool", exec("big", "big", json!({"bytes": SIZE}))).await;
    assert_eq!(error_code(&r), None);
    let text = &r.content[0].as_text().expect("a text block").text;
    assert!(text.len() == SIZE && *text == "x".repeat(SIZE), "the 64 MiB result did not arrive intact");
    drop(r);
    let result_took = started.elapsed();
    // 64 MiB of arguments (the fixture answers with their length only, to keep the test quick).
    let started = Instant::now();
    let r = gw.call("execute_tool", exec("big", "echo", json!({"text": "y".repeat(SIZE), "length_only": true}))).await;
    assert_eq!(first_text(&r), format!("{SIZE} bytes"), "{r:?}");
    eprintln!("64 MiB result: {result_took:?}; 64 MiB arguments: {:?}", started.elapsed());
    gw.client.close().await;
}

#[tokio::test]
async fn messages_over_the_cap_get_a_clear_error_not_a_hang() {
    let servers = [("big", fixture_server(&["--name", "big"]))];
    let cap = 1024 * 1024;
    let gw =
        GatewayUnderTest::start_env(&servers, &allow_all(), &[], &[("MCPGW_TEST_MAX_MESSAGE_BYTES", "1048576")]).await;
    // Just under the cap still passes (the JSON-RPC envelope takes some room).
    let r = gw.call("execute_tool", exec("big", "big", json!({"bytes": cap - 4096}))).await;
    assert_eq!(first_text(&r).len(), cap - 4096, "{:?}", error_code(&r));

    // A downstream reply over the cap: DOWNSTREAM_ERROR, not the TIMEOUT of a call that hung.
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        gw.call("execute_tool", exec("big", "big", json!({"bytes": 2 * cap}))),
    )
    .await
    .expect("an oversized reply must not hang the call");
    let e = gateway_error(&r);
    assert_eq!(e["code"], "DOWNSTREAM_ERROR", "{r:?}");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("exceeds the limit of 1048576 bytes"), "{msg}");
    let size: usize = msg.split("message of ").nth(1).and_then(|m| m.split(' ').next()).unwrap().parse().unwrap();
    assert!(size > 2 * cap && size < 2 * cap + 1024, "the real size of the reply: {msg}");

    // A request from the client over the cap is refused by id.
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        gw.client.call_tool("execute_tool", exec("big", "echo", json!({"text": "z".repeat(2 * cap)}))),
    )
    .await
    .expect("an oversized request must not hang")
    .unwrap_err();
    assert!(err.to_string().contains("exceeds the limit"), "{err}");

    // Both sides keep working.
    let r = gw.call("execute_tool", exec("big", "echo", json!({"text": "after"}))).await;
    assert_eq!(first_text(&r), "after", "{r:?}");
    gw.client.close().await;
}

/// Copies everything read from the gateway's stdout, so a test can inspect the raw stream.
struct Tee<R> {
    inner: R,
    copy: Arc<Mutex<Vec<u8>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            this.copy.lock().unwrap().extend_from_slice(&buf.filled()[before..]);
        }
        polled
    }
}

#[tokio::test]
async fn child_stderr_and_stray_stdout_never_reach_the_gateways_stdout() {
    let files = TempFiles::new();
    let servers = [("noisy", fixture_server(&["--name", "noisy", "--startup", "garbage"]))];
    let spawn = gateway_spawn(&files, &servers, &allow_all(), &[]);
    let mut child = spawn.spawn().unwrap();
    let (stdout, stdin) = child.take_pipes().unwrap();
    let copy = Arc::new(Mutex::new(Vec::new()));
    let transport = AsyncRwTransport::new_client(Tee { inner: stdout, copy: copy.clone() }, stdin)
        .with_max_line_length(crate::support::client::LINE_CAP);
    let service = rmcp::serve_client(Recorder::default(), transport).await.expect("connect to the gateway");
    let call = |tool: &str, args: Value| {
        let params = CallToolRequestParams::new("execute_tool")
            .with_arguments(exec("noisy", tool, args).as_object().unwrap().clone());
        service.peer().call_tool(params)
    };
    let r = call("stderr", json!({"text": "MARKER-STDERR-LINE", "lines": 500})).await.unwrap();
    assert_eq!(first_text(&r), "ok");
    let r = call("garbage", json!({})).await.unwrap();
    assert_eq!(first_text(&r), "ok");
    let r = call("echo", json!({"text": "fine"})).await.unwrap();
    assert_eq!(first_text(&r), "fine");

    assert!(
        child.stderr().wait_for_line("MARKER-STDERR-LINE", Duration::from_secs(5)).await.is_some(),
        "the child's stderr goes to the gateway's log"
    );
    let _ = service.cancel().await;
    let raw = String::from_utf8(copy.lock().unwrap().clone()).unwrap();
    assert!(!raw.contains("MARKER-STDERR-LINE"), "child stderr leaked onto stdout");
    assert!(!raw.contains("not JSON") && !raw.contains("neither is this"), "child garbage leaked onto stdout");
    assert!(!raw.contains("Gateway is ready"), "the gateway's own log leaked onto stdout");
    for line in raw.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
    }
}

#[tokio::test]
async fn progress_reaches_the_client_with_its_own_token() {
    let servers = [("p", fixture_server(&["--name", "p"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let one = gw.client.start_call(
        "execute_tool",
        exec("p", "progress", json!({"steps": 3, "interval_ms": 30})),
        PeerRequestOptions::no_options(),
    );
    let two = gw.client.start_call(
        "execute_tool",
        exec("p", "progress", json!({"steps": 5, "interval_ms": 20})),
        PeerRequestOptions::no_options(),
    );
    let (one, two) = tokio::join!(one, two);
    let (one, two) = (one.unwrap(), two.unwrap());
    let (t1, t2) = (one.progress_token().clone(), two.progress_token().clone());
    assert_ne!(t1, t2);
    let (r1, r2) = tokio::join!(one.result(), two.result());
    assert_eq!(first_text(&r1.unwrap()), "done 3");
    assert_eq!(first_text(&r2.unwrap()), "done 5");
    let rec = gw.client.recorder();
    assert!(
        eventually(Duration::from_secs(3), || rec.progress_for(&t1).len() == 3 && rec.progress_for(&t2).len() == 5)
            .await,
        "progress: {:?}",
        rec.progress()
    );
    for (token, steps) in [(&t1, 3), (&t2, 5)] {
        let got = rec.progress_for(token);
        let values: Vec<f64> = got.iter().map(|p| p.progress).collect();
        let expected: Vec<f64> = (1..=steps).map(f64::from).collect();
        assert_eq!(values, expected, "{got:?}");
        assert!(got.iter().all(|p| p.total == Some(f64::from(steps))), "{got:?}");
        assert_eq!(got[0].message.as_deref(), Some("step 1"));
    }
    assert_eq!(rec.progress().len(), 8, "no progress for unknown tokens: {:?}", rec.progress());
    gw.client.close().await;
}

#[tokio::test]
async fn a_client_cancellation_reaches_the_downstream() {
    let files = TempFiles::new();
    let log = files.file_path("fixture.log");
    let servers = [("slow", logged_fixture("slow", &log, &[]))];
    let spawn = gateway_spawn(&files, &servers, &allow_all(), &[]);
    let gw = GatewayUnderTest::from_spawn(files, &spawn).await;
    let call = gw
        .client
        .start_call("execute_tool", exec("slow", "sleep", json!({"ms": 30000})), PeerRequestOptions::no_options())
        .await
        .unwrap();
    wait_in_flight(&gw, 1).await;
    call.cancel("the user pressed escape").await.unwrap();
    let seen = eventually(Duration::from_secs(3), || {
        std::fs::read_to_string(&log).unwrap_or_default().lines().any(|l| l.starts_with("cancelled "))
    })
    .await;
    assert!(seen, "the fixture never saw the cancellation: {}", std::fs::read_to_string(&log).unwrap_or_default());
    // Nothing is left in flight, and the server still answers.
    let deadline = Instant::now() + Duration::from_secs(3);
    while in_flight(&gw).await > 0 {
        assert!(Instant::now() < deadline, "the cancelled call stayed in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = gw.call("execute_tool", exec("slow", "echo", json!({"text": "next"}))).await;
    assert_eq!(first_text(&r), "next");
    // The audit log tells a cancellation from a timeout.
    let lines = gw.wait_audit(2, Duration::from_secs(3)).await;
    assert!(lines.iter().any(|l| l["tool"] == "sleep" && l["outcome"] == "CANCELLED"), "{lines:#?}");
    gw.client.close().await;
}

#[tokio::test]
async fn tools_list_changed_refreshes_the_cached_tool_list() {
    let servers = [("dyn", fixture_server(&["--name", "dyn"]))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let before = tool_names(&gw.call("get_server_tools", json!({"agent_id": "dev", "server": "dyn"})).await);
    assert!(!before.contains(&"fresh".to_owned()));
    let r = gw.call("execute_tool", exec("dyn", "add_tool", json!({"name": "fresh"}))).await;
    assert_eq!(first_text(&r), "added fresh", "{r:?}");
    let mut after = Vec::new();
    let mut polls = 0;
    while !after.contains(&"fresh".to_owned()) {
        assert!(polls < 200, "the new tool never showed up: {after:?}");
        polls += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        after = tool_names(&gw.call("get_server_tools", json!({"agent_id": "dev", "server": "dyn"})).await);
    }
    assert_eq!(after.len(), before.len() + 1);
    let r = gw.call("execute_tool", exec("dyn", "fresh", json!({"text": "new tool works"}))).await;
    assert_eq!(first_text(&r), "new tool works", "{r:?}");
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    assert_eq!(structured(&r)["servers"][0]["tool_count"], before.len() + 1);
    gw.client.close().await;
}

#[tokio::test]
async fn streamable_http_downstreams_get_every_configured_header() {
    let required =
        ["--name", "web", "--require-header", "X-Api-Key: k-123", "--require-header", "Authorization: Bearer tok"];
    let (_web, url) = http_fixture(required).await;
    let servers = [
        ("web", json!({"url": url, "headers": {"X-Api-Key": "${MCPGW_TEST_API_KEY}", "Authorization": "Bearer tok"}})),
        ("wrong", json!({"url": url, "headers": {"X-Api-Key": "nope", "Authorization": "Bearer tok"}})),
    ];
    let gw = GatewayUnderTest::start_env(&servers, &allow_all(), &[], &[("MCPGW_TEST_API_KEY", "k-123")]).await;
    let r = gw.call("execute_tool", exec("web", "add", json!({"a": 40, "b": 2}))).await;
    assert_eq!(r.structured_content, Some(json!({"sum": 42})), "{r:?}");
    let r = gw.call("execute_tool", exec("web", "image", json!({}))).await;
    assert_eq!(r.content.len(), 3, "{r:?}");
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    let web = &structured(&r)["servers"][0];
    assert_eq!(web["transport"], "http");
    assert_eq!(web["url"], url.as_str());
    assert!(!r.content[0].as_text().unwrap().text.contains("k-123"), "header values are never shown");

    // Progress over HTTP, with the client's own token.
    let call = gw
        .client
        .start_call(
            "execute_tool",
            exec("web", "progress", json!({"steps": 3, "interval_ms": 5})),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let token = call.progress_token().clone();
    assert_eq!(first_text(&call.result().await.unwrap()), "done 3");
    let rec = gw.client.recorder();
    assert!(eventually(Duration::from_secs(3), || rec.progress_for(&token).len() == 3).await, "{:?}", rec.progress());

    // A server that refuses the headers is unavailable, and says why.
    let r = gw.call("execute_tool", exec("wrong", "echo", json!({"text": "x"}))).await;
    let e = gateway_error(&r);
    assert_eq!(e["code"], "SERVER_UNAVAILABLE", "{r:?}");
    assert!(
        e["message"].as_str().unwrap().contains("401")
            || e["message"].as_str().unwrap().to_lowercase().contains("unauthorized"),
        "{e}"
    );
    gw.client.close().await;
}

/// A 2026-07-28 server that answers `server/discover` only after the gateway's wait, and then
/// refuses `initialize` (as the Python SDK's servers do once a connection speaks 2026-07-28),
/// still starts: the gateway asks again instead of giving up on it.
#[tokio::test]
async fn a_server_that_answers_discover_late_is_still_started_as_a_2026_server() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/slow_discover.py");
    let servers = [("slow", json!({"command": "python3", "args": [script, "4"], "timeout_ms": 20_000}))];
    let gw = GatewayUnderTest::start(&servers, &allow_all(), &[]).await;
    let r = gw.call("execute_tool", exec("slow", "hello", json!({}))).await;
    assert_eq!(first_text(&r), "hello from a slow server", "{r:?}");
    let r = gw.call("get_gateway_status", json!({"agent_id": "dev"})).await;
    assert_eq!(structured(&r)["servers"][0]["protocol_version"], "2026-07-28", "{r:?}");
    gw.client.close().await;
}

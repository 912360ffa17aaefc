//! Real-process tests of the fixture MCP server (`src/bin/mcpgw-fixture`) through the shared
//! test support: every tool, the startup faults, messages far above 16 MiB, and HTTP mode.

use std::{
    collections::BTreeSet,
    io::{Read as _, Write as _},
    time::{Duration, Instant},
};

use crate::support::http::http_fixture;
use crate::support::{McpClient, Spawn, TempFiles, fixture_bin, procfs};
use rmcp::{
    ServiceError,
    model::{CallToolResult, ErrorCode},
};
use serde_json::{Value, json};

/// Generous upper bound for things that normally take milliseconds.
const WAIT: Duration = Duration::from_secs(5);

const BUILTIN_TOOLS: [&str; 16] = [
    "echo",
    "add",
    "image",
    "structured",
    "sleep",
    "progress",
    "fail",
    "crash",
    "stderr",
    "add_tool",
    "big",
    "garbage",
    "hang",
    "storm",
    "close_stdout",
    "pid",
];

/// Bound for the big-message tests: a message over a line cap is dropped silently, and the
/// call would otherwise hang forever instead of failing.
const BIG: Duration = Duration::from_secs(60);

/// Awaits `future`, failing the test if it takes longer than `limit`.
async fn within<F: std::future::Future>(limit: Duration, future: F) -> F::Output {
    tokio::time::timeout(limit, future).await.expect("timed out (a message over a line cap is dropped silently)")
}

fn text_of(result: &CallToolResult) -> &str {
    &result.content.first().and_then(|block| block.as_text()).expect("a text block first").text
}

fn assert_invalid_params(result: Result<CallToolResult, ServiceError>) {
    match result {
        Err(ServiceError::McpError(error)) => assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{error:?}"),
        other => panic!("expected an invalid-params error, got {other:?}"),
    }
}

#[tokio::test]
async fn handshake_reports_the_configured_name() {
    let named = McpClient::fixture(&["--name", "alpha"]).await;
    let default = McpClient::fixture(&[]).await;
    assert_eq!(named.server_name().as_deref(), Some("alpha"));
    assert_eq!(default.server_name().as_deref(), Some("fixture"));
    named.close().await;
    default.close().await;
}

#[tokio::test]
async fn lists_every_builtin_tool_with_a_schema_and_description() {
    let client = McpClient::fixture(&[]).await;
    let tools = client.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(names, BUILTIN_TOOLS);
    for tool in &tools {
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(!description.is_empty() && !description.contains('\n'), "{}: {description:?}", tool.name);
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")), "{}", tool.name);
    }
    let schema = |name: &str| tools.iter().find(|tool| tool.name == name).unwrap().clone();
    assert_eq!(schema("echo").input_schema["required"], json!(["text"]));
    assert_eq!(schema("add").input_schema["required"], json!(["a", "b"]));
    let add_output = schema("add").output_schema.expect("add has an output schema");
    assert_eq!(add_output["properties"]["sum"]["type"], json!("number"));
    assert!(schema("pid").output_schema.is_some());
    assert!(schema("echo").output_schema.is_none());
    client.close().await;
}

#[tokio::test]
async fn extra_tools_are_listed_and_callable() {
    let client = McpClient::fixture(&["--extra-tools", "7"]).await;
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools.len(), BUILTIN_TOOLS.len() + 7);
    let extras: BTreeSet<String> =
        tools.iter().filter(|tool| tool.name.starts_with("extra_")).map(|tool| tool.name.to_string()).collect();
    let expected: BTreeSet<String> = (0..7).map(|i| format!("extra_{i}")).collect();
    assert_eq!(extras, expected);
    assert_eq!(text_of(&client.call_tool("extra_3", json!({})).await.unwrap()), "extra_3");
    assert_invalid_params(client.call_tool("extra_7", json!({})).await);
    client.close().await;
}

#[tokio::test]
async fn echo_returns_its_text_and_rejects_bad_arguments() {
    let client = McpClient::fixture(&[]).await;
    let result = client.call_tool("echo", json!({"text": "héllo\nworld"})).await.unwrap();
    assert_eq!(result.content.len(), 1);
    assert_eq!(text_of(&result), "héllo\nworld");
    assert_eq!(result.is_error, Some(false));
    assert_invalid_params(client.call_tool("echo", json!({})).await);
    assert_invalid_params(client.call_tool("echo", json!({"text": 5})).await);
    assert_invalid_params(client.call_tool("no_such_tool", json!({})).await);
    client.close().await;
}

#[tokio::test]
async fn add_returns_the_sum_as_text_and_structured_content() {
    let client = McpClient::fixture(&[]).await;
    let result = client.call_tool("add", json!({"a": 2, "b": 3})).await.unwrap();
    assert_eq!(text_of(&result), "5");
    assert_eq!(result.structured_content, Some(json!({"sum": 5})));
    let result = client.call_tool("add", json!({"a": 1.25, "b": -3})).await.unwrap();
    assert_eq!(text_of(&result), "-1.75");
    assert_eq!(result.structured_content, Some(json!({"sum": -1.75})));
    client.close().await;
}

#[tokio::test]
async fn structured_echoes_any_value_with_a_text_copy() {
    let client = McpClient::fixture(&[]).await;
    let value = json!([1, {"a": null, "b": [true, "x"]}, "s", 2.5]);
    let result = client.call_tool("structured", json!({"value": value})).await.unwrap();
    let expected = json!({"value": value});
    assert_eq!(result.structured_content.as_ref(), Some(&expected));
    assert_eq!(serde_json::from_str::<Value>(text_of(&result)).unwrap(), expected);
    client.close().await;
}

#[tokio::test]
async fn fail_returns_an_error_result_not_a_protocol_error() {
    let client = McpClient::fixture(&[]).await;
    let result = client.call_tool("fail", json!({"message": "it broke"})).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(text_of(&result), "it broke");
    client.close().await;
}

#[tokio::test]
async fn image_returns_image_audio_and_resource_blocks_with_meta() {
    let client = McpClient::fixture(&[]).await;
    let result = client.call_tool("image", json!({})).await.unwrap();
    let blocks: Vec<Value> = result.content.iter().map(|block| serde_json::to_value(block).unwrap()).collect();
    assert_eq!(blocks.len(), 3);

    assert_eq!(blocks[0]["type"], "image");
    assert_eq!(blocks[0]["mimeType"], "image/png");
    let png = base64_decode(blocks[0]["data"].as_str().unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");

    assert_eq!(blocks[1]["type"], "audio");
    assert_eq!(blocks[1]["mimeType"], "audio/wav");
    let wav = base64_decode(blocks[1]["data"].as_str().unwrap());
    assert_eq!((&wav[..4], &wav[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
    assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize, wav.len() - 8);

    assert_eq!(blocks[2]["type"], "resource");
    assert_eq!(blocks[2]["resource"]["uri"], "fixture://hello.txt");
    assert_eq!(blocks[2]["resource"]["text"], "hello from the fixture");

    assert_eq!(result.meta.as_ref().and_then(|meta| meta.get("fixture")), Some(&json!(true)));
    client.close().await;
}

#[tokio::test]
async fn sleep_waits_then_answers() {
    let client = McpClient::fixture(&[]).await;
    let started = Instant::now();
    let result = client.call_tool("sleep", json!({"ms": 60})).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(text_of(&result), "slept 60");
    client.close().await;
}

#[tokio::test]
async fn cancelling_sleep_is_logged_by_the_server() {
    let files = TempFiles::new();
    let log = files.file_path("events.log");
    let log_arg = log.to_str().unwrap();
    let mut client = McpClient::fixture(&["--log-file", log_arg]).await;
    let call = client.start_call("sleep", json!({"ms": 60_000}), Default::default()).await.unwrap();
    let expected = format!("cancelled {}", call.id());
    call.cancel("test cancels").await.unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        crate::support::eventually(WAIT, || read_log().lines().any(|line| line == expected)).await,
        "{}",
        read_log()
    );
    assert!(read_log().starts_with(&format!("started pid={}\n", client.child().pid())));
    // The server is still fine after a cancellation.
    assert_eq!(text_of(&client.call_tool("echo", json!({"text": "after"})).await.unwrap()), "after");
    client.close().await;
}

#[tokio::test]
async fn progress_reports_every_step_against_the_request_token() {
    let client = McpClient::fixture(&[]).await;
    let (result, progress) =
        client.call_with_progress("progress", json!({"steps": 4, "interval_ms": 1}), 4, WAIT).await;
    assert_eq!(text_of(&result.unwrap()), "done 4");
    let steps: Vec<(f64, Option<f64>, Option<String>)> =
        progress.into_iter().map(|p| (p.progress, p.total, p.message)).collect();
    let expected: Vec<_> = (1..=4).map(|i| (f64::from(i), Some(4.0), Some(format!("step {i}")))).collect();
    assert_eq!(steps, expected);
    client.close().await;
}

#[tokio::test]
async fn storm_delivers_every_notification() {
    let client = McpClient::fixture(&[]).await;
    let (result, progress) = client.call_with_progress("storm", json!({"count": 300}), 300, WAIT).await;
    assert_eq!(text_of(&result.unwrap()), "ok");
    let values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert_eq!(values, (1..=300).map(f64::from).collect::<Vec<_>>());
    client.close().await;
}

#[tokio::test]
async fn hang_times_out_and_the_server_keeps_serving() {
    let client = McpClient::fixture(&[]).await;
    let result = client.call_tool_with_timeout("hang", json!({}), Duration::from_millis(200)).await;
    assert!(matches!(result, Err(ServiceError::Timeout { .. })), "{result:?}");
    assert_eq!(text_of(&client.call_tool("echo", json!({"text": "still here"})).await.unwrap()), "still here");
    client.close().await;
}

#[tokio::test]
async fn crash_exits_with_the_code_and_closes_the_transport() {
    let mut client = McpClient::fixture(&[]).await;
    let result = client.call_tool("crash", json!({"code": 7})).await;
    assert!(matches!(result, Err(ServiceError::TransportClosed)), "{result:?}");
    let status = client.child().wait_exit(WAIT).await.expect("the fixture exits");
    assert_eq!(status.code(), Some(7));
    assert!(client.wait_transport_closed(WAIT).await);
    assert!(client.child().stderr().wait_for_line("exiting with code 7", WAIT).await.is_some());
    client.close().await;
}

#[tokio::test]
async fn stderr_lines_are_written_and_a_flood_does_not_block() {
    let mut client = McpClient::fixture(&[]).await;
    let result = client.call_tool("stderr", json!({"text": "marker line", "lines": 3})).await.unwrap();
    assert_eq!(text_of(&result), "ok");
    let stderr = client.child().stderr().clone();
    assert!(crate::support::eventually(WAIT, || stderr.count_lines_containing("marker line") == 3).await);
    // About 4 MiB, far more than a pipe holds: it only completes because stderr is drained.
    let flood_line = format!("flood {}", "e".repeat(200));
    let result = client.call_tool("stderr", json!({"text": flood_line, "lines": 20_000})).await.unwrap();
    assert_eq!(text_of(&result), "ok");
    assert!(crate::support::eventually(WAIT, || stderr.count_lines_containing("flood ") == 20_000).await);
    client.close().await;
}

#[tokio::test]
async fn add_tool_registers_a_tool_and_notifies_list_changed() {
    let client = McpClient::fixture(&[]).await;
    let result = client.call_tool("add_tool", json!({"name": "dyn_echo"})).await.unwrap();
    assert_eq!(text_of(&result), "added dyn_echo");
    assert!(client.wait_tool_list_changed(1, WAIT).await);
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools.last().map(|tool| tool.name.as_ref()), Some("dyn_echo"));
    assert_eq!(tools.len(), BUILTIN_TOOLS.len() + 1);
    assert_eq!(text_of(&client.call_tool("dyn_echo", json!({"text": "dynamic"})).await.unwrap()), "dynamic");
    let again = client.call_tool("add_tool", json!({"name": "dyn_echo"})).await.unwrap();
    assert_eq!(again.is_error, Some(true));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_response_of_64_mib_arrives_intact_over_stdio() {
    const SIZE: usize = 64 * 1024 * 1024;
    let client = McpClient::fixture(&[]).await;
    let result = within(BIG, client.call_tool("big", json!({"bytes": SIZE}))).await.unwrap();
    let text = text_of(&result);
    assert_eq!(text.len(), SIZE);
    assert!(text.bytes().all(|byte| byte == b'x'));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_above_rmcp_default_line_cap_is_accepted() {
    // 20 MiB: over rmcp's 16 MiB default, which would drop the line and hang the call.
    let text: String = "0123456789abcdef".repeat(20 * 1024 * 1024 / 16);
    let client = McpClient::fixture(&[]).await;
    let result = within(BIG, client.call_tool("echo", json!({"text": text}))).await.unwrap();
    assert!(text_of(&result) == text);
    client.close().await;
}

#[tokio::test]
async fn garbage_on_stdout_does_not_break_the_session() {
    let client = McpClient::fixture(&[]).await;
    assert_eq!(text_of(&client.call_tool("garbage", json!({})).await.unwrap()), "ok");
    assert_eq!(text_of(&client.call_tool("echo", json!({"text": "next"})).await.unwrap()), "next");
    client.close().await;
}

#[tokio::test]
async fn startup_garbage_is_skipped_by_the_client() {
    let client = McpClient::fixture(&["--startup", "garbage"]).await;
    assert_eq!(text_of(&client.call_tool("echo", json!({"text": "clean"})).await.unwrap()), "clean");
    client.close().await;
}

#[tokio::test]
async fn startup_exit_fails_the_handshake_with_code_3() {
    let child = Spawn::new(fixture_bin()).args(["--startup", "exit"]).spawn().unwrap();
    let mut failure = McpClient::connect(child).await.err().expect("the handshake fails");
    let status = failure.child.wait_exit(WAIT).await.expect("the fixture exits");
    assert_eq!(status.code(), Some(3));
    assert!(failure.child.stderr().wait_for_line("startup fault `exit`", WAIT).await.is_some());
}

#[tokio::test]
async fn startup_hang_never_answers_initialize() {
    let child = Spawn::new(fixture_bin()).args(["--startup", "hang"]).spawn().unwrap();
    let pid = child.pid();
    let stderr = child.stderr().clone();
    let connect = tokio::time::timeout(Duration::from_millis(300), McpClient::connect(child)).await;
    assert!(connect.is_err(), "initialize must not be answered");
    assert!(stderr.wait_for_line("never answering initialize", WAIT).await.is_some());
    // Dropping the timed-out connect dropped the child, which kills its process group.
    assert!(procfs::wait_gone(pid, WAIT).await);
}

#[tokio::test]
async fn pid_reports_this_process_and_no_grandchild_by_default() {
    let mut client = McpClient::fixture(&[]).await;
    let result = client.call_tool("pid", json!({})).await.unwrap();
    let pid = client.child().pid();
    assert_eq!(result.structured_content, Some(json!({"pid": pid, "grandchild": null})));
    client.close().await;
}

#[tokio::test]
async fn startup_grandchild_lives_in_the_fixture_process_group() {
    let mut client = McpClient::fixture(&["--startup", "grandchild"]).await;
    let pid = client.child().pid();
    let result = client.call_tool("pid", json!({})).await.unwrap();
    let structured = result.structured_content.expect("structured pid");
    assert_eq!(structured["pid"], json!(pid));
    let grandchild = structured["grandchild"].as_u64().and_then(|g| u32::try_from(g).ok()).expect("a grandchild pid");
    let stat = procfs::stat(grandchild).expect("the grandchild is running");
    assert_eq!((stat.ppid, stat.pgrp), (pid, pid));
    assert_eq!(procfs::group_members(pid).len(), 2);
    client.close().await;
    assert!(procfs::wait_gone(grandchild, WAIT).await, "killing the group ends the grandchild too");
}

#[tokio::test]
async fn close_stdout_ends_the_transport_but_not_the_process() {
    let mut client = McpClient::fixture(&[]).await;
    let pid = client.child().pid();
    let result = client.call_tool("close_stdout", json!({})).await;
    assert!(matches!(result, Err(ServiceError::TransportClosed)), "{result:?}");
    assert!(client.wait_transport_closed(WAIT).await);
    assert!(procfs::pid_alive(pid), "the process keeps running after closing stdout");
    assert!(client.child().try_exit_status().is_none());
    client.close().await;
    assert!(procfs::wait_gone(pid, WAIT).await);
}

#[tokio::test]
async fn http_mode_serves_clients_that_send_the_required_header() {
    let (_child, url) = http_fixture(&["--name", "web", "--require-header", "X-Fixture-Key: s3cret"]).await;
    let client = McpClient::connect_http(&url, &[("x-fixture-key", "s3cret")]).await.unwrap();
    assert_eq!(client.server_name().as_deref(), Some("web"));
    assert_eq!(client.list_tools().await.unwrap().len(), BUILTIN_TOOLS.len());
    let result = client.call_tool("add", json!({"a": 40, "b": 2})).await.unwrap();
    assert_eq!(result.structured_content, Some(json!({"sum": 42})));
    let (result, progress) =
        client.call_with_progress("progress", json!({"steps": 3, "interval_ms": 1}), 3, WAIT).await;
    assert_eq!(text_of(&result.unwrap()), "done 3");
    assert_eq!(progress.len(), 3);
    client.close().await;
}

#[tokio::test]
async fn http_mode_rejects_requests_without_the_required_header() {
    let (_child, url) = http_fixture(&["--require-header", "X-Fixture-Key:s3cret"]).await;
    assert!(McpClient::connect_http(&url, &[]).await.is_err());
    assert!(McpClient::connect_http(&url, &[("X-Fixture-Key", "wrong")]).await.is_err());
    let authority = url.trim_start_matches("http://").trim_end_matches("/mcp").to_owned();
    let status = tokio::task::spawn_blocking({
        let authority = authority.clone();
        move || raw_post_status(&authority, None)
    });
    assert_eq!(status.await.unwrap(), 401);
    let status = tokio::task::spawn_blocking(move || raw_post_status(&authority, Some(("X-Fixture-Key", "s3cret"))));
    assert_eq!(status.await.unwrap(), 200);
}

#[tokio::test]
async fn http_mode_without_required_headers_accepts_anyone() {
    let (_child, url) = http_fixture::<_, &str>([]).await;
    let client = McpClient::connect_http(&url, &[]).await.unwrap();
    assert_eq!(text_of(&client.call_tool("echo", json!({"text": "open"})).await.unwrap()), "open");
    client.close().await;
    let authority = url.trim_start_matches("http://").trim_end_matches("/mcp").to_owned();
    let status = tokio::task::spawn_blocking(move || raw_post_status(&authority, None)).await.unwrap();
    assert_ne!(status, 401);
}

/// POSTs an `initialize` to `/mcp` with plain std networking and returns the HTTP status, so
/// the 401 is checked on the wire rather than through rmcp's error mapping.
fn raw_post_status(authority: &str, header: Option<(&str, &str)>) -> u16 {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let extra = header.map(|(name, value)| format!("{name}: {value}\r\n")).unwrap_or_default();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = [0; 12];
    stream.read_exact(&mut head).unwrap();
    // "HTTP/1.1 401"
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

/// Standard base64 (with padding), enough to check the media blocks' bytes.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0u32);
    for byte in text.bytes().filter(|&byte| byte != b'=') {
        let value = ALPHABET.iter().position(|&a| a == byte).expect("a base64 character") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

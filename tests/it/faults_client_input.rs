//! Bad input from the client, written as raw bytes on the real gateway's stdin: malformed
//! JSON, invalid UTF-8, shapes that are not JSON-RPC, unknown methods, wrong parameter types,
//! 64 MiB arguments, 10,000 levels of nesting and 10,000 pipelined requests.
//!
//! Every request that carries an id gets exactly one answer: a JSON-RPC error, or a tool
//! result with a structured gateway error. After each bad input a valid request is answered,
//! and at the end the gateway exits cleanly when its stdin closes.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::raw::{RawGateway, rpc_error_code};
use crate::support::*;
use serde_json::{Value, json};

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const MESSAGE_TOO_LARGE: i64 = -32001;

async fn start_env(env: &[(&str, &str)]) -> (RawGateway, TempFiles) {
    let files = TempFiles::new();
    let mut spawn = gateway_spawn(&files, &[("s", fixture_server(&["--name", "s"]))], &allow_all(), &[]);
    for (k, v) in env {
        spawn = spawn.env(k, v);
    }
    (RawGateway::start(&spawn).await, files)
}

async fn start() -> (RawGateway, TempFiles) {
    start_env(&[]).await
}

/// The whole tool call of `execute_tool` on the fixture's `echo`, as a JSON-RPC line with
/// `args_json` spliced in verbatim (so it can be made invalid on purpose).
fn echo_line(id: &str, args_json: impl AsRef<[u8]>) -> Vec<u8> {
    let head = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"execute_tool","arguments":{{"agent_id":"dev","server":"s","tool":"echo","args":"#
    );
    [head.as_bytes(), args_json.as_ref(), b"}}}"].concat()
}

/// Sends `line`, expects a JSON-RPC error with `code` for `id`, then checks the gateway still
/// answers.
async fn expect_error(gw: &mut RawGateway, line: &[u8], id: Value, code: i64) {
    let shown = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
    gw.send_line(line).await;
    let answer = gw.response(&id).await;
    assert_eq!(rpc_error_code(&answer), Some(code), "{shown:?} got {answer}");
    assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{shown:?}: {answer}");
    gw.assert_answering(&shown).await;
}

/// Sends `line`, checks that nothing answers it (it is a notification or a response), and that
/// the gateway still answers.
async fn expect_silence(gw: &mut RawGateway, line: &[u8]) {
    let shown = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
    gw.send_line(line).await;
    // An answer to `line` would be written as soon as the line is read, before the two round
    // trips that follow complete; no need to wait a fixed time.
    gw.assert_answering(&shown).await;
    let extra = gw.clear_stash();
    assert!(extra.is_empty(), "{shown:?} must not be answered, got {extra:?}");
}

#[tokio::test]
async fn malformed_json_and_invalid_utf8_get_parse_errors_by_id_when_one_can_be_found() {
    let (mut gw, _files) = start().await;
    let null = Value::Null;
    // No id to be found: JSON-RPC says the error's id is null.
    for line in [&b"not json"[..], b"}", b"{", b"\xff\xfe\xfd", b"\x00\x00\x00", b"{\"jsonrpc\":\"2.0\",\"id\":3"] {
        expect_error(&mut gw, line, null.clone(), PARSE_ERROR).await;
    }
    // A request cut short, or with invalid UTF-8 inside a string: the id is at the start of
    // the line, so the caller waiting for it gets its answer instead of waiting forever.
    expect_error(&mut gw, br#"{"jsonrpc":"2.0","id":1,"method":"#, json!(1), PARSE_ERROR).await;
    expect_error(
        &mut gw,
        br#"{"jsonrpc":"2.0","id":"cut","method":"tools/call","params":{"#,
        json!("cut"),
        PARSE_ERROR,
    )
    .await;
    expect_error(&mut gw, &echo_line("9", b"{\"text\":\"\xff\xfe\"}"), json!(9), PARSE_ERROR).await;
    expect_error(&mut gw, &echo_line("\"lone\"", r#"{"text":"\ud800"}"#), json!("lone"), PARSE_ERROR).await;
    // Trailing junk after a complete message.
    expect_error(&mut gw, br#"{"jsonrpc":"2.0","id":"junk","method":"ping"} trailing"#, json!("junk"), PARSE_ERROR)
        .await;
    // A byte order mark and a CRLF line end are tolerated.
    gw.send(b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":\"bom\",\"method\":\"ping\"}\r\n").await;
    assert_eq!(gw.response(&json!("bom")).await["result"], json!({}));
    // Blank lines are skipped.
    expect_silence(&mut gw, b"").await;
    expect_silence(&mut gw, b"   \t ").await;
    // Valid escapes, including NUL and astral characters, pass through to the tool intact.
    let r = gw
        .call(
            "execute_tool",
            json!({"agent_id": "dev", "server": "s", "tool": "echo", "args": {"text": "a\u{0}b\u{1F600}"}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "a\u{0}b\u{1F600}", "{r}");
}

#[tokio::test]
async fn shapes_that_are_not_json_rpc_get_invalid_request() {
    let (mut gw, _files) = start().await;
    let null = Value::Null;
    for (line, id) in [
        (&br#"{"id":3,"method":"tools/list"}"#[..], json!(3)),
        (br#"{"jsonrpc":"1.0","id":4,"method":"tools/list"}"#, json!(4)),
        (br#"{"jsonrpc":"2.0","id":18,"method":"ping","params":[]}"#, json!(18)),
        (br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":"wrong"}"#, json!(2)),
        (br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, null.clone()),
        // Valid JSON, but not a message at all: the error has a null id.
        (br#"{"jsonrpc":"2.0","method":1}"#, null.clone()),
        (br#"{"jsonrpc":"2.0","id":5}"#, json!(5)),
        (br#"{"hello":"world"}"#, null.clone()),
        (b"42", null.clone()),
        (br#""a string""#, null.clone()),
        (b"null", null.clone()),
        (b"true", null.clone()),
        (b"[]", null.clone()),
        (b"[1,2,3]", null.clone()),
    ] {
        expect_error(&mut gw, line, id, INVALID_REQUEST).await;
    }
    // A batch (MCP has none since 2025-06-18): each request in it is answered with an error
    // by its id, so no caller waits forever.
    gw.send_line(br#"[{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":"b2","method":"tools/list"}]"#).await;
    for id in ["b1", "b2"] {
        let answer = gw.response(&json!(id)).await;
        assert_eq!(rpc_error_code(&answer), Some(INVALID_REQUEST), "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("batch"), "{answer}");
    }
    gw.assert_answering("a batch").await;
    // A batch of notifications and responses alone waits for nothing, so nothing is sent; an
    // item that is not a message at all is refused with a null id.
    expect_silence(&mut gw, br#"[{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":9,"result":{}}]"#)
        .await;
    expect_error(&mut gw, br#"[{"jsonrpc":"2.0","method":"notifications/x"},7]"#, null.clone(), INVALID_REQUEST).await;
    // Responses to requests the gateway never sent, and notifications, are not answered.
    expect_silence(&mut gw, br#"{"jsonrpc":"2.0","id":15,"result":{}}"#).await;
    expect_silence(&mut gw, br#"{"jsonrpc":"2.0","id":16,"error":{"code":1,"message":"x"}}"#).await;
    expect_silence(&mut gw, br#"{"jsonrpc":"2.0","method":"notifications/no_such_thing"}"#).await;
    expect_silence(&mut gw, br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"never"}}"#)
        .await;
    expect_silence(&mut gw, br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":"bad"}"#).await;
}

#[tokio::test]
async fn unknown_methods_and_wrong_parameter_types_get_the_right_errors() {
    let (mut gw, _files) = start().await;
    for method in ["no/such", "resources/list", "prompts/list", "completion/complete", "tools/nope", ""] {
        let line = json!({"jsonrpc": "2.0", "id": method, "method": method}).to_string();
        expect_error(&mut gw, line.as_bytes(), json!(method), METHOD_NOT_FOUND).await;
    }
    // Known methods with parameters of the wrong type are invalid params, not unknown methods.
    for (i, params) in [
        json!({"name": 5}),
        json!({"name": "execute_tool", "arguments": [1]}),
        json!({"name": "execute_tool", "arguments": "text"}),
        json!({"arguments": {}}),
        json!({"name": null}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("call-{i}");
        let line = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}).to_string();
        expect_error(&mut gw, line.as_bytes(), json!(id), INVALID_PARAMS).await;
    }
    let line = br#"{"jsonrpc":"2.0","id":"no-params","method":"tools/call"}"#;
    expect_error(&mut gw, line, json!("no-params"), INVALID_PARAMS).await;
    // An unknown gateway tool is a protocol error too.
    let r = gw.call("no_such_gateway_tool", json!({})).await;
    assert_eq!(rpc_error_code(&r), Some(INVALID_PARAMS), "{r}");

    // Wrong types inside a gateway tool's arguments are structured gateway errors.
    for (tool, args, param) in [
        ("list_servers", json!({"agent_id": 7}), "agent_id"),
        ("list_servers", json!({"agent_id": "dev", "include_metadata": "yes"}), "include_metadata"),
        ("get_server_tools", json!({"agent_id": "dev", "server": ["s"]}), "server"),
        ("get_server_tools", json!({"agent_id": "dev", "server": "s", "max_schema_tokens": "9"}), "max_schema_tokens"),
        ("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": {}}), "tool"),
        ("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": "echo", "args": [1]}), "args"),
        ("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": "echo", "timeout_ms": -3}), "timeout_ms"),
        ("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": "echo", "timeout_ms": 1e300}), "timeout_ms"),
    ] {
        let r = gw.call(tool, args.clone()).await;
        let result = &r["result"];
        assert_eq!(result["isError"], true, "{tool} {args}: {r}");
        let error = &result["structuredContent"]["error"];
        assert_eq!(error["code"], "INVALID_ARGUMENT", "{tool} {args}: {r}");
        assert!(error["message"].as_str().unwrap().contains(&format!("`{param}`")), "{tool} {args}: {r}");
    }
    gw.assert_answering("wrong parameter types").await;
}

#[tokio::test]
async fn ten_thousand_levels_of_nesting_are_refused_without_a_crash() {
    let (mut gw, _files) = start().await;
    let deep = |open: &str, close: &str, n: usize| format!("{}{}", open.repeat(n), close.repeat(n));
    // Inside a request with an id: a parse error for that id.
    let arrays = format!(r#"{{"text":"x","deep":{}}}"#, deep("[", "]", 10_000));
    expect_error(&mut gw, &echo_line("\"arrays\"", &arrays), json!("arrays"), PARSE_ERROR).await;
    let objects = format!(r#"{{"text":"x","deep":{}1{}}}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    expect_error(&mut gw, &echo_line("\"objects\"", &objects), json!("objects"), PARSE_ERROR).await;
    // The id after the deep part is still found.
    let late =
        format!(r#"{{"jsonrpc":"2.0","method":"ping","params":{{"d":{}}},"id":"late"}}"#, deep("[", "]", 10_000));
    expect_error(&mut gw, late.as_bytes(), json!("late"), PARSE_ERROR).await;
    // At the top level, with no id: a parse error with a null id.
    expect_error(&mut gw, deep("[", "]", 10_000).as_bytes(), Value::Null, PARSE_ERROR).await;
    // Far deeper, unterminated.
    expect_error(&mut gw, "[".repeat(1_000_000).as_bytes(), Value::Null, PARSE_ERROR).await;
    // Moderate nesting is fine and reaches the tool.
    let fine = format!(r#"{{"text":"shallow enough","deep":{}}}"#, deep("[", "]", 100));
    gw.send_line(&echo_line("\"fine\"", &fine)).await;
    let r = gw.response(&json!("fine")).await;
    assert_eq!(r["result"]["content"][0]["text"], "shallow enough", "{r}");
}

#[tokio::test]
async fn sixty_four_mib_arguments_are_served_and_oversized_lines_are_answered_by_id() {
    const SIZE: usize = 64 * 1024 * 1024;
    let (mut gw, _files) = start().await;
    // 64 MiB of arguments reach the tool (which answers with their length only).
    let args = format!(r#"{{"text":"{}","length_only":true}}"#, "y".repeat(SIZE));
    let started = Instant::now();
    gw.send_line(&echo_line("\"big\"", &args)).await;
    let r = gw.response_within(&json!("big"), Duration::from_secs(60)).await;
    assert_eq!(
        r["result"]["content"][0]["text"],
        format!("{SIZE} bytes"),
        "{}",
        &r.to_string()[..300.min(r.to_string().len())]
    );
    eprintln!("64 MiB of arguments: {:?}", started.elapsed());
    drop(args);
    // 64 MiB that is not valid JSON (an unterminated string): a parse error for its id.
    let mut bad = echo_line("\"big-bad\"", "{\"text\":\"");
    bad.truncate(bad.len() - 3);
    bad.resize(bad.len() + SIZE, b'z');
    expect_error(&mut gw, &bad, json!("big-bad"), PARSE_ERROR).await;
    drop(bad);
    gw.close_stdin();
    let status = gw.child().wait_exit(Duration::from_secs(5)).await.expect("the gateway exits when stdin closes");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn lines_over_the_cap_are_skipped_and_answered_when_they_have_an_id() {
    let cap = 1024 * 1024;
    let (mut gw, _files) = start_env(&[("MCPGW_TEST_MAX_MESSAGE_BYTES", "1048576")]).await;
    let args = format!(r#"{{"text":"{}"}}"#, "q".repeat(3 * cap));
    let line = echo_line("\"over\"", &args);
    expect_error(&mut gw, &line, json!("over"), MESSAGE_TOO_LARGE).await;
    // The message names the real size, not what the transport kept of it.
    gw.send_line(&line).await;
    let answer = gw.response(&json!("over")).await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("message of {} bytes", line.len())), "{message}");
    // The id at the very end of an oversized line cannot be found: nothing to answer, but the
    // gateway goes on.
    let late = format!(r#"{{"jsonrpc":"2.0","method":"ping","params":{{"p":"{}"}},"id":"late"}}"#, "q".repeat(3 * cap));
    expect_silence(&mut gw, late.as_bytes()).await;
    // Oversized garbage with no id, in many small writes, with no newline until the end.
    for _ in 0..64 {
        gw.send(&[b'#'; 64 * 1024]).await;
    }
    gw.send(b"\n").await;
    gw.assert_answering("4 MiB of garbage").await;
    assert!(gw.clear_stash().is_empty());
}

#[tokio::test]
async fn ten_thousand_pipelined_requests_are_all_answered() {
    const N: usize = 10_000;
    let (mut gw, _files) = start().await;
    // Start the downstream first, so the burst measures the gateway rather than a spawn.
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "s", "tool": "echo", "args": {"text": "warm"}}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "warm");
    let mut burst = Vec::with_capacity(N * 200);
    let mut kinds = Vec::with_capacity(N);
    for i in 0..N {
        let id = format!("p{i}");
        let (msg, kind) = match i % 5 {
            0 => (
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "execute_tool", "arguments": {"agent_id": "dev", "server": "s", "tool": "echo", "args": {"text": id}}}}),
                "echo",
            ),
            1 => (
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "list_servers", "arguments": {"agent_id": "dev"}}}),
                "list",
            ),
            2 => (json!({"jsonrpc": "2.0", "id": id, "method": "ping"}), "ping"),
            3 => (json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}), "tools"),
            _ => (
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "execute_tool", "arguments": {"agent_id": "nobody", "server": "s", "tool": "echo"}}}),
                "denied",
            ),
        };
        burst.extend_from_slice(msg.to_string().as_bytes());
        burst.push(b'\n');
        kinds.push(kind);
    }
    let started = Instant::now();
    gw.send(&burst).await;
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < N {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(msg) = gw.next(left).await else {
            panic!("only {} of {N} answered after {:?}", seen.len(), started.elapsed());
        };
        let Some(id) = msg["id"].as_str().and_then(|s| s.strip_prefix('p')) else { continue };
        let i: usize = id.parse().unwrap();
        assert!(seen.insert(i), "id p{i} answered twice");
        let result = &msg["result"];
        match kinds[i] {
            "echo" => assert_eq!(result["content"][0]["text"], format!("p{i}"), "{msg}"),
            "list" => assert_eq!(result["structuredContent"]["servers"][0]["name"], "s", "{msg}"),
            "ping" => assert_eq!(result, &json!({}), "{msg}"),
            "tools" => assert_eq!(result["tools"].as_array().map(Vec::len), Some(META_TOOLS.len()), "{msg}"),
            _ => assert_eq!(result["structuredContent"]["error"]["code"], "INVALID_AGENT_ID", "{msg}"),
        }
    }
    eprintln!("{N} pipelined requests answered in {:?}", started.elapsed());
    gw.assert_answering("10,000 pipelined requests").await;
    gw.close_stdin();
    let status = gw.child().wait_exit(Duration::from_secs(5)).await.expect("the gateway exits when stdin closes");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_burst_of_mixed_bad_lines_is_answered_line_by_line() {
    const N: usize = 2_000;
    let (mut gw, _files) = start().await;
    let mut burst = Vec::new();
    let mut expected = Vec::new();
    for i in 0..N {
        let id = format!("m{i}");
        let (line, code): (Vec<u8>, Option<i64>) = match i % 4 {
            0 => (format!(r#"{{"jsonrpc":"2.0","id":"{id}","method":"#).into_bytes(), Some(PARSE_ERROR)),
            1 => {
                (format!(r#"{{"jsonrpc":"2.0","id":"{id}","method":"nope/{i}"}}"#).into_bytes(), Some(METHOD_NOT_FOUND))
            }
            2 => (echo_line(&format!("\"{id}\""), b"{\"text\":\"\xc3\x28\"}"), Some(PARSE_ERROR)),
            _ => (format!(r#"{{"jsonrpc":"2.0","id":"{id}","method":"ping"}}"#).into_bytes(), None),
        };
        burst.extend_from_slice(&line);
        burst.push(b'\n');
        expected.push(code);
    }
    gw.send(&burst).await;
    for (i, code) in expected.iter().enumerate() {
        let answer = gw.response(&json!(format!("m{i}"))).await;
        match code {
            Some(code) => assert_eq!(rpc_error_code(&answer), Some(*code), "m{i}: {answer}"),
            None => assert_eq!(answer["result"], json!({}), "m{i}: {answer}"),
        }
    }
    gw.assert_answering("a burst of bad lines").await;
}

/// A client that sends bad requests and never reads its answers: the gateway keeps at most a
/// bounded number of error replies waiting, says that it dropped the rest, and answers again
/// once the client reads.
#[tokio::test]
async fn a_client_that_never_reads_its_answers_cannot_pile_up_replies() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    const LINES: usize = 20_000;
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("s", fixture_server(&["--name", "s"]))], &allow_all(), &[]);
    let mut child = spawn.spawn().expect("spawn the gateway");
    let (stdout, mut stdin) = child.take_pipes().expect("the gateway's pipes");
    // Invalid requests with ids: each one is owed an error reply, and nobody reads them.
    let mut batch = Vec::new();
    for id in 0..LINES {
        batch.extend_from_slice(format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":1}}\n").as_bytes());
    }
    stdin.write_all(&batch).await.expect("the gateway reads every line");
    stdin.flush().await.unwrap();
    let said = child.stderr().wait_for_line("error replies dropped", Duration::from_secs(20)).await;
    assert!(said.is_some(), "no word of dropped replies:\n{}", child.stderr().text());
    // Now read: the replies that were kept come out, and a new request is answered.
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":\"after\",\"method\":\"ping\"}\n").await.unwrap();
    stdin.flush().await.unwrap();
    let mut reader = BufReader::new(stdout);
    let (mut replies, mut line) = (0, String::new());
    loop {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(20), reader.read_line(&mut line))
            .await
            .expect("the gateway still writes")
            .unwrap();
        assert!(n > 0, "stdout closed after {replies} replies");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["id"] == "after" {
            assert!(v.get("result").is_some(), "{v}");
            break;
        }
        assert_eq!(rpc_error_code(&v), Some(INVALID_REQUEST), "{v}");
        replies += 1;
    }
    assert!(replies < LINES, "all {replies} replies were kept waiting");
    drop(stdin);
    assert!(child.wait_exit(Duration::from_secs(10)).await.is_some_and(|s| s.success()));
}

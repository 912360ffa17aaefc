//! The context cost of a server: its `tools/list`, read as raw JSON (so no field is lost to a
//! typed model), re-serialised compactly, and counted as bytes / 4.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Lists every tool of the stdio server `command` (following `nextCursor`) and reports the
/// size of the `tools` array as compact JSON.
pub async fn tokens(command: &[String], timeout: Duration) -> Result<Value, String> {
    let (program, args) = command.split_first().ok_or("no command to run")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let pid = child.id();
    let result = tokio::time::timeout(timeout, async {
        let mut send = async |msg: Value| -> Result<(), String> {
            let mut line = msg.to_string();
            line.push('\n');
            stdin.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
            stdin.flush().await.map_err(|e| e.to_string())
        };
        send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "mcp-bench", "version": env!("CARGO_PKG_VERSION")}}}))
        .await?;
        let init = read_response(&mut lines, 0).await?;
        send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
        let mut tools = Vec::new();
        let mut cursor: Option<Value> = None;
        for id in 1.. {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params})).await?;
            let mut page = read_response(&mut lines, id).await?;
            if let Some(Value::Array(list)) = page.get_mut("tools").map(Value::take) {
                tools.extend(list);
            }
            cursor = page.get("nextCursor").filter(|c| !c.is_null()).cloned();
            if cursor.is_none() || id > 100 {
                break;
            }
        }
        Ok::<_, String>((init, tools))
    })
    .await;
    if let Some(pid) = pid {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = child.wait().await;
    let (init, tools) = result.map_err(|_| format!("no complete tools/list within {} s", timeout.as_secs()))??;
    let bytes = serde_json::to_string(&tools).map_err(|e| e.to_string())?.len();
    let names: Vec<&str> = tools.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).collect();
    Ok(json!({
        "server_info": init.get("serverInfo"),
        "tools": tools.len(),
        "bytes": bytes,
        "tokens": bytes.div_ceil(4),
        "names": names,
    }))
}

/// Reads lines until the response with `id`; skips notifications, requests and non-JSON.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    id: i64,
) -> Result<Value, String> {
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
        if msg.get("id").and_then(Value::as_i64) != Some(id) || msg.get("method").is_some() {
            continue;
        }
        if let Some(err) = msg.get("error") {
            return Err(format!("request {id} failed: {err}"));
        }
        return msg.get("result").cloned().ok_or_else(|| format!("response {id} has no result"));
    }
    Err("the server closed its stdout".into())
}

//! The gateway over raw pipes: tests write bytes to its stdin themselves (malformed JSON,
//! invalid UTF-8, huge or pipelined lines) and read its stdout line by line, with no MCP
//! library in between that would refuse to send such input or hide what comes back.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::mpsc;

use super::{ChildProcess, Spawn};

/// A gateway process, its stdin, and the lines of its stdout.
pub struct RawGateway {
    child: ChildProcess,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Messages read while looking for another one.
    stash: VecDeque<Value>,
    /// The `initialize` result.
    init: Value,
    next_id: u64,
}

impl RawGateway {
    /// Starts `spawn` and completes the MCP handshake (`initialize`, `notifications/initialized`).
    pub async fn start(spawn: &Spawn) -> Self {
        Self::start_as(spawn, "2025-06-18", json!({})).await
    }

    /// As [`Self::start`], initializing with protocol `version` and client `capabilities`.
    pub async fn start_as(spawn: &Spawn, version: &str, capabilities: Value) -> Self {
        let mut child = spawn.spawn().expect("spawn the gateway");
        let (stdout, stdin) = child.take_pipes().expect("the gateway's pipes");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::with_capacity(1 << 20, stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut gw =
            RawGateway { child, stdin: Some(stdin), lines, stash: VecDeque::new(), next_id: 0, init: Value::Null };
        let init = gw
            .request(
                "initialize",
                json!({"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "raw", "version": "1"}}),
            )
            .await;
        assert!(init["result"]["serverInfo"]["name"] == "mcpgw", "initialize failed: {init}");
        gw.init = init["result"].clone();
        gw.send_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
        gw
    }

    /// The gateway's `initialize` result.
    pub fn initialize_result(&self) -> &Value {
        &self.init
    }

    /// The gateway process.
    pub fn child(&mut self) -> &mut ChildProcess {
        &mut self.child
    }

    /// Writes `bytes` exactly as given.
    pub async fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        stdin.write_all(bytes).await.expect("write to the gateway's stdin");
        stdin.flush().await.expect("flush the gateway's stdin");
    }

    /// Writes `bytes` and a newline.
    pub async fn send_line(&mut self, bytes: &[u8]) {
        let mut line = Vec::with_capacity(bytes.len() + 1);
        line.extend_from_slice(bytes);
        line.push(b'\n');
        self.send(&line).await;
    }

    /// Closes stdin, as a client that is done does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next message from stdout (stashed ones first), or `None` if nothing comes within
    /// `timeout`. Every stdout line must be one JSON-RPC message.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(v) = self.stash.pop_front() {
            return Some(v);
        }
        self.read_line(timeout).await
    }

    /// The next stdout line as the gateway wrote it, unparsed (nothing may be stashed): for
    /// results that a JSON parser would not keep as they are (`1e400`, say).
    pub async fn next_raw_line(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        assert!(self.stash.is_empty(), "messages are stashed: {:?}", self.stash);
        tokio::time::timeout(timeout, self.lines.recv()).await.ok()?
    }

    async fn read_line(&mut self, timeout: Duration) -> Option<Value> {
        let line = tokio::time::timeout(timeout, self.lines.recv()).await.ok()??;
        let value: Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!("stdout line is not JSON ({e}): {}", String::from_utf8_lossy(&line[..line.len().min(500)]))
        });
        assert_eq!(value["jsonrpc"], "2.0", "stdout line is not JSON-RPC 2.0: {value}");
        Some(value)
    }

    /// Waits for the response with id `id` (a message with that id and no `method`), keeping
    /// whatever else arrives for later. Panics after `timeout`.
    pub async fn response_within(&mut self, id: &Value, timeout: Duration) -> Value {
        if let Some(i) = self.stash.iter().position(|m| is_response_to(m, id)) {
            return self.stash.remove(i).expect("the position is valid");
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(msg) = self.read_line(left).await else {
                panic!(
                    "no response to id {id} within {timeout:?}; stashed: {:?}; stderr:\n{}",
                    self.stash,
                    tail(&self.child.stderr().text())
                );
            };
            if is_response_to(&msg, id) {
                return msg;
            }
            self.stash.push_back(msg);
        }
    }

    /// Waits up to 10 s for the response with id `id`.
    pub async fn response(&mut self, id: &Value) -> Value {
        self.response_within(id, Duration::from_secs(10)).await
    }

    /// A fresh string id, unlike any a test writes by hand.
    pub fn fresh_id(&mut self) -> Value {
        self.next_id += 1;
        Value::from(format!("raw-{}", self.next_id))
    }

    /// Sends a well-formed request and waits for its response.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.fresh_id();
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(msg.to_string().as_bytes()).await;
        self.response(&id).await
    }

    /// Calls a gateway tool and returns the whole response.
    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments})).await
    }

    /// Checks the gateway still answers: a `ping` and a real tool call.
    pub async fn assert_answering(&mut self, after: &str) {
        let pong = self.request("ping", json!({})).await;
        assert_eq!(pong["result"], json!({}), "after {after}: ping got {pong}");
        let r = self.call("list_servers", json!({"agent_id": "dev"})).await;
        assert!(r["result"]["structuredContent"]["servers"].is_array(), "after {after}: list_servers got {r}");
    }

    /// Drops stashed messages (after a test has looked at what it needs).
    pub fn clear_stash(&mut self) -> Vec<Value> {
        self.stash.drain(..).collect()
    }
}

impl Drop for RawGateway {
    /// Kills the gateway's downstream process groups first: a test that fails kills the
    /// gateway with SIGKILL, which leaves it no chance to stop them itself.
    fn drop(&mut self) {
        // Only while the gateway lives: its pid may have been reused once it is reaped.
        if self.child.try_exit_status().is_some() {
            return;
        }
        super::procfs::kill_child_groups(self.child.pid());
    }
}

fn is_response_to(msg: &Value, id: &Value) -> bool {
    msg.get("method").is_none() && msg.get("id") == Some(id)
}

/// The last 40 lines of a log.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The JSON-RPC error code of a response, if it is an error.
pub fn rpc_error_code(msg: &Value) -> Option<i64> {
    msg.get("error")?.get("code")?.as_i64()
}

//! A minimal MCP client over HTTP/1.1 keep-alive, for one question only: what the server does
//! when the client reuses its TCP connection.
//!
//! rmcp's own streamable HTTP client turns connection pooling off (`pool_max_idle_per_host(0)`,
//! to dodge a delayed-ACK stall), so each of its requests opens and closes a TCP connection.
//! Clients built on `fetch` keep connections alive. This client does too: one connection per
//! session, one request at a time, the legacy session handshake, responses read as JSON or as
//! SSE (chunked) up to the end of the body so the connection stays usable.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// One MCP session on one kept-alive TCP connection.
pub struct RawSession {
    conn: Mutex<Conn>,
    host: String,
    path: String,
    session: Option<String>,
}

struct Conn {
    stream: BufReader<TcpStream>,
    next_id: u64,
}

/// The parts of a `http://127.0.0.1:PORT/path` URL.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    Ok((host.to_owned(), path))
}

impl RawSession {
    /// Connects and runs `initialize` + `notifications/initialized`.
    pub async fn connect(url: &str) -> Result<Self, String> {
        let (host, path) = split_url(url)?;
        let stream = TcpStream::connect(&host).await.map_err(|e| format!("cannot connect to {host}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut session = RawSession {
            conn: Mutex::new(Conn { stream: BufReader::new(stream), next_id: 1 }),
            host,
            path,
            session: None,
        };
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "mcp-bench-raw", "version": env!("CARGO_PKG_VERSION")}}});
        let (headers, _) = session.exchange(&init, Some(0)).await?;
        session.session =
            headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("mcp-session-id")).map(|(_, v)| v.clone());
        session.exchange(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), None).await?;
        Ok(session)
    }

    /// Calls a tool and returns its result.
    pub async fn call_tool(&self, params: &CallToolRequestParams) -> Result<CallToolResult, String> {
        let id = {
            let mut c = self.conn.lock().await;
            c.next_id += 1;
            c.next_id
        };
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let (_, body) = self.exchange(&msg, Some(id)).await?;
        let response = body.ok_or("no response")?;
        if let Some(err) = response.get("error") {
            return Err(format!("JSON-RPC error: {err}"));
        }
        serde_json::from_value(response.get("result").cloned().unwrap_or(Value::Null)).map_err(|e| e.to_string())
    }

    /// Sends one message and reads the whole HTTP response; returns the headers and, when
    /// `id` is given, the JSON-RPC message with that id.
    async fn exchange(&self, msg: &Value, id: Option<u64>) -> Result<(Vec<(String, String)>, Option<Value>), String> {
        let body = msg.to_string();
        let mut request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n",
            self.path,
            self.host,
            body.len()
        );
        if let Some(s) = &self.session {
            request.push_str(&format!("Mcp-Session-Id: {s}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut c = self.conn.lock().await;
        let io = |e: std::io::Error| e.to_string();
        c.stream.get_mut().write_all(request.as_bytes()).await.map_err(io)?;
        let mut line = String::new();
        c.stream.read_line(&mut line).await.map_err(io)?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            c.stream.read_line(&mut line).await.map_err(io)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let raw = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut all = Vec::new();
            loop {
                line.clear();
                c.stream.read_line(&mut line).await.map_err(io)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("bad chunk size {line:?}"))?;
                let mut chunk = vec![0; size + 2];
                c.stream.read_exact(&mut chunk).await.map_err(io)?;
                if size == 0 {
                    break;
                }
                all.extend_from_slice(&chunk[..size]);
            }
            all
        } else {
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut all = vec![0; len];
            c.stream.read_exact(&mut all).await.map_err(io)?;
            all
        };
        if !(200..300).contains(&status) {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&raw)));
        }
        let Some(id) = id else { return Ok((headers, None)) };
        let text = String::from_utf8_lossy(&raw);
        let is_sse = header("content-type").is_some_and(|v| v.starts_with("text/event-stream"));
        let candidates: Vec<Value> = if is_sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str(d.trim()).ok())
                .collect()
        } else {
            serde_json::from_str(&text).into_iter().collect()
        };
        let found = candidates.into_iter().find(|m| m.get("id").and_then(Value::as_u64) == Some(id));
        Ok((headers, found))
    }
}

//! The gateway served over HTTP: starting `mcpgw serve --transport http` on a free loopback
//! port, connecting rmcp clients to it, and a tiny HTTP/1.1 client for the requests an MCP
//! client cannot make (no token, a forged `Host`, `/metrics`, stateless POSTs).
//!
//! The raw client sends `Connection: close` and reads until EOF, bounded in time and size, so
//! no request can hang a test.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ChildProcess, McpClient, Spawn, TempFiles, mcp_json};

/// How long the gateway may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest any raw request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a raw response may hold.
const MAX_RESPONSE: usize = 8 << 20;

/// The text of a `.mcp.json` with `servers` and a `gateway` section.
pub fn mcp_json_with_gateway(servers: &[(&str, Value)], gateway: &Value) -> String {
    let text = mcp_json(servers);
    let body = text.trim_end().strip_suffix('}').expect("mcp_json ends with `}`").trim_end();
    format!("{body},\n  \"gateway\": {gateway}\n}}\n")
}

/// Hex SHA-256 of a token, as `token_sha256` wants it.
pub fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A gateway serving HTTP on a loopback port.
pub struct HttpGateway {
    /// The gateway process.
    pub child: ChildProcess,
    /// Its files: `.mcp.json`, `rules.json`, `audit.jsonl`.
    pub files: TempFiles,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The audit log.
    pub audit: PathBuf,
}

/// How to start an [`HttpGateway`].
pub struct HttpGatewayBuilder<'a> {
    servers: &'a [(&'a str, Value)],
    rules: Value,
    gateway: Option<Value>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    via_env: bool,
}

impl<'a> HttpGatewayBuilder<'a> {
    /// A gateway over these servers and rules.
    pub fn new(servers: &'a [(&'a str, Value)], rules: Value) -> Self {
        Self { servers, rules, gateway: None, args: Vec::new(), env: Vec::new(), via_env: false }
    }

    /// Adds the `gateway` section of `.mcp.json` (tokens, allowed hosts and origins).
    pub fn gateway_section(mut self, section: Value) -> Self {
        self.gateway = Some(section);
        self
    }

    /// Adds command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Sets an environment variable for the gateway.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Selects HTTP and the address through `GATEWAY_TRANSPORT` and `GATEWAY_LISTEN` instead
    /// of flags, and leaves out the `serve` subcommand.
    pub fn via_env(mut self) -> Self {
        self.via_env = true;
        self
    }

    /// The command `mcpgw serve --transport http --listen LISTEN ...`, with the files written.
    pub fn spawn_spec(&self, files: &TempFiles, listen: &str) -> Spawn {
        let mcp = match &self.gateway {
            Some(section) => mcp_json_with_gateway(self.servers, section),
            None => mcp_json(self.servers),
        };
        let mcp = files.write(".mcp.json", mcp);
        let rules = files.write_json("rules.json", &self.rules);
        let mut spawn = Spawn::new(super::mcpgw_bin());
        spawn = if self.via_env {
            spawn.env("GATEWAY_TRANSPORT", "http").env("GATEWAY_LISTEN", listen)
        } else {
            spawn.args(["serve", "--transport", "http", "--listen", listen])
        };
        spawn = spawn
            .arg("--mcp-config")
            .arg(mcp)
            .arg("--rules")
            .arg(rules)
            .arg("--audit-log")
            .arg(files.file_path("audit.jsonl"))
            .args(self.args.iter().map(String::as_str))
            .env("RUST_LOG", "info")
            .cwd(files.path());
        for (k, v) in &self.env {
            spawn = spawn.env(k, v);
        }
        spawn
    }

    /// Starts the gateway on `127.0.0.1:0` and waits for its ready line.
    pub async fn start(self) -> HttpGateway {
        self.start_on("127.0.0.1:0").await
    }

    /// Starts the gateway on `listen` (a loopback address) and waits for its ready line.
    pub async fn start_on(self, listen: &str) -> HttpGateway {
        let files = TempFiles::new();
        let spawn = self.spawn_spec(&files, listen);
        let child = spawn.spawn().expect("spawn mcpgw");
        HttpGateway::wait_ready(child, files).await
    }
}

impl HttpGateway {
    /// Starts a gateway with no `gateway` section and no extra arguments.
    pub async fn start(servers: &[(&str, Value)], rules: Value) -> Self {
        HttpGatewayBuilder::new(servers, rules).start().await
    }

    /// Waits for `Gateway is ready on http://ADDR/mcp` and parses the address.
    pub async fn wait_ready(mut child: ChildProcess, files: TempFiles) -> Self {
        let line = child.stderr().wait_for_line("Gateway is ready on http://", START_TIMEOUT).await;
        let Some(line) = line else {
            let status = child.try_exit_status();
            panic!("the gateway did not become ready (exit: {status:?}); stderr:\n{}", child.stderr().text());
        };
        let rest = line.split("http://").nth(1).expect("an address after http://");
        let addr = rest.split("/mcp").next().expect("an address before /mcp");
        let addr: SocketAddr = addr.parse().unwrap_or_else(|e| panic!("bad address `{addr}` in `{line}`: {e}"));
        let audit = files.file_path("audit.jsonl");
        HttpGateway { child, files, addr, audit }
    }

    /// `http://ADDR/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Connects an rmcp client, with `Authorization: Bearer TOKEN` if a token is given.
    pub async fn client(&self, token: Option<&str>) -> McpClient {
        self.try_client(token).await.unwrap_or_else(|e| panic!("connect over HTTP: {e}\n{}", self.stderr()))
    }

    /// Connects an rmcp client, returning the error instead of panicking.
    pub async fn try_client(&self, token: Option<&str>) -> Result<McpClient, String> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        McpClient::connect_http(&self.url(), &headers).await
    }

    /// A raw request to this gateway.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> RawResponse {
        raw_request(self.addr, method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.stderr()))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.request("GET", path, headers, "").await
    }

    /// `POST /mcp` with a JSON-RPC body and the headers MCP requires.
    pub async fn post_mcp(&self, headers: &[(&str, &str)], body: &Value) -> RawResponse {
        let mut all = vec![("content-type", "application/json"), ("accept", "application/json, text/event-stream")];
        all.extend_from_slice(headers);
        self.request("POST", "/mcp", &all, &body.to_string()).await
    }

    /// `GET /metrics`, parsed; panics unless it is 200.
    pub async fn metrics(&self, headers: &[(&str, &str)]) -> Metrics {
        let r = self.get("/metrics", headers).await;
        assert_eq!(r.status, 200, "/metrics: {r:?}");
        assert!(r.header("content-type").is_some_and(|t| t.starts_with("application/openmetrics-text")), "{r:?}");
        Metrics::parse(&r.body)
    }

    /// The gateway's stderr so far.
    pub fn stderr(&self) -> String {
        self.child.stderr().text()
    }

    /// The audit log's complete lines, parsed.
    pub fn audit_lines(&self) -> Vec<Value> {
        super::gateway::read_audit(&self.audit)
    }

    /// Sends a signal to the gateway process.
    pub fn signal(&self, signal: Signal) {
        let pid = i32::try_from(self.child.pid()).expect("a pid fits i32");
        kill(Pid::from_raw(pid), signal).expect("signal the gateway");
    }
}

/// Starts the fixture server over HTTP on a free loopback port with `extra` arguments;
/// returns it and its `/mcp` URL.
pub async fn http_fixture<I, A>(extra: I) -> (ChildProcess, String)
where
    I: IntoIterator<Item = A>,
    A: Into<OsString>,
{
    let child = Spawn::new(super::fixture_bin()).args(["--http", "127.0.0.1:0"]).args(extra).spawn().unwrap();
    let line =
        child.stderr().wait_for_line("listening on ", Duration::from_secs(10)).await.expect("the fixture's address");
    let url = line.trim().strip_prefix("listening on ").expect("the line format").to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"), "{url}");
    (child, url)
}

/// An `initialize` request, for raw POSTs.
pub fn initialize_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-http-test", "version": "0"}}})
}

/// A stateless (protocol 2026-07-28) request: the protocol version and client capabilities
/// travel in `_meta` of every request, and there is no session.
pub fn stateless_request(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-http-test", "version": "0"},
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A response read by [`raw_request`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked and decoded lossily.
    pub body: String,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    /// The JSON-RPC messages of the response: the body itself for `application/json`, the
    /// `data:` lines of an SSE stream otherwise (empty priming events are skipped).
    pub fn messages(&self) -> Vec<Value> {
        if self.header("content-type").is_some_and(|t| t.starts_with("text/event-stream")) {
            self.body
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("bad SSE data `{d}`: {e}")))
                .collect()
        } else {
            vec![self.json()]
        }
    }

    /// `result` of the last JSON-RPC message (the response); `Null` if there is none.
    pub fn result(&self) -> Value {
        self.messages().last().map(|m| m["result"].clone()).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request over a fresh connection. `Host` defaults to the address unless
/// `headers` sets it.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<RawResponse> {
    tokio::time::timeout(REQUEST_TIMEOUT, raw_request_inner(addr, method, path, headers, body))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the request timed out"))?
}

async fn raw_request_inner(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<RawResponse> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err(std::io::Error::other("the response is too large"));
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<RawResponse> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(RawResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A parsed Prometheus text exposition.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The whole text.
    pub text: String,
    /// Each sample: the series (name and labels, as written) and its value.
    pub samples: Vec<(String, f64)>,
}

impl Metrics {
    /// Parses the text (OpenMetrics), checking the format rules a scraper relies on: every
    /// sample belongs to a family announced by `# TYPE` just before it (samples of one family
    /// are contiguous), no family is announced twice, and the text ends with `# EOF`.
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut families: Vec<String> = Vec::new();
        let mut current: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                let name = parts.next().expect("a family name").to_owned();
                let kind = parts.next().expect("a family type").to_owned();
                assert!(!families.contains(&name), "family `{name}` is announced twice:\n{text}");
                families.push(name.clone());
                current = Some((name, kind));
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line `{line}`"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in `{line}`"));
            let name = series.split('{').next().unwrap_or(series);
            let (family, kind) = current.as_ref().unwrap_or_else(|| panic!("sample `{line}` before any # TYPE"));
            // OpenMetrics names a family without its samples' suffixes.
            let suffixes: &[&str] = match kind.as_str() {
                "histogram" => &["_bucket", "_sum", "_count"],
                "counter" => &["_total", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            let belongs = suffixes.iter().any(|s| name.strip_suffix(s) == Some(family.as_str()));
            assert!(belongs, "sample `{line}` is not in the family `{family}` announced before it:\n{text}");
            samples.push((series.to_owned(), value));
        }
        assert!(text.ends_with("# EOF\n"), "the exposition does not end with # EOF:\n{text}");
        Metrics { text: text.to_owned(), samples }
    }

    /// The value of the series written exactly as `series`, e.g.
    /// `mcpgw_calls_total{agent="backend",operation="list_servers"}`.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
    }

    /// Like [`Metrics::get`], 0 when absent.
    pub fn value(&self, series: &str) -> f64 {
        self.get(series).unwrap_or(0.0)
    }

    /// Every series whose name is `name`, with its labels.
    pub fn series(&self, name: &str) -> Vec<(String, f64)> {
        self.samples.iter().filter(|(s, _)| s.split('{').next() == Some(name)).cloned().collect()
    }
}

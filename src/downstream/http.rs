//! A server reached over streamable HTTP.
//!
//! Each request is a POST whose answer is either one JSON message or an event stream of the
//! call's own messages (progress, log lines, requests for input) ending with its response;
//! those messages are handled as belonging to that call, which is what keeps one caller's
//! elicitation from reaching another. A legacy (2025) server keeps a session
//! (`Mcp-Session-Id`) and may push other messages on a GET stream; a 2026-07-28 server has
//! neither, and every POST carries `Mcp-Method` / `Mcp-Name` headers instead.
//!
//! One pooled client per server: connections are kept alive between calls, with
//! `TCP_NODELAY` so that small writes are not held back by delayed ACKs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::downstream::rpc::{Outlet, RequestError, RequestHead, Rpc};

/// The session header of 2025 streamable HTTP.
const SESSION_HEADER: &str = "mcp-session-id";
/// The revision header.
const VERSION_HEADER: &str = "mcp-protocol-version";

/// How long to wait before reopening a server's GET stream after it ended.
const REOPEN_DELAY: Duration = Duration::from_secs(1);

/// Why a server's HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A configured header name is not a header name.
    #[error("invalid header name `{0}`")]
    HeaderName(String),
    /// A configured header value is not a header value (not shown: it may be a secret).
    #[error("invalid value for header `{0}` (not shown: it may be a secret)")]
    HeaderValue(String),
    /// The HTTP library refused its settings.
    #[error("cannot build an HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// Builds the client and checks the configured headers.
pub fn client(headers: &[(String, String)]) -> Result<(reqwest::Client, HeaderMap), ClientError> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let key = HeaderName::try_from(k.as_str()).map_err(|_| ClientError::HeaderName(k.clone()))?;
        let value = HeaderValue::try_from(v.as_str()).map_err(|_| ClientError::HeaderValue(k.clone()))?;
        map.insert(key, value);
    }
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?;
    Ok((client, map))
}

/// POSTs messages to one server's endpoint.
pub struct HttpOutlet {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    session: Mutex<Option<HeaderValue>>,
    version: Mutex<Option<&'static str>>,
    modern: AtomicBool,
    max_message: usize,
    streams: Mutex<HashMap<u64, tokio::task::AbortHandle>>,
}

impl HttpOutlet {
    /// An outlet to `url` with the configured `headers`.
    pub fn new(client: reqwest::Client, url: String, headers: HeaderMap, max_message: usize) -> Arc<HttpOutlet> {
        Arc::new(HttpOutlet {
            client,
            url,
            headers,
            session: Mutex::new(None),
            version: Mutex::new(None),
            modern: AtomicBool::new(false),
            max_message,
            streams: Mutex::default(),
        })
    }

    /// From now on, speak `version` (the revision header; 2026-07-28 means no session and the
    /// standard headers).
    pub fn set_version(&self, version: crate::mcp::Version) {
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version.as_str());
        self.modern.store(!version.has_initialize(), Ordering::Relaxed);
    }

    /// The session id the server gave, if any.
    fn session(&self) -> Option<HeaderValue> {
        self.session.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn post(&self, message: Vec<u8>, head: Option<&RequestHead>) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json");
        if let Some(v) = *self.version.lock().unwrap_or_else(|e| e.into_inner()) {
            req = req.header(VERSION_HEADER, v);
        }
        if let Some(s) = self.session() {
            req = req.header(SESSION_HEADER, s);
        }
        if self.modern.load(Ordering::Relaxed)
            && let Some(head) = head
        {
            req = req.header("mcp-method", header_value(&head.method));
            if let Some(name) = &head.name {
                req = req.header("mcp-name", header_value(name));
            }
            for (name, value) in &head.params {
                req = req.header(format!("mcp-param-{name}"), header_value(value));
            }
        }
        req.body(message)
    }

    /// Reads an answer to the request `id`: one JSON message, or an event stream of them.
    async fn read_answer(&self, rpc: &Arc<Rpc>, id: u64, resp: reqwest::Response) {
        let status = resp.status();
        if let Some(session) = resp.headers().get(SESSION_HEADER) {
            let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(session.clone());
            }
        }
        let is_stream = content_type(&resp).starts_with("text/event-stream");
        if status == reqwest::StatusCode::NOT_FOUND && self.session().is_some() {
            tracing::warn!(server = %rpc.server(), "the server ended its session");
            rpc.close();
            return;
        }
        if status.is_success() && is_stream {
            self.read_stream(rpc, Some(id), resp).await;
            rpc.fail(id, RequestError::Http("the server's event stream ended before its answer".to_owned()));
            return;
        }
        let body = match read_limited(resp, self.max_message).await {
            Ok(body) => body,
            Err(e) => return rpc.fail(id, e),
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            let why = format!("the server answered HTTP {status} with no message");
            return rpc.fail(id, RequestError::Http(why));
        }
        if !status.is_success() && serde_json::from_slice::<serde_json::Value>(&body).is_err() {
            let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            let why = format!("the server answered HTTP {status}: {}", crate::logging::Escaped::new(&shown));
            return rpc.fail(id, RequestError::Http(why));
        }
        rpc.on_message(body, Some(id));
    }

    /// Handles each message of an event stream as coming on the stream of `of`.
    async fn read_stream(&self, rpc: &Arc<Rpc>, of: Option<u64>, resp: reqwest::Response) {
        let mut events = sse_stream::SseStream::from_bytes_stream(resp.bytes_stream());
        while let Some(event) = events.next().await {
            match event {
                Ok(sse) => {
                    let Some(data) = sse.data.filter(|d| !d.trim().is_empty()) else { continue };
                    if data.len() > self.max_message {
                        let why = format!(
                            "message of {} bytes from server `{}` exceeds the limit of {} bytes",
                            data.len(),
                            rpc.server(),
                            self.max_message
                        );
                        match of {
                            Some(id) => rpc.fail(id, RequestError::TooLarge(why)),
                            None => tracing::error!("{why}"),
                        }
                        continue;
                    }
                    rpc.on_message(data.into_bytes(), of);
                }
                Err(e) => {
                    tracing::debug!(server = %rpc.server(), "event stream broke: {e}");
                    break;
                }
            }
        }
    }

    /// Keeps the session's GET stream open (a 2025 server pushes list changes and other
    /// messages there) until the connection closes. A server without one (405) is fine.
    pub fn open_push_stream(self: &Arc<Self>, rpc: &Arc<Rpc>) {
        if self.modern.load(Ordering::Relaxed) {
            return;
        }
        let (this, rpc) = (Arc::clone(self), Arc::clone(rpc));
        tokio::spawn(async move {
            let closed = rpc.closed().clone();
            loop {
                let mut req =
                    this.client.get(&this.url).headers(this.headers.clone()).header(ACCEPT, "text/event-stream");
                if let Some(v) = *this.version.lock().unwrap_or_else(|e| e.into_inner()) {
                    req = req.header(VERSION_HEADER, v);
                }
                if let Some(s) = this.session() {
                    req = req.header(SESSION_HEADER, s);
                }
                let opened = tokio::select! {
                    r = req.send() => r,
                    () = closed.cancelled() => return,
                };
                match opened {
                    Ok(resp) if resp.status().is_success() && content_type(&resp).starts_with("text/event-stream") => {
                        tokio::select! {
                            () = this.read_stream(&rpc, None, resp) => {}
                            () = closed.cancelled() => return,
                        }
                    }
                    Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND && this.session().is_some() => {
                        tracing::warn!(server = %rpc.server(), "the server ended its session");
                        rpc.close();
                        return;
                    }
                    Ok(_) => return,
                    Err(e) => tracing::debug!(server = %rpc.server(), "cannot open the server's event stream: {e}"),
                }
                tokio::select! {
                    () = tokio::time::sleep(REOPEN_DELAY) => {}
                    () = closed.cancelled() => return,
                }
            }
        });
    }

    /// Ends the session at the server (best effort, at shutdown).
    pub async fn end_session(&self) {
        let Some(session) = self.session() else { return };
        let mut req = self.client.delete(&self.url).headers(self.headers.clone()).header(SESSION_HEADER, session);
        if let Some(v) = *self.version.lock().unwrap_or_else(|e| e.into_inner()) {
            req = req.header(VERSION_HEADER, v);
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), req.send()).await;
    }
}

/// The HTTP outlet as the client of one connection uses it (it needs the outlet as an `Arc`
/// to spawn the tasks that read answers).
pub struct SharedOutlet(pub Arc<HttpOutlet>);

impl Outlet for SharedOutlet {
    fn send_request(&self, rpc: &Arc<Rpc>, id: u64, message: Vec<u8>, head: RequestHead) {
        let this = Arc::clone(&self.0);
        let rpc = Arc::clone(rpc);
        let task = tokio::spawn(async move {
            match this.post(message, Some(&head)).send().await {
                Ok(resp) => this.read_answer(&rpc, id, resp).await,
                Err(e) => rpc.fail(id, RequestError::Http(format!("could not reach the server: {}", without_url(&e)))),
            }
            this.streams.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
        self.0.streams.lock().unwrap_or_else(|e| e.into_inner()).insert(id, task.abort_handle());
    }

    fn send_other(&self, rpc: &Arc<Rpc>, message: Vec<u8>, method: Option<&str>) {
        let this = Arc::clone(&self.0);
        let rpc = Arc::clone(rpc);
        let head = method.map(|m| RequestHead { method: m.to_owned(), ..Default::default() });
        tokio::spawn(async move {
            match this.post(message, head.as_ref()).send().await {
                Ok(resp) if resp.status().is_success() => {}
                Ok(resp) => tracing::debug!(server = %rpc.server(), status = %resp.status(), "a message was refused"),
                Err(e) => tracing::debug!(server = %rpc.server(), "could not send a message: {}", without_url(&e)),
            }
        });
    }

    fn abandon(&self, id: u64) {
        if let Some(task) = self.0.streams.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
            task.abort();
        }
    }

    fn cancels_by_notification(&self) -> bool {
        !self.0.modern.load(Ordering::Relaxed)
    }

    /// Stops reading every answer still streaming (a `subscriptions/listen` stream never ends
    /// by itself), so that nothing of a closed connection lives on.
    fn close(&self) {
        let streams = std::mem::take(&mut *self.0.streams.lock().unwrap_or_else(|e| e.into_inner()));
        for task in streams.into_values() {
            task.abort();
        }
    }
}

fn content_type(resp: &reqwest::Response) -> &str {
    resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A reqwest error without its URL (which may hold a secret; the caller names the server).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "the server's URL");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A header value for `text`: as it is when it is plain visible ASCII, else base64 in the
/// `=?base64?…?=` form that 2026-07-28 defines.
fn header_value(text: &str) -> HeaderValue {
    let plain = !text.is_empty()
        && text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !text.starts_with([' ', '\t'])
        && !text.ends_with([' ', '\t'])
        && !text.starts_with("=?base64?");
    let encoded;
    let value = if plain || text.is_empty() {
        text
    } else {
        use base64::Engine as _;
        encoded = format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(text));
        &encoded
    };
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The body, refusing more than `limit` bytes.
async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, RequestError> {
    let mut body = Vec::new();
    let mut chunks = resp.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| RequestError::Http(format!("the answer broke off: {}", without_url(&e))))?;
        if body.len() + chunk.len() > limit {
            return Err(RequestError::TooLarge(format!(
                "an answer of more than {limit} bytes exceeds the limit of {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_plain_or_base64() {
        assert_eq!(header_value("get_weather"), "get_weather");
        assert_eq!(header_value("file:///a b"), "file:///a b");
        assert_eq!(header_value("Grüße"), "=?base64?R3LDvMOfZQ==?=");
        assert_eq!(header_value(" lead"), "=?base64?IGxlYWQ=?=");
    }
}

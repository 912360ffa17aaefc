//! Newline-delimited JSON-RPC over any byte stream pair, with a size cap that never hangs.
//!
//! rmcp's own stdio transport drops a line over its cap and logs it, so the request (or the
//! response) simply never arrives and its caller waits forever. This transport keeps the start
//! of an oversized line, finds its JSON-RPC `id` there, and answers it: an oversized request
//! from the peer gets an error response, and an oversized response to one of our requests is
//! delivered as an error for that request. Input that is not JSON-RPC gets a parse or
//! invalid-request error (from a client), by its own id wherever one can be found, or is
//! skipped with a rate-limited warning (from a server).

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::model::{ErrorCode, ErrorData, JsonRpcError, JsonRpcMessage, JsonRpcVersion2_0, RequestId};
use rmcp::service::{RxJsonRpcMessage, ServiceRole, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::json_type_name;
use crate::logging::{Escaped, LogLimit};
use crate::wire::head::{LineHead, scan_head};

/// How much of an oversized line is kept to find its `id`.
const HEAD_BYTES: usize = 64 * 1024;

/// Lines of non-JSON output from a server logged per second; the rest are only counted. A
/// server that prints junk as fast as it can (`yes`) must not flood the gateway's log.
const JUNK_LOG_PER_SECOND: u32 = 20;

/// Error replies that may wait for the writer at once; a peer has this many unanswered bad
/// lines in flight before further ones go unanswered.
const MAX_PENDING_REPLIES: usize = 1024;

/// The error code for a message over the size cap (JSON-RPC's server-defined range).
pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(-32001);

/// A JSON-RPC transport over a reader and a writer, one message per line.
pub struct LineTransport<Role, R, W> {
    read: BufReader<R>,
    line: Vec<u8>,
    /// Set while the rest of an oversized line is being skipped.
    oversized: Option<Oversized>,
    max_line: usize,
    writer: Arc<Mutex<Option<W>>>,
    peer_name: Arc<str>,
    /// Cancelled when the peer's output ends (see [`LineTransport::closed`]).
    closed: CancellationToken,
    _closed_on_drop: DropGuard,
    /// Rate-limits the warnings about a server's non-JSON output.
    junk_log: LogLimit,
    /// Error replies written by their own tasks and not yet out (see `reply_error`).
    pending_replies: Arc<Semaphore>,
    /// Error replies dropped because [`MAX_PENDING_REPLIES`] were still waiting.
    dropped_replies: Arc<AtomicU64>,
    _role: PhantomData<fn() -> Role>,
}

struct Oversized {
    head: Vec<u8>,
    total: usize,
}

impl<Role, R, W> LineTransport<Role, R, W>
where
    Role: ServiceRole,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// A transport reading lines of at most `max_line` bytes. `peer_name` names the other
    /// side in logs and error messages.
    pub fn new(read: R, write: W, max_line: usize, peer_name: &str) -> Self {
        let closed = CancellationToken::new();
        LineTransport {
            _closed_on_drop: closed.clone().drop_guard(),
            closed,
            junk_log: LogLimit::new(JUNK_LOG_PER_SECOND),
            pending_replies: Arc::new(Semaphore::new(MAX_PENDING_REPLIES)),
            dropped_replies: Arc::default(),
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            oversized: None,
            max_line,
            writer: Arc::new(Mutex::new(Some(write))),
            peer_name: peer_name.into(),
            _role: PhantomData,
        }
    }

    /// A token cancelled once the peer's output ends (end of file or a read error) or the
    /// transport is dropped. The owner of a child process uses it to stop a server that
    /// closed its stdout but kept running, at once rather than at the next call.
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// Answers a peer's request with an error, by id (a null id when none could be found).
    ///
    /// The line is written by a task of its own, never awaited here: rmcp polls `receive`
    /// inside a `select!` and drops it whenever another event is ready first, so an await in
    /// `receive` could lose the answer (the line is already consumed) or, worse, stop
    /// `write_all` half-way and leave half a message on the stream. The task takes the
    /// writer's lock, so the line goes out whole, between two other messages. A peer that
    /// keeps sending bad lines without reading its answers would pile up such tasks, so at
    /// most [`MAX_PENDING_REPLIES`] wait at once; past that, replies are dropped and counted.
    fn reply_error(&self, id: Option<Value>, code: ErrorCode, message: String) {
        let Ok(slot) = Arc::clone(&self.pending_replies).try_acquire_owned() else {
            let n = self.dropped_replies.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(peer = %self.peer_name, "{n} error replies dropped: the peer is not reading its answers");
            }
            return;
        };
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id.unwrap_or(Value::Null),
            "error": {"code": code.0, "message": message},
        });
        let mut line = body.to_string().into_bytes();
        line.push(b'\n');
        let writer = self.writer.clone();
        tokio::spawn(async move {
            let mut guard = writer.lock().await;
            if let Some(w) = guard.as_mut()
                && (w.write_all(&line).await.is_err() || w.flush().await.is_err())
            {
                *guard = None;
            }
            drop(slot);
        });
    }

    /// Handles a complete line: a message to deliver, or `None` after dealing with it here.
    fn on_line(&mut self) -> Option<RxJsonRpcMessage<Role>> {
        let line = std::mem::take(&mut self.line);
        let text = trim_line(&line);
        // Blank lines (some clients end messages with an extra newline) carry no message.
        if text.iter().all(u8::is_ascii_whitespace) {
            self.line = line;
            self.line.clear();
            return None;
        }
        let parsed = serde_json::from_slice::<RxJsonRpcMessage<Role>>(text);
        let result = match parsed {
            Ok(msg) => Some(msg),
            Err(e) => {
                self.on_bad_message(text, &e);
                None
            }
        };
        self.line = line;
        self.line.clear();
        result
    }

    /// Deals with a line that is not a message rmcp understands.
    ///
    /// From a server (we are the client) it is logged and skipped; a request among it is
    /// refused by id. From a client, every line that could be waiting for an answer gets one
    /// (JSON-RPC 2.0 section 5): a parse error or an invalid-request error, by the line's own
    /// id where one can be found and with a null id otherwise. Without that, a client whose
    /// request held invalid UTF-8, nesting deeper than the parser allows, or was a batch would
    /// wait for its answer forever. Notifications and stray responses are never answered.
    fn on_bad_message(&mut self, text: &[u8], e: &serde_json::Error) {
        let value: Option<Value> = serde_json::from_slice(text).ok();
        if Role::IS_CLIENT {
            let id = value.as_ref().and_then(|v| v.get("id")).cloned();
            let is_request = value.as_ref().is_some_and(|v| v.get("method").is_some());
            match (value.is_some(), is_request, id) {
                (true, true, Some(id)) => {
                    tracing::debug!(peer = %self.peer_name, "invalid request: {e}");
                    self.reply_error(Some(id), ErrorCode::INVALID_REQUEST, format!("invalid request: {e}"));
                }
                (true, _, _) => tracing::debug!(peer = %self.peer_name, "ignoring an unexpected message: {e}"),
                (false, _, _) => {
                    let peer = &self.peer_name;
                    if self.junk_log.allow(|n| report_junk(peer, n)) {
                        let shown = String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned();
                        tracing::warn!(peer = %self.peer_name, "ignoring output that is not JSON-RPC: {}", Escaped::new(&shown));
                    }
                }
            }
            return;
        }
        let Some(value) = value else {
            // Not JSON at all (a syntax error, invalid UTF-8, or nesting past serde's limit).
            // The id of a request is usually near its start, so scan for it by hand.
            let id = match scan_head(text) {
                LineHead { id: Some(id), is_request: true } => Some(id),
                _ => None,
            };
            tracing::debug!(peer = %self.peer_name, "parse error: {e}");
            self.reply_error(id, ErrorCode::PARSE_ERROR, format!("parse error: {e}"));
            return;
        };
        match value {
            Value::Array(items) if !items.is_empty() => {
                // MCP dropped JSON-RPC batches. Refuse each request in one by its id, and items
                // that are no message at all with one null-id error for the lot (not one each:
                // a line of a million `1`s must not become a million replies). A batch of
                // notifications and responses alone gets no reply (JSON-RPC 2.0 section 6).
                let message = "JSON-RPC batches are not supported; send one message per line";
                let mut without_id = false;
                for item in &items {
                    match awaits(item) {
                        Awaits::Answer(Some(id)) => {
                            self.reply_error(Some(id), ErrorCode::INVALID_REQUEST, message.to_owned());
                        }
                        Awaits::Answer(None) => without_id = true,
                        Awaits::Nothing(_) => {}
                    }
                }
                if without_id {
                    self.reply_error(None, ErrorCode::INVALID_REQUEST, message.to_owned());
                }
            }
            Value::Object(_) => match awaits(&value) {
                Awaits::Nothing(what) => tracing::debug!(peer = %self.peer_name, "ignoring an invalid {what}: {e}"),
                Awaits::Answer(id) => {
                    tracing::debug!(peer = %self.peer_name, "invalid request: {e}");
                    self.reply_error(id, ErrorCode::INVALID_REQUEST, format!("invalid request: {e}"));
                }
            },
            _ => {
                tracing::debug!(peer = %self.peer_name, "invalid request: {e}");
                // Non-empty arrays are batches, handled above.
                let found = if value.is_array() { "an empty array" } else { json_type_name(&value) };
                let message = format!("invalid request: expected a JSON-RPC message object, found {found}");
                self.reply_error(None, ErrorCode::INVALID_REQUEST, message);
            }
        }
    }

    /// Handles an oversized line once its end is seen.
    fn on_oversized(&self, o: Oversized) -> Option<RxJsonRpcMessage<Role>> {
        // `total` counts the line break that ended the message.
        let message = format!(
            "message of {} bytes from {} exceeds the limit of {} bytes",
            o.total.saturating_sub(1),
            self.peer_name,
            self.max_line
        );
        tracing::error!("{message}");
        match scan_head(&o.head) {
            LineHead { id: Some(id), is_request: true } => {
                self.reply_error(Some(id), MESSAGE_TOO_LARGE, message);
                None
            }
            LineHead { id: Some(id), is_request: false } => {
                let id: RequestId = serde_json::from_value(id).ok()?;
                Some(JsonRpcMessage::Error(JsonRpcError {
                    jsonrpc: JsonRpcVersion2_0,
                    id: Some(id),
                    error: ErrorData::new(MESSAGE_TOO_LARGE, message, None),
                }))
            }
            LineHead { id: None, .. } => None,
        }
    }
}

/// Whether a client's message that rmcp could not take still waits for an answer.
enum Awaits {
    /// A notification or a stray response (named here, for the log): never answered.
    Nothing(&'static str),
    /// Anything else: answered by its id, or with a null id when it has none.
    Answer(Option<Value>),
}

fn awaits(message: &Value) -> Awaits {
    let Some(obj) = message.as_object() else { return Awaits::Answer(None) };
    let is_response = obj.contains_key("result") || obj.contains_key("error");
    match obj.get("method") {
        // A notification, however malformed, is never answered.
        Some(Value::String(_)) if !obj.contains_key("id") => Awaits::Nothing("notification"),
        None if is_response => Awaits::Nothing("response"),
        _ => Awaits::Answer(obj.get("id").cloned()),
    }
}

fn report_junk(peer: &str, n: u64) {
    tracing::warn!(%peer, "{n} more lines of output that is not JSON-RPC were not logged (rate limit)");
}

/// Strips the line break, a carriage return and a UTF-8 byte order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

impl<Role, R, W> LineTransport<Role, R, W> {
    /// The peer's output ended: say so to whoever watches [`LineTransport::closed`].
    fn on_end(&mut self) {
        if let Some(n) = self.junk_log.take_suppressed() {
            report_junk(&self.peer_name, n);
        }
        self.closed.cancel();
    }
}

impl<Role, R, W> Transport<Role> for LineTransport<Role, R, W>
where
    Role: ServiceRole,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(&mut self, item: TxJsonRpcMessage<Role>) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        let encoded = serde_json::to_vec(&item).map(|mut v| {
            v.push(b'\n');
            v
        });
        async move {
            let line = encoded.map_err(std::io::Error::other)?;
            let mut guard = writer.lock().await;
            let w = guard
                .as_mut()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotConnected, "transport closed"))?;
            w.write_all(&line).await?;
            w.flush().await
        }
    }

    /// Cancel-safe: bytes are moved from the reader's buffer into `self.line` with no await in
    /// between, so a cancelled call resumes the same line next time, and a finished line is
    /// handled without awaiting (see [`Self::reply_error`]).
    async fn receive(&mut self) -> Option<RxJsonRpcMessage<Role>> {
        loop {
            let buf = match self.read.fill_buf().await {
                Ok(buf) => buf,
                Err(e) => {
                    tracing::debug!(peer = %self.peer_name, "read error: {e}");
                    self.on_end();
                    return None;
                }
            };
            if buf.is_empty() {
                self.on_end();
                return None;
            }
            let newline = memchr::memchr(b'\n', buf);
            let take = newline.map_or(buf.len(), |i| i + 1);
            if let Some(o) = self.oversized.as_mut() {
                let room = HEAD_BYTES.saturating_sub(o.head.len()).min(take);
                o.head.extend_from_slice(&buf[..room]);
                o.total += take;
            } else if self.line.len() + take > self.max_line {
                let mut head = std::mem::take(&mut self.line);
                let total = head.len() + take;
                head.truncate(HEAD_BYTES);
                let room = HEAD_BYTES.saturating_sub(head.len()).min(take);
                head.extend_from_slice(&buf[..room]);
                self.oversized = Some(Oversized { head, total });
            } else {
                self.line.extend_from_slice(&buf[..take]);
            }
            self.read.consume(take);
            if newline.is_none() {
                continue;
            }
            let delivered = match self.oversized.take() {
                Some(o) => self.on_oversized(o),
                None => self.on_line(),
            };
            if delivered.is_some() {
                return delivered;
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut guard = self.writer.lock().await;
        if let Some(mut w) = guard.take() {
            let _ = w.shutdown().await;
        }
        Ok(())
    }
}

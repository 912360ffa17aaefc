//! Newline-delimited JSON-RPC over any byte stream pair, with a size cap that never hangs.
//!
//! rmcp's own stdio transport drops a line over its cap and logs it, so the request (or the
//! response) simply never arrives and its caller waits forever. This transport keeps the start
//! of an oversized line, finds its JSON-RPC `id` there, and answers it: an oversized request
//! from the peer gets an error response, and an oversized response to one of our requests is
//! delivered as an error for that request. Input that is not JSON-RPC gets a parse or
//! invalid-request error (from a client) or is skipped with a warning (from a server).

use std::marker::PhantomData;
use std::sync::Arc;

use rmcp::model::{ErrorCode, ErrorData, JsonRpcError, JsonRpcMessage, JsonRpcVersion2_0, RequestId};
use rmcp::service::{RxJsonRpcMessage, ServiceRole, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

use crate::transport::id_scan::{LineHead, scan_head};

/// How much of an oversized line is kept to find its `id`.
const HEAD_BYTES: usize = 64 * 1024;

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
        LineTransport {
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            oversized: None,
            max_line,
            writer: Arc::new(Mutex::new(Some(write))),
            peer_name: peer_name.into(),
            _role: PhantomData,
        }
    }

    /// Writes one raw line (used for errors this transport answers by itself).
    async fn write_raw(&mut self, line: Vec<u8>) {
        let mut guard = self.writer.lock().await;
        if let Some(w) = guard.as_mut()
            && (w.write_all(&line).await.is_err() || w.flush().await.is_err())
        {
            *guard = None;
        }
    }

    /// Answers a peer's request with an error, by id.
    async fn reply_error(&mut self, id: Option<Value>, code: ErrorCode, message: String) {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id.unwrap_or(Value::Null),
            "error": {"code": code.0, "message": message},
        });
        let mut line = body.to_string().into_bytes();
        line.push(b'\n');
        self.write_raw(line).await;
    }

    /// Handles a complete line: a message to deliver, or `None` after dealing with it here.
    async fn on_line(&mut self) -> Option<RxJsonRpcMessage<Role>> {
        let line = std::mem::take(&mut self.line);
        let text = trim_line(&line);
        if text.is_empty() {
            self.line = line;
            self.line.clear();
            return None;
        }
        let parsed = serde_json::from_slice::<RxJsonRpcMessage<Role>>(text);
        let result = match parsed {
            Ok(msg) => Some(msg),
            Err(e) => {
                self.on_bad_message(text, &e).await;
                None
            }
        };
        self.line = line;
        self.line.clear();
        result
    }

    async fn on_bad_message(&mut self, text: &[u8], e: &serde_json::Error) {
        let value: Option<Value> = serde_json::from_slice(text).ok();
        let id = value.as_ref().and_then(|v| v.get("id")).cloned();
        let is_request = value.as_ref().is_some_and(|v| v.get("method").is_some());
        match (value.is_some(), is_request, id) {
            (true, true, Some(id)) => {
                tracing::debug!(peer = %self.peer_name, "invalid request: {e}");
                self.reply_error(Some(id), ErrorCode::INVALID_REQUEST, format!("invalid request: {e}")).await;
            }
            (true, _, _) => tracing::debug!(peer = %self.peer_name, "ignoring an unexpected message: {e}"),
            (false, _, _) if Role::IS_CLIENT => {
                let shown = String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned();
                tracing::warn!(peer = %self.peer_name, "ignoring output that is not JSON-RPC: {shown:?}");
            }
            (false, _, _) => {
                tracing::debug!(peer = %self.peer_name, "parse error: {e}");
                self.reply_error(None, ErrorCode::PARSE_ERROR, format!("parse error: {e}")).await;
            }
        }
    }

    /// Handles an oversized line once its end is seen.
    async fn on_oversized(&mut self, o: Oversized) -> Option<RxJsonRpcMessage<Role>> {
        let message = format!(
            "message of {} bytes from {} exceeds the limit of {} bytes",
            o.total, self.peer_name, self.max_line
        );
        tracing::error!("{message}");
        match scan_head(&o.head) {
            LineHead { id: Some(id), is_request: true } => {
                self.reply_error(Some(id), MESSAGE_TOO_LARGE, message).await;
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

/// Strips the line break, a carriage return and a UTF-8 byte order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
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
    /// between, so a cancelled call resumes the same line next time.
    async fn receive(&mut self) -> Option<RxJsonRpcMessage<Role>> {
        loop {
            let buf = match self.read.fill_buf().await {
                Ok(buf) => buf,
                Err(e) => {
                    tracing::debug!(peer = %self.peer_name, "read error: {e}");
                    return None;
                }
            };
            if buf.is_empty() {
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
                head.truncate(HEAD_BYTES);
                let total = head.len() + take;
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
                Some(o) => self.on_oversized(o).await,
                None => self.on_line().await,
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

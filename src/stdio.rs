//! Serving one client over stdin and stdout.
//!
//! Every line is one message. Requests run concurrently, each in a task of its own; their
//! answers (and the notifications and requests that go with them) share one writer. What a
//! client can make the gateway hold is bounded: at most [`MAX_IN_FLIGHT`] requests run at
//! once and at most [`OUT_QUEUE`] messages wait for the writer. A client that sends requests
//! without reading the answers therefore stops being read (backpressure), instead of growing
//! the gateway's memory; error replies to lines that are no requests are dropped and counted
//! when the queue is full, since they hold nothing up.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::gateway::subscriptions::{Wants, notification_bytes};
use crate::gateway::{Gateway, Identity};
use crate::mcp::codes;
use crate::server::ClientState;
use crate::server::dispatch::{self, Request};
use crate::wire::envelope::{Malformed, check_limits};
use crate::wire::head::{LineHead, scan_head};
use crate::wire::lines::{Frame, LineReader, spawn_writer};
use crate::wire::{Message, Sink, build};

/// Requests of the client that may run at once; past this, input is not read.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Messages that may wait for the writer.
pub const OUT_QUEUE: usize = 1024;

/// How long the calls in flight may still answer after the client closed stdin (a client
/// that pipes its requests in and closes at once still gets quick answers). With the
/// downstreams' own grace to exit, this keeps the whole shutdown under 5 s.
const STDIN_CLOSED_GRACE: Duration = Duration::from_millis(1000);

/// Why serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The client closed stdin.
    Eof,
    /// The client stopped reading stdout (it closed).
    OutputClosed,
    /// A signal asked the gateway to stop.
    Signal(&'static str),
}

/// Serves the process's stdin and stdout until the client closes stdin or `stop` resolves.
pub async fn serve(gw: Arc<Gateway>, identity: Identity, stop: impl Future<Output = &'static str>) -> Ended {
    let (input, output) = stdio_pipes();
    serve_on(gw, identity, input, output, stop).await
}

/// Serves one client on `input` and `output`.
pub async fn serve_on<R, W>(
    gw: Arc<Gateway>,
    identity: Identity,
    input: R,
    output: W,
    stop: impl Future<Output = &'static str>,
) -> Ended
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let max = gw.downstream_settings().max_message;
    let output_closed = CancellationToken::new();
    let sink = spawn_writer(output, OUT_QUEUE, output_closed.clone());
    let client = Arc::new(ClientState::default());
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut lines = LineReader::new(input, max);
    let replies = Replies { sink: sink.clone(), dropped: Arc::default() };
    let identity = Arc::new(identity);
    let announcer = gw.settings().expose.direct().then(|| announce_changes(&gw, &client, &sink));
    let relay = identity.known_without_arguments().then(|| relay_notices(&gw, &identity, &client, &sink));
    tokio::pin!(stop);
    let ended = loop {
        // Wait for a slot before reading: a client that does not read its answers stops
        // being read once its requests fill every slot.
        let slot = tokio::select! {
            biased;
            signal = &mut stop => break Ended::Signal(signal),
            () = output_closed.cancelled() => break Ended::OutputClosed,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break Ended::Eof,
            },
        };
        let frame = tokio::select! {
            biased;
            signal = &mut stop => break Ended::Signal(signal),
            () = output_closed.cancelled() => break Ended::OutputClosed,
            frame = lines.next() => frame,
        };
        let line = match frame {
            None => break Ended::Eof,
            Some(Frame::Oversized { head, size }) => {
                let message = format!("message of {size} bytes from the client exceeds the limit of {max} bytes");
                tracing::error!("{message}");
                if let LineHead { id: Some(id), is_request: true } = scan_head(&head) {
                    replies.error(&id.to_string(), codes::MESSAGE_TOO_LARGE, &message);
                }
                continue;
            }
            Some(Frame::Line(line)) => line,
        };
        if let Some(request) = on_line(&client, &line, &replies) {
            let token = client.begin(&request.id);
            if request.method == "initialize" {
                // Settled before anything after it is read: a client that pipelines its first
                // requests behind `initialize` gets them served in the negotiated revision.
                let id = request.id.clone();
                dispatch::handle(&gw, Some(&client), &identity, request, sink.clone(), token).await;
                client.end(&id);
                drop(slot);
                continue;
            }
            let (gw, client, identity, sink) = (gw.clone(), client.clone(), identity.clone(), sink.clone());
            tokio::spawn(async move {
                let id = request.id.clone();
                dispatch::handle(&gw, Some(&client), &identity, request, sink, token).await;
                client.end(&id);
                drop(slot);
            });
        }
    };
    if ended == Ended::Eof {
        // Give the calls in flight a moment to answer.
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        if tokio::time::timeout(STDIN_CLOSED_GRACE, slots.acquire_many(all)).await.is_err() {
            tracing::info!("calls still in flight are abandoned");
        }
    }
    client.close();
    for task in [announcer, relay].into_iter().flatten() {
        task.abort();
    }
    ended
}

/// Direct mode: tells the client, once it is initialized, each time its tool list may have
/// changed (a reload, a server's own change, a server that came up).
fn announce_changes(gw: &Gateway, client: &Arc<ClientState>, sink: &Sink) -> tokio::task::JoinHandle<()> {
    let (client, sink, mut changes) = (client.clone(), sink.clone(), gw.downstream_settings().catalogue.subscribe());
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            if client.negotiated().is_some()
                && sink.send(build::notification("notifications/tools/list_changed", None)).await.is_err()
            {
                return;
            }
        }
    })
}

/// When the agent is known without arguments (so prompts and resources are served): tells a
/// legacy client, once it is initialized, of its servers' prompt and resource list changes
/// and of updates to the resources it subscribed to. (2026-07-28 clients ask for theirs with
/// `subscriptions/listen`.)
fn relay_notices(
    gw: &Arc<Gateway>,
    identity: &Identity,
    client: &Arc<ClientState>,
    sink: &Sink,
) -> tokio::task::JoinHandle<()> {
    let (gw, client, sink) = (gw.clone(), client.clone(), sink.clone());
    let agent = identity.resolve(None).ok().flatten().map(str::to_owned);
    let mut heard = gw.downstream_settings().notices.subscribe();
    tokio::spawn(async move {
        let wants = Wants::legacy(&client.subscriptions);
        while let Some(got) = crate::downstream::notices::next(&mut heard).await {
            if client.negotiated().is_none() {
                continue;
            }
            for notice in got {
                if let Some(n) = gw.notice_for(agent.as_deref(), &wants, &notice)
                    && sink.send(notification_bytes(n)).await.is_err()
                {
                    return;
                }
            }
        }
    })
}

/// Error replies to lines that are no requests the gateway can run.
struct Replies {
    sink: Sink,
    dropped: Arc<AtomicU64>,
}

impl Replies {
    /// Queues an error reply, or drops it (counted, and said in the log) when the client has
    /// stopped reading.
    fn error(&self, id: &str, code: i64, message: &str) {
        if self.sink.try_send(build::error(id, code, message, None)).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!("{n} error replies dropped: the client is not reading its answers");
            }
        }
    }
}

/// Handles one line: a request to run is returned; anything else is dealt with here.
fn on_line(client: &ClientState, line: &[u8], replies: &Replies) -> Option<Request> {
    if let Err(why) = check_limits(line) {
        let id = match scan_head(line) {
            LineHead { id: Some(id), is_request: true } => id.to_string(),
            _ => "null".to_owned(),
        };
        replies.error(&id, codes::PARSE_ERROR, &format!("parse error: {why}"));
        return None;
    }
    if line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        on_batch(line, replies);
        return None;
    }
    match crate::wire::parse(line) {
        Ok(Message::Request { id, method, params }) => Some(Request {
            id: id.to_owned(),
            method: method.into_owned(),
            params: params.map(ToOwned::to_owned),
            trace: Default::default(),
        }),
        Ok(Message::Notification { method, params }) => {
            dispatch::notification(client, &method, params);
            None
        }
        Ok(Message::Result { id, result }) => {
            if !client.answer(id, Ok(result)) {
                tracing::debug!("an answer to no request of the gateway's");
            }
            None
        }
        Ok(Message::Error { id, error }) => {
            if !client.answer(id, Err(error)) {
                tracing::debug!("an error answer to no request of the gateway's");
            }
            None
        }
        Err(Malformed::Json(e)) => {
            // Not JSON at all (a syntax error, invalid UTF-8, or nesting past serde's limit).
            // The id of a request is usually near its start, so scan for it by hand.
            let id = match scan_head(line) {
                LineHead { id: Some(id), is_request: true } => id.to_string(),
                _ => "null".to_owned(),
            };
            tracing::debug!("parse error: {e}");
            replies.error(&id, codes::PARSE_ERROR, &format!("parse error: {e}"));
            None
        }
        Err(Malformed::Invalid { why, id, .. }) => {
            match awaits(line) {
                Awaits::Nothing(what) => tracing::debug!("ignoring an invalid {what}: {why}"),
                Awaits::Answer => {
                    let id = id.map_or_else(|| "null".to_owned(), |id| id.get().to_owned());
                    replies.error(&id, codes::INVALID_REQUEST, &format!("invalid request: {why}"));
                }
            }
            None
        }
    }
}

/// MCP dropped JSON-RPC batches. Each request in one is refused by its id, and items that are
/// no message at all with one null-id error for the lot (not one each: a line of a million
/// `1`s must not become a million replies). A batch of notifications and responses alone gets
/// no reply (JSON-RPC 2.0 section 6).
fn on_batch(line: &[u8], replies: &Replies) {
    const MESSAGE: &str = "JSON-RPC batches are not supported; send one message per line";
    let items: Vec<Box<RawValue>> = match serde_json::from_slice(line) {
        Ok(items) => items,
        Err(e) => return replies.error("null", codes::PARSE_ERROR, &format!("parse error: {e}")),
    };
    if items.is_empty() {
        return replies.error(
            "null",
            codes::INVALID_REQUEST,
            "invalid request: expected a JSON-RPC message object, found an empty array",
        );
    }
    let mut without_id = false;
    for item in &items {
        match awaits(item.get().as_bytes()) {
            Awaits::Nothing(_) => {}
            Awaits::Answer => match serde_json::from_str::<Value>(item.get()).ok().and_then(|v| v.get("id").cloned()) {
                Some(id) if !id.is_null() => replies.error(&id.to_string(), codes::INVALID_REQUEST, MESSAGE),
                _ => without_id = true,
            },
        }
    }
    if without_id {
        replies.error("null", codes::INVALID_REQUEST, MESSAGE);
    }
}

/// Whether a message the gateway cannot take still waits for an answer.
enum Awaits {
    /// A notification or a stray response (named here, for the log): never answered.
    Nothing(&'static str),
    /// Anything else.
    Answer,
}

fn awaits(message: &[u8]) -> Awaits {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(message) else { return Awaits::Answer };
    let is_response = obj.contains_key("result") || obj.contains_key("error");
    match obj.get("method") {
        // A notification, however malformed, is never answered.
        Some(Value::String(_)) if !obj.contains_key("id") => Awaits::Nothing("notification"),
        None if is_response => Awaits::Nothing("response"),
        _ => Awaits::Answer,
    }
}

/// The process's stdin and stdout as non-blocking pipes when they are pipes (every MCP client
/// starts servers so), else through tokio's blocking-thread wrappers (a terminal, a file).
/// A blocking read of stdin would also keep the runtime from shutting down while the client
/// keeps stdin open.
fn stdio_pipes() -> (Box<dyn AsyncRead + Unpin + Send>, Box<dyn AsyncWrite + Unpin + Send>) {
    use tokio::net::unix::pipe;
    let input: Box<dyn AsyncRead + Unpin + Send> = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => match pipe::Receiver::from_owned_fd(fd) {
            Ok(r) => Box::new(r),
            Err(_) => Box::new(tokio::io::stdin()),
        },
        Err(_) => Box::new(tokio::io::stdin()),
    };
    let output: Box<dyn AsyncWrite + Unpin + Send> = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => match pipe::Sender::from_owned_fd(fd) {
            Ok(w) => Box::new(w),
            Err(_) => Box::new(tokio::io::stdout()),
        },
        Err(_) => Box::new(tokio::io::stdout()),
    };
    (input, output)
}

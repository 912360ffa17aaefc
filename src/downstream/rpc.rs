//! The client side of JSON-RPC towards one server: ids, requests waiting for their answers,
//! and where everything the server sends goes.
//!
//! One [`Rpc`] serves every call to a server at once. Messages from the server are handled in
//! the order they arrive, by one task (the stdio reader, or the task reading one HTTP
//! response), so a call's progress notifications are forwarded before its result is: there is
//! no race to settle afterwards.
//!
//! What the server sends during a call belongs to that call's caller and nobody else:
//! - progress names its call by token (the gateway's own: the request id);
//! - over HTTP, requests and log messages come on the response stream of the call they
//!   belong to;
//! - over stdio they name no call, so they go to the caller of the calls in flight only when
//!   all of them have one caller ([`Rpc::attribute`]). Otherwise the gateway cannot tell
//!   whose they are, and refuses the request (and keeps the log line to itself) rather than
//!   guess and show one agent's data to another.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use crate::config::servers::Forward;
use crate::logging::{Escaped, LogLimit};
use crate::mcp::{codes, meta};
use crate::wire::envelope::{Malformed, span_of};
use crate::wire::head::{LineHead, scan_head};
use crate::wire::object::{Members, Rewrite};
use crate::wire::{Message, Sink, build};

/// A successful result: the whole message it came in, and where the result is in it.
#[derive(Debug)]
pub struct RawResult {
    message: Vec<u8>,
    span: std::ops::Range<usize>,
}

impl RawResult {
    /// A result holding `json` (for results the gateway makes itself).
    pub fn from_json(json: String) -> RawResult {
        let span = 0..json.len();
        RawResult { message: json.into_bytes(), span }
    }

    /// The result's JSON text.
    pub fn json(&self) -> &str {
        // The span is a parsed JSON value, which serde_json checked to be UTF-8.
        std::str::from_utf8(&self.message[self.span.clone()]).unwrap_or("null")
    }
}

/// Why a request to a server did not get a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// The server answered with a JSON-RPC error.
    #[error("error {code}: {message}")]
    Rpc {
        /// The code.
        code: i64,
        /// The server's message.
        message: String,
        /// The server's data, raw.
        data: Option<Box<RawValue>>,
    },
    /// The connection closed before the answer came.
    #[error("the connection closed")]
    Closed,
    /// The time ran out (the request was cancelled at the server).
    #[error("no answer in time")]
    Timeout,
    /// The caller cancelled (and so did the gateway, at the server).
    #[error("cancelled")]
    Cancelled,
    /// The answer was over the size cap.
    #[error("{0}")]
    TooLarge(String),
    /// The answer was not valid JSON-RPC.
    #[error("a malformed answer: {0}")]
    Malformed(String),
    /// An HTTP server answered with an HTTP error, or could not be reached.
    #[error("{0}")]
    Http(String),
}

/// Something a server asks of the caller of a call while it runs: an elicitation, a
/// sampling, a list of roots.
#[derive(Debug)]
pub struct InputAsk {
    /// `elicitation/create`, `sampling/createMessage` or `roots/list`.
    pub method: String,
    /// Its params, raw.
    pub params: Option<Box<RawValue>>,
    /// Where the caller's answer goes.
    pub reply: oneshot::Sender<AskReply>,
}

/// The caller's answer to an [`InputAsk`].
#[derive(Debug)]
pub enum AskReply {
    /// The result to send back to the server.
    Result(Box<RawValue>),
    /// An error to send back to the server.
    Error {
        /// The code.
        code: i64,
        /// The message.
        message: String,
    },
}

/// Where a call's progress and log messages go: the stream of the request the caller is
/// waiting on. A call that spans several requests (input rounds of a 2026-07-28 caller) is
/// pointed at each new request's stream in turn.
#[derive(Debug, Default)]
pub struct Delivery {
    /// The caller's progress token and where its progress goes.
    pub progress: Option<(Box<RawValue>, Sink)>,
    /// The lowest log level the caller wants (rank, see [`meta::log_level_rank`]) and where
    /// log messages go.
    pub log: Option<(u8, Sink)>,
}

/// Where the messages of one call go.
#[derive(Debug)]
pub struct CallRoute {
    /// Who made the call: the id of the upstream client (connection, session or stateless
    /// request). Messages of a server that names no call go to a caller only when every call
    /// in flight has this same owner.
    pub owner: u64,
    delivery: Mutex<Delivery>,
    /// Where the server's requests for input go, when the caller can answer any.
    pub input: Option<mpsc::Sender<InputAsk>>,
    /// The last progress forwarded: progress only ever increases.
    last_progress: Mutex<Option<f64>>,
    /// Whether the call asked for progress (its token goes downstream).
    wants_progress: bool,
}

impl CallRoute {
    /// A route for a call by `owner`.
    pub fn new(owner: u64, delivery: Delivery, input: Option<mpsc::Sender<InputAsk>>) -> CallRoute {
        let wants_progress = delivery.progress.is_some();
        CallRoute { owner, delivery: Mutex::new(delivery), input, last_progress: Mutex::new(None), wants_progress }
    }

    /// A route for a call by `owner` that forwards nothing.
    pub fn quiet(owner: u64) -> CallRoute {
        CallRoute::new(owner, Delivery::default(), None)
    }

    /// Points the call's progress and log messages somewhere else (the next input round's
    /// request).
    pub fn redirect(&self, delivery: Delivery) {
        *self.delivery.lock().unwrap_or_else(|e| e.into_inner()) = delivery;
    }

    fn delivery(&self) -> std::sync::MutexGuard<'_, Delivery> {
        self.delivery.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a server said about itself outside any call.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// `notifications/tools/list_changed`.
    ToolsChanged,
    /// `notifications/prompts/list_changed`.
    PromptsChanged,
    /// `notifications/resources/list_changed`.
    ResourcesChanged,
    /// `notifications/resources/updated`, with its params.
    ResourceUpdated(Box<RawValue>),
    /// A task's status (`notifications/tasks/status` or `notifications/tasks`), with params.
    Task(Box<RawValue>),
}

/// Receives a server's [`ServerEvent`]s.
pub type EventHandler = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// How messages reach the server.
pub trait Outlet: Send + Sync + 'static {
    /// Sends a request. Its answer comes back through [`Rpc::on_message`] (or
    /// [`Rpc::fail`]); `id` names it.
    fn send_request(&self, rpc: &Arc<Rpc>, id: u64, message: Vec<u8>, head: RequestHead);
    /// Sends a notification or a response to a server's request.
    fn send_other(&self, rpc: &Arc<Rpc>, message: Vec<u8>, method: Option<&str>);
    /// The request `id` was given up (timeout or cancellation): stop waiting for it.
    fn abandon(&self, id: u64);
    /// Whether a cancelled request must be cancelled with `notifications/cancelled` (stdio,
    /// HTTP sessions) rather than by closing its stream (2026-07-28 over HTTP).
    fn cancels_by_notification(&self) -> bool;
    /// The connection closed: let go of the way to the server (a child's stdin).
    fn close(&self) {}
}

/// What an HTTP outlet puts in headers about a request (2026-07-28 `Mcp-Method`,
/// `Mcp-Name`, `Mcp-Param-*`).
#[derive(Debug, Default, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: String,
    /// The `Mcp-Name` value: a tool or prompt name, a URI, a task id.
    pub name: Option<String>,
    /// `Mcp-Param-*` headers (name after the prefix, value).
    pub params: Vec<(String, String)>,
}

/// One request to send.
#[derive(Debug, Default)]
pub struct OutRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The members of its params object, raw and without braces (may be empty); never a
    /// `_meta`, which [`Rpc::request`] writes.
    pub members: &'a str,
    /// The `_meta` members to add (raw, without braces), such as a trace context.
    pub meta: &'a str,
    /// Headers for HTTP (an empty method stands for `method`).
    pub head: RequestHead,
    /// Whether the caller takes tasks (a 2026-07-28 server may then answer with one).
    pub tasks: bool,
}

/// Requests waiting for their answers, and the calls they belong to.
#[derive(Default)]
struct State {
    pending: HashMap<u64, oneshot::Sender<Result<RawResult, RequestError>>>,
    /// Calls in flight with their routes, oldest first.
    calls: BTreeMap<u64, Arc<CallRoute>>,
    /// The server's own requests being answered, by their id as written.
    asks: HashMap<String, tokio::task::AbortHandle>,
    /// `subscriptions/listen` requests waiting for their acknowledgement, by id.
    acks: HashMap<u64, oneshot::Sender<Box<RawValue>>>,
}

/// The JSON-RPC client of one connection.
pub struct Rpc {
    server: Arc<str>,
    outlet: Box<dyn Outlet>,
    state: Mutex<State>,
    next_id: AtomicU64,
    closed: CancellationToken,
    /// The `_meta` members every request carries (the 2026-07-28 envelope), raw: without and
    /// with the tasks extension among the client's capabilities.
    envelope: Mutex<Arc<(String, String)>>,
    events: EventHandler,
    /// Which kinds of server requests the config lets through.
    forward: Forward,
    /// Progress and log messages dropped because their caller was not reading.
    dropped: AtomicU64,
    /// Rate-limits the warnings about a server's output that is not JSON-RPC: a server that
    /// prints junk as fast as it can must not flood the gateway's log.
    junk_log: Mutex<LogLimit>,
}

/// Lines of a server's non-JSON output logged per second; the rest are only counted.
const JUNK_LOG_PER_SECOND: u32 = 20;

impl Rpc {
    /// A client for `server` sending through `outlet`.
    pub fn new(server: Arc<str>, outlet: Box<dyn Outlet>, events: EventHandler, forward: Forward) -> Arc<Rpc> {
        Arc::new(Rpc {
            server,
            outlet,
            state: Mutex::default(),
            next_id: AtomicU64::new(1),
            closed: CancellationToken::new(),
            envelope: Mutex::new(Arc::new((String::new(), String::new()))),
            events,
            forward,
            dropped: AtomicU64::new(0),
            junk_log: Mutex::new(LogLimit::new(JUNK_LOG_PER_SECOND)),
        })
    }

    /// The server's name.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Cancelled when the connection closes.
    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// Sets the `_meta` members every request carries from now on.
    pub fn set_envelope(&self, plain: String, with_tasks: String) {
        *self.envelope.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new((plain, with_tasks));
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a request and waits for its result, at most `timeout`, or until `cancel`. The
    /// call's messages go by `route`.
    pub async fn request(
        self: &Arc<Self>,
        req: OutRequest<'_>,
        route: Option<Arc<CallRoute>>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<RawResult, RequestError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.request_as(id, req, route, timeout, cancel).await
    }

    /// [`request`](Self::request) under the id `id`, taken from `next_id`.
    async fn request_as(
        self: &Arc<Self>,
        id: u64,
        req: OutRequest<'_>,
        route: Option<Arc<CallRoute>>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<RawResult, RequestError> {
        if self.closed.is_cancelled() {
            return Err(RequestError::Closed);
        }
        let (tx, rx) = oneshot::channel();
        let with_progress = route.as_ref().is_some_and(|r| r.wants_progress);
        let log_min = route.as_ref().and_then(|r| r.delivery().log.as_ref().map(|(min, _)| *min));
        {
            let mut state = self.state();
            state.pending.insert(id, tx);
            if let Some(route) = route {
                state.calls.insert(id, route);
            }
        }
        let envelopes = self.envelope.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut envelope = if req.tasks { envelopes.1.clone() } else { envelopes.0.clone() };
        // A 2026-07-28 server sends log messages only for requests that ask for them.
        if !envelope.is_empty()
            && let Some(level) = log_min.and_then(|rank| meta::LOG_LEVELS.get(usize::from(rank)))
        {
            envelope.push_str(&format!(r#","{}":"{level}""#, meta::LOG_LEVEL));
        }
        let message = request_message(id, &req, &envelope, with_progress);
        // Whatever ends this request (an answer, a timeout, a cancellation, or the caller
        // dropping this future), the guard forgets it and, unless answered, cancels it at the
        // server.
        let mut guard = InFlightRequest { rpc: self, id, why: Some("the gateway gave up on it") };
        // Every 2026-07-28 request over HTTP names its method in `Mcp-Method`, and servers
        // refuse one whose header disagrees with its body.
        let mut head = req.head;
        if head.method.is_empty() {
            req.method.clone_into(&mut head.method);
        }
        self.outlet.send_request(self, id, message, head);
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, rx) => match r {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(RequestError::Closed),
                Err(_) => Err(RequestError::Timeout),
            },
            () = cancel.cancelled() => Err(RequestError::Cancelled),
            () = self.closed.cancelled() => Err(RequestError::Closed),
        };
        guard.why = match outcome {
            Err(RequestError::Timeout) => Some("the gateway's timeout ran out"),
            Err(RequestError::Cancelled) => Some("cancelled by the gateway's client"),
            _ => None,
        };
        drop(guard);
        outcome
    }

    /// Opens a `subscriptions/listen` stream (2026-07-28) asking for `filter` (a raw JSON
    /// object) and waits at most `wait` for its acknowledgement. Returns the notifications
    /// object the server honors, the stream (open until dropped), and what tells when the
    /// stream ended without being dropped (the server ended it, or it failed). What comes on
    /// it goes where every notice of the server goes ([`ServerEvent`]).
    pub async fn listen(
        self: &Arc<Self>,
        filter: &str,
        wait: Duration,
    ) -> Result<(Box<RawValue>, Listen, oneshot::Receiver<()>), RequestError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, acknowledged) = oneshot::channel();
        self.state().acks.insert(id, tx);
        let _waiting = AckWait { rpc: self, id };
        let cancel = CancellationToken::new();
        let members = format!(r#""notifications":{filter}"#);
        let (rpc, stop) = (Arc::clone(self), cancel.clone());
        let mut stream = tokio::spawn(async move {
            let req = OutRequest { method: "subscriptions/listen", members: &members, ..Default::default() };
            // The stream lives as long as the gateway wants it: no timeout.
            rpc.request_as(id, req, None, Duration::MAX, &stop).await
        });
        // Dropped with this future, it closes the stream.
        let listen = Listen { cancel };
        let outcome = tokio::select! {
            ack = acknowledged => ack.map_err(|_| RequestError::Closed),
            ended = &mut stream => Err(match ended {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => RequestError::Malformed("the stream ended before it was acknowledged".to_owned()),
                Err(_) => RequestError::Closed,
            }),
            () = tokio::time::sleep(wait) => Err(RequestError::Timeout),
        };
        let honored = outcome?;
        let (server, stop) = (Arc::clone(&self.server), listen.cancel.clone());
        let (ended_tx, ended) = oneshot::channel();
        tokio::spawn(async move {
            let outcome = stream.await;
            if stop.is_cancelled() {
                return;
            }
            match outcome {
                Ok(Err(RequestError::Closed)) => return,
                Ok(Err(e)) => tracing::warn!(%server, "the server's `subscriptions/listen` stream failed: {e}"),
                _ => tracing::warn!(%server, "the server ended its `subscriptions/listen` stream"),
            }
            let _ = ended_tx.send(());
        });
        let notifications = Members::of(&honored).ok().and_then(|m| m.get("notifications").map(ToOwned::to_owned));
        Ok((notifications.unwrap_or(honored), listen, ended))
    }

    /// Sends a notification.
    pub fn notify(self: &Arc<Self>, method: &str, params: Option<&str>) {
        let message = build::notification(method, params.map(str::as_bytes));
        self.outlet.send_other(self, message, Some(method));
    }

    /// Fails the request `id` (the outlet could not send it, or its answer never came).
    pub fn fail(&self, id: u64, error: RequestError) {
        if let Some(tx) = self.state().pending.remove(&id) {
            let _ = tx.send(Err(error));
        }
    }

    /// Closes the connection: every request waiting fails with [`RequestError::Closed`].
    pub fn close(&self) {
        self.closed.cancel();
        self.outlet.close();
        if let Some(n) = self.junk_log.lock().unwrap_or_else(|e| e.into_inner()).take_suppressed() {
            self.report_junk(n);
        }
        let (pending, asks) = {
            let mut state = self.state();
            state.acks.clear();
            (std::mem::take(&mut state.pending), std::mem::take(&mut state.asks))
        };
        for (_, tx) in pending {
            let _ = tx.send(Err(RequestError::Closed));
        }
        for (_, ask) in asks {
            ask.abort();
        }
    }

    /// Progress and log messages dropped so far because their caller was not reading.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Handles a line over the size cap: an answer to one of our requests fails that request;
    /// a request of the server's is refused.
    pub fn on_oversized(self: &Arc<Self>, head: &[u8], size: usize, limit: usize) {
        let why = format!("message of {size} bytes from server `{}` exceeds the limit of {limit} bytes", self.server);
        tracing::error!("{why}");
        match scan_head(head) {
            LineHead { id: Some(id), is_request: false } => {
                if let Some(id) = id.as_u64() {
                    self.fail(id, RequestError::TooLarge(why));
                }
            }
            LineHead { id: Some(id), is_request: true } => {
                let message = build::error(&id.to_string(), codes::MESSAGE_TOO_LARGE, &why, None);
                self.outlet.send_other(self, message, None);
            }
            LineHead { id: None, .. } => {}
        }
    }

    /// Handles one message from the server. `stream_of` is the request on whose HTTP
    /// response stream it came, if any.
    pub fn on_message(self: &Arc<Self>, bytes: Vec<u8>, stream_of: Option<u64>) {
        enum Next {
            Deliver(u64, Result<std::ops::Range<usize>, RequestError>),
            Ask(Box<RawValue>, String, Option<Box<RawValue>>),
            Done,
        }
        if let Err(why) = crate::wire::envelope::check_limits(&bytes) {
            // Well-formed but unusable (a result nested 5,000 deep): fail its request at
            // once, rather than hand it to a client whose parser would choke on it.
            if let LineHead { id: Some(id), is_request: false } = scan_head(&bytes)
                && let Some(id) = id.as_u64()
            {
                self.deliver(id, Err(RequestError::Malformed(why.to_owned())));
            }
            return;
        }
        let next = match crate::wire::parse(&bytes) {
            Ok(Message::Result { id, result }) => match (parse_id(id), span_of(&bytes, result.get())) {
                (Some(id), Some(span)) => Next::Deliver(id, Ok(span)),
                _ => Next::Done,
            },
            Ok(Message::Error { id, error }) => match parse_id(id) {
                Some(n) => Next::Deliver(
                    n,
                    Err(RequestError::Rpc {
                        code: error.code,
                        message: error.message.into_owned(),
                        data: error.data.map(ToOwned::to_owned),
                    }),
                ),
                None => {
                    tracing::debug!(server = %self.server, "an error without a request: {}", Escaped::new(&error.message));
                    Next::Done
                }
            },
            Ok(Message::Request { id, method, params }) => {
                Next::Ask(id.to_owned(), method.into_owned(), params.map(ToOwned::to_owned))
            }
            Ok(Message::Notification { method, params }) => {
                self.on_notification(&method, params, stream_of);
                Next::Done
            }
            Err(Malformed::Invalid { why, id: Some(id), has_method: false }) => match parse_id(&id) {
                Some(id) => Next::Deliver(id, Err(RequestError::Malformed(why))),
                None => Next::Done,
            },
            Err(Malformed::Invalid { why, id: Some(id), has_method: true }) => {
                let message = build::error(id.get(), codes::INVALID_REQUEST, &format!("invalid request: {why}"), None);
                self.outlet.send_other(self, message, None);
                Next::Done
            }
            Err(e) => {
                // Broken JSON: fail the request it answers at once, if its id can be found,
                // rather than leave the call to wait out its whole timeout.
                match scan_head(&bytes) {
                    LineHead { id: Some(id), is_request: false } => match id.as_u64() {
                        Some(id) => Next::Deliver(id, Err(RequestError::Malformed(e.to_string()))),
                        None => Next::Done,
                    },
                    _ => {
                        let allowed =
                            self.junk_log.lock().unwrap_or_else(|e| e.into_inner()).allow(|n| self.report_junk(n));
                        if allowed {
                            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                            tracing::warn!(server = %self.server, "ignoring output that is not JSON-RPC: {}", Escaped::new(&shown));
                        }
                        Next::Done
                    }
                }
            }
        };
        match next {
            Next::Deliver(id, Ok(span)) => self.deliver(id, Ok(RawResult { message: bytes, span })),
            Next::Deliver(id, Err(e)) => self.deliver(id, Err(e)),
            Next::Ask(id, method, params) => self.on_request(id, method, params, stream_of),
            Next::Done => {}
        }
    }

    fn report_junk(&self, n: u64) {
        tracing::warn!(server = %self.server, "{n} more lines of output that is not JSON-RPC were not logged (rate limit)");
    }

    fn deliver(&self, id: u64, result: Result<RawResult, RequestError>) {
        match self.state().pending.remove(&id) {
            Some(tx) => {
                let _ = tx.send(result);
            }
            None => tracing::debug!(server = %self.server, id, "an answer to a request no longer waiting"),
        }
    }

    /// The route of the call that a message naming no call belongs to: the call whose stream
    /// it came on, else the oldest call in flight when every call in flight has one owner.
    pub fn attribute(&self, stream_of: Option<u64>) -> Option<Arc<CallRoute>> {
        let state = self.state();
        if let Some(id) = stream_of {
            return state.calls.get(&id).cloned();
        }
        let mut calls = state.calls.values();
        let first = calls.next()?;
        calls.all(|c| c.owner == first.owner).then(|| first.clone())
    }

    fn on_notification(self: &Arc<Self>, method: &str, params: Option<&RawValue>, stream_of: Option<u64>) {
        match method {
            "notifications/progress" => self.forward_progress(params),
            "notifications/message" => {
                let Some(route) = self.attribute(stream_of) else {
                    tracing::debug!(server = %self.server, "a log message for no single caller; kept in the gateway's log only");
                    return;
                };
                let Some((min, sink)) = route.delivery().log.clone() else { return };
                let level = params
                    .and_then(|p| Members::of(p).ok())
                    .and_then(|m| m.get("level").and_then(|l| serde_json::from_str::<String>(l.get()).ok()))
                    .and_then(|l| meta::log_level_rank(&l));
                if level.unwrap_or(u8::MAX) >= min {
                    self.pass(&sink, build::notification(method, params.map(|p| p.get().as_bytes())));
                }
            }
            "notifications/cancelled" => {
                let request = params.and_then(|p| Members::of(p).ok()).and_then(|m| m.get("requestId"));
                if let Some(ask) = request.and_then(|id| self.state().asks.remove(id.get())) {
                    ask.abort();
                }
            }
            "notifications/subscriptions/acknowledged" => {
                let Some(params) = params else { return };
                let stream = Members::of(params)
                    .ok()
                    .and_then(|m| m.get("_meta").and_then(|meta| Members::of(meta).ok()))
                    .and_then(|meta| meta.get(meta::SUBSCRIPTION_ID).and_then(parse_id));
                if let Some(waiting) = stream.and_then(|id| self.state().acks.remove(&id)) {
                    let _ = waiting.send(params.to_owned());
                }
            }
            "notifications/tools/list_changed" => (self.events)(ServerEvent::ToolsChanged),
            "notifications/prompts/list_changed" => (self.events)(ServerEvent::PromptsChanged),
            "notifications/resources/list_changed" => (self.events)(ServerEvent::ResourcesChanged),
            "notifications/resources/updated" => {
                if let Some(p) = params {
                    (self.events)(ServerEvent::ResourceUpdated(p.to_owned()));
                }
            }
            "notifications/tasks/status" | "notifications/tasks" => {
                if let Some(p) = params {
                    (self.events)(ServerEvent::Task(p.to_owned()));
                }
            }
            other => tracing::debug!(server = %self.server, method = %Escaped::new(other), "ignoring a notification"),
        }
    }

    /// Forwards progress to its call's caller with the caller's own token. Progress that does
    /// not increase is dropped (the protocol says it must increase).
    fn forward_progress(&self, params: Option<&RawValue>) {
        let Some(members) = params.and_then(|p| Members::of(p).ok()) else { return };
        let Some(token) = members.get("progressToken").and_then(parse_id) else { return };
        let Some(route) = self.state().calls.get(&token).cloned() else { return };
        let Some((upstream_token, sink)) = route.delivery().progress.clone() else { return };
        let progress = members.get("progress").and_then(|p| p.get().parse::<f64>().ok());
        {
            let mut last = route.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            if let (Some(p), Some(l)) = (progress, *last)
                && p <= l
            {
                return;
            }
            *last = progress.or(*last);
        }
        let params = Rewrite::new(&members).set("progressToken", upstream_token.get()).finish();
        self.pass(&sink, build::notification("notifications/progress", Some(params.as_bytes())));
    }

    /// Queues a notification for a caller, dropping it if the caller is not reading.
    fn pass(&self, sink: &Sink, message: Vec<u8>) {
        if sink.try_send(message).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(server = %self.server, "{n} progress or log messages dropped: their caller is not reading");
            }
        }
    }

    /// Handles a request of the server's: `ping` is answered here; requests for input go to
    /// the caller of the call they belong to, and the answer goes back to the server.
    fn on_request(
        self: &Arc<Self>,
        id: Box<RawValue>,
        method: String,
        params: Option<Box<RawValue>>,
        stream_of: Option<u64>,
    ) {
        if method == "ping" {
            self.outlet.send_other(self, build::result(id.get(), b"{}"), None);
            return;
        }
        if method == "roots/list" && stream_of.is_none() && self.state().calls.is_empty() {
            // Servers list roots right after `initialize` (server-everything does), before
            // any call: the gateway itself has no roots to give.
            self.outlet.send_other(self, build::result(id.get(), br#"{"roots":[]}"#), None);
            return;
        }
        let refusal = |message: String| AskReply::Error { code: codes::METHOD_NOT_FOUND, message };
        let input = match method.as_str() {
            "elicitation/create" | "sampling/createMessage" | "roots/list" if !self.forward.allows(&method) => {
                Err(refusal(format!(
                    "mcpgw does not forward `{method}` from server `{}`: its entry in the MCP config refuses it",
                    self.server
                )))
            }
            "elicitation/create" | "sampling/createMessage" | "roots/list" => match self.attribute(stream_of) {
                Some(route) => route
                    .input
                    .clone()
                    .ok_or_else(|| refusal(format!("the client of this call cannot answer `{method}`"))),
                None => Err(AskReply::Error {
                    code: codes::INTERNAL_ERROR,
                    message: format!(
                        "mcpgw cannot tell which call `{method}` belongs to: calls of several clients are in flight on \
                         this connection; send requests for input only while one client's calls run"
                    ),
                }),
            },
            _ => Err(refusal(format!("method not found: `{}`", Escaped::new(&method)))),
        };
        let key = id.get().to_owned();
        let rpc = Arc::clone(self);
        let task = tokio::spawn(async move {
            let reply = match input {
                Err(reply) => reply,
                Ok(input) => {
                    let (tx, rx) = oneshot::channel();
                    let ask = InputAsk { method, params, reply: tx };
                    match input.send(ask).await {
                        Ok(()) => rx.await.unwrap_or(AskReply::Error {
                            code: codes::INTERNAL_ERROR,
                            message: "the call ended before its client answered".to_owned(),
                        }),
                        Err(_) => AskReply::Error {
                            code: codes::INTERNAL_ERROR,
                            message: "the call ended before its client could be asked".to_owned(),
                        },
                    }
                }
            };
            let message = match reply {
                AskReply::Result(result) => build::result(id.get(), result.get().as_bytes()),
                AskReply::Error { code, message } => build::error(id.get(), code, &message, None),
            };
            rpc.state().asks.remove(id.get());
            rpc.outlet.send_other(&rpc, message, None);
        });
        self.state().asks.insert(key, task.abort_handle());
    }
}

/// An open `subscriptions/listen` stream ([`Rpc::listen`]); dropping it closes the stream.
pub struct Listen {
    cancel: CancellationToken,
}

impl Drop for Listen {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A wait for a stream's acknowledgement ([`Rpc::listen`]): forgotten however it ends, the
/// waiting future dropped included.
struct AckWait<'a> {
    rpc: &'a Rpc,
    id: u64,
}

impl Drop for AckWait<'_> {
    fn drop(&mut self) {
        self.rpc.state().acks.remove(&self.id);
    }
}

/// A request sent and not yet settled; see [`Rpc::request`].
struct InFlightRequest<'a> {
    rpc: &'a Arc<Rpc>,
    id: u64,
    /// Why it is given up, if it is: it is then cancelled at the server.
    why: Option<&'static str>,
}

impl Drop for InFlightRequest<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.rpc.state();
            state.pending.remove(&self.id);
            state.calls.remove(&self.id);
        }
        let Some(why) = self.why else { return };
        if self.rpc.closed.is_cancelled() {
            return;
        }
        self.rpc.outlet.abandon(self.id);
        if self.rpc.outlet.cancels_by_notification() {
            let params = format!(r#"{{"requestId":{},"reason":{}}}"#, self.id, build::json_string(why));
            self.rpc.notify("notifications/cancelled", Some(&params));
        }
    }
}

/// The request message: the params members, then `_meta` with the progress token (the
/// request's own id), the envelope and the caller's meta members.
fn request_message(id: u64, req: &OutRequest<'_>, envelope: &str, with_progress: bool) -> Vec<u8> {
    let mut meta = String::new();
    let mut add = |part: &str| {
        if !part.is_empty() {
            if !meta.is_empty() {
                meta.push(',');
            }
            meta.push_str(part);
        }
    };
    if with_progress {
        add(&format!(r#""progressToken":{id}"#));
    }
    add(envelope);
    add(req.meta);
    let mut params = String::with_capacity(req.members.len() + meta.len() + 16);
    params.push('{');
    params.push_str(req.members);
    if !meta.is_empty() {
        if !req.members.is_empty() {
            params.push(',');
        }
        params.push_str(r#""_meta":{"#);
        params.push_str(&meta);
        params.push('}');
    }
    params.push('}');
    build::request(&id.to_string(), req.method, Some(params.as_bytes()))
}

/// Our ids are numbers; some servers echo them as strings.
fn parse_id(id: &RawValue) -> Option<u64> {
    let text = id.get();
    text.parse::<u64>().ok().or_else(|| serde_json::from_str::<String>(text).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_requests_with_meta() {
        let req = OutRequest {
            method: "tools/call",
            members: r#""name":"x""#,
            meta: r#""traceparent":"t""#,
            ..Default::default()
        };
        let m = request_message(7, &req, r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#, true);
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(
            v["params"],
            serde_json::json!({"name":"x","_meta":{"progressToken":7,"io.modelcontextprotocol/protocolVersion":"2026-07-28","traceparent":"t"}})
        );
        let bare = request_message(1, &OutRequest { method: "tools/list", ..Default::default() }, "", false);
        assert_eq!(String::from_utf8(bare).unwrap(), r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#);
        assert_eq!(parse_id(&RawValue::from_string("\"12\"".into()).unwrap()), Some(12));
    }
}

//! Who makes a request, and how to reach them while it runs: what a front end (stdio, HTTP)
//! tells the gateway about each request.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::downstream::rpc::Delivery;
use crate::gateway::identity::Identity;
use crate::mcp::{ClientCaps, Version};
use crate::telemetry::otel::trace::TraceParent;
use crate::wire::Sink;

/// Why a request to the client got no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AskError {
    /// The client answered with a JSON-RPC error.
    #[error("the client answered with error {code}: {message}")]
    Rejected {
        /// The code.
        code: i64,
        /// The message.
        message: String,
    },
    /// No answer in time.
    #[error("the client did not answer in time")]
    Timeout,
    /// The client went away.
    #[error("the client went away")]
    Gone,
}

/// Sends requests to a client that can take them (a stdio client or an HTTP session of the
/// 2025 revisions) and waits for the answer.
pub trait Asker: Send + Sync {
    /// Sends `method` with `params` on `sink` (the stream of the request it belongs to) and
    /// waits at most `timeout` for the answer.
    fn ask(
        &self,
        sink: &Sink,
        method: &str,
        params: Option<&RawValue>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Box<RawValue>, AskError>>;
}

/// One request's caller.
pub struct Caller {
    /// The client (connection, session, or stateless request) it came from, which the
    /// downstreams use to keep callers apart.
    pub owner: u64,
    /// Whether the request stands alone (a 2026-07-28 HTTP request): no connection or session
    /// outlives it, so nothing can be bound to `owner`.
    pub stateless: bool,
    /// How agent ids are taken from its requests (bound by an HTTP token or the process).
    pub identity: Identity,
    /// The revision the request speaks.
    pub version: Version,
    /// What the client can answer.
    pub caps: ClientCaps,
    /// Where the request's messages go (its response last).
    pub sink: Sink,
    /// The client's progress token for this request.
    pub progress: Option<Box<RawValue>>,
    /// The lowest log level the client wants (rank); `None`: no log messages.
    pub log_min: Option<u8>,
    /// Cancelled when the client cancels the request or goes away.
    pub cancel: CancellationToken,
    /// Sends requests to the client, for clients that take them (none of 2026-07-28's do:
    /// they get an `InputRequiredResult` instead).
    pub asker: Option<Arc<dyn Asker>>,
    /// The W3C trace context of the request (its `_meta` members, else the HTTP headers).
    pub trace: TraceParent,
    /// The answers of an input round this request retries (2026-07-28), if it is a retry.
    pub retry: Option<InputRetry>,
    /// The task the call asks to run as (`task` of a 2025-11-25 `tools/call`), raw.
    pub task: Option<Box<RawValue>>,
}

/// The retry of a 2026-07-28 input round: the answers, and the state the gateway gave.
#[derive(Debug, Clone)]
pub struct InputRetry {
    /// `inputResponses`, raw (an object keyed like the `inputRequests` it answers).
    pub responses: Option<Box<RawValue>>,
    /// `requestState`, as given.
    pub state: Option<String>,
}

impl Caller {
    /// Where this request's progress and log messages go.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            progress: self.progress.clone().map(|token| (token, self.sink.clone())),
            log: self.log_min.map(|min| (min, self.sink.clone())),
        }
    }
}

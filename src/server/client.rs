//! One client of the 2025 revisions: a stdio connection or an HTTP session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::gateway::caller::{AskError, Asker};
use crate::gateway::subscriptions::Subscriptions;
use crate::mcp::{ClientCaps, Version, meta};
use crate::wire::{RpcError, Sink, build};

/// What `initialize` settled.
#[derive(Debug, Clone, Copy)]
pub struct Negotiated {
    /// The revision.
    pub version: Version,
    /// What the client can answer.
    pub caps: ClientCaps,
}

type Answer = Result<Box<RawValue>, AskError>;

/// Ids of clients (connections, sessions, stateless requests), for the downstreams to tell
/// callers apart.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

/// A fresh owner id.
pub fn next_owner() -> u64 {
    NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
}

/// No `logging/setLevel` yet: every level is forwarded.
const NO_LEVEL: u8 = u8::MAX;

/// One client of the 2025 revisions.
pub struct ClientState {
    owner: u64,
    negotiated: OnceLock<Negotiated>,
    log_min: AtomicU8,
    /// The gateway's requests to the client, waiting for answers, by id.
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// The client's requests in flight, by id as written, to cancel them.
    in_flight: Mutex<HashMap<String, CancellationToken>>,
    next_ask: AtomicU64,
    /// Cancelled when the client goes away.
    gone: CancellationToken,
    /// The resources it subscribed to (`resources/subscribe`).
    pub subscriptions: Arc<Subscriptions>,
}

impl Default for ClientState {
    fn default() -> Self {
        ClientState {
            owner: next_owner(),
            negotiated: OnceLock::new(),
            log_min: AtomicU8::new(NO_LEVEL),
            pending: Mutex::default(),
            in_flight: Mutex::default(),
            next_ask: AtomicU64::new(1),
            gone: CancellationToken::new(),
            subscriptions: Arc::default(),
        }
    }
}

impl ClientState {
    /// The client's owner id.
    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// What `initialize` settled, once it has.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated.get().copied()
    }

    /// Records what `initialize` settled. Returns false when it was settled already.
    pub fn negotiate(&self, n: Negotiated) -> bool {
        self.negotiated.set(n).is_ok()
    }

    /// The lowest log level the client wants (rank), from `logging/setLevel`: every level
    /// until it says otherwise.
    pub fn log_min(&self) -> u8 {
        match self.log_min.load(Ordering::Relaxed) {
            NO_LEVEL => 0,
            n => n,
        }
    }

    /// Sets the lowest log level from `logging/setLevel`.
    pub fn set_log_level(&self, level: &str) -> bool {
        match meta::log_level_rank(level) {
            Some(rank) => {
                self.log_min.store(rank, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a request of the client's as in flight; its token is cancelled by
    /// `notifications/cancelled` or when the client goes away. Call before the request
    /// starts, so that a cancellation right behind it is not lost.
    pub fn begin(&self, id: &RawValue) -> CancellationToken {
        let token = self.gone.child_token();
        Self::lock(&self.in_flight).insert(id.get().to_owned(), token.clone());
        token
    }

    /// The request `id` is done.
    pub fn end(&self, id: &RawValue) {
        Self::lock(&self.in_flight).remove(id.get());
    }

    /// `notifications/cancelled`: cancels the request it names, if it is in flight.
    pub fn cancel(&self, request_id: &RawValue) {
        if let Some(token) = Self::lock(&self.in_flight).remove(request_id.get()) {
            token.cancel();
        }
    }

    /// Requests of the client's in flight.
    pub fn in_flight(&self) -> usize {
        Self::lock(&self.in_flight).len()
    }

    /// An answer of the client's to one of the gateway's requests. Returns false when no
    /// request waits for it.
    pub fn answer(&self, id: &RawValue, answer: Result<&RawValue, RpcError<'_>>) -> bool {
        let Some(tx) = Self::lock(&self.pending).remove(id.get()) else { return false };
        let _ = tx.send(match answer {
            Ok(result) => Ok(result.to_owned()),
            Err(e) => Err(AskError::Rejected { code: e.code, message: e.message.into_owned() }),
        });
        true
    }

    /// The client went away: its requests are cancelled and the gateway's requests to it fail.
    pub fn close(&self) {
        self.gone.cancel();
        Self::lock(&self.pending).clear();
    }

    /// Resolves when the client goes away.
    pub async fn gone(&self) {
        self.gone.cancelled().await;
    }
}

/// The client answers the gateway's requests (elicitation, sampling, roots) on its behalf of
/// a downstream.
pub struct ClientAsker(pub Arc<ClientState>);

impl Asker for ClientAsker {
    fn ask(
        &self,
        sink: &Sink,
        method: &str,
        params: Option<&RawValue>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Box<RawValue>, AskError>> {
        let state = self.0.clone();
        let n = state.next_ask.fetch_add(1, Ordering::Relaxed);
        let id = format!("\"mcpgw-{n}\"");
        let (tx, rx) = oneshot::channel();
        ClientState::lock(&state.pending).insert(id.clone(), tx);
        let message = build::request(&id, method, params.map(|p| p.get().as_bytes()));
        let sink = sink.clone();
        Box::pin(async move {
            if sink.send(message).await.is_err() {
                ClientState::lock(&state.pending).remove(&id);
                return Err(AskError::Gone);
            }
            let outcome = tokio::select! {
                r = tokio::time::timeout(timeout, rx) => match r {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(_)) => Err(AskError::Gone),
                    Err(_) => Err(AskError::Timeout),
                },
                () = state.gone() => Err(AskError::Gone),
            };
            ClientState::lock(&state.pending).remove(&id);
            outcome
        })
    }
}

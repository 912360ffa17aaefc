//! Calls parked between the input rounds of a 2026-07-28 caller.
//!
//! A 2025 server asks for input during a call (`elicitation/create` and so on) and waits for
//! the answer with the call still open. A 2026-07-28 caller cannot be asked: it gets an
//! `InputRequiredResult` instead, and retries the call with the answers. In between, the
//! downstream call is parked here, with the server's requests waiting for their answers.
//! A parked call expires with its budget; a retry takes it out (so a state is used once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::downstream::rpc::{AskReply, CallRoute, InputAsk, RawResult};
use crate::error::GatewayError;

/// A downstream call running in a task of its own, with what it asks for on the way.
pub struct Running {
    /// The call.
    pub task: tokio::task::JoinHandle<Result<RawResult, GatewayError>>,
    /// Its server's requests for input.
    pub asks: mpsc::Receiver<InputAsk>,
    /// Where its messages go (pointed at each round's request in turn).
    pub route: Arc<CallRoute>,
}

/// A call given up (its caller gone, its park expired, its round refused) is cancelled at
/// the server: the request's guard does that when the aborted task drops it.
impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A call waiting for its caller's answers.
pub struct Parked {
    /// The agent whose call it is.
    pub agent: Option<String>,
    /// The server.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// The call.
    pub running: Running,
    /// The server's requests waiting for answers, by the key they have in `inputRequests`.
    pub waiting: Vec<(String, oneshot::Sender<AskReply>)>,
}

/// Every parked call, by id.
#[derive(Default)]
pub struct ParkedCalls {
    map: Arc<Mutex<HashMap<String, Parked>>>,
}

impl ParkedCalls {
    /// Parks `call` for at most `ttl`; returns its id.
    pub fn park(&self, call: Parked, ttl: Duration) -> String {
        let id = random_id();
        self.map.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), call);
        let (map, key) = (Arc::downgrade(&self.map), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            let expired = map.upgrade().and_then(|m| m.lock().unwrap_or_else(|e| e.into_inner()).remove(&key));
            if let Some(p) = expired {
                tracing::debug!(server = %p.server, "a parked call expired before its caller answered");
            }
        });
        id
    }

    /// Takes the parked call `id` out, if it is still there.
    pub fn take(&self, id: &str) -> Option<Parked> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }

    /// Calls parked now.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no call is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! Progress routing: downstream progress tokens back to the upstream caller's own token.
//!
//! rmcp replaces `_meta.progressToken` on every outgoing request with its own counter, so the
//! gateway remembers, per downstream token, which upstream peer and token the progress
//! belongs to. Every call is registered as soon as its downstream token is known and
//! unregistered when it ends. A notification that arrives before the registration (a race the
//! protocol allows) waits briefly for it instead of being dropped.
//!
//! rmcp handles each incoming notification on a task of its own but delivers a response
//! directly, so notifications can be handled out of order, and the response to a call can
//! overtake the progress sent just before it (which then found its route gone and was lost).
//! So the downstream transport is wrapped in [`Counted`], which notes every progress
//! notification in arrival order ([`ProgressRoutes::saw`]). [`ProgressRoutes::forward`] then
//! forwards each call's notifications in that order, and a call waits before it returns until
//! all of them are forwarded ([`RouteGuard::settle`]): the caller gets every notification, in
//! order, before the result. Progress only ever increases: a notification that is not ahead of
//! the last one forwarded (a misbehaving server, or a wait that ran out) is dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{JsonRpcMessage, ProgressNotificationParam, ProgressToken, ServerNotification};
use rmcp::service::{Peer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleClient, RoleServer};
use tokio::sync::Notify;

/// How long a progress notification waits for its call to be registered, or for the
/// notifications before it to be forwarded.
const ROUTE_WAIT: Duration = Duration::from_millis(250);

/// Where one call's progress goes.
#[derive(Clone)]
pub struct Route {
    /// The upstream client.
    pub peer: Peer<RoleServer>,
    /// The token the upstream client gave.
    pub token: ProgressToken,
}

/// What tells two progress notifications of one call apart.
type Key = (u64, Option<u64>, Option<String>);

fn key(p: &ProgressNotificationParam) -> Key {
    (p.progress.to_bits(), p.total.map(f64::to_bits), p.message.clone())
}

/// One registered call.
struct Entry {
    /// Where its progress goes; `None` when the caller did not ask for progress.
    route: Option<Route>,
    /// Notifications received by the transport and not yet handled, in arrival order.
    pending: VecDeque<Key>,
    /// The last progress value forwarded.
    last: Option<f64>,
}

/// The routes of one downstream connection.
#[derive(Default)]
pub struct ProgressRoutes {
    routes: Mutex<HashMap<ProgressToken, Entry>>,
    /// Signalled when a call is registered or a notification has been handled.
    changed: Notify,
}

impl ProgressRoutes {
    /// Registers the call whose downstream token is `downstream`; its progress goes to `route`
    /// (if any) until the returned guard is dropped. Calls without a route are registered too,
    /// so their progress is dropped at once instead of waiting for a route that never comes.
    pub fn add(self: &Arc<Self>, downstream: ProgressToken, route: Option<Route>) -> RouteGuard {
        self.lock().insert(downstream.clone(), Entry { route, pending: VecDeque::new(), last: None });
        self.changed.notify_waiters();
        RouteGuard { routes: self.clone(), token: downstream }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Entry>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a progress notification as the transport receives it, before rmcp dispatches it.
    /// Notifications of calls that are not registered are not noted.
    pub fn saw(&self, params: &ProgressNotificationParam) {
        if let Some(entry) = self.lock().get_mut(&params.progress_token) {
            entry.pending.push_back(key(params));
        }
    }

    /// Forwards a downstream progress notification to its upstream caller, if any, after the
    /// notifications that arrived before it.
    pub async fn forward(&self, mut params: ProgressNotificationParam) {
        let token = params.progress_token.clone();
        let me = key(&params);
        let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
        let route = loop {
            let notified = self.changed.notified();
            if let Some(entry) = self.lock().get(&token) {
                let my_turn = entry.pending.front().is_none_or(|k| *k == me) || !entry.pending.contains(&me);
                if my_turn {
                    break Some(entry.route.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break self.lock().get(&token).map(|e| e.route.clone());
            }
        };
        match route {
            Some(Some(route)) => {
                let ahead = match self.lock().get_mut(&token) {
                    Some(entry) if entry.last.is_none_or(|l| params.progress > l) => {
                        entry.last = Some(params.progress);
                        true
                    }
                    _ => false,
                };
                if ahead {
                    params.progress_token = route.token;
                    if let Err(e) = route.peer.notify_progress(params).await {
                        tracing::debug!("could not forward progress upstream: {e}");
                    }
                } else {
                    tracing::debug!("dropped progress that is not ahead of the last one forwarded");
                }
            }
            Some(None) => {}
            None => tracing::debug!(?token, "progress for a call that is no longer routed"),
        }
        if let Some(entry) = self.lock().get_mut(&token)
            && let Some(i) = entry.pending.iter().position(|k| *k == me)
        {
            entry.pending.remove(i);
        }
        self.changed.notify_waiters();
    }

    /// Whether every notification noted for `token` has been handled.
    fn settled(&self, token: &ProgressToken) -> bool {
        self.lock().get(token).is_none_or(|e| e.pending.is_empty())
    }
}

/// Unregisters a call when it ends, however it ends.
pub struct RouteGuard {
    routes: Arc<ProgressRoutes>,
    token: ProgressToken,
}

impl RouteGuard {
    /// Waits (at most `limit`) until the progress the server sent before its response has been
    /// forwarded, so the caller sees it before the result.
    pub async fn settle(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.routes.changed.notified();
            if self.routes.settled(&self.token) || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.routes.lock().remove(&self.token);
    }
}

/// A downstream transport that notes each progress notification as it arrives, in order (see
/// the module documentation).
pub struct Counted<T> {
    inner: T,
    routes: Arc<ProgressRoutes>,
}

impl<T> Counted<T> {
    /// Wraps `inner`, noting its progress notifications in `routes`.
    pub fn new(inner: T, routes: Arc<ProgressRoutes>) -> Self {
        Counted { inner, routes }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Counted<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let msg = self.inner.receive().await?;
        if let JsonRpcMessage::Notification(n) = &msg
            && let ServerNotification::ProgressNotification(p) = &n.notification
        {
            self.routes.saw(&p.params);
        }
        Some(msg)
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}

//! Progress routing: downstream progress tokens back to the upstream caller's own token.
//!
//! rmcp replaces `_meta.progressToken` on every outgoing request with its own counter, so the
//! gateway remembers, per downstream token, which upstream peer and token the progress
//! belongs to. A route is added as soon as the downstream token is known and removed when the
//! call ends. A notification that arrives before its route (a race the protocol allows) waits
//! briefly for it instead of being dropped.
//!
//! rmcp handles each incoming notification on its own task, so two progress notifications
//! can reach [`ProgressRoutes::forward`] out of order. Progress only ever increases, so each
//! route forwards under its own lock and drops a notification that is not ahead of the last
//! one sent: the caller never sees progress go backwards.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::Peer;
use tokio::sync::Notify;

/// How long a progress notification waits for its route to appear.
const ROUTE_WAIT: Duration = Duration::from_millis(250);

/// Where one call's progress goes.
#[derive(Clone)]
pub struct Route {
    /// The upstream client.
    pub peer: Peer<RoleServer>,
    /// The token the upstream client gave.
    pub token: ProgressToken,
}

/// A route and the last progress value sent on it.
#[derive(Clone)]
struct Entry {
    route: Route,
    last: std::sync::Arc<tokio::sync::Mutex<Option<f64>>>,
}

/// The routes of one downstream connection.
#[derive(Default)]
pub struct ProgressRoutes {
    routes: Mutex<HashMap<ProgressToken, Entry>>,
    added: Notify,
}

impl ProgressRoutes {
    /// Routes progress for `downstream` to `route` until the returned guard is dropped.
    pub fn add(self: &std::sync::Arc<Self>, downstream: ProgressToken, route: Route) -> RouteGuard {
        self.lock().insert(downstream.clone(), Entry { route, last: Default::default() });
        self.added.notify_waiters();
        RouteGuard { routes: self.clone(), token: downstream }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Entry>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forwards a downstream progress notification to its upstream caller, if any.
    pub async fn forward(&self, mut params: ProgressNotificationParam) {
        let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
        let route = loop {
            let notified = self.added.notified();
            if let Some(r) = self.lock().get(&params.progress_token).cloned() {
                break Some(r);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break None;
            }
        };
        let Some(entry) = route else {
            tracing::debug!(token = ?params.progress_token, "progress for a call that is no longer routed");
            return;
        };
        let mut last = entry.last.lock().await;
        if last.is_some_and(|l| params.progress <= l) {
            tracing::debug!("dropped progress that arrived after a later one");
            return;
        }
        *last = Some(params.progress);
        params.progress_token = entry.route.token;
        if let Err(e) = entry.route.peer.notify_progress(params).await {
            tracing::debug!("could not forward progress upstream: {e}");
        }
    }
}

/// Removes a route when the call ends, however it ends.
pub struct RouteGuard {
    routes: std::sync::Arc<ProgressRoutes>,
    token: ProgressToken,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.routes.lock().remove(&self.token);
    }
}

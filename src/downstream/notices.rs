//! What servers say outside any call that clients may want to hear: their prompt and resource
//! lists changed, or a subscribed resource was updated. Every server's notices go out on one
//! broadcast; each client's listener (in the gateway's `subscriptions`) keeps only what its agent
//! may see and asked for, so nothing of one agent's servers reaches another agent.
//!
//! Tool-list changes go by [`crate::downstream::catalog::CatalogueChanges`] instead: direct
//! mode rebuilds its whole list on any of them.

use std::sync::Arc;

use tokio::sync::broadcast;

/// How many notices a slow listener may fall behind before it misses some. A listener that
/// lags is told every list changed (a spurious `list_changed` costs a client one listing).
const BACKLOG: usize = 1024;

/// What a server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// `notifications/prompts/list_changed`.
    PromptsChanged,
    /// `notifications/resources/list_changed`.
    ResourcesChanged,
    /// `notifications/resources/updated` of this URI (the server's own).
    ResourceUpdated(String),
}

/// One server's notice. `server` is `None` for a change of every server's lists (a reload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The server that said it.
    pub server: Option<Arc<str>>,
    /// What it said.
    pub kind: NoticeKind,
}

/// The broadcast of every server's notices.
#[derive(Debug, Clone)]
pub struct Notices(broadcast::Sender<Arc<Notice>>);

impl Default for Notices {
    fn default() -> Self {
        Notices(broadcast::channel(BACKLOG).0)
    }
}

impl Notices {
    /// Sends `notice` to every listener (none listening is fine).
    pub fn send(&self, notice: Notice) {
        let _ = self.0.send(Arc::new(notice));
    }

    /// Tells every listener that every server's prompt and resource lists may have changed.
    pub fn all_lists_changed(&self) {
        for kind in [NoticeKind::PromptsChanged, NoticeKind::ResourcesChanged] {
            self.send(Notice { server: None, kind });
        }
    }

    /// A listener that hears every notice sent after now.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.0.subscribe()
    }
}

/// The next notices of `rx`: one, or, after falling behind, a change of every list (the
/// missed updates are lost, and said so in the log). `None` once the broadcast is gone.
pub async fn next(rx: &mut broadcast::Receiver<Arc<Notice>>) -> Option<Vec<Arc<Notice>>> {
    match rx.recv().await {
        Ok(notice) => Some(vec![notice]),
        Err(broadcast::error::RecvError::Lagged(n)) => {
            tracing::warn!("a client fell {n} notices behind; it is told every list changed");
            let all = [NoticeKind::PromptsChanged, NoticeKind::ResourcesChanged];
            Some(all.into_iter().map(|kind| Arc::new(Notice { server: None, kind })).collect())
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

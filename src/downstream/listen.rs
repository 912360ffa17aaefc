//! What a server says about itself outside any call, for every revision (DESIGN section 12).
//!
//! A legacy server sends list changes whenever they happen, and resource updates after
//! `resources/subscribe`. A 2026-07-28 server sends them only on a `subscriptions/listen`
//! stream that its client opened, and only the kinds that the stream asked for. So the gateway
//! keeps one such stream open per 2026-07-28 connection, asking for every kind the server
//! offers and for every URI that some client subscribed to. A new subscription opens a new
//! stream with the larger set, and closes the old one only once the new one is acknowledged.
//! Notices are level triggers ("this changed, read it again"), so the duplicates of the overlap
//! are harmless and nothing sent meanwhile is missed.
//!
//! The URIs subscribed to outlive connections: a restarted server is asked for all of them
//! again, with `resources/subscribe` or with the stream, whichever it speaks.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::downstream::Connection;
use crate::downstream::rpc::{Listen, OutRequest, RequestError};
use crate::wire::build::json_string;

/// How long after a stream ended the gateway listens again, at first; it doubles after each
/// failure, up to [`REOPEN_MOST`].
const REOPEN_AFTER: Duration = Duration::from_secs(1);
const REOPEN_MOST: Duration = Duration::from_secs(30);

/// One server's subscriptions and, for a 2026-07-28 connection, its open stream.
#[derive(Default)]
pub struct Listening {
    /// The server's own URIs some client subscribed to.
    uris: Mutex<BTreeSet<String>>,
    /// The stream of the current connection; locked across the wait for an acknowledgement,
    /// so that two changes of the set never race to replace it.
    stream: tokio::sync::Mutex<Option<Open>>,
}

/// An open stream.
struct Open {
    /// Dropping it closes the stream.
    _listen: Listen,
    /// The connection it is on.
    conn: Weak<Connection>,
    /// The URIs it honors.
    honored: BTreeSet<String>,
}

/// Why a subscription was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// The server offers no resource subscriptions (legacy: no `resources.subscribe`
    /// capability; 2026-07-28: no stream, or one that does not honor the URI).
    NotOffered(String),
    /// The request failed.
    Failed(RequestError),
}

impl Listening {
    fn uris(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.uris.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to the server's resource `uri` on `conn`, now and on every later
    /// connection; waits at most `timeout` for the server.
    pub async fn subscribe(
        self: &Arc<Self>,
        conn: &Arc<Connection>,
        uri: &str,
        timeout: Duration,
    ) -> Result<(), Refusal> {
        if conn.info().version.has_initialize() {
            if !conn.info().declares_flag("resources", "subscribe") {
                return Err(Refusal::NotOffered("it declares no `resources.subscribe` capability".to_owned()));
            }
            subscribe_at(conn, uri, timeout).await.map_err(Refusal::Failed)?;
            self.uris().insert(uri.to_owned());
            return Ok(());
        }
        if !conn.info().declares("resources") {
            return Err(Refusal::NotOffered("it declares no `resources` capability".to_owned()));
        }
        let fresh = self.uris().insert(uri.to_owned());
        if !fresh && self.honors(conn, uri).await {
            return Ok(());
        }
        let honored = match self.listen(conn, timeout).await {
            Ok(honored) => honored,
            Err(e) => {
                if fresh {
                    self.uris().remove(uri);
                }
                return Err(match e {
                    RequestError::Rpc { code, message, .. } if code == crate::mcp::codes::METHOD_NOT_FOUND => {
                        Refusal::NotOffered(format!("it does not serve `subscriptions/listen` ({message})"))
                    }
                    e => Refusal::Failed(e),
                });
            }
        };
        if honored.contains(uri) {
            return Ok(());
        }
        if fresh {
            self.uris().remove(uri);
        }
        Err(Refusal::NotOffered("its `subscriptions/listen` stream does not honor that URI".to_owned()))
    }

    /// Whether the open stream on `conn` honors `uri`.
    async fn honors(&self, conn: &Arc<Connection>, uri: &str) -> bool {
        let stream = self.stream.lock().await;
        stream
            .as_ref()
            .is_some_and(|open| std::ptr::eq(open.conn.as_ptr(), Arc::as_ptr(conn)) && open.honored.contains(uri))
    }

    /// Asks a new connection for everything the last one had: the subscriptions again (legacy)
    /// or a stream (2026-07-28). Failures are logged: no caller is waiting.
    pub async fn resume(self: &Arc<Self>, conn: &Arc<Connection>, timeout: Duration) {
        let server = conn.rpc().server();
        if !conn.info().version.has_initialize() {
            if let Err(e) = self.listen(conn, timeout).await {
                tracing::info!(%server, "no `subscriptions/listen` stream, so no list changes outside calls: {e}");
            }
            return;
        }
        let uris: Vec<String> = self.uris().iter().cloned().collect();
        for uri in uris {
            if let Err(e) = subscribe_at(conn, &uri, timeout).await {
                tracing::warn!(%server, uri = %crate::logging::Escaped::new(&uri), "cannot subscribe again after a restart: {e}");
            }
        }
    }

    /// Opens a stream on `conn` for the current set, replacing the old one once it is
    /// acknowledged; the URIs it honors. A server that declares nothing to listen for gets no
    /// stream.
    async fn listen(
        self: &Arc<Self>,
        conn: &Arc<Connection>,
        timeout: Duration,
    ) -> Result<BTreeSet<String>, RequestError> {
        let mut stream = self.stream.lock().await;
        let Some(filter) = self.filter(conn) else {
            *stream = None;
            return Ok(BTreeSet::new());
        };
        let (honored, listen, ended) = conn.rpc().listen(&filter, timeout).await?;
        let honored: Value = serde_json::from_str(honored.get()).unwrap_or(Value::Null);
        let uris = honored.get("resourceSubscriptions").and_then(Value::as_array);
        let honored: BTreeSet<String> =
            uris.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        // The old stream closes here, after the new one is heard.
        *stream = Some(Open { _listen: listen, conn: Arc::downgrade(conn), honored: honored.clone() });
        self.reopen_when(ended, conn, timeout);
        Ok(honored)
    }

    /// Listens again once `ended` says the stream ended by itself (the server closed it, or
    /// it broke) while its connection lives on, retrying with a growing wait. A stream the
    /// gateway closed (replaced, or its connection gone) says nothing, and nothing happens.
    fn reopen_when(self: &Arc<Self>, ended: oneshot::Receiver<()>, conn: &Arc<Connection>, timeout: Duration) {
        let (listening, conn) = (Arc::downgrade(self), Arc::downgrade(conn));
        tokio::spawn(async move {
            if ended.await.is_err() {
                return;
            }
            let mut wait = REOPEN_AFTER;
            loop {
                tokio::time::sleep(wait).await;
                let (Some(listening), Some(conn)) = (listening.upgrade(), conn.upgrade()) else { return };
                if !conn.is_alive() {
                    return;
                }
                match listening.listen(&conn, timeout).await {
                    Ok(_) => return,
                    Err(e) => {
                        wait = (wait * 2).min(REOPEN_MOST);
                        tracing::warn!(server = %conn.rpc().server(), "cannot listen again: {e}; next try in {} s", wait.as_secs());
                    }
                }
            }
        });
    }

    /// The notifications object of a stream: every kind the server declares, and the URIs
    /// (`None`: nothing to listen for).
    fn filter(&self, conn: &Connection) -> Option<String> {
        let mut filter = serde_json::Map::new();
        for (capability, key) in
            [("tools", "toolsListChanged"), ("prompts", "promptsListChanged"), ("resources", "resourcesListChanged")]
        {
            if conn.info().declares(capability) {
                filter.insert(key.to_owned(), Value::Bool(true));
            }
        }
        let uris = self.uris();
        if conn.info().declares("resources") && !uris.is_empty() {
            filter.insert("resourceSubscriptions".to_owned(), uris.iter().cloned().collect());
        }
        (!filter.is_empty()).then(|| Value::Object(filter).to_string())
    }
}

/// `resources/subscribe` of `uri` on a legacy connection.
async fn subscribe_at(conn: &Connection, uri: &str, timeout: Duration) -> Result<(), RequestError> {
    let members = format!(r#""uri":{}"#, json_string(uri));
    let req = OutRequest { method: "resources/subscribe", members: &members, ..Default::default() };
    let never = tokio_util::sync::CancellationToken::new();
    conn.rpc().request(req, None, timeout, &never).await.map(drop)
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotOffered(why) => write!(f, "{why}"),
            Refusal::Failed(e) => write!(f, "{e}"),
        }
    }
}

//! The sessions of 2025-revision clients over HTTP: each belongs to the agent whose credential
//! created it, and is bounded in number.
//!
//! A session id is a secret, but one that leaks (a log, a proxy) must not be enough to act in
//! someone else's session: every request, stream, delete and notification of a session must
//! carry the credential of the agent that created it, and anything else is answered as if the
//! session did not exist (404), so that its existence is not revealed either. Sessions are
//! capped per agent and in total; past a cap, the agent's oldest idle session is evicted, and
//! when none is idle the new session is refused (503). Idle sessions expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::ClientState;
use crate::wire::Sink;

/// How many sessions may be open.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Per agent (per credential).
    pub per_agent: usize,
    /// In all.
    pub total: usize,
    /// How long a session may sit idle (no request in flight, no request for this long).
    pub idle: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { per_agent: 256, total: 4096, idle: Duration::from_secs(600) }
    }
}

/// One session.
pub struct Session {
    /// Its id.
    pub id: String,
    /// The agent whose credential created it (`None` on a gateway without tokens).
    pub agent: Option<String>,
    /// The client's state.
    pub client: Arc<ClientState>,
    /// The session's own event stream (the GET stream), while one is open.
    pub push: Mutex<Option<Sink>>,
    last_used: Mutex<Instant>,
}

impl Session {
    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// How long the session has been idle: `None` while a call runs or its GET stream is
    /// open. A GET stream the client closed no longer counts (its sink is dropped here), or a
    /// session whose stream once opened would never expire nor be evicted.
    fn idle_for(&self) -> Option<Duration> {
        let streaming = {
            let mut push = self.push.lock().unwrap_or_else(|e| e.into_inner());
            if push.as_ref().is_some_and(Sink::is_closed) {
                *push = None;
            }
            push.is_some()
        };
        if self.client.in_flight() > 0 || streaming {
            return None;
        }
        Some(self.last_used.lock().unwrap_or_else(|e| e.into_inner()).elapsed())
    }
}

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SessionRefused {
    /// Every session of the agent (or of the gateway) is busy.
    #[error("too many sessions are open ({0}); close one (DELETE) or retry later")]
    Full(&'static str),
}

/// Every open session.
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    limits: SessionLimits,
}

impl Sessions {
    /// An empty table.
    pub fn new(limits: SessionLimits) -> Sessions {
        Sessions { map: Mutex::default(), limits }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session for `agent`, evicting its oldest idle session (or the oldest idle one of
    /// all) when a cap is reached.
    pub fn create(&self, agent: Option<&str>) -> Result<Arc<Session>, SessionRefused> {
        let mut map = self.map();
        let mine = map.values().filter(|s| s.agent.as_deref() == agent).count();
        if mine >= self.limits.per_agent {
            evict_oldest_idle(&mut map, |s| s.agent.as_deref() == agent)
                .ok_or(SessionRefused::Full("for this agent"))?;
        }
        if map.len() >= self.limits.total {
            evict_oldest_idle(&mut map, |_| true).ok_or(SessionRefused::Full("in all"))?;
        }
        let session = Arc::new(Session {
            id: new_id(),
            agent: agent.map(str::to_owned),
            client: Arc::new(ClientState::default()),
            push: Mutex::new(None),
            last_used: Mutex::new(Instant::now()),
        });
        map.insert(session.id.clone(), session.clone());
        Ok(session)
    }

    /// The session `id`, if it exists and belongs to `agent`.
    pub fn get(&self, id: &str, agent: Option<&str>) -> Option<Arc<Session>> {
        let session = self.map().get(id).filter(|s| s.agent.as_deref() == agent).cloned()?;
        session.touch();
        Some(session)
    }

    /// Ends the session `id` if it belongs to `agent`. Returns whether it did.
    pub fn remove(&self, id: &str, agent: Option<&str>) -> bool {
        let mut map = self.map();
        if map.get(id).is_none_or(|s| s.agent.as_deref() != agent) {
            return false;
        }
        if let Some(s) = map.remove(id) {
            close(&s);
        }
        true
    }

    /// Ends every session idle for longer than the limit.
    pub fn expire(&self) -> usize {
        let mut map = self.map();
        let expired: Vec<String> = map
            .values()
            .filter(|s| s.idle_for().is_some_and(|d| d >= self.limits.idle))
            .map(|s| s.id.clone())
            .collect();
        for id in &expired {
            if let Some(s) = map.remove(id) {
                close(&s);
            }
        }
        if map.capacity() > 4 * map.len().max(16) {
            map.shrink_to_fit();
        }
        expired.len()
    }

    /// Ends every session (at shutdown).
    pub fn clear(&self) {
        for (_, s) in self.map().drain() {
            close(&s);
        }
    }

    /// Queues `message` on the GET stream of every session that has one open; a stream that
    /// is not being read misses it (a notification is not worth holding memory for).
    pub fn push_all(&self, message: &[u8]) {
        let sinks: Vec<Sink> =
            self.map().values().filter_map(|s| s.push.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect();
        for sink in sinks {
            let _ = sink.try_send(message.to_vec());
        }
    }

    /// Pushes to each session with an open GET stream what `message` makes of it, if anything.
    pub fn push_each(&self, message: impl Fn(&Session) -> Option<Vec<u8>>) {
        let sessions: Vec<Arc<Session>> = self.map().values().cloned().collect();
        for session in sessions {
            let Some(sink) = session.push.lock().unwrap_or_else(|e| e.into_inner()).clone() else { continue };
            if let Some(bytes) = message(&session) {
                let _ = sink.try_send(bytes);
            }
        }
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.map().len()
    }
}

fn close(s: &Session) {
    s.client.close();
    s.push.lock().unwrap_or_else(|e| e.into_inner()).take();
}

fn evict_oldest_idle(map: &mut HashMap<String, Arc<Session>>, of: impl Fn(&Session) -> bool) -> Option<()> {
    let oldest = map
        .values()
        .filter(|s| of(s))
        .filter_map(|s| s.idle_for().map(|d| (d, s.id.clone())))
        .max_by_key(|(d, _)| *d)
        .map(|(_, id)| id)?;
    if let Some(s) = map.remove(&oldest) {
        close(&s);
    }
    Some(())
}

/// A new session id: 128 random bits, in hex.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source is a broken machine; a time-based id is still unique, and the
        // agent binding keeps it from being a credential.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_belong_to_their_agent_and_are_capped() {
        let t = Sessions::new(SessionLimits { per_agent: 2, total: 3, idle: Duration::from_secs(60) });
        let a = t.create(Some("alice")).unwrap();
        assert!(t.get(&a.id, Some("alice")).is_some());
        assert!(t.get(&a.id, Some("bob")).is_none(), "another agent's session is not found");
        assert!(t.get(&a.id, None).is_none());
        assert!(!t.remove(&a.id, Some("bob")));
        let _a2 = t.create(Some("alice")).unwrap();
        // Alice's third session evicts her oldest idle one.
        let _a3 = t.create(Some("alice")).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.get(&a.id, Some("alice")).is_none());
        let _b = t.create(Some("bob")).unwrap();
        // The total cap evicts the oldest idle session of all.
        let _b2 = t.create(Some("bob")).unwrap();
        assert_eq!(t.len(), 3);
        let busy = Sessions::new(SessionLimits { per_agent: 1, total: 10, idle: Duration::from_secs(60) });
        let s = busy.create(Some("c")).unwrap();
        let _in_flight = s.client.begin(&serde_json::value::RawValue::from_string("1".into()).unwrap());
        assert!(matches!(busy.create(Some("c")), Err(SessionRefused::Full(_))), "a busy session is never evicted");
        assert_eq!(new_id().len(), 32);
    }
}

//! The gateway's own `requestState`: what a 2026-07-28 caller echoes back on the retry of an
//! input round, sealed so that it cannot be forged, replayed by another agent, or used late.
//!
//! A client is not trusted with the state: it could send anything back. So the state is
//! signed with HMAC-SHA256 under the gateway's key, names the agent it was issued to (checked
//! against the agent of the retry), the server and tool of the call, and an expiry. It is
//! signed, not encrypted: it holds nothing secret (a parked call's id is useless to anyone
//! but its agent; a downstream's own state is the downstream's to protect). Replicas that
//! share a key (`MCPGW_STATE_KEY`) accept each other's states.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The prefix of every sealed state (its format's version).
const PREFIX: &str = "mcpgw1.";

/// What a round's state refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Round {
    /// A call parked in this gateway, waiting for the answers (a 2025 server asked during the
    /// call); only the replica that holds it can resume it.
    Parked {
        /// The parked call's id.
        id: String,
    },
    /// A 2026-07-28 server's own input round, passed through: its state goes back to it.
    Passed {
        /// The server's `requestState`, if it gave one.
        state: Option<String>,
    },
}

/// A sealed state's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The agent it was issued to.
    pub agent: Option<String>,
    /// The server of the call.
    pub server: String,
    /// The tool of the call.
    pub tool: String,
    /// When it expires, in milliseconds since the Unix epoch.
    pub exp: u64,
    /// What the round refers to.
    pub round: Round,
}

/// Why a state from a client was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not a state this gateway issues.
    #[error("`requestState` is not one this gateway issued")]
    Malformed,
    /// The signature does not match: forged or altered.
    #[error("`requestState` was altered or forged")]
    Forged,
    /// Issued to another agent.
    #[error("`requestState` belongs to another agent")]
    OtherAgent,
    /// Too late.
    #[error("`requestState` has expired; call the tool again")]
    Expired,
}

/// Seals and opens states.
pub struct Sealer {
    key: [u8; 32],
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Sealer {
    /// A sealer with `key` (shared by replicas), or a random key of its own.
    pub fn new(key: Option<&[u8]>) -> Sealer {
        let mut k = [0u8; 32];
        match key {
            Some(key) => {
                // Any length of key, stretched to 32 bytes.
                use sha2::Digest as _;
                k = Sha256::digest(key).into();
            }
            None => {
                if getrandom::fill(&mut k).is_err() {
                    // No entropy source: a key from the time and the pid, which still
                    // differs per process.
                    use sha2::Digest as _;
                    let seed = format!("{:?} {}", std::time::SystemTime::now(), std::process::id());
                    k = Sha256::digest(seed.as_bytes()).into();
                }
            }
        }
        Sealer { key: k }
    }

    /// The MAC of `payload` (HMAC takes keys of any length, so making one cannot fail; if it
    /// did, nothing would be sealed or open).
    fn mac(&self, payload: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(payload);
        Some(mac)
    }

    /// The sealed text of `state`.
    pub fn seal(&self, state: &State) -> String {
        let payload = serde_json::to_vec(state).unwrap_or_default();
        let tag = self.mac(&payload).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
        format!("{PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The state sealed in `text`, if it is genuine, issued to `agent`, and not expired.
    pub fn open(&self, text: &str, agent: Option<&str>) -> Result<State, StateError> {
        let rest = text.strip_prefix(PREFIX).ok_or(StateError::Malformed)?;
        let (payload, tag) = rest.split_once('.').ok_or(StateError::Malformed)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| StateError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| StateError::Malformed)?;
        self.mac(&payload).ok_or(StateError::Forged)?.verify_slice(&tag).map_err(|_| StateError::Forged)?;
        let state: State = serde_json::from_slice(&payload).map_err(|_| StateError::Malformed)?;
        if state.agent.as_deref() != agent {
            return Err(StateError::OtherAgent);
        }
        if state.exp <= now_ms() {
            return Err(StateError::Expired);
        }
        Ok(state)
    }

    /// The expiry of a state issued now that lives `ttl`.
    pub fn expiry(ttl: std::time::Duration) -> u64 {
        now_ms().saturating_add(ttl.as_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(agent: &str, exp: u64) -> State {
        State {
            agent: Some(agent.into()),
            server: "s".into(),
            tool: "t".into(),
            exp,
            round: Round::Parked { id: "p1".into() },
        }
    }

    #[test]
    fn seals_and_refuses_what_is_not_genuine() {
        let sealer = Sealer::new(None);
        let later = Sealer::expiry(std::time::Duration::from_secs(60));
        let text = sealer.seal(&state("alice", later));
        assert_eq!(sealer.open(&text, Some("alice")), Ok(state("alice", later)));
        assert_eq!(sealer.open(&text, Some("bob")), Err(StateError::OtherAgent));
        assert_eq!(sealer.open("garbage", Some("alice")), Err(StateError::Malformed));
        let (head, tag) = text.rsplit_once('.').unwrap();
        let mut forged_payload = serde_json::to_vec(&state("bob", later)).unwrap();
        forged_payload.push(b' ');
        let forged = format!("{PREFIX}{}.{tag}", URL_SAFE_NO_PAD.encode(&forged_payload));
        assert_eq!(sealer.open(&forged, Some("bob")), Err(StateError::Forged));
        assert!(head.starts_with(PREFIX));
        assert_eq!(Sealer::new(None).open(&text, Some("alice")), Err(StateError::Forged), "another key");
        let shared = Sealer::new(Some(b"replica key"));
        let text = shared.seal(&state("alice", later));
        assert!(Sealer::new(Some(b"replica key")).open(&text, Some("alice")).is_ok(), "replicas share a key");
        let old = sealer.seal(&state("alice", 1));
        assert_eq!(sealer.open(&old, Some("alice")), Err(StateError::Expired));
    }
}

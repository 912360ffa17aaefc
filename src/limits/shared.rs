//! Limits shared by every replica, counted in Redis (`gateway.redis.url` in `.mcp.json`).
//!
//! Each check is one round trip: a Lua script that reads and updates the agent's state
//! atomically, on Redis's own clock (`TIME`), so replicas whose clocks differ still agree.
//! - Rate: GCRA, the algorithm `governor` runs locally, with the same burst (one second's
//!   worth of requests), kept as the agent's theoretical arrival time under
//!   `mcpgw:rate:AGENT`.
//! - Calls in flight: a sorted set of leases under `mcpgw:slots:AGENT`, each scored by when it
//!   expires. A call renews its lease while it runs; a replica that dies stops renewing, and
//!   its slots free themselves within [`LEASE`].
//!
//! When Redis cannot answer within [`ROUND_TRIP`], the caller falls back to the replica's own
//! limits ([`super::Limits`]) for that call; the fallback is logged when it starts and ends,
//! and shown in `/ready` and the metrics. The connection manager reconnects on its own, so the
//! next call that gets an answer ends the fallback.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long one check may wait for Redis before the call is limited locally instead.
const ROUND_TRIP: Duration = Duration::from_millis(250);
/// How long a call's slot lives without renewal.
const LEASE: Duration = Duration::from_secs(30);
/// How often a running call renews its slot.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// GCRA: `ARGV[1]` microseconds between requests, `ARGV[2]` requests of burst. Returns 0 when
/// the request may go, else the microseconds until it could.
const RATE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

/// Takes a slot: `ARGV[1]` slots at most, `ARGV[2]` lease in ms, `ARGV[3]` the lease id.
/// Returns 1 when taken, 0 when every slot is in use.
const ACQUIRE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
";

/// Renews lease `ARGV[2]` by `ARGV[1]` ms, if it is still there.
const RENEW_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
";

/// What Redis said of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Refused; retry after this long.
    Refused(Duration),
}

/// The connection to Redis and whether the gateway is falling back to local limits.
pub struct Shared {
    url: String,
    conn: ConnectionManager,
    rate: redis::Script,
    acquire: redis::Script,
    renew: redis::Script,
    fallback: AtomicBool,
    /// Checks answered locally because Redis could not be reached.
    fallbacks: AtomicU64,
    next_lease: AtomicU64,
    /// Tells leases of different replicas apart.
    replica: u64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("url", &self.url).field("fallback", &self.in_fallback()).finish()
    }
}

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The URL is not one Redis accepts.
    #[error("`gateway.redis.url` is not a Redis URL: {0}")]
    Url(redis::RedisError),
}

impl Shared {
    /// A connection to `url`, made on first use (Redis may come up after the gateway).
    pub fn connect(url: &str) -> Result<Shared, SharedError> {
        let client = redis::Client::open(url).map_err(SharedError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ROUND_TRIP))
            .set_response_timeout(Some(ROUND_TRIP))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(SharedError::Url)?;
        let mut replica = [0u8; 8];
        let _ = getrandom::fill(&mut replica);
        Ok(Shared {
            url: redact(url),
            conn,
            rate: redis::Script::new(RATE_SCRIPT),
            acquire: redis::Script::new(ACQUIRE_SCRIPT),
            renew: redis::Script::new(RENEW_SCRIPT),
            fallback: AtomicBool::new(false),
            fallbacks: AtomicU64::new(0),
            next_lease: AtomicU64::new(1),
            replica: u64::from_le_bytes(replica),
        })
    }

    /// The URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the last check fell back to local limits.
    pub fn in_fallback(&self) -> bool {
        self.fallback.load(Ordering::Relaxed)
    }

    /// How many checks were answered locally.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Notes whether Redis answered, logging the change.
    fn answered<T>(&self, result: Result<Result<T, redis::RedisError>, tokio::time::error::Elapsed>) -> Option<T> {
        let result = match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", ROUND_TRIP.as_millis())),
        };
        match result {
            Ok(v) => {
                if self.fallback.swap(false, Ordering::Relaxed) {
                    tracing::warn!(redis = %self.url, "Redis answers again: limits are shared across replicas again");
                }
                Some(v)
            }
            Err(why) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                if !self.fallback.swap(true, Ordering::Relaxed) {
                    tracing::warn!(redis = %self.url, "Redis is unreachable ({why}): each replica limits on its own until it is back");
                }
                None
            }
        }
    }

    /// Takes one request from `agent`'s shared allowance of `rate` per second. `None`: Redis
    /// did not answer, so the caller limits locally.
    pub async fn check_rate(&self, agent: &str, rate: u32) -> Option<Verdict> {
        let interval_us = 1_000_000 / u64::from(rate.max(1));
        let mut conn = self.conn.clone();
        let mut call = self.rate.key(format!("mcpgw:rate:{agent}"));
        call.arg(interval_us).arg(rate);
        let wait_us: u64 = self.answered(tokio::time::timeout(ROUND_TRIP, call.invoke_async(&mut conn)).await)?;
        Some(if wait_us == 0 { Verdict::Allowed } else { Verdict::Refused(Duration::from_micros(wait_us)) })
    }

    /// Takes one of `agent`'s `max` shared slots for a call, renewed until the lease is
    /// dropped. `None`: Redis did not answer, so the caller limits locally.
    pub async fn acquire(self: &Arc<Self>, agent: &str, max: u32) -> Option<Result<Lease, ()>> {
        let key = format!("mcpgw:slots:{agent}");
        let id = format!("{:016x}-{}", self.replica, self.next_lease.fetch_add(1, Ordering::Relaxed));
        let lease_ms = u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.conn.clone();
        let mut call = self.acquire.key(&key);
        call.arg(max).arg(lease_ms).arg(&id);
        let taken: i64 = self.answered(tokio::time::timeout(ROUND_TRIP, call.invoke_async(&mut conn)).await)?;
        if taken == 0 {
            return Some(Err(()));
        }
        let renewing = {
            let (shared, key, id) = (self.clone(), key.clone(), id.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(RENEW_EVERY);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let mut conn = shared.conn.clone();
                    let mut call = shared.renew.key(&key);
                    call.arg(lease_ms).arg(&id);
                    let _: Result<Result<i64, _>, _> =
                        tokio::time::timeout(ROUND_TRIP, call.invoke_async(&mut conn)).await;
                }
            })
        };
        Some(Ok(Lease { conn: self.conn.clone(), key, id, renewing }))
    }
}

/// A shared slot, given back when dropped.
pub struct Lease {
    conn: ConnectionManager,
    key: String,
    id: String,
    renewing: tokio::task::JoinHandle<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewing.abort();
        let (mut conn, key, id) = (self.conn.clone(), std::mem::take(&mut self.key), std::mem::take(&mut self.id));
        // Given back in the background; if that fails, the lease expires on its own.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _: Result<Result<i64, _>, _> =
                    tokio::time::timeout(ROUND_TRIP, redis::cmd("ZREM").arg(&key).arg(&id).query_async(&mut conn))
                        .await;
            });
        }
    }
}

/// `url` with any password replaced, for logs and `/ready`.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_the_shown_url() {
        assert_eq!(redact("redis://:secret@10.0.0.1:6379/0"), "redis://***@10.0.0.1:6379/0");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert!(Shared::connect("http://x").is_err());
    }
}

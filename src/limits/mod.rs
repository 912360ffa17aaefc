//! Per-agent limits: requests per second (GCRA, by `governor`) and calls in flight (a
//! semaphore per agent); with `gateway.redis`, counted in Redis across replicas instead
//! ([`shared`]), with these local limits as the fallback.
//!
//! The limits come from the policy (`limits` in an agent block). A call reads them from its
//! own snapshot, so they reload with the policy; an agent whose limit changed gets a fresh
//! limiter. Agents are keyed by the id they are judged as. Agent patterns admit unbounded
//! ids, so entries no call has used for a while are forgotten once there are many.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ErrorCode, GatewayError};
use crate::policy::DecisionTable;

pub mod shared;

use shared::{Lease, Shared, Verdict};

/// Past this many agents, entries unused for [`FORGET_AFTER`] are forgotten.
const PRUNE_ABOVE: usize = 1024;
/// How long an entry may go unused before it may be forgotten. A rate limiter idle this long
/// has refilled completely, so forgetting it changes nothing.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// One agent's limiters.
struct Entry {
    /// The requests-per-second limiter and the rate it was built for.
    rate: Option<(u32, Arc<DefaultDirectRateLimiter>)>,
    /// The calls-in-flight semaphore and the maximum it was built for.
    slots: Option<(u32, Arc<Semaphore>)>,
    used: Instant,
}

/// The live state of every agent's limits.
#[derive(Default)]
pub struct Limits {
    agents: Mutex<Agents>,
    clock: DefaultClock,
    /// Redis, when the limits are shared across replicas.
    shared: Option<Arc<Shared>>,
}

#[derive(Default)]
struct Agents {
    map: HashMap<String, Entry>,
    /// Prune when the map grows past this: twice what the last prune kept, so that pruning
    /// stays amortised O(1) per call however many agents are busy.
    prune_at: usize,
}

fn key(agent: Option<&str>) -> String {
    agent.unwrap_or("").to_owned()
}

/// The error of a refused request under a rate of `rate` per second, retried after `wait`.
fn rate_limited(rate: NonZeroU32, wait: Duration) -> GatewayError {
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut e = GatewayError::new(
        ErrorCode::RateLimited,
        format!("rate limit of {rate} requests per second exceeded; retry in {wait_ms} ms"),
    );
    e.retry_after_ms = Some(wait_ms);
    e
}

/// The error of a call refused under a limit of `max` calls in flight.
fn too_many_in_flight(max: u32) -> GatewayError {
    let mut e = GatewayError::new(
        ErrorCode::RateLimited,
        format!("limit of {max} calls in flight reached; retry when one finishes"),
    );
    e.retry_after_ms = Some(100);
    e
}

impl Limits {
    /// Limits shared across replicas through `shared`, local while it cannot be reached.
    pub fn shared(shared: Shared) -> Limits {
        Limits { shared: Some(Arc::new(shared)), ..Limits::default() }
    }

    /// The Redis connection, when the limits are shared.
    pub fn redis(&self) -> Option<&Shared> {
        self.shared.as_deref()
    }

    /// The entry of `agent`, created if needed; prunes unused entries when there are many.
    fn with_entry<T>(&self, agent: Option<&str>, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if agents.map.len() > agents.prune_at.max(PRUNE_ABOVE) {
            agents.map.retain(|_, e| {
                now.duration_since(e.used) < FORGET_AFTER
                    || e.slots.as_ref().is_some_and(|(max, s)| s.available_permits() < *max as usize)
            });
            agents.prune_at = 2 * agents.map.len();
        }
        let entry = agents.map.entry(key(agent)).or_insert(Entry { rate: None, slots: None, used: now });
        entry.used = now;
        f(entry)
    }

    /// Takes one request from the agent's allowance, or fails with `RATE_LIMITED` and how long
    /// to wait.
    pub async fn check_rate(&self, agent: Option<&str>, table: &DecisionTable) -> Result<(), GatewayError> {
        let Some(rate) = table.limits_for(agent).requests_per_second.and_then(NonZeroU32::new) else {
            return Ok(());
        };
        if let Some(shared) = &self.shared {
            match shared.check_rate(&key(agent), rate.get()).await {
                Some(Verdict::Allowed) => return Ok(()),
                Some(Verdict::Refused(wait)) => return Err(rate_limited(rate, wait)),
                None => {}
            }
        }
        let limiter = self.with_entry(agent, |e| match &e.rate {
            Some((r, l)) if *r == rate.get() => l.clone(),
            _ => {
                let l = Arc::new(DefaultDirectRateLimiter::direct(Quota::per_second(rate)));
                e.rate = Some((rate.get(), l.clone()));
                l
            }
        });
        limiter.check().map_err(|not_until| rate_limited(rate, not_until.wait_time_from(self.clock.now())))
    }

    /// Takes a slot under the agent's limit of calls in flight, released when dropped.
    pub async fn acquire_concurrency(
        &self,
        agent: Option<&str>,
        max: Option<u32>,
    ) -> Result<ConcurrencyPermit, GatewayError> {
        let Some(max) = max else { return Ok(ConcurrencyPermit::Unlimited) };
        if let Some(shared) = &self.shared {
            match shared.acquire(&key(agent), max).await {
                Some(Ok(lease)) => return Ok(ConcurrencyPermit::Shared(lease)),
                Some(Err(())) => return Err(too_many_in_flight(max)),
                None => {}
            }
        }
        let slots = self.with_entry(agent, |e| match &e.slots {
            Some((m, s)) if *m == max => s.clone(),
            _ => {
                let s = Arc::new(Semaphore::new(max as usize));
                e.slots = Some((max, s.clone()));
                s
            }
        });
        slots.try_acquire_owned().map(ConcurrencyPermit::Local).map_err(|_| too_many_in_flight(max))
    }
}

/// A slot under a concurrency limit, given back when dropped.
#[allow(dead_code, reason = "the slots are held for their drop")]
pub enum ConcurrencyPermit {
    /// No limit applies.
    Unlimited,
    /// One of this replica's slots.
    Local(OwnedSemaphorePermit),
    /// One of the slots shared in Redis.
    Shared(Lease),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySet;

    #[tokio::test]
    async fn limits_requests_and_concurrency() {
        let p = PolicySet::from_json_str(
            "r.json",
            r#"{"agents": {"a": {"limits": {"requests_per_second": 2, "max_concurrent_calls": 1}}, "b": {}}}"#,
        )
        .unwrap();
        let t = DecisionTable::compile(&p).unwrap();
        let l = Limits::default();
        assert!(l.check_rate(Some("a"), &t).await.is_ok());
        assert!(l.check_rate(Some("a"), &t).await.is_ok());
        let e = l.check_rate(Some("a"), &t).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retry_after_ms.unwrap() <= 500);
        for _ in 0..10 {
            assert!(l.check_rate(Some("b"), &t).await.is_ok(), "b has no limit");
        }
        let first = l.acquire_concurrency(Some("a"), Some(1)).await.unwrap();
        assert!(l.acquire_concurrency(Some("a"), Some(1)).await.is_err());
        drop(first);
        assert!(l.acquire_concurrency(Some("a"), Some(1)).await.is_ok());
        // A new maximum (a reload) gets a fresh semaphore.
        let _one = l.acquire_concurrency(Some("a"), Some(1)).await.unwrap();
        assert!(l.acquire_concurrency(Some("a"), Some(2)).await.is_ok());
    }

    #[tokio::test]
    async fn unused_entries_are_forgotten() {
        let l = Limits::default();
        let long_ago = Instant::now() - Duration::from_secs(120);
        {
            let mut agents = l.agents.lock().unwrap();
            for i in 0..2000 {
                agents.map.insert(format!("a.{i}"), Entry { rate: None, slots: None, used: long_ago });
            }
            agents.map.insert("a.busy".into(), Entry { rate: None, slots: None, used: Instant::now() });
        }
        let _p = l.acquire_concurrency(Some("a.new"), Some(3)).await.unwrap();
        let agents = l.agents.lock().unwrap();
        let mut kept: Vec<&String> = agents.map.keys().collect();
        kept.sort();
        assert_eq!(kept, ["a.busy", "a.new"]);
    }
}

//! Per-agent rate limits: requests per second (a token bucket) and calls in flight.
//!
//! The limits come from the policy (`limits` in an agent block) and are read on every
//! request, so they reload with it. Agents are keyed by the id they are judged as.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::{ErrorCode, GatewayError};
use crate::policy::DecisionTable;

/// Calls in flight, per agent.
type InFlightMap = Arc<Mutex<HashMap<String, u32>>>;

/// The live state of every agent's limits.
#[derive(Default)]
pub struct Limits {
    buckets: Mutex<Buckets>,
    in_flight: InFlightMap,
}

/// Every agent's token bucket, and when to next forget the full ones.
#[derive(Default)]
struct Buckets {
    map: HashMap<String, Bucket>,
    /// Prune when the map grows past this (and past [`PRUNE_ABOVE`]): twice what the last
    /// prune kept, so that pruning stays amortised O(1) per call however many agents are busy.
    prune_at: usize,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    /// The rate the bucket last refilled at (its capacity too).
    rate: f64,
}

impl Bucket {
    /// Whether the bucket has refilled completely by `now`, so forgetting it changes nothing.
    fn is_full(&self, now: Instant) -> bool {
        self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate >= self.rate
    }
}

/// Past this many buckets, full ones are forgotten (agent patterns admit unbounded ids).
const PRUNE_ABOVE: usize = 1024;

fn key(agent: Option<&str>) -> String {
    agent.unwrap_or("").to_owned()
}

impl Limits {
    /// Takes one request from the agent's bucket, or fails with `RATE_LIMITED` and how long to
    /// wait.
    pub fn check_rate(&self, agent: Option<&str>, table: &DecisionTable) -> Result<(), GatewayError> {
        let Some(rate) = table.limits_for(agent).requests_per_second else { return Ok(()) };
        let rate = f64::from(rate);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.map.len() > buckets.prune_at.max(PRUNE_ABOVE) {
            buckets.map.retain(|_, b| !b.is_full(now));
            buckets.prune_at = 2 * buckets.map.len();
        }
        let bucket = buckets.map.entry(key(agent)).or_insert(Bucket { tokens: rate, last: now, rate });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(rate);
        bucket.last = now;
        bucket.rate = rate;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = ((1.0 - bucket.tokens) / rate * 1000.0).ceil() as u64;
        let mut e = GatewayError::new(
            ErrorCode::RateLimited,
            format!("rate limit of {rate} requests per second exceeded; retry in {wait_ms} ms"),
        );
        e.retry_after_ms = Some(wait_ms.max(1));
        Err(e)
    }

    /// Takes a slot under the agent's limit of calls in flight, released when dropped.
    pub fn acquire_concurrency(
        &self,
        agent: Option<&str>,
        max: Option<u32>,
    ) -> Result<ConcurrencyPermit, GatewayError> {
        let Some(max) = max else { return Ok(ConcurrencyPermit(None)) };
        let k = key(agent);
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(k.clone()).or_insert(0);
        if *n >= max {
            let mut e = GatewayError::new(
                ErrorCode::RateLimited,
                format!("limit of {max} calls in flight reached; retry when one finishes"),
            );
            e.retry_after_ms = Some(100);
            return Err(e);
        }
        *n += 1;
        Ok(ConcurrencyPermit(Some((self.in_flight.clone(), k))))
    }
}

/// A slot under a concurrency limit.
pub struct ConcurrencyPermit(Option<(InFlightMap, String)>);

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        if let Some((map, k)) = self.0.take() {
            let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&k) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySet;

    #[test]
    fn limits_requests_and_concurrency() {
        let p = PolicySet::from_json_str(
            "r.json",
            r#"{"agents": {"a": {"limits": {"requests_per_second": 2, "max_concurrent_calls": 1}}, "b": {}}}"#,
        )
        .unwrap();
        let t = DecisionTable::compile(&p).unwrap();
        let l = Limits::default();
        assert!(l.check_rate(Some("a"), &t).is_ok());
        assert!(l.check_rate(Some("a"), &t).is_ok());
        let e = l.check_rate(Some("a"), &t).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retry_after_ms.unwrap() <= 500);
        for _ in 0..10 {
            assert!(l.check_rate(Some("b"), &t).is_ok(), "b has no limit");
        }
        let first = l.acquire_concurrency(Some("a"), Some(1)).unwrap();
        assert!(l.acquire_concurrency(Some("a"), Some(1)).is_err());
        drop(first);
        assert!(l.acquire_concurrency(Some("a"), Some(1)).is_ok());
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let p = PolicySet::from_json_str("r.json", r#"{"agents": {"a.*": {"limits": {"requests_per_second": 1}}}}"#)
            .unwrap();
        let t = DecisionTable::compile(&p).unwrap();
        let l = Limits::default();
        let long_ago = Instant::now() - std::time::Duration::from_secs(5);
        {
            let mut buckets = l.buckets.lock().unwrap();
            for i in 0..2000 {
                buckets.map.insert(format!("a.{i}"), Bucket { tokens: 0.0, last: long_ago, rate: 1.0 });
            }
            buckets.map.insert("a.busy".into(), Bucket { tokens: 0.0, last: Instant::now(), rate: 1.0 });
        }
        assert!(l.check_rate(Some("a.new"), &t).is_ok());
        let buckets = l.buckets.lock().unwrap();
        let mut kept: Vec<&String> = buckets.map.keys().collect();
        kept.sort();
        assert_eq!(kept, ["a.busy", "a.new"]);
    }
}

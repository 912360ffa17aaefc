//! Call metrics per agent and operation: counts, errors and a latency histogram.
//!
//! Latencies go into log-linear buckets (8 per power of two, so a percentile is within
//! about 12% of the true value) from which p50/p95/p99 and Prometheus histograms are read.
//! Agent ids the policy does not know are counted under one key, so random ids cannot grow
//! the table without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::ErrorCode;
use crate::policy::DecisionTable;

/// The key for calls whose agent the policy does not know.
pub const UNKNOWN_AGENT: &str = "(unknown)";
/// The key for calls without an agent id that the default agent served.
pub const DEFAULT_AGENT: &str = "(default)";

const SUB_BUCKETS: u32 = 8;
const BUCKETS: usize = 16 + 40 * SUB_BUCKETS as usize;

/// A latency histogram over microseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    sum_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0, sum_us: 0 }
    }
}

impl Histogram {
    fn index(us: u64) -> usize {
        if us < 16 {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros();
        let sub = (us >> (exp - 3)) & u64::from(SUB_BUCKETS - 1);
        (16 + (exp - 4) * SUB_BUCKETS + sub as u32).min(BUCKETS as u32 - 1) as usize
    }

    /// The largest value (µs) that falls in bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < 16 {
            return i as u64;
        }
        let i = i as u32 - 16;
        let exp = i / SUB_BUCKETS + 4;
        let sub = u64::from(i % SUB_BUCKETS);
        ((SUB_BUCKETS as u64 + sub + 1) << (exp - 3)) - 1
    }

    /// Adds one observation.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.counts[Self::index(us)] += 1;
        self.total += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// The `q` quantile (0..=1), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper(i) as f64 / 1000.0;
            }
        }
        0.0
    }

    /// How many observations were at most `le_ms` (bucket resolution).
    pub fn count_le(&self, le_ms: f64) -> u64 {
        let le_us = (le_ms * 1000.0) as u64;
        self.counts.iter().enumerate().take_while(|(i, _)| Self::upper(*i) <= le_us).map(|(_, c)| c).sum()
    }

    /// Observations so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Sum of observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_us as f64 / 1e6
    }
}

/// One agent and operation.
#[derive(Clone, Default)]
pub struct OpStats {
    /// Calls.
    pub count: u64,
    /// Calls that ended in a gateway error.
    pub errors: u64,
    /// Latencies.
    pub latency: Histogram,
}

/// A summary row for status output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpReport {
    /// The operation (gateway tool name).
    pub operation: &'static str,
    /// Calls.
    pub count: u64,
    /// Calls that ended in a gateway error.
    pub errors: u64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile latency.
    pub p95_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
}

/// Metrics of every agent and operation.
#[derive(Default)]
pub struct Metrics {
    ops: Mutex<HashMap<(String, &'static str), OpStats>>,
}

impl Metrics {
    /// Records one call under the agent key `key` ([`Metrics::agent_key`]).
    pub fn record(&self, key: String, operation: &'static str, outcome: Option<ErrorCode>, latency: Duration) {
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let stats = ops.entry((key, operation)).or_default();
        stats.count += 1;
        stats.errors += u64::from(outcome.is_some());
        stats.latency.record(latency);
    }

    /// The key an agent's calls are counted under.
    pub fn agent_key(agent: Option<&str>, table: &DecisionTable) -> String {
        match agent.filter(|a| !a.is_empty()) {
            Some(a) if table.agent_is_resolvable(Some(a)) => a.to_owned(),
            Some(_) => UNKNOWN_AGENT.to_owned(),
            None if table.agent_is_resolvable(None) => DEFAULT_AGENT.to_owned(),
            None => UNKNOWN_AGENT.to_owned(),
        }
    }

    /// The rows of one agent, by operation name.
    pub fn for_agent(&self, key: &str) -> Vec<OpReport> {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<OpReport> = ops
            .iter()
            .filter(|((a, _), _)| a == key)
            .map(|((_, op), s)| OpReport {
                operation: op,
                count: s.count,
                errors: s.errors,
                p50_ms: s.latency.quantile_ms(0.5),
                p95_ms: s.latency.quantile_ms(0.95),
                p99_ms: s.latency.quantile_ms(0.99),
            })
            .collect();
        rows.sort_by_key(|r| r.operation);
        rows
    }

    /// A copy of everything, for exporters.
    pub fn snapshot(&self) -> Vec<((String, &'static str), OpStats)> {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = ops.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close() {
        let mut h = Histogram::default();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile_ms(0.5);
        let p99 = h.quantile_ms(0.99);
        assert!((4.5..=5.7).contains(&p50), "{p50}");
        assert!((9.5..=11.2).contains(&p99), "{p99}");
        assert_eq!(h.count_le(1e9), 10_000);
        assert!(h.count_le(1.0) <= 1000 && h.count_le(1.0) >= 900, "{}", h.count_le(1.0));
        for i in 0..BUCKETS - 1 {
            assert!(Histogram::upper(i) < Histogram::upper(i + 1));
            assert_eq!(Histogram::index(Histogram::upper(i)), i);
        }
    }
}

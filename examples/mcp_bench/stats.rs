//! Percentiles over latency samples.

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Smallest.
    pub min_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// The `q` quantile (nearest rank) of sorted samples.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Summarises samples given in microseconds.
pub fn summarize_us(samples_us: &[f64]) -> Summary {
    let mut s: Vec<f64> = samples_us.iter().map(|us| us / 1000.0).collect();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return Summary::default();
    }
    Summary {
        n: s.len(),
        p50_ms: round(quantile(&s, 0.50)),
        p95_ms: round(quantile(&s, 0.95)),
        p99_ms: round(quantile(&s, 0.99)),
        mean_ms: round(s.iter().sum::<f64>() / s.len() as f64),
        min_ms: round(s[0]),
        max_ms: round(s[s.len() - 1]),
    }
}

/// Rounds to microseconds (3 decimals of a millisecond).
pub fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The median of unsorted values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

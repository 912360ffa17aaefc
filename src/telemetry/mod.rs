//! What the gateway records about its calls: the audit trail (one JSON line per call), the
//! metrics (per agent and operation, per server), their Prometheus exposition, and their
//! export to an OpenTelemetry collector.

pub mod audit;
pub mod explained;
pub mod metrics;
pub mod otel;
pub mod prometheus;
pub mod scrape;

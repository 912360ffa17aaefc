//! What the gateway records about its calls: the audit trail (one JSON line per call), the
//! metrics (per agent and operation, per server) and their Prometheus exposition.

pub mod audit;
pub mod metrics;
pub mod prometheus;

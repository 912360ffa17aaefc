//! The values every metrics exporter shows, read at one moment: the call metrics, each
//! server's status, the loads of the two files, the policy snapshot, the shared limits and
//! the telemetry export itself. `/metrics` renders them as OpenMetrics text; the OTLP
//! exporter observes the same series.

use crate::config::FileStatus;
use crate::downstream::StatusReport;
use crate::telemetry::metrics::OpStats;

/// One read of every series.
#[derive(Clone)]
pub struct Scrape {
    /// Call metrics by agent key and operation.
    pub ops: Vec<((String, &'static str), OpStats)>,
    /// Each server's name and status.
    pub servers: Vec<(String, StatusReport)>,
    /// The loads of the rules (`rules`) and the MCP config (`mcp_config`).
    pub files: [(&'static str, FileStatus); 2],
    /// The snapshot being served.
    pub snapshot: String,
    /// With limits shared in Redis: whether they fall back to local ones now, and how many
    /// checks did.
    pub shared_limits: Option<(bool, u64)>,
    /// For each exported OpenTelemetry signal: its name, what the collector took and what
    /// was dropped.
    pub telemetry: Vec<(&'static str, u64, u64)>,
}

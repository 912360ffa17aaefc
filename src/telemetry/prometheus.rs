//! Prometheus text exposition of the gateway's metrics, for `/metrics`.

use std::fmt::Write;

use crate::config::{ConfigFile, ReloadStatus};
use crate::downstream::StatusReport;
use crate::telemetry::metrics::Metrics;

/// What the exposition shows.
pub struct Exposition<'a> {
    /// Call metrics.
    pub metrics: &'a Metrics,
    /// Each server's name and status.
    pub servers: Vec<(String, StatusReport)>,
    /// The loads of the two files.
    pub reload: &'a ReloadStatus,
    /// The snapshot being served.
    pub snapshot: &'a str,
}

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// The whole exposition.
pub fn render(x: &Exposition<'_>) -> String {
    let mut out = String::new();
    let ops = x.metrics.snapshot();
    header(&mut out, "mcpgw_calls_total", "counter", "Gateway tool calls by agent and operation.");
    for ((agent, op), s) in &ops {
        let _ = writeln!(out, "mcpgw_calls_total{{agent=\"{}\",operation=\"{op}\"}} {}", escape(agent), s.count);
    }
    header(&mut out, "mcpgw_call_errors_total", "counter", "Gateway tool calls that ended in a gateway error.");
    for ((agent, op), s) in &ops {
        let _ = writeln!(out, "mcpgw_call_errors_total{{agent=\"{}\",operation=\"{op}\"}} {}", escape(agent), s.errors);
    }
    header(&mut out, "mcpgw_call_duration_seconds", "histogram", "Time spent in the gateway per call.");
    for ((agent, op), s) in &ops {
        let labels = format!("agent=\"{}\",operation=\"{op}\"", escape(agent));
        for le in BUCKETS {
            let _ = writeln!(
                out,
                "mcpgw_call_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                s.latency.count_le(le * 1000.0)
            );
        }
        let _ = writeln!(out, "mcpgw_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.latency.total());
        let _ = writeln!(out, "mcpgw_call_duration_seconds_sum{{{labels}}} {}", s.latency.sum_seconds());
        let _ = writeln!(out, "mcpgw_call_duration_seconds_count{{{labels}}} {}", s.latency.total());
    }

    let reports = &x.servers;
    for (name, help, get) in [
        (
            "mcpgw_server_calls_total",
            "Calls forwarded to a downstream server.",
            (|r: &crate::downstream::StatusReport| r.calls) as fn(&_) -> u64,
        ),
        ("mcpgw_server_errors_total", "Forwarded calls that failed (not counting isError results).", |r| r.errors),
        ("mcpgw_server_restarts_total", "Times a downstream server was started again.", |r| r.restarts),
    ] {
        header(&mut out, name, "counter", help);
        for (server, r) in reports {
            let _ = writeln!(out, "{name}{{server=\"{}\"}} {}", escape(server), get(r));
        }
    }
    header(&mut out, "mcpgw_server_up", "gauge", "1 when the downstream server is connected.");
    for (server, r) in reports {
        let up = u8::from(r.status == crate::downstream::Status::Ready);
        let _ = writeln!(out, "mcpgw_server_up{{server=\"{}\"}} {up}", escape(server));
    }

    // Each family's samples must follow its own HELP/TYPE lines, together.
    let files = [("rules", x.reload.get(ConfigFile::Rules)), ("mcp_config", x.reload.get(ConfigFile::McpConfig))];
    header(&mut out, "mcpgw_reloads_total", "counter", "Configuration loads tried, by file.");
    for (file, s) in &files {
        let _ = writeln!(out, "mcpgw_reloads_total{{file=\"{file}\"}} {}", s.attempts);
    }
    header(&mut out, "mcpgw_reload_failures_total", "counter", "Configuration loads that failed, by file.");
    for (file, s) in &files {
        let _ = writeln!(out, "mcpgw_reload_failures_total{{file=\"{file}\"}} {}", s.failures);
    }
    header(&mut out, "mcpgw_policy_info", "gauge", "The policy snapshot being served.");
    let _ = writeln!(out, "mcpgw_policy_info{{snapshot=\"{}\"}} 1", escape(x.snapshot));
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

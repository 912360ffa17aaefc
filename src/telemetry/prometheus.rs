//! The gateway's metrics as an OpenMetrics text exposition, for `/metrics`, written by
//! `prometheus-client` from a [`Scrape`] taken at scrape time.

use std::borrow::Cow;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::downstream::Status;
use crate::telemetry::scrape::Scrape;

/// Histogram bucket bounds, in seconds.
pub const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The values of one scrape, as a collector.
struct Exposition(Scrape);

type Labels = Vec<(Cow<'static, str>, Cow<'static, str>)>;

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Owned((*v).to_owned()))).collect()
}

/// Writes one counter family: each sample with its labels and value.
fn counters(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl Iterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (l, v) in samples {
        ConstCounter::new(v).encode(family.encode_family(&l)?)?;
    }
    Ok(())
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition").field("series", &self.0.ops.len()).field("servers", &self.0.servers.len()).finish()
    }
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let scrape = &self.0;
        let op_labels = |(agent, op): &(String, &'static str)| labels(&[("agent", agent), ("operation", op)]);
        counters(
            &mut encoder,
            "mcpgw_calls",
            "Gateway tool calls by agent and operation.",
            scrape.ops.iter().map(|(k, s)| (op_labels(k), s.count)),
        )?;
        counters(
            &mut encoder,
            "mcpgw_call_errors",
            "Gateway tool calls that ended in a gateway error.",
            scrape.ops.iter().map(|(k, s)| (op_labels(k), s.errors)),
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "mcpgw_call_duration_seconds",
                "Time spent in the gateway per call.",
                None,
                MetricType::Histogram,
            )?;
            for (k, s) in &scrape.ops {
                let l = op_labels(k);
                let mut below = 0;
                let mut buckets: Vec<(f64, u64)> = BUCKETS
                    .iter()
                    .map(|le| {
                        let cumulative = s.latency.count_le(le * 1000.0);
                        let bucket = cumulative - below;
                        below = cumulative;
                        (*le, bucket)
                    })
                    .collect();
                buckets.push((f64::MAX, s.latency.total() - below));
                family.encode_family(&l)?.encode_histogram::<Labels>(
                    s.latency.sum_seconds(),
                    s.latency.total(),
                    &buckets,
                    None,
                )?;
            }
        }
        let server = |name: &String| labels(&[("server", name)]);
        counters(
            &mut encoder,
            "mcpgw_server_calls",
            "Calls forwarded to a downstream server.",
            scrape.servers.iter().map(|(n, r)| (server(n), r.calls)),
        )?;
        counters(
            &mut encoder,
            "mcpgw_server_errors",
            "Forwarded calls that failed (not counting isError results).",
            scrape.servers.iter().map(|(n, r)| (server(n), r.errors)),
        )?;
        counters(
            &mut encoder,
            "mcpgw_server_restarts",
            "Times a downstream server was started again.",
            scrape.servers.iter().map(|(n, r)| (server(n), r.restarts)),
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "mcpgw_server_up",
                "1 when the downstream server is connected.",
                None,
                MetricType::Gauge,
            )?;
            for (n, r) in &scrape.servers {
                ConstGauge::new(i64::from(r.status == Status::Ready)).encode(family.encode_family(&server(n))?)?;
            }
        }
        let file = |f: &'static str| labels(&[("file", f)]);
        counters(
            &mut encoder,
            "mcpgw_reloads",
            "Configuration loads tried, by file.",
            scrape.files.iter().map(|(f, s)| (file(f), s.attempts)),
        )?;
        counters(
            &mut encoder,
            "mcpgw_reload_failures",
            "Configuration loads that failed, by file.",
            scrape.files.iter().map(|(f, s)| (file(f), s.failures)),
        )?;
        if let Some((fallback, checks)) = scrape.shared_limits {
            let mut family = encoder.encode_descriptor(
                "mcpgw_shared_limits_fallback",
                "1 while Redis is unreachable and each replica limits on its own.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::from(fallback)).encode(family.encode_family(&Labels::new())?)?;
            counters(
                &mut encoder,
                "mcpgw_shared_limit_fallbacks",
                "Limit checks answered locally because Redis could not be reached.",
                std::iter::once((Labels::new(), checks)),
            )?;
        }
        if !scrape.telemetry.is_empty() {
            let signal = |name: &'static str| labels(&[("signal", name)]);
            counters(
                &mut encoder,
                "mcpgw_telemetry_exported",
                "OpenTelemetry records the collector took (metrics: exports), by signal.",
                scrape.telemetry.iter().map(|(s, exported, _)| (signal(s), *exported)),
            )?;
            counters(
                &mut encoder,
                "mcpgw_telemetry_dropped",
                "OpenTelemetry records dropped: queue full or collector unreachable (metrics: exports), by signal.",
                scrape.telemetry.iter().map(|(s, _, dropped)| (signal(s), *dropped)),
            )?;
        }
        let mut info =
            encoder.encode_descriptor("mcpgw_policy", "The policy snapshot being served.", None, MetricType::Info)?;
        info.encode_info(&labels(&[("snapshot", &scrape.snapshot)]))?;
        Ok(())
    }
}

/// The whole exposition.
pub fn render(scrape: Scrape) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition(scrape)));
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

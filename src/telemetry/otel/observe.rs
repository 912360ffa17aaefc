//! The `/metrics` series as observable OpenTelemetry instruments, each read from one
//! [`Scrape`] at export time (so both exporters show the same numbers). The call duration
//! histogram is recorded as calls end instead ([`super::Otel::record_call`]): a histogram
//! cannot be observed.

use std::any::Any;
use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Meter};

use crate::downstream::Status;
use crate::telemetry::scrape::Scrape;

/// Where the series come from: `None` once the gateway is gone.
pub(super) type Source = Arc<dyn Fn() -> Option<Scrape> + Send + Sync>;

/// Reads one series of a scrape: each value with its attributes.
type Read = fn(&Scrape) -> Vec<(u64, Vec<KeyValue>)>;

/// How a series is exported.
#[derive(Clone, Copy)]
enum Kind {
    /// A cumulative count.
    Counter,
    /// A value now.
    Gauge,
}

fn op(k: &(String, &'static str)) -> Vec<KeyValue> {
    vec![KeyValue::new("agent", k.0.clone()), KeyValue::new("operation", k.1)]
}

fn server(name: &str) -> Vec<KeyValue> {
    vec![KeyValue::new("server", name.to_owned())]
}

fn one(key: &'static str, value: &'static str) -> Vec<KeyValue> {
    vec![KeyValue::new(key, value)]
}

/// Every series: name, help, kind, and how to read it.
const SERIES: [(&str, &str, Kind, Read); 13] = [
    ("mcpgw.calls", "Gateway tool calls by agent and operation.", Kind::Counter, |s| {
        s.ops.iter().map(|(k, o)| (o.count, op(k))).collect()
    }),
    ("mcpgw.call_errors", "Gateway tool calls that ended in a gateway error.", Kind::Counter, |s| {
        s.ops.iter().map(|(k, o)| (o.errors, op(k))).collect()
    }),
    ("mcpgw.server.calls", "Calls forwarded to a downstream server.", Kind::Counter, |s| {
        s.servers.iter().map(|(n, r)| (r.calls, server(n))).collect()
    }),
    ("mcpgw.server.errors", "Forwarded calls that failed (not counting isError results).", Kind::Counter, |s| {
        s.servers.iter().map(|(n, r)| (r.errors, server(n))).collect()
    }),
    ("mcpgw.server.restarts", "Times a downstream server was started again.", Kind::Counter, |s| {
        s.servers.iter().map(|(n, r)| (r.restarts, server(n))).collect()
    }),
    ("mcpgw.server.up", "1 when the downstream server is connected.", Kind::Gauge, |s| {
        s.servers.iter().map(|(n, r)| (u64::from(r.status == Status::Ready), server(n))).collect()
    }),
    ("mcpgw.reloads", "Configuration loads tried, by file.", Kind::Counter, |s| {
        s.files.iter().map(|(f, st)| (st.attempts, one("file", f))).collect()
    }),
    ("mcpgw.reload_failures", "Configuration loads that failed, by file.", Kind::Counter, |s| {
        s.files.iter().map(|(f, st)| (st.failures, one("file", f))).collect()
    }),
    (
        "mcpgw.shared_limits.fallback",
        "1 while Redis is unreachable and each replica limits on its own.",
        Kind::Gauge,
        |s| s.shared_limits.iter().map(|(f, _)| (u64::from(*f), Vec::new())).collect(),
    ),
    (
        "mcpgw.shared_limit_fallbacks",
        "Limit checks answered locally because Redis could not be reached.",
        Kind::Counter,
        |s| s.shared_limits.iter().map(|(_, n)| (*n, Vec::new())).collect(),
    ),
    ("mcpgw.telemetry.exported", "OpenTelemetry records the collector took (metrics: exports).", Kind::Counter, |s| {
        s.telemetry.iter().map(|(n, e, _)| (*e, one("signal", n))).collect()
    }),
    ("mcpgw.telemetry.dropped", "OpenTelemetry records dropped (metrics: exports).", Kind::Counter, |s| {
        s.telemetry.iter().map(|(n, _, d)| (*d, one("signal", n))).collect()
    }),
    ("mcpgw.policy", "The policy snapshot being served (always 1).", Kind::Gauge, |s| {
        vec![(1, vec![KeyValue::new("snapshot", s.snapshot.clone())])]
    }),
];

/// Registers an observer of every series on `meter`; the instruments are returned to be kept
/// for as long as the meter lives.
pub(super) fn register(meter: &Meter, source: Source) -> Vec<Box<dyn Any + Send + Sync>> {
    SERIES
        .iter()
        .map(|&(name, help, kind, read)| {
            let source = source.clone();
            let callback = move |o: &dyn AsyncInstrument<u64>| {
                if let Some(s) = source() {
                    for (v, attributes) in read(&s) {
                        o.observe(v, &attributes);
                    }
                }
            };
            let kept: Box<dyn Any + Send + Sync> = match kind {
                Kind::Counter => {
                    Box::new(meter.u64_observable_counter(name).with_description(help).with_callback(callback).build())
                }
                Kind::Gauge => {
                    Box::new(meter.u64_observable_gauge(name).with_description(help).with_callback(callback).build())
                }
            };
            kept
        })
        .collect()
}

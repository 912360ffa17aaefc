//! Export to an OpenTelemetry collector over OTLP: a span per gateway call and per downstream
//! request, the `/metrics` series, and the audit records as log records.
//!
//! Everything is configured by the standard `OTEL_*` environment ([`env::Plan`] decides which
//! signals go where; the OTLP exporters read endpoints, headers and timeouts, the SDK reads
//! batch sizes and delays). Nothing set: nothing exported, and the call path pays for one
//! `Option` check. Export runs on the SDK's batch threads behind bounded queues
//! ([`bounded`]), so a collector that is down or slow never holds up a call; what is lost is
//! counted and shown in the status and `/metrics`.

pub mod bounded;
pub mod env;
pub mod trace;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::{AsyncInstrument, Histogram, Meter, MeterProvider as _};
use opentelemetry::trace::{SpanContext, TracerProvider as _};
use opentelemetry_otlp::{ExporterBuildError, LogExporter, MetricExporter, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider};

use crate::telemetry::otel::bounded::{BoundedLogs, BoundedSpans, Counted, Tallies};
use crate::telemetry::otel::env::{EnvError, Plan, Signal, Transport};
use crate::telemetry::otel::trace::{CallTrace, TraceParent};
use crate::telemetry::scrape::Scrape;

/// The SDK's default batch queue size, when `OTEL_BSP_MAX_QUEUE_SIZE` /
/// `OTEL_BLRP_MAX_QUEUE_SIZE` do not set one.
const DEFAULT_QUEUE: usize = 2048;

/// How long shutdown waits for the last export.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(3);

/// Why export to a collector cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// The `OTEL_*` environment asks for something this gateway does not do.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// An exporter rejected its settings (an endpoint that is no URL, a malformed header).
    #[error("cannot set up the OTLP {signal} exporter ({transport}): {source}")]
    Exporter {
        /// The signal.
        signal: &'static str,
        /// Its transport.
        transport: Transport,
        /// Why.
        source: ExporterBuildError,
    },
}

/// Where a series of the scrape comes from, for the observers.
type Source = Arc<dyn Fn() -> Option<Scrape> + Send + Sync>;

/// Export to a collector (or, [`Otel::off`], nothing).
pub struct Otel {
    plan: Plan,
    tracer: Option<(SdkTracerProvider, SdkTracer)>,
    logs: Option<(SdkLoggerProvider, SdkLogger)>,
    meter: Option<(SdkMeterProvider, Meter, Histogram<f64>)>,
    tallies: Arc<Tallies>,
    /// The observable instruments, kept for as long as the meter lives.
    observers: Mutex<Vec<Box<dyn std::any::Any + Send + Sync>>>,
}

impl Otel {
    /// Exports nothing.
    pub fn off() -> Otel {
        Otel {
            plan: Plan::default(),
            tracer: None,
            logs: None,
            meter: None,
            tallies: Arc::default(),
            observers: Mutex::default(),
        }
    }

    /// Export as the process environment asks. Must run inside the Tokio runtime (the gRPC
    /// transport's connections live there).
    pub fn from_env() -> Result<Otel, OtelError> {
        Otel::from_plan(Plan::from_env(|k| std::env::var(k).ok())?)
    }

    /// Export as `plan` says.
    pub fn from_plan(plan: Plan) -> Result<Otel, OtelError> {
        let mut otel = Otel::off();
        otel.plan = plan;
        if !plan.any() {
            return Ok(otel);
        }
        let resource = resource();
        let tallies = otel.tallies.clone();
        let failed =
            |signal: Signal, transport| move |source| OtelError::Exporter { signal: signal.name(), transport, source };
        if let Some(t) = plan.traces {
            let exporter = match t {
                Transport::HttpProtobuf => SpanExporter::builder().with_http().build(),
                Transport::Grpc => SpanExporter::builder().with_tonic().build(),
            }
            .map_err(failed(Signal::Traces, t))?;
            let batch = BatchSpanProcessor::builder(Counted { inner: exporter, tallies: tallies.clone() }).build();
            let cap = queue_size("OTEL_BSP_MAX_QUEUE_SIZE");
            let provider = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_span_processor(BoundedSpans { inner: batch, tallies: tallies.clone(), cap })
                .build();
            let tracer = provider.tracer("mcpgw");
            otel.tracer = Some((provider, tracer));
        }
        if let Some(t) = plan.logs {
            let exporter = match t {
                Transport::HttpProtobuf => LogExporter::builder().with_http().build(),
                Transport::Grpc => LogExporter::builder().with_tonic().build(),
            }
            .map_err(failed(Signal::Logs, t))?;
            let batch = BatchLogProcessor::builder(Counted { inner: exporter, tallies: tallies.clone() }).build();
            let cap = queue_size("OTEL_BLRP_MAX_QUEUE_SIZE");
            let provider = SdkLoggerProvider::builder()
                .with_resource(resource.clone())
                .with_log_processor(BoundedLogs { inner: batch, tallies: tallies.clone(), cap })
                .build();
            let logger = provider.logger("mcpgw");
            otel.logs = Some((provider, logger));
        }
        if let Some(t) = plan.metrics {
            let exporter = match t {
                Transport::HttpProtobuf => MetricExporter::builder().with_http().build(),
                Transport::Grpc => MetricExporter::builder().with_tonic().build(),
            }
            .map_err(failed(Signal::Metrics, t))?;
            let reader = PeriodicReader::builder(Counted { inner: exporter, tallies: tallies.clone() }).build();
            let provider = SdkMeterProvider::builder().with_resource(resource).with_reader(reader).build();
            let meter = provider.meter("mcpgw");
            let duration = meter
                .f64_histogram("mcpgw.call.duration")
                .with_unit("s")
                .with_description("Time spent in the gateway per call.")
                .with_boundaries(crate::telemetry::prometheus::BUCKETS.to_vec())
                .build();
            otel.meter = Some((provider, meter, duration));
        }
        Ok(otel)
    }

    /// What is exported over which transport, for the startup summary: `traces (grpc),
    /// logs (http/protobuf)`, or `off`.
    pub fn summary(&self) -> String {
        let on: Vec<String> =
            Signal::ALL.iter().filter_map(|s| Some(format!("{} ({})", s.name(), self.plan.get(*s)?))).collect();
        if on.is_empty() { "off".to_owned() } else { on.join(", ") }
    }

    /// Whether anything is exported.
    pub fn is_on(&self) -> bool {
        self.plan.any()
    }

    /// Starts the span of a call named `name` under `parent` (nothing recorded with traces
    /// off; the parent still goes on downstream).
    pub fn call(&self, name: &'static str, parent: TraceParent) -> CallTrace {
        match &self.tracer {
            Some((_, tracer)) => CallTrace::start(tracer, name, parent),
            None => CallTrace::off(parent),
        }
    }

    /// Records a call's latency in the duration histogram.
    pub fn record_call(&self, agent_key: &str, operation: &'static str, latency: Duration) {
        if let Some((_, _, duration)) = &self.meter {
            let attributes = [KeyValue::new("agent", agent_key.to_owned()), KeyValue::new("operation", operation)];
            duration.record(latency.as_secs_f64(), &attributes);
        }
    }

    /// The sink of audit records, with logs exported.
    pub fn audit_logs(&self) -> Option<AuditLogs> {
        self.logs.as_ref().map(|(_, logger)| AuditLogs(logger.clone()))
    }

    /// Registers the observers of every `/metrics` series, read from `source` at each export.
    pub fn observe(&self, source: impl Fn() -> Option<Scrape> + Send + Sync + 'static) {
        let Some((_, meter, _)) = &self.meter else { return };
        let source: Source = Arc::new(source);
        let mut kept = self.observers.lock().unwrap_or_else(|e| e.into_inner());
        let op =
            |k: &(String, &'static str)| vec![KeyValue::new("agent", k.0.clone()), KeyValue::new("operation", k.1)];
        let server = |n: &String| vec![KeyValue::new("server", n.clone())];
        let file = |f: &'static str| vec![KeyValue::new("file", f)];
        let signal = |s: &'static str| vec![KeyValue::new("signal", s)];
        let counters: [(&'static str, &'static str, Read); 11] = [
            (
                "mcpgw.calls",
                "Gateway tool calls by agent and operation.",
                Box::new(move |s| s.ops.iter().map(|(k, o)| (o.count, op(k))).collect()),
            ),
            (
                "mcpgw.call_errors",
                "Gateway tool calls that ended in a gateway error.",
                Box::new(move |s| s.ops.iter().map(|(k, o)| (o.errors, op(k))).collect()),
            ),
            (
                "mcpgw.server.calls",
                "Calls forwarded to a downstream server.",
                Box::new(move |s| s.servers.iter().map(|(n, r)| (r.calls, server(n))).collect()),
            ),
            (
                "mcpgw.server.errors",
                "Forwarded calls that failed (not counting isError results).",
                Box::new(move |s| s.servers.iter().map(|(n, r)| (r.errors, server(n))).collect()),
            ),
            (
                "mcpgw.server.restarts",
                "Times a downstream server was started again.",
                Box::new(move |s| s.servers.iter().map(|(n, r)| (r.restarts, server(n))).collect()),
            ),
            (
                "mcpgw.reloads",
                "Configuration loads tried, by file.",
                Box::new(move |s| s.files.iter().map(|(f, st)| (st.attempts, file(f))).collect()),
            ),
            (
                "mcpgw.reload_failures",
                "Configuration loads that failed, by file.",
                Box::new(move |s| s.files.iter().map(|(f, st)| (st.failures, file(f))).collect()),
            ),
            (
                "mcpgw.shared_limit_fallbacks",
                "Limit checks answered locally because Redis could not be reached.",
                Box::new(|s| s.shared_limits.iter().map(|(_, n)| (*n, Vec::new())).collect()),
            ),
            (
                "mcpgw.telemetry.exported",
                "OpenTelemetry records the collector took (metrics: exports).",
                Box::new(move |s| s.telemetry.iter().map(|(n, e, _)| (*e, signal(n))).collect()),
            ),
            (
                "mcpgw.telemetry.dropped",
                "OpenTelemetry records dropped (metrics: exports).",
                Box::new(move |s| s.telemetry.iter().map(|(n, _, d)| (*d, signal(n))).collect()),
            ),
            (
                "mcpgw.policy",
                "The policy snapshot being served (always 1).",
                Box::new(|s| vec![(1, vec![KeyValue::new("snapshot", s.snapshot.clone())])]),
            ),
        ];
        for (name, help, read) in counters {
            let source = source.clone();
            let callback = move |o: &dyn AsyncInstrument<u64>| {
                if let Some(s) = source() {
                    for (v, attributes) in read(&s) {
                        o.observe(v, &attributes);
                    }
                }
            };
            let instrument: Box<dyn std::any::Any + Send + Sync> = if name == "mcpgw.policy" {
                Box::new(meter.u64_observable_gauge(name).with_description(help).with_callback(callback).build())
            } else {
                Box::new(meter.u64_observable_counter(name).with_description(help).with_callback(callback).build())
            };
            kept.push(instrument);
        }
        let gauges: [(&'static str, &'static str, Read); 2] = [
            (
                "mcpgw.server.up",
                "1 when the downstream server is connected.",
                Box::new(move |s| {
                    s.servers
                        .iter()
                        .map(|(n, r)| (u64::from(r.status == crate::downstream::Status::Ready), server(n)))
                        .collect()
                }),
            ),
            (
                "mcpgw.shared_limits.fallback",
                "1 while Redis is unreachable and each replica limits on its own.",
                Box::new(|s| s.shared_limits.iter().map(|(f, _)| (u64::from(*f), Vec::new())).collect()),
            ),
        ];
        for (name, help, read) in gauges {
            let source = source.clone();
            let gauge = meter
                .u64_observable_gauge(name)
                .with_description(help)
                .with_callback(move |o| {
                    if let Some(s) = source() {
                        for (v, attributes) in read(&s) {
                            o.observe(v, &attributes);
                        }
                    }
                })
                .build();
            kept.push(Box::new(gauge));
        }
    }

    /// For each exported signal: its name, what the collector took and what was dropped.
    pub fn tallies(&self) -> Vec<(&'static str, u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        Signal::ALL
            .into_iter()
            .filter(|s| self.plan.get(*s).is_some())
            .map(|s| {
                let t = self.tallies.of(s);
                (s.name(), t.exported.load(Relaxed), t.dropped.load(Relaxed))
            })
            .collect()
    }

    /// The status report: each signal's transport, what was exported and what was dropped.
    pub fn report(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for (name, exported, dropped) in self.tallies() {
            let transport = Signal::ALL.into_iter().find(|s| s.name() == name).and_then(|s| self.plan.get(s));
            out.insert(
                name.to_owned(),
                serde_json::json!({
                    "transport": transport.map(|t| t.to_string()),
                    "exported": exported,
                    "dropped": dropped,
                }),
            );
        }
        serde_json::json!({"enabled": self.is_on(), "signals": out})
    }

    /// Sends what is still queued and stops the exporters, within a bound. Blocks: call it
    /// off the runtime's worker threads.
    pub fn shutdown_blocking(&self) {
        if let Some((p, _)) = &self.tracer {
            let _ = p.shutdown_with_timeout(SHUTDOWN_LIMIT);
        }
        if let Some((p, _)) = &self.logs {
            let _ = p.shutdown_with_timeout(SHUTDOWN_LIMIT);
        }
        if let Some((p, _, _)) = &self.meter {
            let _ = p.shutdown_with_timeout(SHUTDOWN_LIMIT);
        }
    }
}

/// Reads some series of a scrape as values with their attributes.
type Read = Box<dyn Fn(&Scrape) -> Vec<(u64, Vec<KeyValue>)> + Send + Sync>;

/// The resource every signal carries: `service.name` (`mcpgw` unless `OTEL_SERVICE_NAME` or
/// `OTEL_RESOURCE_ATTRIBUTES` name it) and the version.
fn resource() -> Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let builder = Resource::builder().with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if named { builder.build() } else { builder.with_service_name("mcpgw").build() }
}

/// The queue size the SDK's batch processor reads from `var`, which bounds the wrapper too.
fn queue_size(var: &str) -> usize {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(DEFAULT_QUEUE)
}

/// Where audit records go as OpenTelemetry log records.
#[derive(Clone)]
pub struct AuditLogs(SdkLogger);

/// One audit record, as a log record carries it.
pub struct AuditLog<'a> {
    /// When the call arrived.
    pub ts: SystemTime,
    /// The JSON line, as the local audit log has it.
    pub body: &'a [u8],
    /// Whether the call failed.
    pub failed: bool,
    /// The record's fields worth querying, as attributes.
    pub attributes: Vec<(&'static str, String)>,
    /// The span of the call.
    pub trace: Option<&'a SpanContext>,
}

impl AuditLogs {
    /// Emits one record (queued; never waits).
    pub fn emit(&self, log: AuditLog<'_>) {
        let mut r = self.0.create_log_record();
        r.set_event_name("mcpgw.audit");
        r.set_timestamp(log.ts);
        r.set_observed_timestamp(SystemTime::now());
        let (severity, text) = if log.failed { (Severity::Warn, "WARN") } else { (Severity::Info, "INFO") };
        r.set_severity_number(severity);
        r.set_severity_text(text);
        r.set_body(AnyValue::String(String::from_utf8_lossy(log.body).into_owned().into()));
        r.add_attributes(log.attributes.into_iter().map(|(k, v)| (k, AnyValue::from(v))));
        if let Some(sc) = log.trace.filter(|sc| sc.is_valid()) {
            r.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
        }
        self.0.emit(r);
    }
}

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
mod logs;
mod observe;
pub mod trace;

pub use logs::{AuditLog, AuditLogs};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
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
        self.logs.as_ref().map(|(_, logger)| AuditLogs::new(logger.clone()))
    }

    /// Registers the observers of every `/metrics` series, read from `source` at each export.
    pub fn observe(&self, source: impl Fn() -> Option<Scrape> + Send + Sync + 'static) {
        if let Some((_, meter, _)) = &self.meter {
            let kept = observe::register(meter, Arc::new(source));
            self.observers.lock().unwrap_or_else(|e| e.into_inner()).extend(kept);
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

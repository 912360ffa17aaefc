//! Export that can never hold up a call: every record waits in a bounded queue, and what
//! cannot be queued or sent is dropped and counted.
//!
//! The SDK's batch processors already keep a bounded queue, but they count their drops only
//! for a log line at shutdown. These wrappers keep the bound themselves: a record is
//! admitted while fewer than `cap` (the processor's own queue size) wait for export, and the
//! exporter wrapper releases a batch as it is taken for export. So the processor's queue is
//! never full, and every lost record (not admitted, or in a batch the collector did not
//! take) is counted here, where the status and `/metrics` can show it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::telemetry::otel::env::Signal;

/// What one signal's export did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Records waiting for export.
    pending: AtomicUsize,
    /// Records (or, for metrics, exports) the collector took.
    pub exported: AtomicU64,
    /// Records (or, for metrics, exports) lost: the queue was full, or the collector could not
    /// be reached or refused them.
    pub dropped: AtomicU64,
    /// Exports that failed.
    failures: AtomicU64,
}

impl Tally {
    /// Admits one record into a queue of at most `cap`, or counts it dropped.
    fn admit(&self, cap: usize) -> bool {
        if self.pending.fetch_add(1, Ordering::Relaxed) >= cap {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// `n` records left the queue for the exporter.
    fn release(&self, n: usize) {
        // Saturating: a batch the SDK assembled from records not admitted here cannot exist,
        // but a miscount must not wrap and stop all export.
        let _ = self.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(p.saturating_sub(n)));
    }

    /// Counts the outcome of an export of `n` records of `signal`; a failure is logged the
    /// first time and then at every power of two, so a collector that stays down is visible
    /// without flooding the log.
    fn settle(&self, signal: Signal, n: usize, result: &OTelSdkResult) {
        match result {
            Ok(()) => {
                self.exported.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
                self.dropped.fetch_add(n as u64, Ordering::Relaxed);
                if failures.is_power_of_two() {
                    tracing::warn!(
                        signal = signal.name(),
                        failures,
                        "cannot export to the OpenTelemetry collector; dropped what it could not take: {e}"
                    );
                }
            }
        }
    }
}

/// The tallies of every signal.
#[derive(Debug, Default)]
pub struct Tallies {
    traces: Tally,
    metrics: Tally,
    logs: Tally,
}

impl Tallies {
    /// The tally of `signal`.
    pub fn of(&self, signal: Signal) -> &Tally {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

/// A span processor that admits at most `cap` spans waiting for export.
#[derive(Debug)]
pub struct BoundedSpans<P> {
    /// The SDK's batch processor.
    pub inner: P,
    /// Shared with the exporter.
    pub tallies: Arc<Tallies>,
    /// The bound.
    pub cap: usize,
}

impl<P: SpanProcessor> SpanProcessor for BoundedSpans<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.tallies.traces.admit(self.cap) {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log processor that admits at most `cap` records waiting for export.
#[derive(Debug)]
pub struct BoundedLogs<P> {
    /// The SDK's batch processor.
    pub inner: P,
    /// Shared with the exporter.
    pub tallies: Arc<Tallies>,
    /// The bound.
    pub cap: usize,
}

impl<P: LogProcessor> LogProcessor for BoundedLogs<P> {
    fn emit(&self, data: &mut SdkLogRecord, instrumentation: &InstrumentationScope) {
        if self.tallies.logs.admit(self.cap) {
            self.inner.emit(data, instrumentation);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that releases what it is given from the bound and counts the outcome.
#[derive(Debug)]
pub struct Counted<E> {
    /// The OTLP exporter.
    pub inner: E,
    /// Shared with the processor.
    pub tallies: Arc<Tallies>,
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        self.tallies.traces.release(n);
        let result = self.inner.export(batch).await;
        self.tallies.traces.settle(Signal::Traces, n, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for Counted<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count();
        self.tallies.logs.release(n);
        let result = self.inner.export(batch).await;
        self.tallies.logs.settle(Signal::Logs, n, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Metrics are aggregated in place and sent on a timer, so nothing queues: an export that
/// fails is counted as one drop.
impl<E: PushMetricExporter> PushMetricExporter for Counted<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.tallies.metrics.settle(Signal::Metrics, 1, &result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_admits_until_full_and_counts_the_rest() {
        let t = Tally::default();
        assert!(t.admit(2) && t.admit(2));
        assert!(!t.admit(2));
        assert_eq!(t.dropped.load(Ordering::Relaxed), 1);
        t.release(2);
        assert!(t.admit(2));
        t.release(5);
        assert!(t.admit(1), "an over-release saturates at an empty queue");
        t.settle(Signal::Traces, 3, &Ok(()));
        t.settle(Signal::Traces, 2, &Err(opentelemetry_sdk::error::OTelSdkError::Timeout(Duration::from_secs(1))));
        assert_eq!((t.exported.load(Ordering::Relaxed), t.dropped.load(Ordering::Relaxed)), (3, 3));
    }
}

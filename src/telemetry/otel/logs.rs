//! Audit records as OpenTelemetry log records.

use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::SpanContext;
use opentelemetry_sdk::logs::SdkLogger;

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
    pub(super) fn new(logger: SdkLogger) -> AuditLogs {
        AuditLogs(logger)
    }

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

//! The spans of one gateway call: one for the call, under the caller's W3C trace context,
//! and one child per request to a downstream server, whose context goes on to that server in
//! the request's `_meta`.
//!
//! With tracing off, nothing is recorded, but the caller's own context still goes on to the
//! server unchanged: the gateway stays out of the trace instead of cutting it.

use std::borrow::Cow;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;

use crate::wire::build::json_string;

/// The W3C trace context a request came with (the `_meta` members, else the HTTP headers).
#[derive(Debug, Clone, Default)]
pub struct TraceParent {
    /// `traceparent`.
    pub traceparent: Option<String>,
    /// `tracestate`.
    pub tracestate: Option<String>,
}

impl Extractor for TraceParent {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// `_meta` members, raw and without braces, as a propagator writes them.
#[derive(Default)]
struct MetaMembers(String);

impl Injector for MetaMembers {
    fn set(&mut self, key: &str, value: String) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(&json_string(key));
        self.0.push(':');
        self.0.push_str(&json_string(&value));
    }
}

/// The `_meta` members that carry `parent` on (empty when it has no trace context).
fn meta_of(parent: &TraceParent) -> String {
    let mut out = MetaMembers::default();
    if let Some(tp) = &parent.traceparent {
        out.set("traceparent", tp.clone());
        if let Some(ts) = &parent.tracestate {
            out.set("tracestate", ts.clone());
        }
    }
    out.0
}

/// The span of one gateway call (or, with tracing off, the caller's context alone).
pub struct CallTrace {
    live: Option<(SdkTracer, Context)>,
    parent: TraceParent,
}

impl CallTrace {
    /// A call that records no span.
    pub fn off(parent: TraceParent) -> CallTrace {
        CallTrace { live: None, parent }
    }

    /// Starts the span `name` of a call, as a child of `parent` when that is a valid context.
    pub(crate) fn start(tracer: &SdkTracer, name: &'static str, parent: TraceParent) -> CallTrace {
        let parent_cx = TraceContextPropagator::new().extract(&parent);
        let span = tracer.span_builder(name).with_kind(SpanKind::Server).start_with_context(tracer, &parent_cx);
        CallTrace { live: Some((tracer.clone(), parent_cx.with_span(span))), parent }
    }

    /// The span's context, for the audit record (`None` with tracing off).
    pub fn span_context(&self) -> Option<SpanContext> {
        self.live.as_ref().map(|(_, cx)| cx.span().span_context().clone())
    }

    /// Starts the span of a request `method` to `server`; its context goes in the request's
    /// `_meta` ([`DownstreamSpan::meta`]).
    pub fn downstream(&self, method: &str, server: &str) -> DownstreamSpan {
        let Some((tracer, cx)) = &self.live else {
            return DownstreamSpan { cx: None, meta: meta_of(&self.parent) };
        };
        let span = tracer
            .span_builder(method.to_owned())
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("mcp.method.name", method.to_owned()),
                KeyValue::new("mcpgw.server", server.to_owned()),
            ])
            .start_with_context(tracer, cx);
        let cx = cx.with_span(span);
        let mut meta = MetaMembers::default();
        TraceContextPropagator::new().inject_context(&cx, &mut meta);
        DownstreamSpan { cx: Some(cx), meta: meta.0 }
    }

    /// Ends the call's span with what the audit record says of it.
    pub fn end(&self, attributes: Vec<KeyValue>, error: Option<&'static str>) {
        if let Some((_, cx)) = &self.live {
            let span = cx.span();
            span.set_attributes(attributes);
            if let Some(code) = error {
                span.set_status(Status::error(code));
            }
            span.end();
        }
    }
}

/// The span of one request to a downstream server.
pub struct DownstreamSpan {
    cx: Option<Context>,
    meta: String,
}

impl DownstreamSpan {
    /// The `_meta` members (raw, without braces) that carry this span's context to the
    /// server: `traceparent` and `tracestate`, or nothing.
    pub fn meta(&self) -> &str {
        &self.meta
    }

    /// Ends the span; `error` is the failure's message.
    pub fn end(self, error: Option<Cow<'_, str>>) {
        if let Some(cx) = self.cx {
            let span = cx.span();
            if let Some(e) = error {
                span.set_status(Status::error(e.into_owned()));
            }
            span.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_tracing_the_callers_context_goes_on_unchanged() {
        let parent = TraceParent {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: Some("k=v".into()),
        };
        let call = CallTrace::off(parent);
        assert!(call.span_context().is_none());
        let down = call.downstream("tools/call", "s");
        assert_eq!(
            down.meta(),
            r#""traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tracestate":"k=v""#
        );
        assert_eq!(CallTrace::off(TraceParent::default()).downstream("tools/call", "s").meta(), "");
    }
}

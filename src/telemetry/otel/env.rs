//! Which signals go to a collector, and over which transport, from the standard `OTEL_*`
//! environment. Endpoints, headers, timeouts and batch settings are read by the OTLP
//! exporters and the SDK themselves; this reads only what decides whether and how to start.

use std::fmt;

/// An OpenTelemetry signal the gateway exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans: one per gateway call, one per downstream call.
    Traces,
    /// The `/metrics` series.
    Metrics,
    /// Audit records.
    Logs,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// The signal's part of variable names (`TRACES` ...).
    fn var(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    /// The lowercase name, for messages and status output.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// How a signal reaches its collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP over HTTP with protobuf bodies (the specification's default).
    HttpProtobuf,
    /// OTLP over gRPC.
    Grpc,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::HttpProtobuf => "http/protobuf",
            Transport::Grpc => "grpc",
        })
    }
}

/// Why the telemetry settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// `OTEL_*_EXPORTER` names an exporter this gateway does not have.
    #[error("{var}: unsupported exporter `{value}` (use `otlp` or `none`)")]
    Exporter {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
    },
    /// `OTEL_EXPORTER_OTLP_*PROTOCOL` names a transport this gateway does not have.
    #[error("{var}: unsupported protocol `{value}` (use `http/protobuf` or `grpc`)")]
    Protocol {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
    },
}

/// The transport of each signal that is exported (`None`: not exported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    /// Spans.
    pub traces: Option<Transport>,
    /// Metrics.
    pub metrics: Option<Transport>,
    /// Audit records as logs.
    pub logs: Option<Transport>,
}

impl Plan {
    /// The transport of `signal`, if it is exported.
    pub fn get(&self, signal: Signal) -> Option<Transport> {
        match signal {
            Signal::Traces => self.traces,
            Signal::Metrics => self.metrics,
            Signal::Logs => self.logs,
        }
    }

    fn set(&mut self, signal: Signal, transport: Option<Transport>) {
        match signal {
            Signal::Traces => self.traces = transport,
            Signal::Metrics => self.metrics = transport,
            Signal::Logs => self.logs = transport,
        }
    }

    /// Whether anything is exported.
    pub fn any(&self) -> bool {
        self.traces.is_some() || self.metrics.is_some() || self.logs.is_some()
    }

    /// What the environment (`get` reads one variable) asks for. A signal is exported when an
    /// OTLP endpoint is set for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or the signal's own) or its
    /// exporter is set to `otlp`, unless its exporter is `none` or `OTEL_SDK_DISABLED` is
    /// `true`. A gateway with nothing set exports nothing (no connection attempts to a
    /// collector nobody runs).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Plan, EnvError> {
        let set = |var: &str| get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut plan = Plan::default();
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(plan);
        }
        for signal in Signal::ALL {
            let exporter_var = format!("OTEL_{}_EXPORTER", signal.var());
            let wanted = match set(&exporter_var) {
                None => {
                    set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                        || set(&format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.var())).is_some()
                }
                Some(v) if v == "none" => false,
                Some(v) if v == "otlp" => true,
                Some(value) => return Err(EnvError::Exporter { var: exporter_var, value }),
            };
            if !wanted {
                continue;
            }
            let own = format!("OTEL_EXPORTER_OTLP_{}_PROTOCOL", signal.var());
            let (var, value) = match set(&own) {
                Some(v) => (own, v),
                None => {
                    ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), set("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_default())
                }
            };
            let transport = match value.as_str() {
                "" | "http/protobuf" => Transport::HttpProtobuf,
                "grpc" => Transport::Grpc,
                _ => return Err(EnvError::Protocol { var, value }),
            };
            plan.set(signal, Some(transport));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(vars: &[(&str, &str)]) -> Result<Plan, EnvError> {
        Plan::from_env(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn nothing_set_exports_nothing() {
        assert!(!plan(&[]).unwrap().any());
        assert!(!plan(&[("OTEL_SERVICE_NAME", "x")]).unwrap().any());
    }

    #[test]
    fn an_endpoint_turns_every_signal_on_over_http_protobuf() {
        let p = plan(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]).unwrap();
        assert_eq!(p, Plan { traces: Some(Transport::HttpProtobuf), metrics: p.traces, logs: p.traces });
    }

    #[test]
    fn signals_choose_their_own_transport_and_can_be_turned_off() {
        let p = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ])
        .unwrap();
        assert_eq!(p, Plan { traces: Some(Transport::Grpc), metrics: None, logs: Some(Transport::HttpProtobuf) });
        let only = plan(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:4318/v1/traces")]).unwrap();
        assert_eq!(only, Plan { traces: Some(Transport::HttpProtobuf), metrics: None, logs: None });
        let disabled = plan(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318"), ("OTEL_SDK_DISABLED", "true")]);
        assert!(!disabled.unwrap().any());
    }

    #[test]
    fn unknown_exporters_and_protocols_are_named() {
        let e = plan(&[("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err();
        assert_eq!(e.to_string(), "OTEL_TRACES_EXPORTER: unsupported exporter `zipkin` (use `otlp` or `none`)");
        let e = plan(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol `http/json` (use `http/protobuf` or `grpc`)"
        );
    }
}

//! Export to a real OpenTelemetry collector (rotel, from PyPI) over OTLP, configured by the
//! standard `OTEL_*` environment (DESIGN section 15): a span per gateway call under the
//! caller's W3C trace context, a child span per downstream request whose context reaches the
//! server, the audit records as log records tied to the call's span, and the `/metrics`
//! series; over HTTP/protobuf and gRPC. A collector that is down or too slow holds up no
//! call, and what it loses is counted.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::collector::{Collector, Printed};
use crate::support::http::{HttpGatewayBuilder, raw_request};
use crate::support::raw::RawGateway;
use crate::support::*;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";
const WAIT: Duration = Duration::from_secs(20);

/// The environment that sends every signal to `endpoint` over `protocol`, quickly.
fn otel_env(endpoint: &str, protocol: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300".to_owned()),
        ("OTEL_SERVICE_NAME", "mcpgw-under-test".to_owned()),
    ]
}

fn str_attr(value: &str) -> String {
    format!("Str({value})")
}

fn named<'a>(name: &'a str, trace: &'a str) -> impl Fn(&Printed) -> bool + 'a {
    move |r| r.get("Name").is_some_and(|n| n == name) && r.get("Trace ID").is_some_and(|t| t == trace)
}

/// A stdio gateway over one logged fixture `fx`, exporting as `env` says.
async fn stdio_gateway(files: &TempFiles, log: &std::path::Path, env: &[(&'static str, String)]) -> RawGateway {
    let servers = [("fx", logged_fixture("fx", log, &[]))];
    let mut spawn = gateway_spawn(files, &servers, &allow_all(), &[]);
    for (k, v) in env {
        spawn = spawn.env(k, v);
    }
    RawGateway::start(&spawn).await
}

async fn echo(gw: &mut RawGateway, meta: Value) -> Value {
    let params = json!({"name": "execute_tool", "arguments": exec("fx", "echo", json!({"text": "hi"})), "_meta": meta});
    gw.request("tools/call", params).await
}

#[tokio::test]
async fn a_call_sends_its_spans_audit_record_and_metrics_to_a_real_collector_over_http_protobuf() {
    let collector = Collector::start().await;
    let files = TempFiles::new();
    let log = files.file_path("fixture.log");
    let env = otel_env(&format!("http://{}", collector.http), "http/protobuf");
    let mut gw = stdio_gateway(&files, &log, &env).await;
    let r = echo(&mut gw, json!({"traceparent": format!("00-{TRACE}-{PARENT}-01"), "tracestate": "vendor=1"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");

    // The call's span continues the caller's trace, under the caller's span.
    let call = collector.wait_for("Span #", WAIT, named("execute_tool", TRACE)).await;
    let call = call.unwrap_or_else(|| panic!("no execute_tool span; the collector printed:\n{}", collector.text()));
    assert_eq!(call["Parent ID"], PARENT, "{call:?}");
    assert_eq!(call["Kind"], "SPAN_KIND_SERVER", "{call:?}");
    assert_eq!(call["mcpgw.agent"], str_attr("dev"), "{call:?}");
    assert_eq!((&call["mcpgw.server"], &call["mcpgw.tool"]), (&str_attr("fx"), &str_attr("echo")), "{call:?}");
    assert_eq!(call["mcpgw.outcome"], str_attr("ok"), "{call:?}");
    let call_id = call["ID"].clone();

    // The downstream request is its child, and the server got that child's context.
    let down = collector.wait_for("Span #", WAIT, named("tools/call", TRACE)).await.expect("a tools/call span");
    assert_eq!(down["Parent ID"], call_id, "{down:?}");
    assert_eq!(down["Kind"], "SPAN_KIND_CLIENT", "{down:?}");
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        seen.contains(&format!("call echo traceparent=00-{TRACE}-{}-01", down["ID"])),
        "the server got the downstream span's context: {seen}"
    );

    // The audit record arrives as a log record tied to the call's span, and stays on disk.
    let audit = collector
        .wait_for("LogRecord #", WAIT, |r| r.get("EventName").is_some_and(|e| e == "mcpgw.audit"))
        .await
        .unwrap_or_else(|| panic!("no audit log record; the collector printed:\n{}", collector.text()));
    assert_eq!((&audit["Trace ID"], &audit["Span ID"]), (&TRACE.to_owned(), &call_id), "{audit:?}");
    assert!(audit["Body"].contains(r#""operation":"execute_tool""#), "{audit:?}");
    assert_eq!(audit["mcpgw.decision"], str_attr("allow"), "{audit:?}");
    let on_disk = gateway::audited_operations(&files.file_path("audit.jsonl"), "execute_tool", 1).await;
    assert_eq!(on_disk[0]["tool"], "echo");

    // The /metrics series, and the service name from the environment.
    let metrics = eventually(WAIT, || {
        let text = collector.text();
        ["mcpgw.calls", "mcpgw.call.duration", "mcpgw.server.up", "mcpgw.telemetry.exported"]
            .iter()
            .all(|m| text.contains(&format!("Name: {m}")))
    })
    .await;
    assert!(metrics, "the metrics arrive: {}", collector.text());
    assert!(collector.text().contains("service.name: Str(mcpgw-under-test)"));

    // The status counts what went out.
    let status = gw.call("get_gateway_status", json!({"agent_id": "dev"})).await;
    let telemetry = &status["result"]["structuredContent"]["telemetry"];
    assert_eq!(telemetry["signals"]["traces"]["transport"], "http/protobuf", "{telemetry}");
    assert!(telemetry["signals"]["traces"]["exported"].as_u64().is_some_and(|n| n >= 2), "{telemetry}");
    assert_eq!(telemetry["signals"]["traces"]["dropped"], 0, "{telemetry}");
}

/// gRPC export from the stdio gateway, whose runtime runs on one thread: the exporter's
/// connection lives on that runtime and the spans still arrive.
#[tokio::test]
async fn over_stdio_grpc_export_delivers_the_calls_span() {
    let collector = Collector::start().await;
    let files = TempFiles::new();
    let log = files.file_path("fixture.log");
    let env = otel_env(&format!("http://{}", collector.grpc), "grpc");
    let mut gw = stdio_gateway(&files, &log, &env).await;
    let r = echo(&mut gw, json!({"traceparent": format!("00-{TRACE}-{PARENT}-01")})).await;
    assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");
    let call = collector.wait_for("Span #", WAIT, named("execute_tool", TRACE)).await;
    let call = call.unwrap_or_else(|| panic!("no execute_tool span; the collector printed:\n{}", collector.text()));
    assert_eq!(call["Parent ID"], PARENT, "{call:?}");
}

#[tokio::test]
async fn over_http_with_grpc_export_the_traceparent_header_is_continued() {
    let collector = Collector::start().await;
    let servers = [("fx", fixture_server(&["--name", "fx"]))];
    let token = "token-of-the-agent-dev";
    let mut builder = HttpGatewayBuilder::new(&servers, allow_all())
        .gateway_section(json!({"http": {"tokens": [{"agent": "dev", "token": token}], "admin_tokens": [{"token": "token-of-the-operator"}]}}));
    for (k, v) in otel_env(&format!("http://{}", collector.grpc), "grpc") {
        builder = builder.env(k, &v);
    }
    let gw = builder.start().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "execute_tool", "arguments": {"server": "fx", "tool": "echo", "args": {"text": "over http"}},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    }});
    let auth = format!("Bearer {token}");
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("authorization", auth.as_str()),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "execute_tool"),
        ("traceparent", traceparent.as_str()),
    ];
    let r = raw_request(gw.addr, "POST", "/mcp", &headers, &body.to_string()).await.expect("a response");
    assert_eq!(r.result()["content"][0]["text"], "over http", "{r:?}");
    let call = collector.wait_for("Span #", WAIT, named("execute_tool", trace)).await;
    let call = call.unwrap_or_else(|| panic!("no span under the header's trace; collector:\n{}", collector.text()));
    assert_eq!(call["Parent ID"], "00f067aa0ba902b7", "{call:?}");
    let down = collector.wait_for("Span #", WAIT, named("tools/call", trace)).await.expect("the downstream span");
    assert_eq!(down["Parent ID"], call["ID"]);
    let audit = collector.wait_for("LogRecord #", WAIT, |r| r.get("Trace ID").is_some_and(|t| t == trace)).await;
    assert!(audit.is_some(), "the audit record arrives over gRPC too: {}", collector.text());
    // `/metrics` shows what went out.
    let deadline = tokio::time::Instant::now() + WAIT;
    let exported = r#"mcpgw_telemetry_exported_total{signal="traces"}"#;
    loop {
        let metrics = gw.get("/metrics", &[("authorization", "Bearer token-of-the-operator")]).await;
        // Counted once the batch is out: not 0.
        let line = metrics.body.lines().find(|l| l.starts_with(exported)).map(str::to_owned);
        if line.as_deref().is_some_and(|l| !l.ends_with(" 0")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "/metrics counts the export: {}", metrics.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_collector_that_is_down_or_full_holds_up_no_call_and_its_losses_are_counted() {
    // Nothing listens on the endpoint.
    let nobody = free_port();
    let files = TempFiles::new();
    let log = files.file_path("fixture.log");
    let mut env = otel_env(&format!("http://{nobody}"), "http/protobuf");
    // A queue of two spans: a burst of calls fills it before any export.
    env.push(("OTEL_BSP_MAX_QUEUE_SIZE", "2".to_owned()));
    env.push(("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2".to_owned()));
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "5000".to_owned()));
    let mut gw = stdio_gateway(&files, &log, &env).await;
    for i in 0..20 {
        let r = echo(&mut gw, json!({})).await;
        assert_eq!(r["result"]["content"][0]["text"], "hi", "call {i} is served: {r}");
    }
    // Every call is on disk.
    let on_disk = gateway::audited_operations(&files.file_path("audit.jsonl"), "execute_tool", 20).await;
    assert_eq!(on_disk.len(), 20);
    let mut telemetry;
    let counted = {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let status = gw.call("get_gateway_status", json!({"agent_id": "dev"})).await;
            telemetry = status["result"]["structuredContent"]["telemetry"]["signals"].clone();
            let lost = |s: &str| telemetry[s]["dropped"].as_u64().unwrap_or(0);
            // Spans: far more than the queue of two; logs: at least one failed export.
            if lost("traces") >= 18 && lost("logs") >= 1 && lost("metrics") >= 1 {
                break true;
            }
            if tokio::time::Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert!(counted, "the losses are counted: {telemetry}");
    assert_eq!(telemetry["traces"]["exported"], 0, "{telemetry}");
    let stderr = gw.child().stderr().clone();
    let warned = stderr.wait_for_line("cannot export to the OpenTelemetry collector", WAIT).await;
    assert!(warned.is_some(), "the failure is logged: {}", stderr.text());
}

#[tokio::test]
async fn telemetry_settings_the_gateway_cannot_use_stop_it_with_a_clear_message() {
    let files = TempFiles::new();
    let servers = [("fx", fixture_server(&["--name", "fx"]))];
    let cases = [
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ],
            "telemetry: OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol `http/json` (use `http/protobuf` or `grpc`)",
        ),
        (
            vec![("OTEL_TRACES_EXPORTER", "zipkin")],
            "telemetry: OTEL_TRACES_EXPORTER: unsupported exporter `zipkin` (use `otlp` or `none`)",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")],
            "telemetry: cannot set up the OTLP traces exporter (http/protobuf)",
        ),
    ];
    for (env, message) in cases {
        let mut spawn = gateway_spawn(&files, &servers, &allow_all(), &[]);
        for (k, v) in &env {
            spawn = spawn.env(k, v);
        }
        let mut child = spawn.spawn().expect("spawn mcpgw");
        let status = child.wait_exit(WAIT).await.expect("the gateway stops");
        assert_eq!(status.code(), Some(1), "{env:?}");
        // The pipe may still be draining after the exit.
        let said = child.stderr().wait_for_line(message, WAIT).await;
        assert!(said.is_some(), "{env:?}: {}", child.stderr().text());
    }
}

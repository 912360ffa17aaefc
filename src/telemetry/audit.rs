//! The audit trail: one JSON line per gateway tool call.
//!
//! Records go through a bounded channel to a writer thread, so the request path never waits
//! on the disk. When the writer falls behind and the channel is full, the request waits for room
//! (nothing is dropped) and the event is counted and logged. The explanation of each decision
//! is computed by the writer, from the snapshot the request was judged by, once per question
//! ([`Explained`]). With logs exported
//! to an OpenTelemetry collector, the writer also emits each record as a log record (queued,
//! never waited for), tied to the call's span.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use std::io::Write as _;
use tokio::sync::{mpsc, oneshot};

use crate::config::PolicySnapshot;
use crate::error::ErrorCode;
use crate::logging::clock::rfc3339;
use crate::policy::{ItemKind, RuleRef};
use crate::telemetry::explained::Explained;
use crate::telemetry::otel::{AuditLog, AuditLogs};

/// Records waiting for the writer before requests start to wait.
const QUEUE: usize = 8192;

/// One gateway tool call, as the audit log records it.
pub struct AuditEvent {
    /// When the call arrived.
    pub ts: SystemTime,
    /// The gateway tool.
    pub operation: &'static str,
    /// The agent the call was judged as.
    pub agent: Option<String>,
    /// The id a spoofing request claimed, when it named another agent than the bound one.
    pub claimed_agent: Option<String>,
    /// The server concerned.
    pub server: Option<String>,
    /// The tool concerned.
    pub tool: Option<String>,
    /// The policy decision, when one was made.
    pub decided: Option<Decided>,
    /// The snapshot that served the call when it made no single decision (`list_servers`,
    /// `get_gateway_status`); `decision` and `reason` are then null.
    pub snapshot: Option<String>,
    /// `None` for success, else the error code.
    pub outcome: Option<ErrorCode>,
    /// Time spent in the gateway, downstream included.
    pub latency: Duration,
    /// The tool arguments, only with `--audit-args`.
    pub args: Option<Value>,
    /// What happened beyond the outcome (a quarantined tool: what changed).
    pub detail: Option<String>,
    /// The call's span, when traces are exported.
    pub trace: Option<opentelemetry::trace::SpanContext>,
}

/// A policy decision a call acted on: the question and the snapshot that answered it. The
/// writer explains it (off the request path) for the record's decision, reason and
/// determining rules.
#[derive(Clone)]
pub struct Decided {
    /// The snapshot that decided.
    pub snapshot: Arc<PolicySnapshot>,
    /// The agent the request was judged as (before default resolution).
    pub agent: Option<String>,
    /// The server asked about.
    pub server: String,
    /// The tool, resource or prompt asked about (`None`: the server alone).
    pub item: Option<(ItemKind, String)>,
}

enum Msg {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// Counters for status output.
#[derive(Debug, Default)]
struct AuditStats {
    /// Lines written.
    written: AtomicU64,
    /// Times a request had to wait because the writer was behind.
    backpressure: AtomicU64,
    /// Lines that could not be written (disk errors).
    write_errors: AtomicU64,
}

/// The audit log handle.
pub struct Audit {
    tx: Option<mpsc::Sender<Msg>>,
    path: Option<PathBuf>,
    stats: Arc<AuditStats>,
}

impl Audit {
    /// An audit log that records nothing (for tools and tests that do not want one).
    pub fn disabled() -> Audit {
        Audit { tx: None, path: None, stats: Arc::default() }
    }

    /// Opens (appends to) the log at `path`, creating its directory, and starts the writer,
    /// which also emits each record to `logs` when given.
    pub async fn open(path: &Path, logs: Option<AuditLogs>) -> std::io::Result<Audit> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Audit::start(Some(file), logs, Some(path.to_owned()))
    }

    /// Records go only to `logs` (no local file), or nowhere without them.
    pub fn without_file(logs: Option<AuditLogs>) -> Audit {
        match logs {
            Some(logs) => Audit::start(None, Some(logs), None).unwrap_or_else(|e| {
                tracing::warn!("cannot start the audit writer ({e}); audit records are not exported");
                Audit::disabled()
            }),
            None => Audit::disabled(),
        }
    }

    fn start(file: Option<std::fs::File>, logs: Option<AuditLogs>, path: Option<PathBuf>) -> std::io::Result<Audit> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(AuditStats::default());
        let writer_stats = stats.clone();
        std::thread::Builder::new()
            .name("mcpgw-audit".into())
            .spawn(move || write_loop(file, logs, rx, writer_stats))?;
        Ok(Audit { tx: Some(tx), path, stats })
    }

    /// The counters, for the status: whether auditing is on, lines written, waits for the
    /// writer, write errors.
    pub fn report(&self) -> serde_json::Value {
        serde_json::json!({
            "enabled": self.path.is_some(),
            "written": self.stats.written.load(Ordering::Relaxed),
            "writer_behind_events": self.stats.backpressure.load(Ordering::Relaxed),
            "write_errors": self.stats.write_errors.load(Ordering::Relaxed),
        })
    }

    /// Where the log is written.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Queues one record; waits for room if the writer is behind, and says so.
    pub async fn record(&self, event: AuditEvent) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let n = self.stats.backpressure.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!("audit writer is behind; requests wait for it (happened {} times)", n + 1);
                }
                let _ = tx.send(msg).await;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Waits until every record queued so far is on disk (bounded by `limit`).
    pub async fn flush(&self, limit: Duration) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(limit, wait).await;
        }
    }
}

/// The writer: a thread of its own with plain blocking writes (through tokio's file, every
/// write was a hop to its blocking pool: a twelfth of a loaded gateway's CPU).
fn write_loop(
    file: Option<std::fs::File>,
    logs: Option<AuditLogs>,
    mut rx: mpsc::Receiver<Msg>,
    stats: Arc<AuditStats>,
) {
    let mut out = file.map(std::io::BufWriter::new);
    let mut explained = Explained::default();
    let mut seq: u64 = 0;
    let run = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    while let Some(msg) = rx.blocking_recv() {
        let mut pending = Some(msg);
        // Write everything queued, then flush once.
        while let Some(msg) = pending.take().or_else(|| rx.try_recv().ok()) {
            match msg {
                Msg::Event(ev) => {
                    seq += 1;
                    let id = format!("{run:x}-{seq}");
                    let line = line(&ev, &id, &mut explained);
                    let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
                    if let Some(logs) = &logs {
                        logs.emit(as_log(&ev, &line, &bytes));
                    }
                    let Some(out) = out.as_mut() else { continue };
                    bytes.push(b'\n');
                    if out.write_all(&bytes).is_ok() {
                        stats.written.fetch_add(1, Ordering::Relaxed);
                    } else {
                        stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Msg::Flush(done) => {
                    if let Some(out) = out.as_mut() {
                        let _ = out.flush();
                    }
                    let _ = done.send(());
                }
            }
        }
        if let Some(out) = out.as_mut()
            && out.flush().is_err()
        {
            stats.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    if let Some(out) = out.as_mut() {
        let _ = out.flush();
    }
}

/// One record as a log record: the line as the body, the fields worth querying as
/// attributes, and the call's span.
fn as_log<'a>(ev: &'a AuditEvent, line: &Line<'_>, bytes: &'a [u8]) -> AuditLog<'a> {
    let mut attributes = vec![
        ("mcpgw.decision_id", line.decision_id.to_owned()),
        ("mcpgw.operation", line.operation.to_owned()),
        ("mcpgw.outcome", line.outcome.to_owned()),
    ];
    let optional = [
        ("mcpgw.agent", line.agent_id),
        ("mcpgw.server", line.server),
        ("mcpgw.tool", line.tool),
        ("mcpgw.decision", line.decision),
        ("mcpgw.reason", line.reason),
    ];
    attributes.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?.to_owned()))));
    AuditLog { ts: ev.ts, body: bytes, failed: ev.outcome.is_some(), attributes, trace: ev.trace.as_ref() }
}

/// One audit line, serialized straight from borrowed fields (no intermediate JSON tree: the
/// writer is on the busiest path of a loaded gateway).
#[derive(serde::Serialize)]
struct Line<'a> {
    ts: String,
    decision_id: &'a str,
    agent_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    judged_as: Option<String>,
    operation: &'a str,
    server: Option<&'a str>,
    tool: Option<&'a str>,
    decision: Option<&'static str>,
    reason: Option<&'static str>,
    determining_rules: Vec<RuleRef>,
    snapshot: Option<String>,
    outcome: &'static str,
    latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    spoofed_agent_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// The fields of one event's line.
fn line<'a>(ev: &'a AuditEvent, decision_id: &'a str, explained: &mut Explained) -> Line<'a> {
    let mut line = Line {
        ts: rfc3339(ev.ts),
        decision_id,
        agent_id: ev.agent.as_deref(),
        judged_as: None,
        operation: ev.operation,
        server: ev.server.as_deref(),
        tool: ev.tool.as_deref(),
        decision: None,
        reason: None,
        determining_rules: Vec::new(),
        snapshot: ev.snapshot.clone(),
        outcome: ev.outcome.map_or("ok", ErrorCode::as_str),
        latency_ms: (ev.latency.as_secs_f64() * 1e6).round() / 1e3,
        spoofed_agent_id: ev.claimed_agent.as_deref(),
        args: ev.args.as_ref(),
        detail: ev.detail.as_deref(),
    };
    if let Some(j) = &ev.decided {
        let why = explained.why(j);
        line.decision = Some(why.decision);
        line.reason = Some(why.reason);
        // The request had no (or an unknown) id and the default agent's rules applied.
        line.judged_as = why.judged_as;
        line.determining_rules = why.determining_rules;
        line.snapshot = Some(why.snapshot);
    }
    line
}

/// The default audit log: `$XDG_CACHE_HOME/agent-mcp-gateway/audit.jsonl`, else under
/// `~/.cache`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("agent-mcp-gateway").join("audit.jsonl"))
}

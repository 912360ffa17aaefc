//! A real OpenTelemetry collector: rotel (from PyPI, whose wheel carries its binary;
//! `scripts/setup-test-deps.sh` installs it into `.tools/otel`), listening for OTLP over gRPC
//! and HTTP on loopback. Its debug exporter prints every span, log record and metric it
//! receives in detail; the output goes to a file that the tests read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{ChildProcess, Spawn, TempFiles, eventually, free_port, listening};

/// The rotel binary inside the venv's `site-packages`.
fn rotel_bin() -> PathBuf {
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/otel/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten().map(|d| d.path().join("site-packages/rotel/rotel-agent")).find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("no rotel under {} (run scripts/setup-test-deps.sh)", lib.display()))
}

/// One record the collector printed: a span or a log record, as its fields (`Trace ID`,
/// `Parent ID`, `ID`, `Name`, `Span ID`, `EventName`, `Body` ...) and attributes (`mcpgw.agent`
/// ...), each value as printed (attributes as `Str(...)`).
pub type Printed = HashMap<String, String>;

/// A running collector.
pub struct Collector {
    /// Where it takes OTLP over gRPC.
    pub grpc: SocketAddr,
    /// Where it takes OTLP over HTTP.
    pub http: SocketAddr,
    out: PathBuf,
    _files: TempFiles,
    _child: ChildProcess,
}

impl Collector {
    /// Starts a collector on two free loopback ports and waits until both listen.
    pub async fn start() -> Collector {
        let (grpc, http) = (free_port(), free_port());
        let files = TempFiles::new();
        let out = files.file_path("collector.out");
        let pid = files.file_path("rotel.pid");
        // Through a shell only to send stdout to the file (the test harness pipes stdout).
        let command = format!(
            "exec '{}' start --otlp-grpc-endpoint {grpc} --otlp-http-endpoint {http} --pid-file '{}' \
             --exporter blackhole --debug-log traces --debug-log logs --debug-log metrics \
             --debug-log-verbosity detailed >'{}' 2>&1",
            rotel_bin().display(),
            pid.display(),
            out.display()
        );
        let spawn = Spawn::new("sh").args(["-c", &command]);
        let child = listening(spawn, "rotel", grpc).await;
        let http_up = eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect_timeout(&http, Duration::from_millis(200)).is_ok()
        })
        .await;
        assert!(http_up, "rotel did not listen for OTLP/HTTP on {http}");
        Collector { grpc, http, out, _files: files, _child: child }
    }

    /// Everything it printed so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The spans (`Span #`) or log records (`LogRecord #`) printed so far, by `kind`.
    pub fn printed(&self, kind: &str) -> Vec<Printed> {
        let mut out = Vec::new();
        let mut current: Option<Printed> = None;
        for line in self.text().lines() {
            if line.starts_with(kind) {
                out.extend(current.take());
                current = Some(Printed::new());
                continue;
            }
            // A new resource or scope ends a record.
            if line.starts_with("Resource") || line.starts_with("Scope") || line.starts_with("Span #") {
                out.extend(current.take());
                continue;
            }
            let Some(record) = current.as_mut() else { continue };
            let pair = match line.trim_start().strip_prefix("-> ") {
                Some(attribute) => attribute.split_once(": "),
                None => line.split_once(" : ").or_else(|| line.split_once(": ")),
            };
            if let Some((k, v)) = pair {
                record.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        out.extend(current);
        out
    }

    /// Waits until a record of `kind` matches `want`, and returns it (`None` after
    /// `timeout`).
    pub async fn wait_for(&self, kind: &str, timeout: Duration, want: impl Fn(&Printed) -> bool) -> Option<Printed> {
        let mut found = None;
        eventually(timeout, || {
            found = self.printed(kind).into_iter().find(|r| want(r));
            found.is_some()
        })
        .await;
        found
    }
}

//! `soak`: a long run of mixed calls and reloads against one gateway, with its memory, file
//! descriptors and child processes sampled as it goes. `bench/soak.sh` builds and runs it.
//!
//! The gateway (the release build) fronts three fixture servers: `a` and `b` for the calls,
//! and `flaky`, which is crashed on purpose every `--crash-seconds` and must come back.
//! Workers call the four gateway tools in a fixed mix (echo, add, progress, short sleeps, a
//! call that times out and is cancelled, a 256 KiB result, a call the policy denies, listings
//! and status), and check every answer: a wrong answer or an unexpected error is an error.
//! The rules file is rewritten every `--reload-seconds` (two versions that differ in a rule no
//! call depends on, so every answer stays predictable), and every third reload adds or removes
//! a server in `.mcp.json`; each reload must show up in `get_gateway_status`.
//!
//! Every `--sample-seconds` the gateway's RSS (`VmRSS`), open descriptors, threads and child
//! processes are read from `/proc`, with the calls, errors and latency of the window. At the
//! end the driver checks that the audit log recorded every call, closes the gateway's stdin,
//! checks that it exits cleanly and leaves no process behind, and writes `report.json`,
//! `report.md` and `samples.csv` to `--out`.
//!
//! ```text
//! cargo run --release --example soak -- --gateway target/release/mcpgw \
//!     --fixture target/release/mcpgw-fixture --out target/soak --seconds 3600
//! ```

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
};
use rmcp::service::{Peer, RunningService};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{ClientHandler, RoleClient, serve_client};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

// Shared with the benchmark driver: `/proc` readings and quantiles, so the soak's numbers
// are computed as the benchmarks' are.
#[allow(dead_code)]
#[path = "mcp_bench/procfs.rs"]
mod procfs;
#[allow(dead_code)]
#[path = "mcp_bench/stats.rs"]
mod stats;

#[derive(Parser, Debug, Clone)]
#[command(name = "soak", about = "Mixed calls and reloads against mcpgw for a long time, sampling its memory")]
struct Args {
    /// The gateway binary.
    #[arg(long)]
    gateway: PathBuf,
    /// The fixture server binary.
    #[arg(long)]
    fixture: PathBuf,
    /// Where the config files, the gateway's log and the reports go.
    #[arg(long)]
    out: PathBuf,
    /// How long to run.
    #[arg(long, default_value_t = 3600)]
    seconds: u64,
    /// How often to sample memory, descriptors and processes.
    #[arg(long, default_value_t = 60)]
    sample_seconds: u64,
    /// Concurrent callers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Pause of each caller between calls, in milliseconds (keeps the load steady, not maximal).
    #[arg(long, default_value_t = 2)]
    pause_ms: u64,
    /// How often the rules file is rewritten.
    #[arg(long, default_value_t = 10)]
    reload_seconds: u64,
    /// How often the `flaky` server is crashed on purpose.
    #[arg(long, default_value_t = 30)]
    crash_seconds: u64,
}

/// A client that only names itself.
#[derive(Debug, Clone, Default)]
struct SoakClient;

impl ClientHandler for SoakClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("mcpgw-soak", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }
}

/// Counters shared by every task.
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    errors: AtomicU64,
    reloads: AtomicU64,
    reload_errors: AtomicU64,
    crashes: AtomicU64,
    restarts: AtomicU64,
    /// Latencies (µs) of the current window.
    window: Mutex<Vec<u32>>,
    /// Every latency (µs), for the overall percentiles (a few MB for an hour).
    all: Mutex<Vec<u32>>,
    /// The first few unexpected answers, for the report.
    samples: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut s = self.samples.lock().unwrap();
        if s.len() < 20 {
            eprintln!("soak: unexpected: {what}");
            s.push(what);
        }
    }
}

/// One sample of the gateway process.
#[derive(Debug, Clone, serde::Serialize)]
struct Sample {
    t_s: f64,
    rss_kib: u64,
    fds: usize,
    threads: u64,
    children: usize,
    calls: u64,
    errors: u64,
    window_calls: usize,
    window_p50_ms: f64,
    window_p99_ms: f64,
}

/// A latency quantile in ms of samples sorted in µs; 0 for a window without calls.
fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    let ms: Vec<f64> = sorted_us.iter().map(|&us| f64::from(us) / 1000.0).collect();
    if ms.is_empty() { 0.0 } else { stats::quantile(&ms, q) }
}

fn sample(pid: u32, started: Instant, tally: &Tally) -> Sample {
    let mut window = std::mem::take(&mut *tally.window.lock().unwrap());
    window.sort_unstable();
    Sample {
        t_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        rss_kib: procfs::memory(pid).map_or(0, |m| m.rss_kb),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
        threads: procfs::status_field(pid, "Threads:").unwrap_or(0),
        children: procfs::children(pid).len(),
        calls: tally.calls.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        window_calls: window.len(),
        window_p50_ms: quantile_ms(&window, 0.5),
        window_p99_ms: quantile_ms(&window, 0.99),
    }
}

fn mcp_json(fixture: &Path, log_dir: &Path, extra: bool) -> String {
    let server = |name: &str| {
        let log = log_dir.join(format!("{name}.events"));
        json!({"command": fixture, "args": ["--name", name, "--log-file", log]})
    };
    let mut servers = vec![("a", server("a")), ("b", server("b")), ("flaky", server("flaky"))];
    if extra {
        servers.push(("extra", server("extra")));
    }
    let entries: Vec<String> = servers.iter().map(|(n, s)| format!("    {}: {}", json!(n), s)).collect();
    format!("{{\n  \"mcpServers\": {{\n{}\n  }}\n}}\n", entries.join(",\n"))
}

/// Two versions of the rules. They differ only in a deny on a tool no call uses, so every
/// answer is the same under both; the snapshot id tells them apart.
fn rules(version: u64) -> Value {
    let never = if version.is_multiple_of(2) { "never_called_even" } else { "never_called_odd" };
    json!({"agents": {"soak": {
        "allow": {"servers": ["*"]},
        "deny": {"tools": {"a": ["crash", "close_stdout"], "b": ["crash", "close_stdout", never]}}
    }}})
}

/// Writes a file the way editors do: a temporary file renamed over the old one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

async fn call(peer: &Peer<RoleClient>, tally: &Tally, tool: &str, args: Value) -> Result<CallToolResult, String> {
    timed_call(peer, tally, tool, args, true).await
}

/// A call; its latency counts in the percentiles only if `timed` (calls that sleep or time out
/// on purpose would only measure their own sleep).
async fn timed_call(
    peer: &Peer<RoleClient>,
    tally: &Tally,
    tool: &str,
    args: Value,
    timed: bool,
) -> Result<CallToolResult, String> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    let started = Instant::now();
    let result = peer.call_tool(params).await.map_err(|e| format!("{tool}: protocol error {e}"));
    let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    tally.calls.fetch_add(1, Ordering::Relaxed);
    if timed {
        tally.window.lock().unwrap().push(micros);
        tally.all.lock().unwrap().push(micros);
    }
    result
}

fn code(r: &CallToolResult) -> Option<String> {
    if r.is_error != Some(true) {
        return None;
    }
    r.structured_content.as_ref()?.get("error")?.get("code")?.as_str().map(str::to_owned)
}

fn text(r: &CallToolResult) -> String {
    r.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default()
}

/// xorshift64*: deterministic per worker, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn exec(server: &str, tool: &str, args: Value) -> Value {
    json!({"agent_id": "soak", "server": server, "tool": tool, "args": args})
}

/// One call of the mix; returns why its answer was wrong, if it was.
async fn one_call(peer: &Peer<RoleClient>, tally: &Tally, rng: &mut Rng) -> Result<(), String> {
    let server = if rng.next().is_multiple_of(2) { "a" } else { "b" };
    let n = rng.next() % 1000;
    match rng.next() % 100 {
        0..30 => {
            let want = format!("soak {n}");
            let r = call(peer, tally, "execute_tool", exec(server, "echo", json!({"text": want}))).await?;
            (text(&r) == want).then_some(()).ok_or(format!("echo: {r:?}"))
        }
        30..45 => {
            let r = call(peer, tally, "execute_tool", exec(server, "add", json!({"a": n, "b": 1}))).await?;
            (r.structured_content == Some(json!({"sum": n + 1}))).then_some(()).ok_or(format!("add: {r:?}"))
        }
        45..55 => {
            let r = call(peer, tally, "list_servers", json!({"agent_id": "soak"})).await?;
            let names = serde_json::to_string(&r.structured_content).unwrap_or_default();
            (names.contains("\"a\"") && names.contains("\"b\"")).then_some(()).ok_or(format!("list_servers: {r:?}"))
        }
        55..65 => {
            let r = call(peer, tally, "get_server_tools", json!({"agent_id": "soak", "server": server})).await?;
            let tools = serde_json::to_string(&r.structured_content).unwrap_or_default();
            (tools.contains("\"echo\"") && !tools.contains("\"crash\""))
                .then_some(())
                .ok_or(format!("get_server_tools: {r:?}"))
        }
        65..72 => {
            let r = call(peer, tally, "execute_tool", exec(server, "crash", json!({}))).await?;
            (code(&r).as_deref() == Some("DENIED_BY_POLICY")).then_some(()).ok_or(format!("denied crash: {r:?}"))
        }
        72..78 => {
            let args = exec(server, "sleep", json!({"ms": 10 + n % 20}));
            let r = timed_call(peer, tally, "execute_tool", args, false).await?;
            (text(&r) == format!("slept {}", 10 + n % 20)).then_some(()).ok_or(format!("sleep: {r:?}"))
        }
        78..84 => {
            let args = exec(server, "progress", json!({"steps": 3, "interval_ms": 2}));
            let r = timed_call(peer, tally, "execute_tool", args, false).await?;
            (text(&r) == "done 3").then_some(()).ok_or(format!("progress: {r:?}"))
        }
        84..89 => {
            let mut args = exec(server, "sleep", json!({"ms": 5000}));
            args["timeout_ms"] = json!(30);
            let r = timed_call(peer, tally, "execute_tool", args, false).await?;
            (code(&r).as_deref() == Some("TIMEOUT")).then_some(()).ok_or(format!("timeout: {r:?}"))
        }
        89..94 => {
            let r = call(peer, tally, "execute_tool", exec(server, "big", json!({"bytes": 256 * 1024}))).await?;
            (text(&r).len() == 256 * 1024).then_some(()).ok_or(format!("big: {:?}", code(&r)))
        }
        _ => {
            let r = call(peer, tally, "get_gateway_status", json!({"agent_id": "soak"})).await?;
            (code(&r).is_none()).then_some(()).ok_or(format!("status: {r:?}"))
        }
    }
}

async fn worker(id: usize, peer: Peer<RoleClient>, tally: Arc<Tally>, stop: CancellationToken, pause: Duration) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    while !stop.is_cancelled() {
        if let Err(why) = one_call(&peer, &tally, &mut rng).await {
            tally.error(why);
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// The status's reload section for one file: (attempts, failures).
async fn reload_counts(peer: &Peer<RoleClient>, tally: &Tally, which: &str) -> Option<(u64, u64)> {
    let r = call(peer, tally, "get_gateway_status", json!({"agent_id": "soak"})).await.ok()?;
    let s = r.structured_content?;
    let f = &s["reload"][which];
    Some((f["attempts"].as_u64()?, f["failures"].as_u64()?))
}

/// Rewrites the rules (and every third time `.mcp.json`) and checks each reload is seen.
async fn reloader(peer: Peer<RoleClient>, tally: Arc<Tally>, stop: CancellationToken, dir: PathBuf, args: Args) {
    let mut version = 0u64;
    let period = Duration::from_secs(args.reload_seconds.max(1));
    while !stop.is_cancelled() {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stop.cancelled() => break,
        }
        version += 1;
        let servers_too = version.is_multiple_of(3);
        let before_rules = reload_counts(&peer, &tally, "rules").await;
        let before_servers = reload_counts(&peer, &tally, "mcp_config").await;
        let text = serde_json::to_string_pretty(&rules(version)).unwrap();
        if let Err(e) = write_atomically(&dir.join("rules.json"), &text) {
            tally.error(format!("cannot write the rules: {e}"));
        }
        if servers_too {
            let text = mcp_json(&args.fixture, &dir, version.is_multiple_of(2));
            if let Err(e) = write_atomically(&dir.join(".mcp.json"), &text) {
                tally.error(format!("cannot write .mcp.json: {e}"));
            }
        }
        // Each file's reload must be attempted, and succeed, within 10 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = false;
        while Instant::now() < deadline {
            let rules_now = reload_counts(&peer, &tally, "rules").await;
            let servers_now = reload_counts(&peer, &tally, "mcp_config").await;
            let advanced = |before: Option<(u64, u64)>, now: Option<(u64, u64)>| match (before, now) {
                (Some((a0, _)), Some((a1, _))) => a1 > a0,
                _ => false,
            };
            if advanced(before_rules, rules_now) && (!servers_too || advanced(before_servers, servers_now)) {
                let failed = |before: Option<(u64, u64)>, now: Option<(u64, u64)>| matches!((before, now), (Some((_, f0)), Some((_, f1))) if f1 > f0);
                if failed(before_rules, rules_now) || failed(before_servers, servers_now) {
                    tally.reload_errors.fetch_add(1, Ordering::Relaxed);
                    tally.error(format!("reload {version} failed"));
                }
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tally.reloads.fetch_add(1, Ordering::Relaxed);
        if !seen {
            tally.reload_errors.fetch_add(1, Ordering::Relaxed);
            tally.error(format!("reload {version} was not seen within 10 s"));
        }
    }
}

/// Crashes `flaky` now and then, and checks that it comes back with a new pid.
async fn crasher(peer: Peer<RoleClient>, tally: Arc<Tally>, stop: CancellationToken, period: Duration) {
    let pid = |r: &CallToolResult| r.structured_content.as_ref().and_then(|s| s["pid"].as_u64());
    while !stop.is_cancelled() {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stop.cancelled() => break,
        }
        let Ok(before) = call(&peer, &tally, "execute_tool", exec("flaky", "pid", json!({}))).await else { continue };
        let Some(before) = pid(&before) else {
            tally.error(format!("flaky has no pid: {before:?}"));
            continue;
        };
        match call(&peer, &tally, "execute_tool", exec("flaky", "crash", json!({"code": 5}))).await {
            Ok(r) if code(&r).as_deref() == Some("SERVER_UNAVAILABLE") => {
                tally.crashes.fetch_add(1, Ordering::Relaxed);
            }
            other => tally.error(format!("crash: {other:?}")),
        }
        // A crash after a healthy run restarts at once; allow for backoff all the same.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut back = false;
        while Instant::now() < deadline && !back {
            if let Ok(r) = call(&peer, &tally, "execute_tool", exec("flaky", "pid", json!({}))).await
                && pid(&r).is_some_and(|p| p != before)
            {
                back = true;
                tally.restarts.fetch_add(1, Ordering::Relaxed);
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if !back {
            tally.error("flaky did not come back within 10 s".to_owned());
        }
    }
}

fn write_reports(out: &Path, report: &Value, samples: &[Sample]) -> std::io::Result<()> {
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(report).unwrap())?;
    let mut csv =
        String::from("t_s,rss_kib,fds,threads,children,calls,errors,window_calls,window_p50_ms,window_p99_ms\n");
    for s in samples {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            s.t_s,
            s.rss_kib,
            s.fds,
            s.threads,
            s.children,
            s.calls,
            s.errors,
            s.window_calls,
            s.window_p50_ms,
            s.window_p99_ms
        ));
    }
    std::fs::write(out.join("samples.csv"), csv)?;
    let mut md = String::new();
    md.push_str(&format!(
        "# mcpgw soak: {} s\n\n| | |\n|---|---|\n",
        report["duration_s"].as_f64().unwrap_or_default().round()
    ));
    for key in [
        "calls",
        "calls_per_second",
        "errors",
        "reloads",
        "reload_errors",
        "crashes",
        "restarts",
        "latency_p50_ms",
        "latency_p99_ms",
        "rss_first_kib",
        "rss_last_kib",
        "rss_max_kib",
        "rss_growth_kib",
        "memory_flat",
        "fds_first",
        "fds_last",
        "audit_written",
        "audit_matches_calls",
        "exit_ok",
        "processes_left",
    ] {
        md.push_str(&format!("| {key} | {} |\n", report[key]));
    }
    md.push_str("\n| t (s) | RSS (KiB) | fds | threads | children | calls | errors | p50 (ms) | p99 (ms) |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for s in samples {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.t_s, s.rss_kib, s.fds, s.threads, s.children, s.calls, s.errors, s.window_p50_ms, s.window_p99_ms
        ));
    }
    std::fs::write(out.join("report.md"), md)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(mut args: Args) -> Result<bool, String> {
    // The gateway runs in the config directory, so every path it is given must be absolute.
    for path in [&mut args.gateway, &mut args.fixture, &mut args.out] {
        *path = std::path::absolute(&*path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let out = args.out.clone();
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let dir = out.join("config");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(".mcp.json"), mcp_json(&args.fixture, &dir, false)).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("rules.json"), serde_json::to_string_pretty(&rules(0)).unwrap())
        .map_err(|e| e.to_string())?;
    let log = std::fs::File::create(out.join("gateway.log")).map_err(|e| e.to_string())?;
    // The audit log is written and counted, but to /dev/null: an hour of calls would be
    // hundreds of MB. `audit.written` in the status still counts every line.
    let mut child = tokio::process::Command::new(&args.gateway)
        .args(["--mcp-config", ".mcp.json", "--rules", "rules.json", "--audit-log", "/dev/null"])
        .current_dir(&dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.gateway.display()))?;
    let pid = child.id().ok_or("the gateway exited at once")?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("no pipes".into());
    };
    let transport = AsyncRwTransport::new_client(stdout, stdin).with_max_line_length(1 << 30);
    let service: RunningService<RoleClient, SoakClient> =
        serve_client(SoakClient, transport).await.map_err(|e| format!("cannot connect: {e}"))?;
    let peer = service.peer().clone();
    let tally = Arc::new(Tally::default());
    let stop = CancellationToken::new();
    eprintln!(
        "soak: gateway pid {pid}; {} s, {} workers, sampling every {} s, reloads every {} s, crashes every {} s",
        args.seconds, args.workers, args.sample_seconds, args.reload_seconds, args.crash_seconds
    );

    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..args.workers {
        let pause = Duration::from_millis(args.pause_ms);
        tasks.push(tokio::spawn(worker(id, peer.clone(), tally.clone(), stop.clone(), pause)));
    }
    tasks.push(tokio::spawn(reloader(peer.clone(), tally.clone(), stop.clone(), dir.clone(), args.clone())));
    let crash_period = Duration::from_secs(args.crash_seconds.max(1));
    tasks.push(tokio::spawn(crasher(peer.clone(), tally.clone(), stop.clone(), crash_period)));

    let mut samples = vec![sample(pid, started, &tally)];
    let deadline = started + Duration::from_secs(args.seconds);
    let period = Duration::from_secs(args.sample_seconds.max(1));
    let mut next = started + period;
    while next <= deadline {
        tokio::time::sleep_until(next.into()).await;
        let s = sample(pid, started, &tally);
        eprintln!(
            "soak: t={:>6.0}s rss={} KiB fds={} threads={} children={} calls={} errors={} p50={}ms p99={}ms",
            s.t_s, s.rss_kib, s.fds, s.threads, s.children, s.calls, s.errors, s.window_p50_ms, s.window_p99_ms
        );
        samples.push(s);
        next += period;
    }
    tokio::time::sleep_until(deadline.into()).await;
    stop.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    let duration = started.elapsed();
    let end = sample(pid, started, &tally);
    if samples.last().is_none_or(|s| end.t_s - s.t_s >= 1.0) {
        samples.push(end);
    }

    // Every gateway tool call is one audit line, written by a task of its own. A status call
    // reports the lines written before it, so once the writer has caught up, `written` is the
    // number of calls made before that status call.
    let mut audit_written = 0;
    let mut audit_matches = false;
    for _ in 0..100 {
        let before = tally.calls.load(Ordering::Relaxed);
        let status = call(&peer, &tally, "get_gateway_status", json!({"agent_id": "soak"})).await.ok();
        audit_written = status
            .as_ref()
            .and_then(|r| r.structured_content.as_ref())
            .and_then(|s| s["audit"]["written"].as_u64())
            .unwrap_or(0);
        if audit_written >= before {
            audit_matches = audit_written == before;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let _ = service.cancel().await;
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let exit_ok = matches!(exit, Ok(Ok(s)) if s.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left = {
        let Ok(entries) = std::fs::read_dir("/proc") else { return Err("no /proc".into()) };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
                !stat.contains(") Z ") && cmd.contains(dir.to_str().unwrap_or("\u{0}"))
            })
            .count()
    };

    let mut all = std::mem::take(&mut *tally.all.lock().unwrap());
    all.sort_unstable();
    // Memory is judged from the first sample after a minute (or the first one, in short
    // runs): start-up and the first servers' starts come before it.
    let settled = samples.iter().find(|s| s.t_s >= 60.0).or(samples.get(1)).unwrap_or(&samples[0]);
    let last = samples.last().unwrap();
    let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let growth = last.rss_kib as i64 - settled.rss_kib as i64;
    let flat = growth <= (settled.rss_kib as i64 / 10).max(5 * 1024);
    let errors = tally.errors.load(Ordering::Relaxed);
    let calls = tally.calls.load(Ordering::Relaxed);
    let report = json!({
        "duration_s": duration.as_secs_f64(),
        "workers": args.workers,
        "pause_ms": args.pause_ms,
        "calls": calls,
        "calls_per_second": (calls as f64 / duration.as_secs_f64()).round(),
        "errors": errors,
        "error_samples": *tally.samples.lock().unwrap(),
        "reloads": tally.reloads.load(Ordering::Relaxed),
        "reload_errors": tally.reload_errors.load(Ordering::Relaxed),
        "crashes": tally.crashes.load(Ordering::Relaxed),
        "restarts": tally.restarts.load(Ordering::Relaxed),
        "latency_note": "quick calls only (not the ones that sleep, report progress or time out on purpose)",
        "latency_p50_ms": quantile_ms(&all, 0.5),
        "latency_p99_ms": quantile_ms(&all, 0.99),
        "rss_first_kib": settled.rss_kib,
        "rss_first_at_s": settled.t_s,
        "rss_last_kib": last.rss_kib,
        "rss_max_kib": rss_max,
        "rss_growth_kib": growth,
        "memory_flat": flat,
        "fds_first": settled.fds,
        "fds_last": last.fds,
        "audit_written": audit_written,
        "audit_matches_calls": audit_matches,
        "exit_ok": exit_ok,
        "processes_left": left,
        "samples": samples,
    });
    write_reports(&out, &report, &samples).map_err(|e| format!("cannot write the report: {e}"))?;
    eprintln!(
        "soak: {calls} calls in {:.0} s, {errors} errors, {} reloads, {} crashes / {} restarts, RSS {} -> {} KiB (max {}), flat={flat}, audit ok={audit_matches}, exit ok={exit_ok}, processes left={left}",
        duration.as_secs_f64(),
        tally.reloads.load(Ordering::Relaxed),
        tally.crashes.load(Ordering::Relaxed),
        tally.restarts.load(Ordering::Relaxed),
        settled.rss_kib,
        last.rss_kib,
        rss_max
    );
    eprintln!("soak: report in {}", out.join("report.md").display());
    Ok(errors == 0 && flat && audit_matches && exit_ok && left == 0)
}

//! `mcp_bench`: a load driver for MCP servers and gateways.
//!
//! It drives a target over stdio (a command it spawns) or streamable HTTP with one rmcp
//! client, and prints one JSON line per measurement:
//!
//! - `latency`: N sequential calls, p50/p95/p99;
//! - `throughput`: calls per second at each concurrency for a fixed time;
//! - `startup`: spawn to an answered `tools/list`, plus the idle resident memory;
//! - `tokens`: the compact JSON size of a server's `tools/list` (its context cost);
//! - `report`: turns those JSON lines into the markdown tables of `docs/PERFORMANCE.md`.
//!
//! Each target kind has its own call shape (see `target.rs`), all reaching the fixture's
//! `echo` tool. Every answer is checked (no `isError`, the echoed text present), so a
//! misconfigured target cannot pass for a fast one. Loopback only: the driver connects to
//! what it is given, and the `bench/` scripts only give it 127.0.0.1.
//!
//! ```text
//! cargo run --release --example mcp_bench -- latency --target direct --calls 2000 -- target/release/mcpgw-fixture
//! cargo run --release --example mcp_bench -- throughput --target mcpgw --concurrency 1,8,32 -- target/release/mcpgw --mcp-config .mcp.json --rules rules.json
//! ```

mod connect;
mod measure;
// Shared with examples/soak.rs, which uses parts this driver does not.
#[allow(dead_code)]
mod procfs;
mod raw_http;
mod report;
mod stats;
mod target;
mod tokens;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::connect::Target;
use crate::target::{Kind, Shape};

#[derive(Parser)]
#[command(name = "mcp_bench", about = "Load driver for MCP servers and gateways (JSON lines on stdout)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sequential calls: p50/p95/p99 latency.
    Latency(LatencyArgs),
    /// Calls per second at each concurrency.
    Throughput(ThroughputArgs),
    /// Spawn to an answered `tools/list`, repeated; idle resident memory.
    Startup(StartupArgs),
    /// The compact JSON size of a stdio server's `tools/list`.
    Tokens(TokensArgs),
    /// Markdown tables from JSON lines files.
    Report(report::ReportArgs),
}

/// Where the target is and what to call.
#[derive(Args, Clone)]
struct TargetArgs {
    /// How to call the fixture's echo through this target.
    #[arg(long, value_enum)]
    target: Kind,
    /// The name printed with the results (default: the target kind).
    #[arg(long)]
    label: Option<String>,
    /// The downstream server name, for gateways.
    #[arg(long, default_value = "fixture")]
    server: String,
    /// The agent id, for gateways that take one.
    #[arg(long, default_value = "bench")]
    agent: String,
    /// Call this tool instead of the one the target kind implies.
    #[arg(long)]
    tool: Option<String>,
    /// Connect to this streamable HTTP URL instead of spawning the command.
    #[arg(long, value_name = "URL")]
    http: Option<String>,
    /// With --http: use a minimal HTTP/1.1 client that keeps its TCP connection alive,
    /// instead of rmcp's client (which opens a new connection for every request).
    #[arg(long, requires = "http")]
    keep_alive: bool,
    /// With --http: the server's pid, for memory and CPU readings.
    #[arg(long)]
    pid: Option<u32>,
    /// Append the spawned command's stderr to this file (default: discard it).
    #[arg(long, value_name = "FILE")]
    stderr: Option<String>,
    /// A round number to print with the results (the scripts alternate targets in rounds).
    #[arg(long, default_value_t = 0)]
    round: u32,
    /// Calls made (and checked) before measuring; they also start lazy downstreams.
    #[arg(long, default_value_t = 200)]
    warmup_calls: usize,
    /// Client runtime worker threads.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// The stdio command (after `--`).
    #[arg(last = true)]
    command: Vec<String>,
}

impl TargetArgs {
    fn shape(&self) -> Shape {
        Shape { kind: self.target, server: self.server.clone(), agent: self.agent.clone(), tool: self.tool.clone() }
    }

    fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            serde_json::to_value(self.target).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
        })
    }

    fn header(&self, bench: &str, transport: &str) -> Value {
        json!({"bench": bench, "label": self.label(), "target": self.target, "transport": transport, "round": self.round})
    }
}

#[derive(Args)]
struct LatencyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Sequential calls measured.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Stop after this many seconds even if fewer calls were made (for slow targets).
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Print every sample (µs) too, so rounds can be pooled by `report`.
    #[arg(long)]
    samples: bool,
}

#[derive(Args)]
struct ThroughputArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Calls in flight, comma-separated; one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    /// HTTP only: open this many sessions and spread the calls over them (0: one per call in
    /// flight, up to the largest concurrency).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds measured at each concurrency.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds run (not measured) before each measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
}

#[derive(Args)]
struct StartupArgs {
    /// The name printed with the results.
    #[arg(long)]
    label: String,
    /// A round number to print with the results.
    #[arg(long, default_value_t = 0)]
    round: u32,
    /// Starts measured.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Milliseconds to wait after `tools/list` before reading the idle memory.
    #[arg(long, default_value_t = 500)]
    settle_ms: u64,
    /// Append the command's stderr to this file (default: discard it).
    #[arg(long, value_name = "FILE")]
    stderr: Option<String>,
    /// The command (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Args)]
struct TokensArgs {
    /// The name printed with the results.
    #[arg(long)]
    label: String,
    /// `server` for a downstream server, `gateway` for a gateway in front of them.
    #[arg(long, default_value = "server")]
    role: String,
    /// Seconds to wait for the listing.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// The command (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Latency(a) => a.target.client_threads,
        Command::Throughput(a) => a.target.client_threads,
        _ => 2,
    };
    if let Command::Report(args) = &cli.command {
        return match report::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mcp_bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp_bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn emit(mut header: Value, body: Value) {
    if let (Some(h), Value::Object(b)) = (header.as_object_mut(), body) {
        h.extend(b);
    }
    println!("{header}");
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Latency(a) => {
            let t = &a.target;
            let target =
                Target::open(t.http.as_deref(), &t.command, t.pid, 1, t.stderr.as_deref(), t.keep_alive).await?;
            let shape = t.shape();
            let outcome = async {
                let idle = target.pid.and_then(procfs::memory);
                measure::warm_up(&target, &shape, t.warmup_calls).await?;
                let mut body =
                    measure::latency(&target, &shape, a.calls, Duration::from_secs_f64(a.max_seconds), a.samples).await;
                body["memory_idle"] = json!(idle);
                body["memory_after"] = json!(target.pid.and_then(procfs::memory));
                emit(t.header("latency", target.transport), body);
                Ok::<_, String>(())
            }
            .await;
            target.close().await;
            outcome
        }
        Command::Throughput(a) => {
            let t = &a.target;
            let max = a.concurrency.iter().copied().max().unwrap_or(1);
            let connections = if a.connections == 0 { max } else { a.connections };
            let target =
                Target::open(t.http.as_deref(), &t.command, t.pid, connections, t.stderr.as_deref(), t.keep_alive)
                    .await?;
            let shape = t.shape();
            let outcome = async {
                let idle = target.pid.and_then(procfs::memory);
                measure::warm_up(&target, &shape, t.warmup_calls.min(20)).await?;
                for &c in &a.concurrency {
                    let mut body = measure::throughput(
                        &target,
                        &shape,
                        c,
                        Duration::from_secs_f64(a.warmup),
                        Duration::from_secs_f64(a.duration),
                    )
                    .await;
                    body["memory_idle"] = json!(idle);
                    emit(t.header("throughput", target.transport), body);
                }
                Ok::<_, String>(())
            }
            .await;
            target.close().await;
            outcome
        }
        Command::Startup(a) => {
            let body =
                measure::startup(&a.command, a.runs, Duration::from_millis(a.settle_ms), a.stderr.as_deref()).await?;
            emit(json!({"bench": "startup", "label": a.label, "transport": "stdio", "round": a.round}), body);
            Ok(())
        }
        Command::Tokens(a) => {
            let body = tokens::tokens(&a.command, Duration::from_secs(a.timeout)).await?;
            emit(json!({"bench": "tokens", "label": a.label, "role": a.role}), body);
            Ok(())
        }
        Command::Report(_) => Ok(()),
    }
}

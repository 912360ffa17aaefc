//! `mcpgw serve`: load both files, say what was loaded, serve, and shut down cleanly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rmcp::{RoleServer, ServiceExt};

use crate::audit::{self, Audit};
use crate::cli::{ServeArgs, TransportKind};
use crate::config;
use crate::downstream::DownstreamSettings;
use crate::gateway::handler::GatewayHandler;
use crate::gateway::{Gateway, GatewaySettings, Identity, ServerSet};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::policy::is_valid_agent_id;
use crate::reload::{self, ReloadStatus, Which};
use crate::transport::{DEFAULT_MAX_MESSAGE_BYTES, LineTransport};

/// How long the downstreams get to stop at shutdown.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(3);

/// Runs the gateway until its client goes away or a signal arrives.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpgw: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args));
    // A blocking stdin read must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run(args: &ServeArgs) -> ExitCode {
    let gw = match build(args).await {
        Ok(gw) => gw,
        Err(message) => {
            eprintln!("mcpgw: {message}");
            return ExitCode::FAILURE;
        }
    };
    let identity =
        Identity { bound: args.agent.clone(), has_default: gw.policy.load().table.default_agent().is_some() };
    let _watcher = reload::watch(gw.clone());
    let result = match args.transport {
        TransportKind::Stdio => serve_stdio(gw.clone(), identity).await,
        TransportKind::Http => crate::http::serve_http(gw.clone(), args).await,
    };
    shutdown(&gw).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mcpgw: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Loads both files and builds the shared gateway, printing what was loaded to stderr.
pub async fn build(args: &ServeArgs) -> Result<Arc<Gateway>, String> {
    for (flag, id) in [("--agent", &args.agent), ("--default-agent", &args.default_agent)] {
        if let Some(id) = id.as_deref().filter(|id| !is_valid_agent_id(id)) {
            return Err(format!("{flag} `{id}` is not a valid agent id (use letters, digits, `_`, `.` and `-`)"));
        }
    }
    let mcp_path = config::find_mcp_config(args.config.mcp_config.as_deref()).map_err(|e| e.to_string())?;
    let rules_path = config::find_rules(args.config.rules.as_deref()).map_err(|e| e.to_string())?;
    eprintln!("mcpgw {}", env!("CARGO_PKG_VERSION"));
    eprintln!("Loading MCP server configuration from: {}", mcp_path.display());
    let reload_status = ReloadStatus::default();
    let mcp_text = config::read_text(&mcp_path).map_err(|e| e.to_string())?;
    reload_status.note_content(Which::Servers, &mcp_text, true);
    let servers = config::servers_from_text(&mcp_path, &mcp_text).map_err(|e| e.to_string())?;
    for w in &servers.warnings {
        eprintln!("{w}");
    }
    eprintln!("Loading gateway rules from: {}", rules_path.display());
    let names: Vec<String> = servers.servers.iter().map(|s| s.name.clone()).collect();
    let rules_text = config::read_text(&rules_path).map_err(|e| e.to_string())?;
    reload_status.note_content(Which::Rules, &rules_text, true);
    let (snapshot, warnings) =
        reload::compile_rules_text(&rules_path, &rules_text, args.default_agent.as_deref(), Some(&names))?;
    for w in &warnings {
        eprintln!("{w}");
    }
    let audit = open_audit(args.audit_log.clone()).await?;

    let downstream_settings = Arc::new(DownstreamSettings {
        max_message: max_message_bytes(),
        default_timeout: Duration::from_millis(args.timeout_ms.max(1)),
        start_timeout: Duration::from_secs(30),
    });
    reload_status.success(Which::Servers, servers.warnings.iter().map(ToString::to_string).collect());
    reload_status.success(Which::Rules, warnings.clone());
    let table = &snapshot.table;
    summarize(&servers, table, &audit, args, warnings.len() + servers.warnings.len());
    let gw = Gateway {
        servers: ArcSwap::from_pointee(ServerSet::new(&servers, &downstream_settings)),
        policy: ArcSwap::from_pointee(snapshot),
        settings: GatewaySettings {
            identity: Identity { bound: args.agent.clone(), has_default: false },
            debug: args.debug,
            audit_args: args.audit_args,
            mcp_config_path: mcp_path,
            rules_path,
            default_agent: args.default_agent.clone(),
        },
        downstream_settings,
        audit,
        metrics: Metrics::default(),
        reload: reload_status,
        limits: Limits::default(),
        http: ArcSwap::from_pointee(servers.http.clone()),
    };
    Ok(Arc::new(gw))
}

async fn open_audit(given: Option<PathBuf>) -> Result<Audit, String> {
    match given {
        Some(path) => {
            Audit::open(&path).await.map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))
        }
        None => match audit::default_path() {
            Some(path) => match Audit::open(&path).await {
                Ok(a) => Ok(a),
                Err(e) => {
                    eprintln!("warning: cannot open the audit log {} ({e}); auditing is off", path.display());
                    Ok(Audit::disabled())
                }
            },
            None => {
                eprintln!("warning: no cache directory for the audit log; give --audit-log to turn auditing on");
                Ok(Audit::disabled())
            }
        },
    }
}

fn summarize(
    servers: &config::servers::ServersConfig,
    table: &crate::policy::DecisionTable,
    audit: &Audit,
    args: &ServeArgs,
    warnings: usize,
) {
    eprintln!("  - {} MCP server(s) configured, started on first use:", servers.servers.len());
    for s in &servers.servers {
        eprintln!("    * {} ({})", s.name, s.transport.kind());
    }
    eprintln!(
        "  - {} agent block(s), {} rule(s), snapshot {}",
        table.agent_count(),
        table.rule_count(),
        table.snapshot_id()
    );
    let unknown = if table.defaults().deny_on_missing_agent { "denied" } else { "judged as the default agent" };
    eprintln!("  - Unknown agents: {unknown}");
    match (&args.agent, table.default_agent()) {
        (Some(bound), _) => eprintln!("  - Identity: bound to agent `{bound}` (agent_id is not a parameter)"),
        (None, Some(d)) => eprintln!("  - Identity: agent_id optional; default agent `{d}`"),
        (None, None) => eprintln!("  - Identity: agent_id required"),
    }
    match audit.path() {
        Some(p) => eprintln!("  - Audit log: {}", p.display()),
        None => eprintln!("  - Audit log: off"),
    }
    if warnings > 0 {
        eprintln!("  - {warnings} warning(s), shown above");
    }
    eprintln!("  - 4 gateway tools: list_servers, get_server_tools, execute_tool, get_gateway_status");
}

async fn serve_stdio(gw: Arc<Gateway>, identity: Identity) -> Result<(), String> {
    let max_message = gw.downstream_settings.max_message;
    let handler = GatewayHandler::new(gw, identity);
    let (read, write) = rmcp::transport::stdio_pipes();
    let transport = LineTransport::<RoleServer, _, _>::new(read, write, max_message, "client");
    // Fires as soon as the transport reads the end of stdin; rmcp itself only reports it after
    // draining the calls in flight for up to 5 s.
    let eof = transport.closed();
    eprintln!("Gateway is ready on stdio.");
    let service = match handler.serve(transport).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!("the client went away before initializing: {e}");
            return Ok(());
        }
    };
    let ct = service.cancellation_token();
    let waiting = service.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        _ = &mut waiting => tracing::info!("stdin closed; shutting down"),
        () = eof.cancelled() => {
            tracing::info!("stdin closed; shutting down");
            // rmcp would wait up to 5 s for the calls in flight before `waiting` returns,
            // which alone is the whole time a shutdown may take. Give them a moment only;
            // stopping the downstreams then ends whatever is left.
            if tokio::time::timeout(STDIN_CLOSED_GRACE, &mut waiting).await.is_err() {
                tracing::info!("calls still in flight are abandoned");
            }
        }
        signal = shutdown_signal() => {
            tracing::info!("{signal}; shutting down");
            ct.cancel();
        }
    }
    Ok(())
}

/// How long calls in flight may still answer after the client closed stdin (a client that
/// pipes its requests in and closes at once still gets quick answers). With the downstreams'
/// own grace to exit, this keeps the whole shutdown under 5 s.
const STDIN_CLOSED_GRACE: Duration = Duration::from_millis(1000);

/// The cap on one message, both from the client and from stdio downstreams.
///
/// Test-only knob: the hidden environment variable `MCPGW_TEST_MAX_MESSAGE_BYTES` replaces
/// [`DEFAULT_MAX_MESSAGE_BYTES`], so the integration tests can check what happens above the cap
/// without pushing 128 MiB through a debug build. It is deliberately not a CLI flag: users have
/// no reason to lower the cap, and raising it only moves the point where a message is refused.
fn max_message_bytes() -> usize {
    std::env::var("MCPGW_TEST_MAX_MESSAGE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
}

/// Resolves on SIGINT or SIGTERM, naming it.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// Stops every downstream (whole process groups) and flushes the audit log, within bounds.
pub async fn shutdown(gw: &Gateway) {
    let servers = gw.servers.load_full();
    let stops = servers.iter().map(|d| d.shutdown());
    if tokio::time::timeout(SHUTDOWN_LIMIT, futures::future::join_all(stops)).await.is_err() {
        tracing::warn!("some downstreams did not stop in time");
    }
    gw.audit.flush(Duration::from_secs(1)).await;
}

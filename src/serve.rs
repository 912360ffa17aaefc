//! `mcpgw serve`: load both files, say what was loaded, serve, and shut down cleanly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{ServeArgs, TransportKind};
use crate::config::{self, ConfigFile, ReloadStatus};
use crate::downstream::DownstreamSettings;
use crate::gateway::expose::Expose;
use crate::gateway::operation::Operation;
use crate::gateway::pins::Pins;
use crate::gateway::{Gateway, GatewayParts, GatewaySettings, Identity, ServerSet};
use crate::limits::Limits;
use crate::limits::shared::Shared;
use crate::policy::is_valid_agent_id;
use crate::reload;
use crate::telemetry::audit::{self, Audit};
use crate::telemetry::otel::{AuditLogs, Otel};
use crate::wire::DEFAULT_MAX_MESSAGE_BYTES;

/// Runs the gateway until its client goes away or a signal arrives.
pub fn serve(args: &ServeArgs) -> ExitCode {
    // One client over stdio gets a runtime on one thread: a request wakes the thread that
    // reads it, runs there, and is written back from there, without the hop between worker
    // threads that a multi-threaded runtime makes for each message. Measured with
    // bench/forward-cpu.sh (docs/PERFORMANCE.md): a third to two thirds off the added latency
    // and 15-25 % off the CPU per call. The price is throughput when a client pipelines many
    // calls (16-18 % fewer calls/s at 8 to 32 in flight), which one agent rarely does; HTTP
    // serves many clients at once and keeps a worker per core.
    let mut builder = match args.transport {
        TransportKind::Stdio => tokio::runtime::Builder::new_current_thread(),
        TransportKind::Http => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
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
    let _watcher = reload::watch(gw.clone());
    let result = match args.transport {
        TransportKind::Stdio => {
            eprintln!("Gateway is ready on stdio.");
            let ended = crate::stdio::serve(gw.clone(), gw.identity().clone(), crate::signals::shutdown_signal()).await;
            match ended {
                crate::stdio::Ended::Signal(signal) => tracing::info!("{signal}; shutting down"),
                crate::stdio::Ended::Eof | crate::stdio::Ended::OutputClosed => {
                    tracing::info!("stdin closed; shutting down");
                }
            }
            Ok(())
        }
        TransportKind::Http => crate::http::serve_http(gw.clone(), args).await,
    };
    gw.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mcpgw: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `--agent` or `--default-agent` is no agent id.
    #[error("{flag} `{id}` is not a valid agent id (use letters, digits, `_`, `.` and `-`)")]
    AgentFlag {
        /// The flag.
        flag: &'static str,
        /// What it was given.
        id: String,
    },
    /// A configuration file could not be found, read or parsed.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The rules do not parse, validate or compile.
    #[error(transparent)]
    Rules(#[from] crate::policy::Diagnostics),
    /// The audit log cannot be opened.
    #[error("cannot open the audit log {}: {source}", path.display())]
    Audit {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `OTEL_*` environment cannot be used.
    #[error("telemetry: {0}")]
    Telemetry(#[from] crate::telemetry::otel::OtelError),
    /// `gateway.redis.url` cannot be used.
    #[error(transparent)]
    Redis(#[from] crate::limits::shared::SharedError),
    /// `--tool-separator` cannot join valid tool names.
    #[error("--tool-separator: {0}")]
    Separator(#[from] crate::gateway::expose::BadSeparator),
    /// Direct mode without a way to know the agent: its `tools/list` takes no arguments.
    #[error(
        "--expose {0} needs the agent without arguments (its tools/list takes none): give --agent, a \
         default agent (--default-agent or the rules' default), or, over HTTP, agent tokens in gateway.http.tokens"
    )]
    DirectNeedsIdentity(&'static str),
}

/// Loads both files and builds the shared gateway, printing what was loaded to stderr.
pub async fn build(args: &ServeArgs) -> Result<Arc<Gateway>, StartupError> {
    for (flag, id) in [("--agent", &args.agent), ("--default-agent", &args.default_agent)] {
        if let Some(id) = id.as_deref().filter(|id| !is_valid_agent_id(id)) {
            return Err(StartupError::AgentFlag { flag, id: id.to_owned() });
        }
    }
    let mcp_path = config::find_mcp_config(args.config.mcp_config.as_deref())?;
    let rules_path = config::find_rules(args.config.rules.as_deref())?;
    eprintln!("mcpgw {}", env!("CARGO_PKG_VERSION"));
    eprintln!("Loading MCP server configuration from: {}", mcp_path.display());
    let reload_status = ReloadStatus::default();
    let mcp_text = config::read_text(&mcp_path)?;
    reload_status.note_content(ConfigFile::McpConfig, &mcp_text, true);
    let servers = config::servers_from_text(&mcp_path, &mcp_text)?;
    for w in &servers.warnings {
        eprintln!("{w}");
    }
    eprintln!("Loading gateway rules from: {}", rules_path.display());
    let names: Vec<String> = servers.servers.iter().map(|s| s.name.clone()).collect();
    let rules_text = config::read_text(&rules_path)?;
    reload_status.note_content(ConfigFile::Rules, &rules_text, true);
    let (snapshot, warnings) =
        reload::compile_rules_text(&rules_path, &rules_text, args.default_agent.as_deref(), Some(&names))?;
    for w in &warnings {
        eprintln!("{w}");
    }
    let pins = match config::lock::find_lock(args.lock.as_deref(), &rules_path) {
        Some(path) => {
            eprintln!("Loading pinned tool definitions from: {}", path.display());
            let lock = config::lock::load_lock(&path)?;
            Pins { path: Some(path), lock: Some(Arc::new(lock)) }
        }
        None => Pins::default(),
    };
    let otel = Arc::new(Otel::from_env()?);
    let audit = open_audit(args.audit_log.clone(), otel.audit_logs()).await?;

    let downstream_settings = Arc::new(DownstreamSettings {
        max_message: max_message_bytes(),
        default_timeout: Duration::from_millis(args.timeout_ms.max(1)),
        start_timeout: Duration::from_secs(30),
        catalogue: Default::default(),
        notices: Default::default(),
    });
    reload_status.success(ConfigFile::McpConfig, servers.warnings.iter().map(ToString::to_string).collect());
    reload_status.success(ConfigFile::Rules, warnings.clone());
    let table = &snapshot.table;
    summarize(&servers, table, &audit, args, warnings.len() + servers.warnings.len());
    eprintln!("  - OpenTelemetry export: {}", otel.summary());
    let identity = Identity { bound: args.agent.clone(), has_default: table.default_agent().is_some() };
    crate::gateway::expose::check_separator(&args.tool_separator)?;
    let tokens = args.transport == TransportKind::Http && !servers.http.tokens.is_empty();
    if args.expose.direct() && identity.bound.is_none() && !identity.has_default && !tokens {
        let mode = if args.expose == Expose::Both { "both" } else { "direct" };
        return Err(StartupError::DirectNeedsIdentity(mode));
    }
    let gw = Gateway::new(GatewayParts {
        servers: ServerSet::new(&servers, &downstream_settings),
        http: servers.http.clone(),
        policy: snapshot,
        settings: GatewaySettings {
            debug: args.debug,
            audit_args: args.audit_args,
            mcp_config_path: mcp_path,
            lock_path: config::lock::lock_path(args.lock.as_deref(), &rules_path),
            rules_path,
            default_agent: args.default_agent.clone(),
            expose: args.expose,
            separator: args.tool_separator.clone(),
        },
        downstream: downstream_settings,
        audit,
        reload: reload_status,
        identity,
        pins,
        limits: match &servers.http.redis_url {
            Some(url) => Limits::shared(Shared::connect(url)?),
            None => Limits::default(),
        },
        otel: otel.clone(),
    });
    let gw = Arc::new(gw);
    let weak = Arc::downgrade(&gw);
    otel.observe(move || weak.upgrade().map(|gw| gw.scrape()));
    gw.watch_tool_changes();
    Ok(gw)
}

/// The audit log at `given`, else at the default path; records also go to `logs` when
/// given (OpenTelemetry), even without a file.
async fn open_audit(given: Option<PathBuf>, logs: Option<AuditLogs>) -> Result<Audit, StartupError> {
    match given {
        Some(path) => Audit::open(&path, logs).await.map_err(|source| StartupError::Audit { path, source }),
        None => match audit::default_path() {
            Some(path) => match Audit::open(&path, logs.clone()).await {
                Ok(a) => Ok(a),
                Err(e) => {
                    eprintln!("warning: cannot open the audit log {} ({e}); auditing is off", path.display());
                    Ok(Audit::without_file(logs))
                }
            },
            None => {
                eprintln!("warning: no cache directory for the audit log; give --audit-log to turn auditing on");
                Ok(Audit::without_file(logs))
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
    match args.expose {
        Expose::Meta => {
            let names: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
            eprintln!("  - {} gateway tools: {}", names.len(), names.join(", "))
        }
        Expose::Direct => eprintln!("  - Direct mode: the agent's tools as SERVER{}TOOL", args.tool_separator),
        Expose::Both => {
            eprintln!(
                "  - {} gateway tools, and the agent's tools as SERVER{}TOOL (direct mode)",
                Operation::ALL.len(),
                args.tool_separator
            )
        }
    }
}

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

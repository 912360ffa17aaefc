//! `mcpgw lock`: pin the tool definitions the servers serve now, or check them against the
//! pins (`--check`), or re-pin some servers (`--update`).
//!
//! Every selected server is started and listed before anything is written; if one cannot
//! start, the command names it and writes nothing. The file is written atomically (a
//! temporary file beside it, then a rename), so the gateway's reload never reads half of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::cli::LockArgs;
use crate::commands::EXIT_BAD_INPUT;
use crate::commands::fmt::write_atomically;
use crate::config::lock::{Kind, Lock, PinnedServer, PinnedTool, changes, lock_path};
use crate::config::servers::ServerSpec;
use crate::config::{self, ConfigError};
use crate::downstream::{Downstream, DownstreamSettings};
use crate::mcp::scan::{Finding, ServerTools, scan};
use crate::wire::DEFAULT_MAX_MESSAGE_BYTES;

/// Why the command could not do its work (each is exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A configuration file could not be found, read or parsed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No lock path was given and there is no rules file to put it beside.
    #[error("no lock file given and no rules file to put `mcpgw.lock` beside ({0}); give one with --lock")]
    NoPath(ConfigError),
    /// A server named on the command line is not configured.
    #[error("unknown server `{name}` (configured: {configured})")]
    UnknownServer {
        /// The name given.
        name: String,
        /// The configured names.
        configured: String,
    },
    /// `--check` or `--update` without a lock file.
    #[error("{}: no lock file to {what}; create it with `mcpgw lock`", path.display())]
    Missing {
        /// The lock path.
        path: PathBuf,
        /// `check against` or `update`.
        what: &'static str,
    },
    /// A plain `mcpgw lock` would replace a reviewed lock.
    #[error(
        "{}: already exists; review what changed with `mcpgw lock --check`, then approve it with \
         `mcpgw lock --update [SERVER...]`",
        path.display()
    )]
    Exists {
        /// The lock path.
        path: PathBuf,
    },
    /// Servers could not be started or listed; nothing was written.
    #[error("{}", failures.join("\n"))]
    Unavailable {
        /// One line (or more) per server.
        failures: Vec<String>,
    },
}

/// Runs the command; see [`crate::cli::Command::Lock`] for the exit codes.
pub fn run(args: &LockArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpgw: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match run_async(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{e}");
                if matches!(e, LockError::Unavailable { .. }) {
                    eprintln!("nothing was written");
                }
                ExitCode::from(EXIT_BAD_INPUT)
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run_async(args: &LockArgs) -> Result<ExitCode, LockError> {
    let mcp_path = config::find_mcp_config(args.config.mcp_config.as_deref())?;
    let servers = config::load_servers(&mcp_path)?;
    let path = match &args.lock {
        Some(p) => p.clone(),
        None => lock_path(None, &config::find_rules(args.config.rules.as_deref()).map_err(LockError::NoPath)?),
    };
    let selected = select(&servers.servers, &args.servers)?;
    let existing = read_existing(&path)?;
    match (&existing, args.check, args.update) {
        (None, true, _) => return Err(LockError::Missing { path, what: "check against" }),
        (None, _, true) => return Err(LockError::Missing { path, what: "update" }),
        (Some(_), false, false) => return Err(LockError::Exists { path }),
        _ => {}
    }
    let live = pin_servers(&selected, Duration::from_millis(args.timeout_ms.max(1))).await?;
    let findings = scan_pins(&live);
    for f in &findings {
        eprintln!("warning: scan: {f}");
    }
    if !findings.is_empty() {
        eprintln!("{} scan finding(s): review these definitions (`mcpgw check --scan` lists them too)", findings.len());
    }

    if args.check {
        let lock = existing.unwrap_or_default();
        let report = drift(&lock, &live);
        if report.is_empty() {
            println!("{}: {} server(s) match the lock", path.display(), live.len());
            return Ok(ExitCode::SUCCESS);
        }
        print!("{report}");
        let names: Vec<&str> = live.keys().map(String::as_str).collect();
        println!(
            "{}: the servers drift from the lock; approve what they serve now with `mcpgw lock --update {}`",
            path.display(),
            names.join(" ")
        );
        return Ok(ExitCode::FAILURE);
    }

    let mut lock = existing.unwrap_or_default();
    if args.update && args.servers.is_empty() {
        // Every configured server is re-pinned; entries of servers no longer configured go.
        lock.servers.retain(|name, _| live.contains_key(name));
    }
    let tools: usize = live.values().map(|s| s.tools.len()).sum();
    let count = live.len();
    lock.servers.extend(live);
    let text = lock.to_text();
    let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    let replace = target.exists();
    if let Err(e) = write_atomically(&target, &text, replace) {
        eprintln!("{}: cannot write: {e}", path.display());
        return Ok(ExitCode::FAILURE);
    }
    eprintln!("{}: pinned {tools} tool(s) of {count} server(s)", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The configured servers named on the command line, or all of them.
fn select(configured: &[ServerSpec], names: &[String]) -> Result<Vec<ServerSpec>, LockError> {
    if names.is_empty() {
        return Ok(configured.to_vec());
    }
    names
        .iter()
        .map(|n| {
            configured.iter().find(|s| &s.name == n).cloned().ok_or_else(|| LockError::UnknownServer {
                name: n.clone(),
                configured: configured.iter().map(|s| format!("`{}`", s.name)).collect::<Vec<_>>().join(", "),
            })
        })
        .collect()
}

fn read_existing(path: &Path) -> Result<Option<Lock>, LockError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = config::read_text(path)?;
    Lock::parse(&path.display().to_string(), &text).map(Some).map_err(|e| LockError::Config(ConfigError::Invalid(e)))
}

/// The scan of the pinned definitions ([`crate::mcp::scan`]).
pub(crate) fn scan_pins(servers: &BTreeMap<String, PinnedServer>) -> Vec<Finding> {
    let values: Vec<(&str, Vec<(&str, Value)>)> = servers
        .iter()
        .map(|(name, s)| {
            let tools = s.tools.iter().map(|(t, p)| (t.as_str(), Value::Object(p.definition.clone()))).collect();
            (name.as_str(), tools)
        })
        .collect();
    let inputs: Vec<ServerTools<'_>> = values
        .iter()
        .map(|(server, tools)| ServerTools { server, tools: tools.iter().map(|(t, v)| (*t, v)).collect() })
        .collect();
    scan(&inputs)
}

/// Starts every server at once, lists its tools, stops it; all or nothing.
pub(crate) async fn pin_servers(
    specs: &[ServerSpec],
    timeout: Duration,
) -> Result<BTreeMap<String, PinnedServer>, LockError> {
    let settings = Arc::new(DownstreamSettings {
        max_message: DEFAULT_MAX_MESSAGE_BYTES,
        default_timeout: timeout,
        start_timeout: timeout,
        catalogue: Default::default(),
        notices: Default::default(),
    });
    let downstreams: Vec<Arc<Downstream>> =
        specs.iter().map(|s| Arc::new(Downstream::new(s.clone(), settings.clone()))).collect();
    let results = futures::future::join_all(downstreams.iter().map(|d| pin_server(d, timeout))).await;
    futures::future::join_all(downstreams.iter().map(|d| d.shutdown())).await;
    let mut pinned = BTreeMap::new();
    let mut failures = Vec::new();
    for (d, result) in downstreams.iter().zip(results) {
        match result {
            Ok(server) => {
                pinned.insert(d.name().to_owned(), server);
            }
            Err(why) => {
                let mut line = format!("server `{}` cannot be pinned: {why}", d.name());
                // The operator runs this command: the server's stderr is theirs to see.
                if let Some(tail) = d.last_stderr() {
                    line.push_str("\n  its last stderr lines:");
                    for l in tail.lines() {
                        line.push_str("\n    ");
                        line.push_str(l);
                    }
                }
                failures.push(line);
            }
        }
    }
    if failures.is_empty() { Ok(pinned) } else { Err(LockError::Unavailable { failures }) }
}

async fn pin_server(d: &Downstream, timeout: Duration) -> Result<PinnedServer, String> {
    let tools = d.tools(timeout).await.map_err(|e| e.message.clone())?;
    let conn = d.connection(timeout).await.map_err(|e| e.message.clone())?;
    let info = conn.info();
    let mut server =
        PinnedServer { name: info.name.clone(), version: info.server_version.clone(), ..Default::default() };
    for tool in tools.iter() {
        let definition: Value = serde_json::from_str(tool.raw.get()).map_err(|e| e.to_string())?;
        if server.tools.insert(tool.name.clone(), PinnedTool::of(&definition)).is_some() {
            return Err(format!("it lists tool `{}` twice", tool.name));
        }
    }
    // Prompts and resource templates, from the servers that offer them.
    let caps: Value = serde_json::from_str(info.capabilities.get()).unwrap_or_default();
    let lists = [
        (Kind::Prompt, "prompts", "prompts/list", "prompts"),
        (Kind::ResourceTemplate, "resources", "resources/templates/list", "resourceTemplates"),
    ];
    for (kind, capability, method, member) in lists {
        if caps.get(capability).is_none() {
            continue;
        }
        for definition in d.list_all(method, member, timeout).await.map_err(|e| e.message)? {
            let Some(key) = definition.get(kind.key()).and_then(Value::as_str).map(str::to_owned) else { continue };
            if server.of_mut(kind).insert(key.clone(), PinnedTool::of_kind(kind, &definition)).is_some() {
                return Err(format!("it lists {} `{key}` twice", kind.noun()));
            }
        }
    }
    Ok(server)
}

/// What differs between the lock and the live servers, as readable text (empty: nothing).
fn drift(lock: &Lock, live: &BTreeMap<String, PinnedServer>) -> String {
    let mut out = String::new();
    for (name, now) in live {
        let Some(was) = lock.servers.get(name) else {
            out.push_str(&format!("server `{name}`: not in the lock ({} tool(s) unpinned)\n", now.tools.len()));
            continue;
        };
        let mut lines = String::new();
        if (&was.name, &was.version) != (&now.name, &now.version) {
            let show = |s: &PinnedServer| {
                format!(
                    "{} {}",
                    s.name.as_deref().unwrap_or("(no name)"),
                    s.version.as_deref().unwrap_or("(no version)")
                )
            };
            lines.push_str(&format!("  serverInfo: {} -> {}\n", show(was), show(now)));
        }
        for kind in Kind::ALL {
            let (old, new, noun) = (was.of(kind), now.of(kind), kind.noun());
            for (key, pin) in new {
                match old.get(key) {
                    None => lines.push_str(&format!("  {noun} `{key}`: not in the lock\n")),
                    Some(before) if before.sha256 != pin.sha256 => {
                        lines.push_str(&format!("  {noun} `{key}`: changed\n"));
                        for c in changes(kind, &before.definition, &pin.definition) {
                            for l in c.render().lines() {
                                lines.push_str("  ");
                                lines.push_str(l);
                                lines.push('\n');
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                lines.push_str(&format!("  {noun} `{key}`: in the lock, no longer served\n"));
            }
        }
        if !lines.is_empty() {
            out.push_str(&format!("server `{name}`:\n{lines}"));
        }
    }
    out
}

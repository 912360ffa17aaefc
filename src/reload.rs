//! Hot reload: watch both files (and SIGHUP), rebuild off the request path, swap atomically.
//!
//! The rules are parsed, validated and compiled completely before the `ArcSwap` store, so no
//! request ever sees a half-built, empty or allow-all policy; a file that fails keeps the last
//! good snapshot serving and the failure is logged and shown in `get_gateway_status`. Files
//! are watched through their parent directories so that editors' atomic saves (write a
//! temporary file, rename it over the original), deletes and re-creates are all seen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::{self, ConfigFile, PolicySnapshot, servers::ServersConfig};
use crate::downstream::Downstream;
use crate::gateway::pins::Pins;
use crate::gateway::{Gateway, ServerSet};
use crate::policy::{CompileOptions, DecisionTable, Diagnostics, LintContext};

/// How long a file must be quiet before it is reloaded.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// How long a removed or changed server may finish its calls before it is stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Compiles the text of a rules file read from `path`. Fails with every located error.
pub fn compile_rules_text(
    path: &Path,
    text: &str,
    default_agent: Option<&str>,
    known_servers: Option<&[String]>,
) -> Result<(PolicySnapshot, Vec<String>), Diagnostics> {
    let policy = config::parse_rules(path, text)?;
    let options = CompileOptions { default_agent: default_agent.map(str::to_owned) };
    let table = DecisionTable::compile_with(&policy, &options)?;
    let mut lints = Diagnostics(policy.lint(&LintContext { known_servers }));
    lints.attach_source_lines(text);
    let warnings = lints.iter().map(ToString::to_string).collect();
    Ok((PolicySnapshot { table, path: path.to_owned(), loaded_at: SystemTime::now() }, warnings))
}

/// Why a reload failed: the file could not be read, or what it holds is wrong.
#[derive(Debug, thiserror::Error)]
enum ReloadError {
    /// Unreadable, missing or not UTF-8.
    #[error(transparent)]
    Read(#[from] config::ConfigError),
    /// Rules that do not parse, validate or compile.
    #[error(transparent)]
    Rules(#[from] Diagnostics),
}

/// Reads a file for a reload: its text, or `None` when there is nothing to do (the content
/// is what the last load read, and the reload is not `forced`). A read error fails the load.
fn read_for_reload(
    gw: &Gateway,
    which: ConfigFile,
    path: &Path,
    forced: bool,
) -> Option<Result<String, config::ConfigError>> {
    match config::read_text(path) {
        Ok(text) => gw.reload_status().note_content(which, &text, forced).then_some(Ok(text)),
        Err(e) => Some(Err(e)),
    }
}

/// Reloads the rules: on success the new snapshot serves the next request; on failure the
/// old one keeps serving. Unless `forced` (SIGHUP), unchanged content does nothing.
pub fn reload_rules(gw: &Gateway, forced: bool) {
    let path = gw.settings().rules_path.clone();
    let Some(text) = read_for_reload(gw, ConfigFile::Rules, &path, forced) else {
        tracing::debug!(path = %path.display(), "rules unchanged; nothing to reload");
        return;
    };
    let names: Vec<String> = gw.servers().iter().map(|d| d.name().to_owned()).collect();
    let compiled = text.map_err(ReloadError::from).and_then(|text| {
        compile_rules_text(&path, &text, gw.settings().default_agent.as_deref(), Some(&names))
            .map_err(ReloadError::from)
    });
    match compiled {
        Ok((snapshot, warnings)) => {
            let old = gw.policy().table.snapshot_id().to_owned();
            let new = snapshot.table.snapshot_id().to_owned();
            for w in &warnings {
                tracing::warn!("{w}");
            }
            gw.swap_policy(snapshot);
            gw.reload_status().success(ConfigFile::Rules, warnings);
            tracing::info!(path = %path.display(), %old, %new, "rules reloaded");
        }
        Err(e) => {
            tracing::error!(path = %path.display(), "rules reload failed; the previous policy keeps serving:\n{e}");
            gw.reload_status().failure(ConfigFile::Rules, e.to_string());
        }
    }
}

/// Reloads the MCP config: added servers become available (started lazily), removed ones
/// stop taking calls and are stopped after their calls finish, changed ones are replaced the
/// same way, and unchanged ones keep their connections. Unless `forced` (SIGHUP), unchanged
/// content does nothing.
pub fn reload_servers(gw: &Arc<Gateway>, forced: bool) {
    let path = gw.settings().mcp_config_path.clone();
    let Some(text) = read_for_reload(gw, ConfigFile::McpConfig, &path, forced) else {
        tracing::debug!(path = %path.display(), "MCP config unchanged; nothing to reload");
        return;
    };
    let config = match text.and_then(|text| config::servers_from_text(&path, &text)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(path = %path.display(), "MCP config reload failed; the previous servers keep serving:\n{e}");
            gw.reload_status().failure(ConfigFile::McpConfig, e.to_string());
            return;
        }
    };
    let old = gw.servers();
    let (next, retired) = merge_servers(&old, &config, gw);
    gw.swap_servers(next, config.http.clone());
    gw.watch_tool_changes();
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    gw.reload_status().success(ConfigFile::McpConfig, warnings);
    tracing::info!(path = %path.display(), servers = config.servers.len(), retired = retired.len(), "MCP config reloaded");
    for d in retired {
        tokio::spawn(async move {
            d.drain(DRAIN_LIMIT).await;
            d.shutdown().await;
            tracing::info!(server = %d.name(), "stopped a server that was removed or changed");
        });
    }
}

/// Reloads the lock of pinned tool definitions. A lock that cannot be read or is wrong (bad
/// JSON, an unknown version, a hash that does not match its definition, a duplicate) keeps
/// the last good one serving, with the error in `get_gateway_status`; so does a lock that
/// was removed (pinning is turned off by restarting without one, never by a missing file).
pub fn reload_lock(gw: &Gateway) {
    let path = gw.settings().lock_path.clone();
    let loaded = gw.pins().lock.is_some();
    if !path.exists() && !loaded {
        return;
    }
    match config::lock::load_lock(&path) {
        Ok(lock) => {
            let tools: usize = lock.servers.values().map(|s| s.tools.len()).sum();
            gw.swap_pins(Pins { path: Some(path.clone()), lock: Some(Arc::new(lock)) });
            tracing::info!(path = %path.display(), tools, "lock reloaded");
        }
        Err(e) => {
            let why = if loaded { "the last good lock keeps serving" } else { "no lock is in force" };
            tracing::error!(path = %path.display(), "lock reload failed; {why}:\n{e}");
            gw.set_lock_error(Some(e.to_string()));
        }
    }
}

/// The new server set, and the old downstreams to retire.
fn merge_servers(old: &ServerSet, config: &ServersConfig, gw: &Gateway) -> (ServerSet, Vec<Arc<Downstream>>) {
    let mut list = Vec::with_capacity(config.servers.len());
    for spec in &config.servers {
        match old.get(&spec.name) {
            Some(d) if d.spec == *spec => list.push(d.clone()),
            _ => list.push(Arc::new(Downstream::new(spec.clone(), gw.downstream_settings().clone()))),
        }
    }
    let next = ServerSet::from_list(list);
    let retired = old.iter().filter(|d| next.get(d.name()).is_none_or(|n| !Arc::ptr_eq(n, d))).cloned().collect();
    (next, retired)
}

/// Watches both files and SIGHUP until the process ends. Returns the watcher, which must be
/// kept alive.
pub fn watch(gw: Arc<Gateway>) -> Option<notify::RecommendedWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Trigger>();
    let rules = absolute(&gw.settings().rules_path);
    let servers = absolute(&gw.settings().mcp_config_path);
    let lock = absolute(&gw.settings().lock_path);
    let watcher = {
        let (rules, servers, lock, tx) = (rules.clone(), servers.clone(), lock.clone(), tx.clone());
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if !changes_content(&event.kind) {
                return;
            }
            for p in &event.paths {
                if same_file_name(p, &rules) {
                    let _ = tx.send(Trigger { which: Watched::Config(ConfigFile::Rules), forced: false });
                }
                if same_file_name(p, &servers) {
                    let _ = tx.send(Trigger { which: Watched::Config(ConfigFile::McpConfig), forced: false });
                }
                if same_file_name(p, &lock) {
                    let _ = tx.send(Trigger { which: Watched::Lock, forced: false });
                }
            }
        })
    };
    let watcher = match watcher {
        Ok(mut w) => {
            let mut dirs: Vec<PathBuf> =
                [&rules, &servers, &lock].iter().filter_map(|p| p.parent().map(Path::to_path_buf)).collect();
            dirs.sort();
            dirs.dedup();
            // Every write into a watched directory wakes the watcher, which then finds that
            // the file is none of its own: an audit log there costs that on every call.
            if let Some(audit_dir) = gw.audit().path().and_then(|p| absolute(p).parent().map(Path::to_path_buf))
                && dirs.contains(&audit_dir)
            {
                tracing::warn!(
                    dir = %audit_dir.display(),
                    "the audit log is in a directory watched for config changes, so each audit line wakes the watcher; a directory of its own saves that work"
                );
            }
            for dir in dirs {
                if let Err(e) = w.watch(&dir, RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %dir.display(), "cannot watch for config changes: {e}");
                }
            }
            Some(w)
        }
        Err(e) => {
            tracing::warn!("file watching is unavailable ({e}); use SIGHUP to reload");
            None
        }
    };
    spawn_sighup(tx);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            // Per file: not asked, asked, asked by SIGHUP (forced).
            let mut rules: Option<bool> = None;
            let mut servers: Option<bool> = None;
            let mut lock: Option<bool> = None;
            let mut note = |t: Trigger| {
                let slot = match t.which {
                    Watched::Config(ConfigFile::Rules) => &mut rules,
                    Watched::Config(ConfigFile::McpConfig) => &mut servers,
                    Watched::Lock => &mut lock,
                };
                *slot = Some(slot.unwrap_or(false) | t.forced);
            };
            note(first);
            // Debounce: wait until the files have been quiet for a moment.
            while let Ok(Some(next)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                note(next);
            }
            // Servers first, so the rules are linted against the new server names.
            if let Some(forced) = servers {
                reload_servers(&gw, forced);
            }
            if let Some(forced) = rules {
                reload_rules(&gw, forced);
            }
            if lock.is_some() {
                reload_lock(&gw);
            }
        }
    });
    watcher
}

/// Whether an event can mean new content: a create, a data write, a rename or a remove.
///
/// notify also reports opening, reading and closing a file, and every reload reads the file
/// it watches; reacting to those made each reload trigger the next, forever (and one `cat`
/// of the rules started the loop). Metadata changes (`touch`, `chmod`) leave the content as
/// it was. A write that closes a file counts: some editors write in place and close.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Any => true,
    }
}

/// A watched file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watched {
    /// The rules or the MCP config.
    Config(ConfigFile),
    /// The lock of pinned tool definitions.
    Lock,
}

/// A reason to reload one file.
#[derive(Debug, Clone, Copy)]
struct Trigger {
    which: Watched,
    /// SIGHUP reloads even unchanged content: the operator asked for it.
    forced: bool,
}

fn spawn_sighup(tx: mpsc::UnboundedSender<Trigger>) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading the files");
                    let _ = tx.send(Trigger { which: Watched::Config(ConfigFile::McpConfig), forced: true });
                    let _ = tx.send(Trigger { which: Watched::Config(ConfigFile::Rules), forced: true });
                    let _ = tx.send(Trigger { which: Watched::Lock, forced: true });
                }
            });
        }
        Err(e) => tracing::warn!("cannot listen for SIGHUP: {e}"),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Whether an event path is the watched file (same directory and name; the file itself may
/// not exist at the moment of a rename).
fn same_file_name(event: &Path, watched: &Path) -> bool {
    event.file_name() == watched.file_name() && event.parent().map(absolute) == watched.parent().map(absolute)
}

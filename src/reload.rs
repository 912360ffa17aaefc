//! Hot reload: watch both files (and SIGHUP), rebuild off the request path, swap atomically.
//!
//! The rules are parsed, validated and compiled completely before the `ArcSwap` store, so no
//! request ever sees a half-built, empty or allow-all policy; a file that fails keeps the last
//! good snapshot serving and the failure is logged and shown in `get_gateway_status`. Files
//! are watched through their parent directories so that editors' atomic saves (write a
//! temporary file, rename it over the original), deletes and re-creates are all seen.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::audit::rfc3339;
use crate::config::{self, servers::ServersConfig};
use crate::downstream::Downstream;
use crate::gateway::{Gateway, PolicySnapshot, ServerSet};
use crate::policy::{CompileOptions, DecisionTable, Diagnostics, LintContext};

/// How long a file must be quiet before it is reloaded.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// How long a removed or changed server may finish its calls before it is stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// What happened to one file's reloads.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileStatus {
    /// When a load was last tried.
    pub last_attempt: Option<String>,
    /// When a load last succeeded.
    pub last_success: Option<String>,
    /// Why the last load failed, if it did (cleared by a success).
    pub last_error: Option<String>,
    /// Loads tried.
    pub attempts: u64,
    /// Loads that failed.
    pub failures: u64,
    /// Warnings of the last successful load.
    pub warnings: Vec<String>,
}

/// The reload status of both files.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    rules: Mutex<FileStatus>,
    servers: Mutex<FileStatus>,
}

/// Which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The rules file.
    Rules,
    /// The MCP config.
    Servers,
}

impl ReloadStatus {
    fn slot(&self, which: Which) -> std::sync::MutexGuard<'_, FileStatus> {
        let m = match which {
            Which::Rules => &self.rules,
            Which::Servers => &self.servers,
        };
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a successful load.
    pub fn success(&self, which: Which, warnings: Vec<String>) {
        let now = rfc3339(SystemTime::now());
        let mut s = self.slot(which);
        s.attempts += 1;
        s.last_attempt = Some(now.clone());
        s.last_success = Some(now);
        s.last_error = None;
        s.warnings = warnings;
    }

    /// Records a failed load.
    pub fn failure(&self, which: Which, error: String) {
        let mut s = self.slot(which);
        s.attempts += 1;
        s.failures += 1;
        s.last_attempt = Some(rfc3339(SystemTime::now()));
        s.last_error = Some(error);
    }

    /// A copy of one file's status.
    pub fn get(&self, which: Which) -> FileStatus {
        self.slot(which).clone()
    }
}

/// Loads and compiles a rules file. Fails with every located error.
pub fn compile_rules(
    path: &Path,
    default_agent: Option<&str>,
    known_servers: Option<&[String]>,
) -> Result<(PolicySnapshot, Vec<String>), String> {
    let text = config::read_text(path).map_err(|e| e.to_string())?;
    let policy = config::parse_rules(path, &text).map_err(|e| e.to_string())?;
    let options = CompileOptions { default_agent: default_agent.map(str::to_owned) };
    let table = DecisionTable::compile_with(&policy, &options).map_err(|e| e.to_string())?;
    let mut lints = Diagnostics(policy.lint(&LintContext { known_servers }));
    lints.attach_source_lines(&text);
    let warnings = lints.iter().map(ToString::to_string).collect();
    Ok((PolicySnapshot { table, path: path.to_owned(), loaded_at: SystemTime::now() }, warnings))
}

/// Reloads the rules: on success the new snapshot serves the next request; on failure the
/// old one keeps serving.
pub fn reload_rules(gw: &Gateway) {
    let names: Vec<String> = gw.servers.load().iter().map(|d| d.name().to_owned()).collect();
    let path = gw.settings.rules_path.clone();
    match compile_rules(&path, gw.settings.default_agent.as_deref(), Some(&names)) {
        Ok((snapshot, warnings)) => {
            let old = gw.policy.load().table.snapshot_id().to_owned();
            let new = snapshot.table.snapshot_id().to_owned();
            for w in &warnings {
                tracing::warn!("{w}");
            }
            gw.policy.store(Arc::new(snapshot));
            gw.reload.success(Which::Rules, warnings);
            tracing::info!(path = %path.display(), %old, %new, "rules reloaded");
        }
        Err(e) => {
            tracing::error!(path = %path.display(), "rules reload failed; the previous policy keeps serving:\n{e}");
            gw.reload.failure(Which::Rules, e);
        }
    }
}

/// Reloads the MCP config: added servers become available (started lazily), removed ones
/// stop taking calls and are stopped after their calls finish, changed ones are replaced the
/// same way, and unchanged ones keep their connections.
pub fn reload_servers(gw: &Arc<Gateway>) {
    let path = gw.settings.mcp_config_path.clone();
    let config = match config::load_servers(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(path = %path.display(), "MCP config reload failed; the previous servers keep serving:\n{e}");
            gw.reload.failure(Which::Servers, e.to_string());
            return;
        }
    };
    let old = gw.servers.load_full();
    let (next, retired) = merge_servers(&old, &config, gw);
    gw.servers.store(Arc::new(next));
    gw.http.store(Arc::new(config.http.clone()));
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    gw.reload.success(Which::Servers, warnings);
    tracing::info!(path = %path.display(), servers = config.servers.len(), retired = retired.len(), "MCP config reloaded");
    for d in retired {
        tokio::spawn(async move {
            d.drain(DRAIN_LIMIT).await;
            d.shutdown().await;
            tracing::info!(server = %d.name(), "stopped a server that was removed or changed");
        });
    }
}

/// The new server set, and the old downstreams to retire.
fn merge_servers(old: &ServerSet, config: &ServersConfig, gw: &Gateway) -> (ServerSet, Vec<Arc<Downstream>>) {
    let mut list = Vec::with_capacity(config.servers.len());
    for spec in &config.servers {
        match old.get(&spec.name) {
            Some(d) if d.spec == *spec => list.push(d.clone()),
            _ => list.push(Arc::new(Downstream::new(spec.clone(), gw.downstream_settings.clone()))),
        }
    }
    let next = ServerSet::from_list(list);
    let retired = old.iter().filter(|d| next.get(d.name()).is_none_or(|n| !Arc::ptr_eq(n, d))).cloned().collect();
    (next, retired)
}

/// Watches both files and SIGHUP until the process ends. Returns the watcher, which must be
/// kept alive.
pub fn watch(gw: Arc<Gateway>) -> Option<notify::RecommendedWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Which>();
    let rules = absolute(&gw.settings.rules_path);
    let servers = absolute(&gw.settings.mcp_config_path);
    let watcher = {
        let (rules, servers, tx) = (rules.clone(), servers.clone(), tx.clone());
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            for p in &event.paths {
                if same_file_name(p, &rules) {
                    let _ = tx.send(Which::Rules);
                }
                if same_file_name(p, &servers) {
                    let _ = tx.send(Which::Servers);
                }
            }
        })
    };
    let watcher = match watcher {
        Ok(mut w) => {
            let mut dirs: Vec<PathBuf> =
                [&rules, &servers].iter().filter_map(|p| p.parent().map(Path::to_path_buf)).collect();
            dirs.dedup();
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
            let mut rules = first == Which::Rules;
            let mut servers = first == Which::Servers;
            // Debounce: wait until the files have been quiet for a moment.
            while let Ok(Some(next)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                rules |= next == Which::Rules;
                servers |= next == Which::Servers;
            }
            // Servers first, so the rules are linted against the new server names.
            if servers {
                reload_servers(&gw);
            }
            if rules {
                reload_rules(&gw);
            }
        }
    });
    watcher
}

fn spawn_sighup(tx: mpsc::UnboundedSender<Which>) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading both files");
                    let _ = tx.send(Which::Servers);
                    let _ = tx.send(Which::Rules);
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

//! The state every client shares: the current policy and servers (swapped by reloads), the
//! settings fixed at startup, the audit trail, metrics and limits.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::servers::HttpSettings;
use crate::config::{ConfigFile, PolicySnapshot, ReloadStatus};
use crate::downstream::DownstreamSettings;
use crate::gateway::expose::Expose;
use crate::gateway::identity::Identity;
use crate::gateway::links::Links;
use crate::gateway::parked::ParkedCalls;
use crate::gateway::pins::{Pins, Quarantine};
use crate::gateway::seal::Sealer;
use crate::gateway::servers::ServerSet;
use crate::gateway::tasks::TaskTable;
use crate::limits::Limits;
use crate::telemetry::audit::Audit;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::otel::Otel;
use crate::telemetry::scrape::Scrape;

/// How long the downstreams get to stop at shutdown.
const SHUTDOWN_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Settings fixed at startup.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Show agent ids, paths and servers' stderr in status output.
    pub debug: bool,
    /// Log tool arguments in the audit log.
    pub audit_args: bool,
    /// The MCP config file.
    pub mcp_config_path: PathBuf,
    /// The rules file.
    pub rules_path: PathBuf,
    /// The lock file watched (`--lock`, else `mcpgw.lock` beside the rules, which may not
    /// exist).
    pub lock_path: PathBuf,
    /// The `--default-agent` flag, applied to every compiled policy.
    pub default_agent: Option<String>,
    /// Which tools `tools/list` shows.
    pub expose: Expose,
    /// Between the server and the tool in a direct-mode name.
    pub separator: String,
}

/// What a [`Gateway`] is built from.
pub struct GatewayParts {
    /// The first policy.
    pub policy: PolicySnapshot,
    /// The first servers.
    pub servers: ServerSet,
    /// The first HTTP settings.
    pub http: HttpSettings,
    /// Settings fixed at startup.
    pub settings: GatewaySettings,
    /// Settings of every downstream.
    pub downstream: Arc<DownstreamSettings>,
    /// The audit trail.
    pub audit: Audit,
    /// The startup loads, as the status reports them.
    pub reload: ReloadStatus,
    /// Who the callers are.
    pub identity: Identity,
    /// The lock of pinned tool definitions (empty: none).
    pub pins: Pins,
    /// The per-agent limits (shared in Redis, or this replica's own).
    pub limits: Limits,
    /// Export to an OpenTelemetry collector (or none).
    pub otel: Arc<Otel>,
}

/// The state shared by every client.
pub struct Gateway {
    policy: ArcSwap<PolicySnapshot>,
    servers: ArcSwap<ServerSet>,
    http: ArcSwap<HttpSettings>,
    settings: GatewaySettings,
    downstream: Arc<DownstreamSettings>,
    audit: Audit,
    otel: Arc<Otel>,
    metrics: Metrics,
    reload: ReloadStatus,
    limits: Limits,
    identity: Identity,
    parked: ParkedCalls,
    sealer: Sealer,
    tasks: TaskTable,
    pins: ArcSwap<Pins>,
    quarantine: Quarantine,
    /// Which server's tool result gave each agent each resource URI.
    links: Links,
    /// Why the last load of the lock failed, while the one before serves.
    lock_error: std::sync::Mutex<Option<String>>,
}

/// The environment variable with the key that seals input-round states: replicas behind one
/// load balancer share it, so that a retry can land on any of them (for rounds that are not
/// parked in one replica).
pub const STATE_KEY_VAR: &str = "MCPGW_STATE_KEY";

impl Gateway {
    /// A gateway from its parts.
    pub fn new(parts: GatewayParts) -> Gateway {
        Gateway {
            policy: ArcSwap::from_pointee(parts.policy),
            servers: ArcSwap::from_pointee(parts.servers),
            http: ArcSwap::from_pointee(parts.http),
            settings: parts.settings,
            downstream: parts.downstream,
            audit: parts.audit,
            otel: parts.otel,
            metrics: Metrics::default(),
            reload: parts.reload,
            limits: parts.limits,
            identity: parts.identity,
            parked: ParkedCalls::default(),
            tasks: TaskTable::default(),
            pins: ArcSwap::from_pointee(parts.pins),
            quarantine: Quarantine::default(),
            links: Links::default(),
            lock_error: std::sync::Mutex::new(None),
            sealer: Sealer::new(
                std::env::var(STATE_KEY_VAR).ok().filter(|k| !k.is_empty()).as_deref().map(str::as_bytes),
            ),
        }
    }

    /// The current policy. A call loads it once and keeps it ([`crate::gateway::call::Call`]).
    pub fn policy(&self) -> Arc<PolicySnapshot> {
        self.policy.load_full()
    }

    /// The current servers.
    pub fn servers(&self) -> Arc<ServerSet> {
        self.servers.load_full()
    }

    /// The current HTTP settings (tokens, allowed hosts).
    pub fn http(&self) -> Arc<HttpSettings> {
        self.http.load_full()
    }

    /// Serves `snapshot` from the next call on.
    pub fn swap_policy(&self, snapshot: PolicySnapshot) {
        self.policy.store(Arc::new(snapshot));
        self.downstream.catalogue.bump();
        self.downstream.notices.all_lists_changed();
    }

    /// Serves `servers` and `http` from the next call on; returns the servers replaced.
    pub fn swap_servers(&self, servers: ServerSet, http: HttpSettings) -> Arc<ServerSet> {
        self.http.store(Arc::new(http));
        let old = self.servers.swap(Arc::new(servers));
        self.downstream.catalogue.bump();
        self.downstream.notices.all_lists_changed();
        old
    }

    /// Which server's tool result gave each agent each resource URI.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The current lock. A call loads it once, with the policy.
    pub fn pins(&self) -> Arc<Pins> {
        self.pins.load_full()
    }

    /// Serves `pins` from the next call on (a reloaded lock), and clears the load error.
    pub fn swap_pins(&self, pins: Pins) {
        self.pins.store(Arc::new(pins));
        self.set_lock_error(None);
        self.downstream.catalogue.bump();
    }

    /// Notes why the last load of the lock failed (`None`: it did not).
    pub fn set_lock_error(&self, error: Option<String>) {
        *self.lock_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Why the last load of the lock failed, if it did.
    pub fn lock_error(&self) -> Option<String> {
        self.lock_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The tools seen unpinned.
    pub fn quarantine(&self) -> &Quarantine {
        &self.quarantine
    }

    /// Settings fixed at startup.
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Settings of every downstream.
    pub fn downstream_settings(&self) -> &Arc<DownstreamSettings> {
        &self.downstream
    }

    /// The audit trail.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Call metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Export to an OpenTelemetry collector.
    pub fn otel(&self) -> &Otel {
        &self.otel
    }

    /// Every metrics series, read now (for `/metrics` and the OTLP exporter).
    pub fn scrape(&self) -> Scrape {
        let reload = &self.reload;
        Scrape {
            ops: self.metrics.snapshot(),
            servers: self.servers().iter().map(|d| (d.name().to_owned(), d.status())).collect(),
            files: [("rules", reload.get(ConfigFile::Rules)), ("mcp_config", reload.get(ConfigFile::McpConfig))],
            snapshot: self.policy().table.snapshot_id().to_owned(),
            shared_limits: self.limits.redis().map(|r| (r.in_fallback(), r.fallbacks())),
            telemetry: self.otel.tallies(),
        }
    }

    /// What the loads of the two files did.
    pub fn reload_status(&self) -> &ReloadStatus {
        &self.reload
    }

    /// Per-agent rate and concurrency limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Stops every downstream (whole process groups) and flushes the audit log, within
    /// bounds.
    pub async fn shutdown(&self) {
        let servers = self.servers();
        let stops = servers.iter().map(|d| d.shutdown());
        if tokio::time::timeout(SHUTDOWN_LIMIT, futures::future::join_all(stops)).await.is_err() {
            tracing::warn!("some downstreams did not stop in time");
        }
        self.audit.flush(std::time::Duration::from_secs(1)).await;
        // After the audit's flush, so that its last records go out as logs too.
        if self.otel.is_on() {
            let otel = self.otel.clone();
            // Bounded as a whole: a collector that hangs must not hold the exit.
            let stop = tokio::task::spawn_blocking(move || otel.shutdown_blocking());
            if tokio::time::timeout(SHUTDOWN_LIMIT, stop).await.is_err() {
                tracing::warn!("the OpenTelemetry collector did not take the last records in time");
            }
        }
    }

    /// Calls parked between input rounds.
    pub fn parked(&self) -> &ParkedCalls {
        &self.parked
    }

    /// The tasks handed out.
    pub fn tasks(&self) -> &TaskTable {
        &self.tasks
    }

    /// Seals and opens the gateway's `requestState`.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Who the callers are, when no HTTP token says otherwise.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

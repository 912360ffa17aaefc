//! The gateway: its shared state and the four meta-tools.
//!
//! One [`Gateway`] is shared by every connection (stdio has one; HTTP has many). It holds the
//! current policy snapshot and server set behind `ArcSwap`s, so a reload swaps them without
//! locks and a call in flight keeps the snapshot it loaded.

mod execute;
pub mod handler;
pub mod identity;
mod list_servers;
pub mod params;
mod server_tools;
mod status;
pub mod tools;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::audit::Audit;
use crate::config::servers::{HttpSettings, ServerSpec, ServersConfig};
use crate::downstream::{Downstream, DownstreamSettings};
use crate::error::{ErrorCode, GatewayError};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::policy::{DecisionTable, Effect, Reason, Request};
use crate::reload::ReloadStatus;
pub use identity::Identity;

/// A compiled policy and where it came from.
pub struct PolicySnapshot {
    /// The decision table.
    pub table: DecisionTable,
    /// The file it was read from.
    pub path: PathBuf,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}

/// The configured downstream servers, in config order.
#[derive(Default)]
pub struct ServerSet {
    list: Vec<Arc<Downstream>>,
    by_name: HashMap<String, usize>,
}

impl ServerSet {
    /// A set from already built downstreams, in order.
    pub fn from_list(list: Vec<Arc<Downstream>>) -> Self {
        let by_name = list.iter().enumerate().map(|(i, d)| (d.name().to_owned(), i)).collect();
        ServerSet { list, by_name }
    }

    /// A set of fresh (not started) downstreams for a config.
    pub fn new(config: &ServersConfig, settings: &Arc<DownstreamSettings>) -> Self {
        Self::from_list(
            config
                .servers
                .iter()
                .map(|s: &ServerSpec| Arc::new(Downstream::new(s.clone(), settings.clone())))
                .collect(),
        )
    }

    /// The downstream named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Downstream>> {
        self.by_name.get(name).and_then(|&i| self.list.get(i))
    }

    /// Every downstream, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Downstream>> {
        self.list.iter()
    }

    /// How many servers are configured.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no server is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Settings fixed at startup.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Who may call, and how `agent_id` is treated.
    pub identity: Identity,
    /// Show agent ids and paths in status output.
    pub debug: bool,
    /// Log tool arguments in the audit log.
    pub audit_args: bool,
    /// The MCP config file.
    pub mcp_config_path: PathBuf,
    /// The rules file.
    pub rules_path: PathBuf,
    /// The `--default-agent` flag, applied to every compiled policy.
    pub default_agent: Option<String>,
}

/// The state shared by every connection.
pub struct Gateway {
    /// The current policy.
    pub policy: ArcSwap<PolicySnapshot>,
    /// The current servers.
    pub servers: ArcSwap<ServerSet>,
    /// Settings fixed at startup.
    pub settings: GatewaySettings,
    /// Settings shared by every downstream.
    pub downstream_settings: Arc<DownstreamSettings>,
    /// The audit trail.
    pub audit: Audit,
    /// Call metrics.
    pub metrics: Metrics,
    /// What the last reloads did.
    pub reload: ReloadStatus,
    /// Per-agent rate limits.
    pub limits: Limits,
    /// HTTP settings (tokens, allowed hosts), reloaded with the MCP config.
    pub http: ArcSwap<HttpSettings>,
}

/// A policy decision the gateway acted on, kept for the audit record.
#[derive(Clone)]
pub struct Judged {
    /// The snapshot that decided.
    pub snapshot: Arc<PolicySnapshot>,
    /// The agent the request was judged as (before default resolution).
    pub agent: Option<String>,
    /// The server asked about.
    pub server: String,
    /// The tool asked about.
    pub tool: Option<String>,
    /// The effect.
    pub effect: Effect,
    /// The reason.
    pub reason: Reason,
}

impl Gateway {
    /// Decides a request against the current snapshot, turning a denial into the right error:
    /// `INVALID_AGENT_ID` for agent problems, `DENIED_BY_POLICY` (with the determining rule)
    /// otherwise. The decision is returned either way, for the audit record.
    pub fn judge(
        &self,
        snapshot: &Arc<PolicySnapshot>,
        agent: Option<&str>,
        server: &str,
        tool: Option<&str>,
    ) -> (Judged, Result<(), GatewayError>) {
        let req = Request { agent, server, tool };
        let decision = snapshot.table.decide(&req);
        let judged = Judged {
            snapshot: snapshot.clone(),
            agent: agent.map(str::to_owned),
            server: server.to_owned(),
            tool: tool.map(str::to_owned),
            effect: decision.effect,
            reason: decision.reason,
        };
        if decision.is_allowed() {
            return (judged, Ok(()));
        }
        let why = snapshot.table.explain(&req);
        let err = match decision.reason {
            Reason::UnknownAgent | Reason::InvalidAgent => {
                GatewayError::new(ErrorCode::InvalidAgentId, agent_problem(decision.reason, agent))
            }
            _ => {
                let target = match tool {
                    Some(t) => format!("call tool `{t}` on server `{server}`"),
                    None => format!("use server `{server}`"),
                };
                let who = match (agent.filter(|a| !a.is_empty()), why.judged_as.as_deref()) {
                    (_, Some(d)) => format!("agent `{d}` (the default agent)"),
                    (Some(a), None) => format!("agent `{a}`"),
                    (None, None) => "this agent".to_owned(),
                };
                let rule = why.determining_rules.first().map(|r| format!("deny `{}` at {}", r.pattern, r.location));
                let because = match &rule {
                    Some(r) => format!("denied by rule {r}"),
                    None => "no allow rule grants it".to_owned(),
                };
                let mut e = GatewayError::new(ErrorCode::DeniedByPolicy, format!("{who} may not {target}: {because}"))
                    .rule(rule)
                    .server(server);
                if let Some(t) = tool {
                    e = e.tool(t);
                }
                e
            }
        };
        (judged, Err(err))
    }
}

fn agent_problem(reason: Reason, agent: Option<&str>) -> String {
    match (reason, agent.filter(|a| !a.is_empty())) {
        (Reason::UnknownAgent, Some(a)) => format!("agent `{a}` is not in the policy"),
        (Reason::UnknownAgent, None) => "the default agent is not in the policy".to_owned(),
        (_, Some(a)) => format!(
            "agent id `{}` is malformed: use letters, digits, `_`, `.` and `-`",
            a.chars().take(64).collect::<String>().escape_debug()
        ),
        (_, None) => "`agent_id` is required: this gateway has no default agent".to_owned(),
    }
}

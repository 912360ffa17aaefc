//! Pinned tool definitions at run time: a tool whose definition differs from the lock, or
//! that the lock lacks, is quarantined (not listed, a call gets `TOOL_NOT_PINNED`), or in
//! `"lock_mode": "warn"` served with a warning.
//!
//! The lock is part of what a call loads once ([`crate::gateway::call::Call::pins`]). Each
//! listing and call judges the definitions the server serves now. A server's
//! `notifications/tools/list_changed` drops its cached list ([`crate::downstream`]) and has
//! the gateway list and judge that server's tools again at once
//! ([`Gateway::watch_tool_changes`]), so a definition changed in the middle of a session is
//! quarantined (and audited) before the next listing or call. Every new (server, tool, definition) that is not pinned is logged and audited once,
//! and shown by `get_gateway_status` until the server serves the pinned definition again.
//!
//! The error an agent gets names the fields that changed, never their new text: a changed
//! description may be exactly the instructions the lock keeps away from the agent. The
//! audit line (the operator's) has the whole difference, as `mcpgw lock --check` prints it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::Value;

use crate::config::lock::{Lock, LockMode, Verdict, definition_hash};
use crate::downstream::Downstream;
use crate::downstream::catalog::ToolDef;
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::call::Call;
use crate::gateway::state::Gateway;
use crate::logging::bounded;
use crate::logging::clock::rfc3339;
use crate::telemetry::audit::AuditEvent;

/// The lock the gateway serves by, swapped whole on reload.
#[derive(Debug, Default)]
pub struct Pins {
    /// Where it was read from.
    pub path: Option<PathBuf>,
    /// The lock; `None`: no lock, every tool is served.
    pub lock: Option<Arc<Lock>>,
}

/// One tool that is not pinned, as the status shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unpinned {
    /// The server.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// `enforce`: quarantined; `warn`: served with a warning.
    pub mode: LockMode,
    /// What differs, in one line (field names, no text).
    pub what: String,
    /// SHA-256 of the definition served now.
    pub sha256: String,
    /// When the gateway first saw this definition.
    pub since: String,
}

/// The tools seen unpinned, by server and tool.
#[derive(Debug, Default)]
pub struct Quarantine {
    seen: Mutex<BTreeMap<(String, String), Unpinned>>,
}

impl Quarantine {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Unpinned>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes an unpinned definition; whether it is new (another definition, or none before).
    fn note(&self, entry: Unpinned) -> bool {
        let mut seen = self.lock();
        let key = (entry.server.clone(), entry.tool.clone());
        if seen.get(&key).is_some_and(|e| e.sha256 == entry.sha256 && e.mode == entry.mode) {
            return false;
        }
        seen.insert(key, entry);
        true
    }

    fn clear(&self, server: &str, tool: &str) {
        let mut seen = self.lock();
        if !seen.is_empty() {
            seen.remove(&(server.to_owned(), tool.to_owned()));
        }
    }

    /// The unpinned tools that `visible(server, tool)` lets through, in order.
    pub fn list(&self, visible: impl Fn(&str, &str) -> bool) -> Vec<Unpinned> {
        self.lock().values().filter(|e| visible(&e.server, &e.tool)).cloned().collect()
    }
}

/// What to do with one tool.
pub(crate) enum Pin {
    /// Pinned, or no lock: serve it.
    Serve,
    /// Not pinned, in warn mode: serve it (the warning is logged and audited).
    Warn,
    /// Not pinned: quarantined, with the error a call gets.
    Quarantined(GatewayError),
}

impl Pin {
    /// Whether the tool is listed and callable.
    pub fn serves(&self) -> bool {
        !matches!(self, Pin::Quarantined(_))
    }
}

impl Call<'_> {
    /// Judges a tool of `downstream` against the lock this call loaded.
    pub(crate) async fn pin(&self, downstream: &Downstream, tool: &ToolDef) -> Pin {
        self.gw.judge_pin(&self.pins, downstream, tool, self.agent).await
    }
}

impl Gateway {
    /// Has every downstream judge its tools again as soon as it says they changed
    /// (`notifications/tools/list_changed`), so that a quarantine is logged, audited and
    /// shown at once, not at the next listing. Called for each new server set.
    pub fn watch_tool_changes(self: &Arc<Self>) {
        for d in self.servers().iter() {
            let (gw, name) = (Arc::downgrade(self), d.name().to_owned());
            d.on_tools_changed(Arc::new(move || {
                let Some(gw) = gw.upgrade() else { return };
                let name = name.clone();
                tokio::spawn(async move { gw.recheck_pins(&name).await });
            }));
        }
    }

    /// Lists server `name`'s tools afresh and judges each against the current lock.
    async fn recheck_pins(&self, name: &str) {
        let pins = self.pins();
        if pins.lock.is_none() {
            return;
        }
        let Some(d) = self.servers().get(name).cloned() else { return };
        match d.tools(d.timeout(None)).await {
            Ok(tools) => {
                for tool in tools.iter() {
                    self.judge_pin(&pins, &d, tool, None).await;
                }
            }
            Err(e) => {
                tracing::debug!(server = %d.name(), "re-checking the pins after list_changed failed: {}", e.message)
            }
        }
    }

    /// Judges a tool of `downstream` against `pins`, noting (and auditing, as `agent`'s
    /// doing) a definition not seen before.
    pub(crate) async fn judge_pin(
        &self,
        pins: &Pins,
        downstream: &Downstream,
        tool: &ToolDef,
        agent: Option<&str>,
    ) -> Pin {
        let Some(lock) = &pins.lock else { return Pin::Serve };
        let server = downstream.name();
        let definition: Value = serde_json::from_str(tool.raw.get()).unwrap_or_default();
        let verdict = lock.verdict(server, &definition);
        if verdict.is_pinned() {
            self.quarantine().clear(server, &tool.name);
            return Pin::Serve;
        }
        let (server_shown, tool_shown) = (bounded(server), bounded(&tool.name));
        let what = verdict.describe(&server_shown, &tool_shown);
        let mode = downstream.spec.lock_mode;
        let entry = Unpinned {
            server: server.to_owned(),
            tool: tool.name.clone(),
            mode,
            what: what.clone(),
            sha256: definition_hash(&definition),
            since: rfc3339(SystemTime::now()),
        };
        if self.quarantine().note(entry) {
            let detail = match &verdict {
                Verdict::Changed(changes) => {
                    format!("{what}\n{}", changes.iter().map(|c| c.render()).collect::<String>())
                }
                _ => what.clone(),
            };
            match mode {
                LockMode::Enforce => {
                    tracing::warn!(server = %server_shown, tool = %tool_shown, "quarantined: {detail}")
                }
                LockMode::Warn => {
                    tracing::warn!(server = %server_shown, tool = %tool_shown, "not pinned, served (lock_mode warn): {detail}")
                }
            }
            self.audit()
                .record(AuditEvent {
                    ts: SystemTime::now(),
                    operation: match mode {
                        LockMode::Enforce => "tool_quarantined",
                        LockMode::Warn => "tool_not_pinned_warning",
                    },
                    agent: agent.map(str::to_owned),
                    claimed_agent: None,
                    server: Some(server_shown.clone().into_owned()),
                    tool: Some(tool_shown.clone().into_owned()),
                    decided: None,
                    snapshot: None,
                    outcome: Some(ErrorCode::ToolNotPinned),
                    latency: std::time::Duration::ZERO,
                    args: None,
                    detail: Some(detail),
                    trace: None,
                })
                .await;
        }
        match mode {
            LockMode::Warn => Pin::Warn,
            LockMode::Enforce => Pin::Quarantined(
                GatewayError::new(
                    ErrorCode::ToolNotPinned,
                    format!(
                        "{what}; the tool is quarantined until its definition is reviewed and pinned \
                         (`mcpgw lock --check`, then `mcpgw lock --update {server_shown}`)"
                    ),
                )
                .server(&server_shown)
                .tool(&tool_shown),
            ),
        }
    }
}

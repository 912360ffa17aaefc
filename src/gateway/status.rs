//! `get_gateway_status`: reloads, the policy, the caller's servers and metrics.
//!
//! Agent ids and file paths appear only in debug mode, so the status of a shared gateway does
//! not tell one agent about another's configuration.

use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

use crate::error::GatewayError;
use crate::gateway::handler::Call;
use crate::metrics::Metrics;
use crate::policy::Request;
use crate::reload::Which;

/// Builds the status report for the calling agent.
pub(crate) fn run(call: &mut Call<'_>) -> Result<CallToolResult, GatewayError> {
    let gw = call.gw;
    let snapshot = gw.policy.load_full();
    call.check_agent(&snapshot)?;
    let table = &snapshot.table;
    let debug = gw.settings.debug;

    let servers: Vec<Value> = gw
        .servers
        .load()
        .iter()
        .filter(|d| table.decide(&Request::server(call.agent, d.name())).is_allowed())
        .map(|d| {
            let mut v = serde_json::to_value(d.status()).unwrap_or_default();
            v["name"] = Value::from(d.name());
            v["transport"] = Value::from(d.spec.transport.kind());
            v["in_flight"] = Value::from(d.in_flight());
            v
        })
        .collect();

    let key = Metrics::agent_key(call.agent, table);
    let mut body = json!({
        "reload": {
            "rules": gw.reload.get(Which::Rules),
            "mcp_config": gw.reload.get(Which::Servers),
        },
        "policy": {
            "snapshot": table.snapshot_id(),
            "agents": table.agent_count(),
            "rules": table.rule_count(),
            "defaults": {"deny_on_missing_agent": table.defaults().deny_on_missing_agent},
            "default_agent_configured": table.default_agent().is_some(),
            "loaded_at": crate::audit::rfc3339(snapshot.loaded_at),
        },
        "servers": servers,
        "metrics": {"operations": gw.metrics.for_agent(&key)},
        "audit": {
            "enabled": gw.audit.path().is_some(),
            "written": gw.audit.stats.written.load(Ordering::Relaxed),
            "writer_behind_events": gw.audit.stats.backpressure.load(Ordering::Relaxed),
            "write_errors": gw.audit.stats.write_errors.load(Ordering::Relaxed),
        },
    });
    if debug {
        body["debug"] = json!({
            "agent_id": call.agent,
            "metrics_key": key,
            "bound_agent": call.identity.bound,
            "default_agent": table.default_agent(),
            "rules_path": snapshot.path.display().to_string(),
            "mcp_config_path": gw.settings.mcp_config_path.display().to_string(),
            "audit_log": gw.audit.path().map(|p| p.display().to_string()),
        });
    }
    Ok(CallToolResult::structured(body))
}

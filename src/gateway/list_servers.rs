//! `list_servers`: the servers an agent may use, in config order.

use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use crate::error::GatewayError;
use crate::gateway::handler::Call;
use crate::policy::Request;

/// Lists the servers the agent may access; with `include_metadata`, adds each one's target,
/// status and tool count. An unknown or invalid agent is an error, not an empty list.
pub(crate) fn run(call: &mut Call<'_>) -> Result<CallToolResult, GatewayError> {
    let metadata = call.params.opt_bool("include_metadata")?.unwrap_or(false);
    let snapshot = call.gw.policy.load_full();
    call.check_agent(&snapshot)?;
    let servers = call.gw.servers.load();
    let mut out = Vec::new();
    for d in servers.iter() {
        if !snapshot.table.decide(&Request::server(call.agent, d.name())).is_allowed() {
            continue;
        }
        let mut entry = json!({"name": d.name()});
        if let Some(desc) = &d.spec.description {
            entry["description"] = Value::from(desc.as_str());
        }
        entry["transport"] = Value::from(d.spec.transport.kind());
        if metadata {
            let target_key = if d.spec.transport.kind() == "http" { "url" } else { "command" };
            entry[target_key] = Value::from(d.spec.target());
            let status = d.status();
            entry["status"] = serde_json::to_value(status.status).unwrap_or_default();
            if let Some(n) = status.tool_count {
                entry["tool_count"] = Value::from(n);
            }
        }
        out.push(entry);
    }
    Ok(CallToolResult::structured(json!({"servers": out})))
}

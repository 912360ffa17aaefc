//! `list_servers`: the servers an agent may use, in config order.

use serde_json::{Value, json};

use crate::error::GatewayError;
use crate::gateway::call::Call;
use crate::gateway::reply::ToolReply;

/// Lists the servers the agent may access; with `include_metadata`, adds each one's target,
/// status and tool count. An unknown or invalid agent is an error, not an empty list.
pub(crate) fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let metadata = call.params.opt_bool("include_metadata")?.unwrap_or(false);
    call.check_agent()?;
    let mut out = Vec::new();
    for d in call.servers.iter() {
        if !call.may_use(d.name()) {
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
    Ok(ToolReply::Own(json!({"servers": out})))
}

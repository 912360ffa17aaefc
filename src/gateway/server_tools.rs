//! `get_server_tools`: the definitions of the tools an agent may call on one server.

use rmcp::model::{CallToolResult, Tool};
use serde_json::{Map, Value, json};

use crate::error::{ErrorCode, GatewayError};
use crate::gateway::handler::Call;
use crate::policy::Request;
use crate::policy::glob::glob_match;

/// Lists the permitted tools of a server, filtered by `names` and `pattern`, within an
/// optional token budget. Counts cover permitted tools only, so denied tools stay invisible.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<CallToolResult, GatewayError> {
    let server = call.params.req_str("server")?;
    let names = call.params.names("names")?;
    let pattern = call.params.opt_str("pattern")?;
    let budget = call.params.opt_positive("max_schema_tokens")?;
    call.record.server = Some(server.to_owned());
    let snapshot = call.gw.policy.load_full();
    call.judge(&snapshot, server, None)?;
    let downstream = call.server(server)?;
    let tools = downstream.tools(downstream.timeout(None)).await?;

    let mut selected = Vec::new();
    for tool in tools.iter() {
        let name = tool.name.as_ref();
        if names.as_ref().is_some_and(|n| !n.iter().any(|x| x == name)) {
            continue;
        }
        if pattern.is_some_and(|p| !glob_match(p, name)) {
            continue;
        }
        if snapshot.table.decide(&Request::tool(call.agent, server, name)).is_allowed() {
            selected.push(tool_json(tool));
        }
    }
    let total_available = selected.len();
    let mut tokens_used = 0u64;
    let mut returned = Vec::with_capacity(selected.len());
    let mut truncated = false;
    for (tool, tokens) in selected {
        if budget.is_some_and(|b| tokens_used + tokens > b) {
            truncated = true;
            break;
        }
        tokens_used += tokens;
        returned.push(tool);
    }
    let mut body = json!({
        "server": server,
        "tools": returned,
        "total_available": total_available,
        "returned": returned.len(),
        "tokens_used": tokens_used,
    });
    if truncated {
        body["truncated"] = Value::Bool(true);
    }
    Ok(CallToolResult::structured(body))
}

/// A tool as the agent sees it, and its token estimate (compact JSON bytes / 4, rounded up).
fn tool_json(tool: &Tool) -> (Value, u64) {
    let mut m = Map::new();
    m.insert("name".into(), Value::from(tool.name.as_ref()));
    m.insert("description".into(), Value::from(tool.description.as_deref().unwrap_or("")));
    m.insert("inputSchema".into(), Value::Object((*tool.input_schema).clone()));
    if let Some(schema) = &tool.output_schema {
        m.insert("outputSchema".into(), Value::Object((**schema).clone()));
    }
    if let Some(a) = &tool.annotations
        && let Ok(v) = serde_json::to_value(a)
    {
        m.insert("annotations".into(), v);
    }
    let value = Value::Object(m);
    let bytes = serde_json::to_string(&value).map_or(0, |s| s.len()) as u64;
    (value, bytes.div_ceil(4))
}

/// `TOOL_NOT_FOUND` for a tool the server does not have.
pub(crate) fn not_found(server: &str, tool: &str) -> GatewayError {
    GatewayError::new(ErrorCode::ToolNotFound, format!("server `{server}` has no tool `{tool}`"))
        .server(server)
        .tool(tool)
}

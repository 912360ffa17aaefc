//! The gateway's own tools as an agent sees them: four small definitions.
//!
//! The schemas are written by hand, not derived, so the whole `tools/list` stays far below
//! its budget of 600 tokens. Descriptions tell the discover-then-call workflow.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use serde_json::{Value, json};

/// How the `agent_id` parameter appears in the schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentParam {
    /// Required: no default agent and no bound identity.
    Required,
    /// Optional: a default agent stands in when it is missing.
    Optional,
    /// Absent: the gateway is bound to one agent.
    Absent,
}

/// The four tool definitions.
pub fn definitions(agent: AgentParam) -> Vec<Tool> {
    let agent_id = json!({"type": "string", "description": "Your agent id"});
    vec![
        tool(
            "list_servers",
            "List the MCP servers you may use. Start here, then call get_server_tools.",
            agent,
            &agent_id,
            json!({"include_metadata": {"type": "boolean"}}),
            &[],
        ),
        tool(
            "get_server_tools",
            "Get the definitions of a server's tools that you may call. Narrow with names or a glob pattern; cap the size with max_schema_tokens.",
            agent,
            &agent_id,
            json!({
                "server": {"type": "string"},
                "names": {"type": ["string", "array"], "items": {"type": "string"}, "description": "Tool names, as a list or comma-separated"},
                "pattern": {"type": "string", "description": "Glob; * matches any text"},
                "max_schema_tokens": {"type": "integer", "minimum": 1}
            }),
            &["server"],
        ),
        tool(
            "execute_tool",
            "Call a tool on a server with args matching its inputSchema from get_server_tools. Returns the tool's own result.",
            agent,
            &agent_id,
            json!({
                "server": {"type": "string"},
                "tool": {"type": "string"},
                "args": {"type": "object"},
                "timeout_ms": {"type": "integer", "minimum": 1}
            }),
            &["server", "tool"],
        ),
        tool(
            "get_gateway_status",
            "Gateway health: config reloads, policy, the servers you may use, your call metrics.",
            agent,
            &agent_id,
            json!({}),
            &[],
        ),
    ]
}

fn tool(
    name: &'static str,
    description: &'static str,
    agent: AgentParam,
    agent_id: &Value,
    props: Value,
    required: &[&str],
) -> Tool {
    let mut properties = serde_json::Map::new();
    if agent != AgentParam::Absent {
        properties.insert("agent_id".into(), agent_id.clone());
    }
    if let Value::Object(p) = props {
        properties.extend(p);
    }
    let mut required: Vec<&str> = required.to_vec();
    if agent == AgentParam::Required {
        required.insert(0, "agent_id");
    }
    let mut schema = JsonObject::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    Tool::new(name, description, Arc::new(schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_under_the_token_budget() {
        for mode in [AgentParam::Required, AgentParam::Optional, AgentParam::Absent] {
            let list = json!({"tools": definitions(mode)});
            let bytes = serde_json::to_string(&list).unwrap().len();
            assert!(bytes / 4 <= 600, "{mode:?}: {} tokens", bytes / 4);
        }
    }

    #[test]
    fn agent_param_follows_the_identity_mode() {
        let required = serde_json::to_value(&definitions(AgentParam::Required)[2]).unwrap();
        assert_eq!(required["inputSchema"]["required"], json!(["agent_id", "server", "tool"]));
        let bound = serde_json::to_value(&definitions(AgentParam::Absent)[2]).unwrap();
        assert!(bound["inputSchema"]["properties"].get("agent_id").is_none());
        assert_eq!(bound["inputSchema"]["required"], json!(["server", "tool"]));
        let optional = serde_json::to_value(&definitions(AgentParam::Optional)[0]).unwrap();
        assert!(optional["inputSchema"]["properties"].get("agent_id").is_some());
        assert!(optional["inputSchema"].get("required").is_none());
    }
}

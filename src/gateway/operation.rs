//! The gateway's own tools: one [`Operation`] per tool owns its name, its description, its
//! parameters and its schema. The schemas are written by hand, not derived, so the whole
//! `tools/list` stays far below its budget of 600 tokens; the descriptions tell the
//! discover-then-call workflow.

use serde_json::{Map, Value, json};

/// How the `agent_id` parameter appears in the schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentParam {
    /// Required: no default agent and no bound identity.
    Required,
    /// Optional: a default agent stands in when it is missing.
    Optional,
    /// Absent: the gateway (or the HTTP token) is bound to one agent.
    Absent,
}

/// A gateway tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `list_servers`.
    ListServers,
    /// `get_server_tools`.
    GetServerTools,
    /// `execute_tool`.
    ExecuteTool,
    /// `get_gateway_status`.
    GetGatewayStatus,
    /// `read_resource`.
    ReadResource,
    /// `search_tools`.
    SearchTools,
    /// `prompts/get` at the protocol level: no tool of its own, so not in [`Operation::ALL`]
    /// and not callable by name, but judged, limited and audited as the tools are.
    GetPrompt,
    /// `completion/complete` at the protocol level, hidden as [`Operation::GetPrompt`] is.
    Complete,
    /// `resources/subscribe` at the protocol level, hidden as [`Operation::GetPrompt`] is.
    Subscribe,
}

impl Operation {
    /// Every operation, in the order `tools/list` shows them.
    pub const ALL: [Operation; 6] = [
        Operation::SearchTools,
        Operation::ListServers,
        Operation::GetServerTools,
        Operation::ExecuteTool,
        Operation::ReadResource,
        Operation::GetGatewayStatus,
    ];

    /// The operation named `name`.
    pub fn named(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The tool's name, as agents call it and audit records name it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ListServers => "list_servers",
            Operation::GetServerTools => "get_server_tools",
            Operation::ExecuteTool => "execute_tool",
            Operation::GetGatewayStatus => "get_gateway_status",
            Operation::ReadResource => "read_resource",
            Operation::SearchTools => "search_tools",
            Operation::GetPrompt => "get_prompt",
            Operation::Complete => "complete",
            Operation::Subscribe => "subscribe",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Operation::ListServers => "List the MCP servers you may use; then call get_server_tools.",
            Operation::GetServerTools => {
                "Definitions of a server's tools you may call; narrow with names or a glob pattern, cap with max_schema_tokens."
            }
            Operation::ExecuteTool => {
                "Call a tool on a server with args matching its inputSchema from get_server_tools. Returns the tool's own result."
            }
            Operation::GetGatewayStatus => {
                "Gateway health: config reloads, policy, the servers you may use, your call metrics."
            }
            Operation::ReadResource => "Read a server's resource by URI (e.g. a resource_link a tool returned).",
            Operation::SearchTools => {
                "Find tools you may call, on any server, for a task in plain words; full definitions for execute_tool."
            }
            Operation::GetPrompt => "Get a prompt of a server.",
            Operation::Complete => "Complete a prompt argument or a resource template variable.",
            Operation::Subscribe => "Subscribe to a resource's updates.",
        }
    }

    /// The parameters the tool takes besides `agent_id`, in schema order.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Operation::ListServers => &["include_metadata"],
            Operation::GetServerTools => &["server", "names", "pattern", "max_schema_tokens"],
            Operation::ExecuteTool => &["server", "tool", "args", "timeout_ms"],
            Operation::GetGatewayStatus => &[],
            Operation::ReadResource => &["server", "uri"],
            Operation::SearchTools => &["query", "server", "limit", "max_schema_tokens"],
            Operation::GetPrompt => &["server", "prompt", "arguments"],
            Operation::Complete => &["server", "kind", "target", "argument", "context"],
            Operation::Subscribe => &["server", "uri"],
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            Operation::GetServerTools => &["server"],
            Operation::ExecuteTool => &["server", "tool"],
            Operation::ReadResource => &["server", "uri"],
            Operation::SearchTools => &["query"],
            Operation::GetPrompt => &["server", "prompt"],
            Operation::Complete => &["server", "kind", "target", "argument"],
            Operation::Subscribe => &["server", "uri"],
            Operation::ListServers | Operation::GetGatewayStatus => &[],
        }
    }

    fn properties(self) -> Value {
        match self {
            Operation::ListServers => json!({"include_metadata": {"type": "boolean"}}),
            Operation::GetServerTools => json!({
                "server": {"type": "string"},
                "names": {"type": ["string", "array"], "items": {"type": "string"}, "description": "Tool names, as a list or comma-separated"},
                "pattern": {"type": "string", "description": "Glob; * matches any text"},
                "max_schema_tokens": {"type": "integer", "minimum": 1}
            }),
            // `x-mcp-header`: 2026-07-28 clients send these two as `Mcp-Param-Server` and
            // `Mcp-Param-Tool` over HTTP, so a proxy in front can route on them.
            Operation::ExecuteTool => json!({
                "server": {"type": "string", "x-mcp-header": "Server"},
                "tool": {"type": "string", "x-mcp-header": "Tool"},
                "args": {"type": "object"},
                "timeout_ms": {"type": "integer", "minimum": 1}
            }),
            Operation::ReadResource | Operation::Subscribe => {
                json!({"server": {"type": "string"}, "uri": {"type": "string"}})
            }
            Operation::SearchTools => json!({
                "query": {"type": "string"},
                "server": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1},
                "max_schema_tokens": {"type": "integer", "minimum": 1}
            }),
            Operation::GetPrompt => {
                json!({"server": {"type": "string"}, "prompt": {"type": "string"}, "arguments": {"type": "object"}})
            }
            Operation::Complete => json!({
                "server": {"type": "string"}, "kind": {"type": "string"}, "target": {"type": "string"},
                "argument": {"type": "object"}, "context": {"type": "object"}
            }),
            Operation::GetGatewayStatus => json!({}),
        }
    }

    /// The tool's definition, with `agent_id` as `agent` says.
    pub fn definition(self, agent: AgentParam) -> Value {
        let mut properties = Map::new();
        if agent != AgentParam::Absent {
            properties.insert("agent_id".into(), json!({"type": "string"}));
        }
        if let Value::Object(p) = self.properties() {
            properties.extend(p);
        }
        let mut required: Vec<&str> = self.required().to_vec();
        if agent == AgentParam::Required {
            required.insert(0, "agent_id");
        }
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), json!(required));
        }
        // `anthropic/alwaysLoad`: clients that defer tool definitions (Claude Code) load these
        // at once, so reaching the servers costs no tool-search turn first.
        json!({
            "name": self.name(),
            "description": self.description(),
            "inputSchema": Value::Object(schema),
            "_meta": {"anthropic/alwaysLoad": true}
        })
    }

    /// Every tool's definition, as the members of a `tools/list` result: `"tools":[...]`.
    pub fn list(agent: AgentParam) -> Value {
        Value::Array(Operation::ALL.iter().map(|op| op.definition(agent)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_under_the_token_budget() {
        for mode in [AgentParam::Required, AgentParam::Optional, AgentParam::Absent] {
            let list = json!({"tools": Operation::list(mode)});
            let bytes = serde_json::to_string(&list).unwrap().len();
            assert!(bytes / 4 <= 600, "{mode:?}: {} tokens", bytes / 4);
        }
    }

    #[test]
    fn agent_param_follows_the_identity_mode() {
        let required = Operation::ExecuteTool.definition(AgentParam::Required);
        assert_eq!(required["inputSchema"]["required"], json!(["agent_id", "server", "tool"]));
        let bound = Operation::ExecuteTool.definition(AgentParam::Absent);
        assert!(bound["inputSchema"]["properties"].get("agent_id").is_none());
        assert_eq!(bound["inputSchema"]["required"], json!(["server", "tool"]));
        let optional = Operation::ListServers.definition(AgentParam::Optional);
        assert!(optional["inputSchema"]["properties"].get("agent_id").is_some());
        assert!(optional["inputSchema"].get("required").is_none());
        assert_eq!(Operation::named("execute_tool"), Some(Operation::ExecuteTool));
        assert_eq!(Operation::named("nope"), None);
    }
}

//! The call shape of each kind of server: which tool to call, and with what arguments, to
//! reach the fixture's `echo` tool once.

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use serde_json::{Value, json};

/// What is being called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The fixture itself: `echo {text}`.
    Direct,
    /// mcpgw: `execute_tool {agent_id, server, tool: "echo", args: {text}}`.
    Mcpgw,
    /// The Python `agent-mcp-gateway`: the same `execute_tool` shape as mcpgw.
    AgentMcpGateway,
    /// FastMCP's multi-server proxy: the downstream tool under `{server}_echo`.
    Fastmcp,
    /// The `mcp-gateway` crate: `gateway_invoke {server, tool, arguments}`.
    McpGateway,
}

/// How to build one call, and how to recognise its answer.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The kind of server.
    pub kind: Kind,
    /// The downstream server name, for gateways.
    pub server: String,
    /// The agent id, for gateways that take one.
    pub agent: String,
    /// Overrides the tool name the kind implies.
    pub tool: Option<String>,
}

impl Shape {
    /// The request for call number `seq`, and the marker its answer must contain. Each call
    /// echoes a different text, so no cache anywhere can answer it.
    pub fn request(&self, seq: u64) -> (CallToolRequestParams, String) {
        let marker = format!("bench-{seq}");
        let echo = json!({ "text": marker });
        let (tool, args) = match self.kind {
            Kind::Direct => ("echo".to_owned(), echo),
            Kind::Mcpgw | Kind::AgentMcpGateway => (
                "execute_tool".to_owned(),
                json!({"agent_id": self.agent, "server": self.server, "tool": "echo", "args": echo}),
            ),
            Kind::Fastmcp => (format!("{}_echo", self.server), echo),
            Kind::McpGateway => {
                ("gateway_invoke".to_owned(), json!({"server": self.server, "tool": "echo", "arguments": echo}))
            }
        };
        let tool = self.tool.clone().unwrap_or(tool);
        let Value::Object(args) = args else { unreachable!("the arguments are built as an object") };
        (CallToolRequestParams::new(tool).with_arguments(args as JsonObject), marker)
    }
}

/// Whether `result` is a successful answer carrying `marker`. Gateways wrap results
/// differently, so the marker is looked for anywhere in the serialised result.
pub fn check(result: &CallToolResult, marker: &str) -> Result<(), String> {
    let text = serde_json::to_string(result).unwrap_or_default();
    if result.is_error == Some(true) {
        return Err(format!("isError: {}", truncate(&text)));
    }
    if !text.contains(marker) {
        return Err(format!("the answer does not echo `{marker}`: {}", truncate(&text)));
    }
    Ok(())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(300) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

//! Starting the real `mcpgw` binary on temporary config files and talking to it.

use std::path::PathBuf;

use rmcp::model::CallToolResult;
use serde_json::Value;

use super::{McpClient, Spawn, TempFiles, mcp_json};

/// A running gateway, its client, and the files it reads.
pub struct GatewayUnderTest {
    /// The connected client (owns the gateway process).
    pub client: McpClient,
    /// The temporary directory with `.mcp.json`, `rules.json` and `audit.jsonl`.
    pub files: TempFiles,
    /// The audit log path.
    pub audit: PathBuf,
}

/// The arguments to start `mcpgw` on files written into `files`.
pub fn gateway_spawn(files: &TempFiles, servers: &[(&str, Value)], rules: &Value, args: &[&str]) -> Spawn {
    let mcp = files.write(".mcp.json", mcp_json(servers));
    let rules = files.write_json("rules.json", rules);
    let audit = files.file_path("audit.jsonl");
    Spawn::new(super::mcpgw_bin())
        .arg("--mcp-config")
        .arg(mcp)
        .arg("--rules")
        .arg(rules)
        .arg("--audit-log")
        .arg(audit)
        .args(args.iter().copied())
        .env("RUST_LOG", "info")
        .cwd(files.path())
}

impl GatewayUnderTest {
    /// Starts the gateway with these servers, rules and extra arguments.
    pub async fn start(servers: &[(&str, Value)], rules: &Value, args: &[&str]) -> Self {
        let files = TempFiles::new();
        let spawn = gateway_spawn(&files, servers, rules, args);
        let client = McpClient::spawn(&spawn).await;
        let audit = files.file_path("audit.jsonl");
        GatewayUnderTest { client, files, audit }
    }

    /// Calls a gateway tool; panics on a protocol error (gateway errors are results).
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.client.call_tool(tool, args).await.unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
    }

    /// The gateway's stderr so far.
    pub fn stderr(&mut self) -> String {
        self.client.child().stderr().text()
    }

    /// The audit log's lines, parsed.
    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }
}

/// `structuredContent` of a result.
pub fn structured(r: &CallToolResult) -> &Value {
    r.structured_content.as_ref().expect("the result has structuredContent")
}

/// The gateway error code of a result, if it is a gateway error.
pub fn error_code(r: &CallToolResult) -> Option<String> {
    if r.is_error != Some(true) {
        return None;
    }
    r.structured_content.as_ref()?.get("error")?.get("code")?.as_str().map(str::to_owned)
}

/// The text of the first content block.
pub fn first_text(r: &CallToolResult) -> String {
    r.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default()
}

//! Starting the real `mcpgw` binary on temporary config files and talking to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use super::{McpClient, Spawn, TempFiles, eventually, mcp_json};

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
        Self::start_env(servers, rules, args, &[]).await
    }

    /// Starts the gateway with extra environment variables too.
    pub async fn start_env(servers: &[(&str, Value)], rules: &Value, args: &[&str], env: &[(&str, &str)]) -> Self {
        let files = TempFiles::new();
        let mut spawn = gateway_spawn(&files, servers, rules, args);
        for (k, v) in env {
            spawn = spawn.env(k, v);
        }
        Self::from_spawn(files, &spawn).await
    }

    /// Starts a prepared gateway command whose files live in `files`.
    pub async fn from_spawn(files: TempFiles, spawn: &Spawn) -> Self {
        let client = McpClient::spawn(spawn).await;
        let audit = files.file_path("audit.jsonl");
        GatewayUnderTest { client, files, audit }
    }

    /// The gateway's pid (also its process group).
    pub fn pid(&mut self) -> u32 {
        self.client.child().pid()
    }

    /// The rules file.
    pub fn rules_path(&self) -> PathBuf {
        self.files.file_path("rules.json")
    }

    /// The MCP config file.
    pub fn mcp_path(&self) -> PathBuf {
        self.files.file_path(".mcp.json")
    }

    /// `structuredContent` of `get_gateway_status` for `agent` (no `agent_id` when `None`);
    /// panics if it is an error.
    pub async fn status(&self, agent: Option<&str>) -> Value {
        let args = agent.map_or_else(|| json!({}), |a| json!({"agent_id": a}));
        let r = self.call("get_gateway_status", args).await;
        assert_ne!(r.is_error, Some(true), "get_gateway_status failed: {r:?}");
        structured(&r).clone()
    }

    /// Waits until the audit log has at least `n` lines and returns them all.
    pub async fn wait_audit(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let mut lines = Vec::new();
        eventually(timeout, || {
            lines = self.audit_lines();
            lines.len() >= n
        })
        .await;
        assert!(lines.len() >= n, "expected {n} audit lines, found {}: {lines:#?}", lines.len());
        lines
    }

    /// Calls a gateway tool; panics on a protocol error (gateway errors are results).
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.client.call_tool(tool, args).await.unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
    }

    /// The gateway's stderr so far.
    pub fn stderr(&mut self) -> String {
        self.client.child().stderr().text()
    }

    /// The audit log's complete lines, parsed (a line still being written is left out).
    pub fn audit_lines(&self) -> Vec<Value> {
        read_audit(&self.audit)
    }
}

/// The complete lines of the audit log at `path`, parsed (a line still being written is left
/// out; a missing file has none).
pub fn read_audit(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(|l| serde_json::from_str(l).expect("audit lines are JSON")).collect()
}

/// The audit lines of `operation` in the log at `path`, once there are at least `n` of them
/// (the audit writer runs behind the calls), or after 5 s, whatever there are.
pub async fn audited_operations(path: &Path, operation: &str, n: usize) -> Vec<Value> {
    let of = || read_audit(path).into_iter().filter(|l| l["operation"] == operation).collect::<Vec<_>>();
    super::eventually(std::time::Duration::from_secs(5), || of().len() >= n).await;
    of()
}

/// Rules that allow agent `dev` every server.
/// The gateway's own tools, in the order `tools/list` shows them.
pub const META_TOOLS: [&str; 6] =
    ["search_tools", "list_servers", "get_server_tools", "execute_tool", "read_resource", "get_gateway_status"];

pub fn allow_all() -> Value {
    json!({"agents": {"dev": {"allow": {"servers": ["*"]}}}})
}

/// `execute_tool` arguments for agent `dev`.
pub fn exec(server: &str, tool: &str, args: Value) -> Value {
    json!({"agent_id": "dev", "server": server, "tool": tool, "args": args})
}

/// The `pid` in the `structuredContent` of a result (the fixture's `pid` tool).
pub fn pid_of(r: &CallToolResult) -> u32 {
    let pid = structured(r)["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {r:?}"));
    u32::try_from(pid).unwrap()
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

/// The code of a gateway error, after checking its shape with [`gateway_error`].
pub fn gateway_error_code(r: &CallToolResult) -> String {
    gateway_error(r)["code"].as_str().unwrap().to_owned()
}

/// The text of the first content block.
pub fn first_text(r: &CallToolResult) -> String {
    r.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default()
}

/// The tool names in a `get_server_tools` result.
pub fn tool_names(r: &CallToolResult) -> Vec<String> {
    structured(r)["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {r:?}"))
        .iter()
        .map(|t| t["name"].as_str().expect("a tool name").to_owned())
        .collect()
}

/// The server names in a `list_servers` result.
pub fn server_names(r: &CallToolResult) -> Vec<String> {
    structured(r)["servers"]
        .as_array()
        .unwrap_or_else(|| panic!("no servers in {r:?}"))
        .iter()
        .map(|s| s["name"].as_str().expect("a server name").to_owned())
        .collect()
}

/// Checks the shape every gateway error shares (`isError`, `{"error": {"code", "message"}}`,
/// the message as text) and returns the `error` object.
pub fn gateway_error(r: &CallToolResult) -> &Value {
    assert_eq!(r.is_error, Some(true), "not an error: {r:?}");
    let error = &structured(r)["error"];
    let message = error["message"].as_str().unwrap_or_else(|| panic!("no error message in {r:?}"));
    assert!(error["code"].is_string(), "no error code in {r:?}");
    assert_eq!(first_text(r), message, "the text of an error is its message");
    error
}

/// A fixture server entry that also writes its event log to `log`.
pub fn logged_fixture(name: &str, log: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["--name", name, "--log-file", log.to_str().expect("a UTF-8 path")];
    args.extend_from_slice(extra);
    super::fixture_server(&args)
}

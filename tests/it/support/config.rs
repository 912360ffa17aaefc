//! Temporary config files. Files live in a fresh temporary directory that is removed when the
//! [`TempFiles`] is dropped, so keep it alive as long as the process under test reads them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A temporary directory to write config files into.
#[derive(Debug)]
pub struct TempFiles {
    dir: tempfile::TempDir,
}

impl TempFiles {
    /// Creates an empty temporary directory.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("create a temporary directory") }
    }

    /// The directory itself (useful as a working directory for config discovery).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` inside the directory and returns the full path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the config's parent directory");
        }
        std::fs::write(&path, contents).expect("write the config file");
        path
    }

    /// Writes pretty JSON to `name` and returns the full path.
    pub fn write_json(&self, name: &str, value: &Value) -> PathBuf {
        self.write(name, serde_json::to_string_pretty(value).expect("serialise JSON"))
    }

    /// A path inside the directory that does not exist yet (for logs the process will create).
    pub fn file_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TempFiles {
    fn default() -> Self {
        Self::new()
    }
}

/// A `.mcp.json` server entry that runs the fixture with `args`.
pub fn fixture_server(args: &[&str]) -> Value {
    json!({ "command": super::fixture_bin(), "args": args })
}

/// A `.mcp.json` server entry that runs `@modelcontextprotocol/server-everything` from npm
/// over stdio, as `scripts/setup-test-deps.sh` installs it (into the git-ignored `.tools/npm`).
pub fn everything_server() -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        path.is_file(),
        "@modelcontextprotocol/server-everything is not installed ({} is missing): run scripts/setup-test-deps.sh",
        path.display()
    );
    json!({"command": "node", "args": [path, "stdio"], "description": "MCP reference server"})
}

/// The text of a `.mcp.json` with `servers` in the given order. It is built as text because
/// `serde_json::Map` sorts its keys, and server order is part of the gateway's contract.
pub fn mcp_json(servers: &[(&str, Value)]) -> String {
    let entries: Vec<String> =
        servers.iter().map(|(name, server)| format!("    {}: {}", Value::from(*name), server)).collect();
    format!("{{\n  \"mcpServers\": {{\n{}\n  }}\n}}\n", entries.join(",\n"))
}

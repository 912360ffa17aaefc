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

/// A file that `scripts/setup-test-deps.sh` installs under the git-ignored `.tools`, with a
/// clear failure when it is missing.
fn installed(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools").join(relative);
    assert!(path.exists(), "{} is not installed: run scripts/setup-test-deps.sh", path.display());
    path
}

/// A server of `tests/servers` written on the official Python SDK, run by the venv that holds
/// the SDK.
pub fn python_sdk_server(script: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/servers").join(script);
    json!({"command": installed("pyservers/bin/python"), "args": [path]})
}

/// The entry point of one of the npm reference servers (`server-everything`, `server-memory`,
/// `server-filesystem`).
fn npm_server(name: &str) -> PathBuf {
    installed(&format!("npm/node_modules/@modelcontextprotocol/{name}/dist/index.js"))
}

/// A `.mcp.json` server entry that runs `@modelcontextprotocol/server-everything` from npm
/// over stdio, as `scripts/setup-test-deps.sh` installs it (into the git-ignored `.tools/npm`).
pub fn everything_server() -> Value {
    json!({"command": "node", "args": [npm_server("server-everything"), "stdio"], "description": "MCP reference server"})
}

/// `@modelcontextprotocol/server-memory`, keeping its knowledge graph in `graph` (a file that
/// need not exist yet), so that no test touches the package's default file.
pub fn memory_server(graph: &Path) -> Value {
    json!({"command": "node", "args": [npm_server("server-memory")], "env": {"MEMORY_FILE_PATH": graph}})
}

/// `@modelcontextprotocol/server-filesystem`, serving the directory `root` only.
pub fn filesystem_server(root: &Path) -> Value {
    json!({"command": "node", "args": [npm_server("server-filesystem"), root]})
}

/// One of the Python reference servers from PyPI (`mcp-server-time`, `mcp-server-fetch`,
/// `mcp-server-git`), with `args`.
fn python_server(name: &str, args: &[&str]) -> Value {
    json!({"command": installed(&format!("pyservers/bin/{name}")), "args": args})
}

/// The six reference servers that the issues name, as `(name, entry)` in a stable order, with
/// their state (memory graph, served directory, git repository) made under `files`.
pub fn reference_servers(files: &TempFiles) -> Vec<(&'static str, Value)> {
    let root = files.path().join("served");
    std::fs::create_dir_all(&root).expect("create the served directory");
    std::fs::write(root.join("hello.txt"), "hello\n").expect("write a served file");
    let repo = files.path().join("repo");
    git_repository(&repo, "the last commit");
    vec![
        ("everything", everything_server()),
        ("memory", memory_server(&files.path().join("memory.jsonl"))),
        ("filesystem", filesystem_server(&root)),
        ("time", python_server("mcp-server-time", &["--local-timezone", "UTC"])),
        ("fetch", python_server("mcp-server-fetch", &[])),
        ("git", python_server("mcp-server-git", &["--repository", repo.to_str().expect("a UTF-8 path")])),
    ]
}

/// A git repository at `dir` with one commit whose message is `message`.
fn git_repository(dir: &Path, message: &str) {
    std::fs::create_dir_all(dir).expect("create the repository directory");
    std::fs::write(dir.join("README"), "a repository for the tests\n").expect("write a file to commit");
    for args in [
        &["init", "-q"][..],
        &["add", "README"],
        &["-c", "user.name=mcpgw", "-c", "user.email=mcpgw@localhost", "commit", "-q", "-m", message],
    ] {
        let status = std::process::Command::new("git").args(args).current_dir(dir).status().expect("run git");
        assert!(status.success(), "git {args:?} failed in {}", dir.display());
    }
}

/// The text of a `.mcp.json` with `servers` in the given order. It is built as text because
/// `serde_json::Map` sorts its keys, and server order is part of the gateway's contract.
pub fn mcp_json(servers: &[(&str, Value)]) -> String {
    let entries: Vec<String> =
        servers.iter().map(|(name, server)| format!("    {}: {}", Value::from(*name), server)).collect();
    format!("{{\n  \"mcpServers\": {{\n{}\n  }}\n}}\n", entries.join(",\n"))
}

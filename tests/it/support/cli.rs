//! Running the `mcpgw` command line (`check`, `fmt`, `test`, `diff`, `explain`) to its end
//! on files in a directory, with the configuration environment cleared.

use std::path::Path;
use std::process::{Command, Output};

/// How a command ended.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// Runs `mcpgw ARGS` in `dir` (also its `HOME`, so the default search finds nothing else),
/// without the `GATEWAY_*` variables that name configuration files.
pub fn mcpgw(dir: &Path, args: &[&str]) -> Run {
    let Output { status, stdout, stderr } = Command::new(super::mcpgw_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("GATEWAY_RULES")
        .env_remove("GATEWAY_MCP_CONFIG")
        .env_remove("GATEWAY_DEFAULT_AGENT")
        .env_remove("GATEWAY_LOCK")
        .env("HOME", dir)
        .output()
        .expect("run mcpgw");
    Run {
        code: status.code().expect("exit code"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// What `mcpgw explain --batch` decides for `agent` calling each `(server, tool)` under the
/// rules file `rules` (relative to `dir`): true where it allows. The tests check the gateway's
/// listings against this, so that a listing and the CLI's explanation can never drift apart.
pub fn allowed_by_explain(dir: &Path, rules: &str, agent: &str, calls: &[(&str, &str)]) -> Vec<bool> {
    let batch: String = calls
        .iter()
        .map(|(server, tool)| format!("{}\n", serde_json::json!({"agent": agent, "server": server, "tool": tool})))
        .collect();
    let batch_path = dir.join("explain-batch.jsonl");
    std::fs::write(&batch_path, batch).expect("write the explain batch");
    let run = mcpgw(dir, &["explain", "--rules", rules, "--batch", batch_path.to_str().expect("a UTF-8 path")]);
    assert_eq!(run.code, 0, "mcpgw explain --batch: {}", run.stderr);
    let decisions: Vec<bool> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a decision line")["decision"] == "allow")
        .collect();
    assert_eq!(decisions.len(), calls.len(), "one decision per call: {}", run.stdout);
    decisions
}

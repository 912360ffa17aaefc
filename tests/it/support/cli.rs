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

//! Configuration files: where they are, how they are read, and what they hold.
//!
//! Reading is separate from parsing: this module does the I/O (and turns unreadable or
//! non-UTF-8 files into located errors), then hands text to the pure parsers in
//! [`servers`] and [`crate::policy`].

pub mod expand;
pub mod lock;
pub mod servers;
pub mod snapshot;
pub mod status;

pub use snapshot::PolicySnapshot;
pub use status::{ConfigFile, FileStatus, ReloadStatus};

use std::path::{Path, PathBuf};

use crate::located::{Diagnostics, LineIndex};
use crate::policy::PolicySet;
use servers::ServersConfig;

/// The default downstream servers file name.
pub const MCP_CONFIG_NAME: &str = ".mcp.json";
/// The default JSON rules file name.
pub const RULES_JSON_NAME: &str = ".mcp-gateway-rules.json";
/// The default DSL rules file name.
pub const RULES_DSL_NAME: &str = ".mcp-gateway-rules.mcpgw";

/// A configuration file that could not be found, read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{}:{line}:{column}: error: the file is not valid UTF-8 (at byte {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Line of the first bad byte.
        line: usize,
        /// Column (in characters) of the first bad byte.
        column: usize,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
    /// The file has errors; each is located.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// No file was given and the default search found none.
    #[error("no {what} found; looked for {tried} (give one with {flag} or {env})")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// The paths tried.
        tried: String,
        /// The flag that names the file.
        flag: &'static str,
        /// The environment variable that names the file.
        env: &'static str,
    },
}

/// The directories searched, in order, when no path is given: the working directory, the
/// user's config directory, then `./config`.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".config").join("agent-mcp-gateway"));
    }
    dirs.push(PathBuf::from("config"));
    dirs
}

/// The `.mcp.json` to use: the one given (flag or environment), else the first found.
pub fn find_mcp_config(given: Option<&Path>) -> Result<PathBuf, ConfigError> {
    find(given, &[MCP_CONFIG_NAME], "MCP server config", "--mcp-config", "GATEWAY_MCP_CONFIG")
}

/// The rules file to use: the one given (flag or environment), else the first found.
pub fn find_rules(given: Option<&Path>) -> Result<PathBuf, ConfigError> {
    find(given, &[RULES_JSON_NAME, RULES_DSL_NAME], "gateway rules", "--rules", "GATEWAY_RULES")
}

fn find(
    given: Option<&Path>,
    names: &[&str],
    what: &'static str,
    flag: &'static str,
    env: &'static str,
) -> Result<PathBuf, ConfigError> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let candidates: Vec<PathBuf> = search_dirs().iter().flat_map(|d| names.iter().map(move |n| d.join(n))).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| ConfigError::NotFound {
        what,
        tried: candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        flag,
        env,
    })
}

/// Reads a whole file as UTF-8, locating the first bad byte if it is not.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        // The bytes before the first bad one are valid UTF-8; count lines as the parsers do.
        let valid = std::str::from_utf8(&e.as_bytes()[..offset]).unwrap_or_default();
        let span = LineIndex::new(valid).span(offset);
        ConfigError::NotUtf8 { path: path.to_owned(), line: span.line as usize, column: span.column as usize, offset }
    })
}

/// Whether a rules file is written in the DSL (by its `.mcpgw` extension).
pub fn is_dsl_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "mcpgw")
}

/// Parses rules text in the syntax its file name says.
pub fn parse_rules(path: &Path, text: &str) -> Result<PolicySet, Diagnostics> {
    let name = path.display().to_string();
    if is_dsl_path(path) { PolicySet::from_dsl_str(&name, text) } else { PolicySet::from_json_str(&name, text) }
}

/// Reads and parses a rules file.
pub fn load_rules(path: &Path) -> Result<PolicySet, ConfigError> {
    parse_rules(path, &read_text(path)?).map_err(ConfigError::Invalid)
}

/// Reads and parses a `.mcp.json`, expanding `${VAR}` from the process environment. The
/// servers' secrets are kept out of the log from then on ([`crate::logging::hide_in_logs`]).
pub fn load_servers(path: &Path) -> Result<ServersConfig, ConfigError> {
    servers_from_text(path, &read_text(path)?)
}

/// Parses the text of a `.mcp.json` read from `path`, as [`load_servers`] does.
pub fn servers_from_text(path: &Path, text: &str) -> Result<ServersConfig, ConfigError> {
    let config =
        servers::parse_servers(&path.display().to_string(), text, &expand::from_env).map_err(ConfigError::Invalid)?;
    for server in &config.servers {
        crate::logging::hide_in_logs(&server.secrets);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, b"{\n  \"a\xff\": 1}").unwrap();
        let e = read_text(&path).unwrap_err().to_string();
        assert!(e.ends_with("r.json:2:5: error: the file is not valid UTF-8 (at byte 6)"), "{e}");
    }

    #[test]
    fn given_paths_win_and_missing_files_say_where_they_looked() {
        assert_eq!(find_rules(Some(Path::new("x.mcpgw"))).unwrap(), PathBuf::from("x.mcpgw"));
        let e = find(None, &["no-such-file.json"], "thing", "--thing", "THING").unwrap_err().to_string();
        assert!(e.contains("no thing found; looked for ./no-such-file.json"), "{e}");
        assert!(e.contains("config/no-such-file.json"), "{e}");
        assert!(is_dsl_path(Path::new("a/b.mcpgw")));
        assert!(!is_dsl_path(Path::new("a/b.json")));
    }
}

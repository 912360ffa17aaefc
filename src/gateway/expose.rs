//! What the gateway's `tools/list` shows: its meta-tools, the agent's downstream tools under
//! namespaced names (direct mode), or both.
//!
//! Direct mode exists for clients that search tool definitions themselves (Claude Code defers
//! them): they find a downstream tool in one step, without the meta-tools' extra turns. Its
//! names are `SERVER<separator>TOOL`; a name is split at the first separator whose prefix is
//! a configured server, so a tool's own name may contain the separator too.

use crate::gateway::servers::ServerSet;

/// Which tools the gateway lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Expose {
    /// The meta-tools only (`list_servers`, `get_server_tools`, `execute_tool`, …).
    #[default]
    Meta,
    /// The agent's allowed downstream tools, as `SERVER__TOOL`.
    Direct,
    /// Both.
    Both,
}

impl Expose {
    /// Whether the meta-tools are listed and callable.
    pub fn meta(self) -> bool {
        self != Expose::Direct
    }

    /// Whether the downstream tools are listed and callable by their namespaced names.
    pub fn direct(self) -> bool {
        self != Expose::Meta
    }
}

/// The default separator between the server and the tool in a direct-mode name.
pub const DEFAULT_SEPARATOR: &str = "__";

/// Why a separator cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the tool separator `{0}` must be 1 to 8 of the characters a tool name may hold (letters, digits, `_`, `-`, `.`)"
)]
pub struct BadSeparator(pub String);

/// Checks a separator: non-empty, short, and made of characters valid in tool names, so the
/// joined names stay valid tool names.
pub fn check_separator(separator: &str) -> Result<(), BadSeparator> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if separator.is_empty() || separator.len() > 8 || !separator.chars().all(valid) {
        return Err(BadSeparator(separator.chars().take(32).collect()));
    }
    Ok(())
}

/// The direct-mode name of `tool` on `server`.
pub fn join(server: &str, separator: &str, tool: &str) -> String {
    format!("{server}{separator}{tool}")
}

/// The server and tool a direct-mode name stands for, if its prefix names a configured server.
pub fn split<'a>(name: &'a str, separator: &str, servers: &ServerSet) -> Option<(&'a str, &'a str)> {
    name.match_indices(separator)
        .map(|(i, _)| (&name[..i], &name[i + separator.len()..]))
        .find(|(server, tool)| !tool.is_empty() && servers.get(server).is_some())
}

/// The server and item of a namespaced name: as [`split`] finds them, else the parts around the
/// first separator, for a server that is not configured. A request naming one is judged like
/// any other, so that a server the agent may not use and one that does not exist look alike.
pub fn split_any<'a>(name: &'a str, separator: &str, servers: &ServerSet) -> Option<(&'a str, &'a str)> {
    split(name, separator, servers)
        .or_else(|| name.split_once(separator).filter(|(server, item)| !server.is_empty() && !item.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_must_be_valid_in_tool_names() {
        assert!(check_separator("__").is_ok());
        assert!(check_separator(".").is_ok());
        for bad in ["", " ", "/", "a b", "123456789", "é"] {
            assert!(check_separator(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes() {
        assert!(Expose::Meta.meta() && !Expose::Meta.direct());
        assert!(!Expose::Direct.meta() && Expose::Direct.direct());
        assert!(Expose::Both.meta() && Expose::Both.direct());
    }
}

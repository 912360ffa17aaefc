//! The `instructions` a direct-mode client gets: the gateway's own, then each of the agent's
//! servers' own, under its name. In direct mode the agent calls the servers' tools as if it
//! were connected to them, and a server's instructions are how it says to use them; without
//! them, an agent behind the gateway does worse than one connected directly.
//!
//! A server's instructions are text addressed to the model that no lock pins, so they pass
//! the same scan as tool descriptions (`mcpgw check --scan`): a server whose instructions
//! look like an injection is left out, with a warning. Each is bounded in length.

use crate::downstream::Status;
use crate::gateway::fan_out::each_allowed;
use crate::gateway::identity::Identity;
use crate::gateway::state::Gateway;
use crate::logging::Escaped;
use crate::mcp::scan::{ServerTools, scan};

/// The most of one server's instructions passed on, in bytes.
const MOST: usize = 4096;

impl Gateway {
    /// Each of `identity`'s servers' instructions (config order), for servers that give any
    /// and whose instructions pass the scan. The servers start now, at once and within the
    /// listing deadline, as direct mode's first `tools/list` would start them; with a lock,
    /// only running servers are asked.
    pub async fn server_instructions(&self, identity: &Identity) -> Vec<(String, String)> {
        let agent = identity.resolve(None).ok().flatten();
        let (snapshot, servers) = (self.policy(), self.servers());
        // With a lock, the pinned catalogue answers before any server starts (DESIGN section
        // 14): only servers already running give their instructions then.
        let locked = self.pins().lock.is_some();
        let given = each_allowed(agent, &snapshot, &servers, None, "the instructions", |d, deadline| async move {
            if locked && d.status().status != Status::Ready {
                return Ok(None);
            }
            Ok(d.connection(deadline).await?.info().instructions.clone())
        })
        .await;
        let mut out = Vec::new();
        for (d, text) in given {
            let Some(text) = text.flatten().filter(|t| !t.trim().is_empty()) else { continue };
            let as_definition = serde_json::json!({"description": text});
            let findings = scan(&[ServerTools { server: d.name(), tools: vec![("(instructions)", &as_definition)] }]);
            if let Some(f) = findings.first() {
                tracing::warn!(server = %d.name(), "instructions left out: {}: \"{}\"", f.rule.id, f.span);
                continue;
            }
            out.push((d.name().to_owned(), bounded(&text)));
        }
        out
    }
}

/// `text` cut to [`MOST`] bytes at a character boundary, marked when cut.
fn bounded(text: &str) -> String {
    if text.len() <= MOST {
        return text.to_owned();
    }
    let mut end = MOST;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    tracing::debug!(text = %Escaped::new(&text[..64.min(end)]), "instructions cut to {MOST} bytes");
    format!("{}…", &text[..end])
}

/// The gateway's own instructions followed by each server's, under a heading naming it and
/// how its tools are named (`SERVER` + `separator` + tool).
pub fn with_servers(own: &str, servers: &[(String, String)], separator: &str) -> String {
    let mut out = own.to_owned();
    for (name, text) in servers {
        out.push_str(&format!("\n\n## {name} (tools named {name}{separator}TOOL)\n{}", text.trim()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_comes_under_its_name_and_long_text_is_cut() {
        let joined = with_servers("Own.", &[("git".into(), " Use git_log. \n".into())], "__");
        assert_eq!(joined, "Own.\n\n## git (tools named git__TOOL)\nUse git_log.");
        let long = "é".repeat(MOST);
        let cut = bounded(&long);
        assert!(cut.len() <= MOST + '…'.len_utf8() && cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }
}

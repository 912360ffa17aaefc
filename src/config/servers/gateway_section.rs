//! The optional `gateway` section of `.mcp.json`: settings for serving over HTTP.
//!
//! ```json
//! "gateway": {"http": {
//!   "tokens": [{"agent": "backend", "token": "${BACKEND_TOKEN}"},
//!              {"agent": "ci", "token_sha256": "9f86d0…"}],
//!   "allowed_hosts": ["gateway.internal"],
//!   "allowed_origins": ["https://app.example.com:443"]}}
//! ```
//! Tokens are kept only as SHA-256 hashes. `${VAR}` and hashes keep secrets out of the file.

use sha2::{Digest, Sha256};

use super::Reader;
use crate::config::servers::{HttpSettings, TokenEntry};
use crate::located::json::{Member, Node, NodeKind, PathSegment};
use crate::policy::is_valid_agent_id;

impl Reader<'_> {
    pub(super) fn gateway_section(&mut self, node: &Node) -> HttpSettings {
        let mut out = HttpSettings::default();
        let Some(members) = self.object_members(node, "the `gateway` section") else { return out };
        for m in members {
            if m.key == "http" {
                self.with("http", |r| r.http_settings(&m.value, &mut out));
            } else {
                self.warn(m.key_offset, format!("unknown key `{}` in `gateway` is ignored", m.key));
            }
        }
        out
    }

    fn object_members<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Member]> {
        match &node.kind {
            NodeKind::Object(m) => Some(m),
            other => {
                self.error(node.offset, format!("{what} must be an object, not {}", other.type_name()));
                None
            }
        }
    }

    fn http_settings(&mut self, node: &Node, out: &mut HttpSettings) {
        let Some(members) = self.object_members(node, "`gateway.http`") else { return };
        for m in members {
            match m.key.as_str() {
                "tokens" => self.with("tokens", |r| r.tokens(&m.value, out)),
                "allowed_hosts" => out.allowed_hosts = self.string_array("gateway", m).unwrap_or_default(),
                "allowed_origins" => out.allowed_origins = self.string_array("gateway", m).unwrap_or_default(),
                other => self.warn(m.key_offset, format!("unknown key `{other}` in `gateway.http` is ignored")),
            }
        }
    }

    fn tokens(&mut self, node: &Node, out: &mut HttpSettings) {
        let NodeKind::Array(items) = &node.kind else {
            self.error(node.offset, format!("`tokens` must be an array, not {}", node.kind.type_name()));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            self.path.push(PathSegment::Index(i));
            if let Some(entry) = self.token(item) {
                if out.tokens.iter().any(|t| t.sha256 == entry.sha256) {
                    self.error(item.offset, "the same token is listed twice".to_owned());
                } else {
                    out.tokens.push(entry);
                }
            }
            self.path.pop();
        }
    }

    fn token(&mut self, node: &Node) -> Option<TokenEntry> {
        let members = self.object_members(node, "a token entry")?;
        let get = |k: &str| members.iter().find(|m| m.key == k);
        for m in members.iter().filter(|m| !["agent", "token", "token_sha256"].contains(&m.key.as_str())) {
            self.warn(m.key_offset, format!("unknown key `{}` in a token entry is ignored", m.key));
        }
        let Some(agent) = get("agent") else {
            self.error(node.offset, "a token entry needs `agent`".to_owned());
            return None;
        };
        let agent_offset = agent.value.offset;
        let agent = self.string("gateway", agent)?;
        if !is_valid_agent_id(&agent) {
            self.error(agent_offset, format!("`{agent}` is not a valid agent id"));
            return None;
        }
        let sha256 = match (get("token"), get("token_sha256")) {
            (Some(t), None) => {
                let token = self.string("gateway", t)?;
                if token.len() < 16 {
                    self.error(t.value.offset, format!("the token for agent `{agent}` is shorter than 16 characters"));
                    return None;
                }
                Sha256::digest(token.as_bytes()).into()
            }
            (None, Some(h)) => {
                let hex = self.string("gateway", h)?;
                match parse_hex32(&hex) {
                    Some(bytes) => bytes,
                    None => {
                        self.error(h.value.offset, "`token_sha256` must be 64 hexadecimal digits".to_owned());
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    node.offset,
                    format!("the entry for agent `{agent}` needs exactly one of `token` or `token_sha256`"),
                );
                return None;
            }
        };
        Some(TokenEntry { agent, sha256 })
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

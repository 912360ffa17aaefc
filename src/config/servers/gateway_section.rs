//! The optional `gateway` section of `.mcp.json`: settings for serving over HTTP.
//!
//! ```json
//! "gateway": {"http": {
//!   "tokens": [{"agent": "backend", "token": "${BACKEND_TOKEN}"},
//!              {"agent": "ci", "token_sha256": "9f86d0…"}],
//!   "admin_tokens": [{"token": "${OPERATOR_TOKEN}"}],
//!   "allowed_hosts": ["gateway.internal"],
//!   "allowed_origins": ["https://app.example.com:443"]}}
//! ```
//! `oauth` (beside or instead of `tokens`) accepts JWT access tokens from an authorization
//! server; see `oauth_section`.
//! Operator tokens (`admin_tokens`) name no agent: they read `/metrics` and the detail of
//! `/ready`, and cannot call tools.
//! Tokens are kept only as SHA-256 hashes. `${VAR}` and hashes keep secrets out of the file.

use sha2::{Digest, Sha256};

use super::Expander;
use std::time::Duration;

use crate::config::servers::{HttpLimits, HttpSettings, TokenEntry};
use crate::located::json::read::Value;
use crate::policy::is_valid_agent_id;

impl Expander<'_> {
    pub(super) fn gateway_section(&mut self, v: &Value<'_>) -> HttpSettings {
        let mut out = HttpSettings::default();
        let Some(section) = v.object("an object") else { return out };
        section.warn_unknown(&["http", "lock_mode", "redis"]);
        if let Some(http) = section.get("http") {
            self.http_settings(&http, &mut out);
        }
        if let Some(redis) = section.get("redis") {
            out.redis_url = self.redis_url(&redis);
        }
        out
    }

    /// `"redis": {"url": "redis://HOST:PORT/DB"}` (or `rediss://`, or `redis+unix://`).
    fn redis_url(&mut self, v: &Value<'_>) -> Option<String> {
        let redis = v.object("an object with `url`")?;
        redis.warn_unknown(&["url"]);
        let node = redis.required("url")?;
        let url = self.string("gateway", &node)?;
        if !["redis://", "rediss://", "redis+unix://", "unix://"].iter().any(|s| url.starts_with(s)) {
            node.error("`url` must be a Redis URL: `redis://HOST:PORT/DB`, `rediss://...` or `redis+unix:///PATH`");
            return None;
        }
        Some(url)
    }

    fn http_settings(&mut self, v: &Value<'_>, out: &mut HttpSettings) {
        let Some(http) = v.object("an object") else { return };
        http.warn_unknown(&["tokens", "admin_tokens", "allowed_hosts", "allowed_origins", "limits", "oauth"]);
        if let Some(oauth) = http.get("oauth") {
            out.oauth = self.oauth_section(&oauth);
        }
        if let Some(limits) = http.get("limits") {
            limits_section(&limits, &mut out.limits);
        }
        if let Some(tokens) = http.get("tokens") {
            self.tokens(&tokens, out);
        }
        if let Some(tokens) = http.get("admin_tokens") {
            self.admin_tokens(&tokens, out);
        }
        if let Some(hosts) = http.get("allowed_hosts") {
            out.allowed_hosts = self.string_array("gateway", &hosts);
        }
        if let Some(origins) = http.get("allowed_origins") {
            out.allowed_origins = self.string_array("gateway", &origins);
        }
    }

    fn tokens(&mut self, v: &Value<'_>, out: &mut HttpSettings) {
        v.array_of("an array of token entries", |item| {
            let entry = self.token(&item)?;
            if out.tokens.iter().any(|t| t.sha256 == entry.sha256) {
                item.error("the same token is listed twice");
            } else {
                out.tokens.push(entry);
            }
            Some(())
        });
    }

    fn admin_tokens(&mut self, v: &Value<'_>, out: &mut HttpSettings) {
        v.array_of("an array of token entries", |item| {
            let entry = item.object("a token entry (an object)")?;
            entry.warn_unknown(&["token", "token_sha256"]);
            let sha256 = self.token_hash(&item, &entry, "the operator")?;
            if out.admin_tokens.contains(&sha256) || out.tokens.iter().any(|t| t.sha256 == sha256) {
                item.error("the same token is listed twice");
            } else {
                out.admin_tokens.push(sha256);
            }
            Some(())
        });
    }

    fn token(&mut self, v: &Value<'_>) -> Option<TokenEntry> {
        let entry = v.object("a token entry (an object)")?;
        entry.warn_unknown(&["agent", "token", "token_sha256"]);
        let at = entry.required("agent")?;
        let agent = self.string("gateway", &at)?;
        if !is_valid_agent_id(&agent) {
            at.error(format!("`{agent}` is not a valid agent id"));
            return None;
        }
        let sha256 = self.token_hash(v, &entry, &format!("agent `{agent}`"))?;
        Some(TokenEntry { agent, sha256 })
    }

    /// The hash of a token entry's `token` (at least 16 characters) or its `token_sha256`.
    fn token_hash(
        &mut self,
        v: &Value<'_>,
        entry: &crate::located::json::read::Object<'_>,
        whose: &str,
    ) -> Option<[u8; 32]> {
        let sha256 = match (entry.get("token"), entry.get("token_sha256")) {
            (Some(t), None) => {
                let token = self.string("gateway", &t)?;
                if token.len() < 16 {
                    t.error(format!("the token for {whose} is shorter than 16 characters"));
                    return None;
                }
                Sha256::digest(token.as_bytes()).into()
            }
            (None, Some(h)) => {
                let hex = self.string("gateway", &h)?;
                match parse_hex32(&hex) {
                    Some(bytes) => bytes,
                    None => {
                        h.error("`token_sha256` must be 64 hexadecimal digits");
                        return None;
                    }
                }
            }
            _ => {
                v.error(format!("the entry for {whose} needs exactly one of `token` or `token_sha256`"));
                return None;
            }
        };
        Some(sha256)
    }
}

/// `gateway.http.limits`: each a whole number above 0.
fn limits_section(v: &Value<'_>, out: &mut HttpLimits) {
    let Some(limits) = v.object("an object") else { return };
    const KEYS: &[&str] = &[
        "sessions_per_agent",
        "sessions_total",
        "session_idle_ms",
        "connections",
        "header_timeout_ms",
        "body_bytes_per_agent",
        "body_bytes_total",
    ];
    limits.deny_unknown(KEYS);
    let positive = |key: &str| -> Option<usize> {
        limits.get(key)?.number("a whole number above 0", |t| t.parse::<usize>().ok().filter(|n| *n > 0))
    };
    let ms = |key: &str| positive(key).map(|n| Duration::from_millis(n as u64));
    if let Some(n) = positive("sessions_per_agent") {
        out.sessions_per_agent = n;
    }
    if let Some(n) = positive("sessions_total") {
        out.sessions_total = n;
    }
    if let Some(d) = ms("session_idle_ms") {
        out.session_idle = d;
    }
    if let Some(n) = positive("connections") {
        out.connections = n;
    }
    if let Some(d) = ms("header_timeout_ms") {
        out.header_timeout = d;
    }
    if let Some(n) = positive("body_bytes_per_agent") {
        out.body_bytes_per_agent = n;
    }
    if let Some(n) = positive("body_bytes_total") {
        out.body_bytes_total = n;
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

//! `gateway.http.oauth`: JWT access tokens from an OAuth 2.1 authorization server.
//!
//! ```json
//! "oauth": {"issuer": "https://auth.example.com",
//!           "audience": "https://gateway.example.com/mcp",
//!           "agent_claim": "client_id",
//!           "agents": {"ci-runner": "ci", "backend-svc": "backend"},
//!           "jwks_uri": "https://auth.example.com/keys"}
//! ```
//! Unlike the rest of `gateway.http`, unknown keys here are errors: a misspelt `agents` or
//! `jwks_uri` would silently change who may call, so it must not start.

use crate::config::servers::{Expander, OAuthSettings};
use crate::located::json::read::Value;
use crate::policy::is_valid_agent_id;

const KEYS: &[&str] = &["issuer", "audience", "agent_claim", "agents", "jwks_uri"];

impl Expander<'_> {
    pub(super) fn oauth_section(&mut self, v: &Value<'_>) -> Option<OAuthSettings> {
        let section = v.object("an object")?;
        section.deny_unknown(KEYS);
        let issuer = self.fetch_url(&section.required("issuer")?, "issuer");
        let audience = self.audience(&section.required("audience")?);
        let agent_claim = match section.get("agent_claim") {
            Some(at) => {
                let claim = self.string("gateway", &at)?;
                if claim.is_empty() {
                    at.error("`agent_claim` is empty: name the claim that holds the agent (such as `sub`)");
                    return None;
                }
                Some(claim)
            }
            None => Some("sub".to_owned()),
        };
        let agents = match section.get("agents") {
            Some(at) => Some(self.agent_map(&at)?),
            None => None,
        };
        let jwks_uri = match section.get("jwks_uri") {
            Some(at) => Some(self.fetch_url(&at, "jwks_uri")?),
            None => None,
        };
        Some(OAuthSettings { issuer: issuer?, audience: audience?, agent_claim: agent_claim?, agents, jwks_uri })
    }

    /// A URL the gateway fetches from: https, or http to a loopback host.
    fn fetch_url(&mut self, at: &Value<'_>, key: &str) -> Option<String> {
        let url = self.string("gateway", at)?;
        match fetch_url_problem(&url) {
            None => Some(url),
            Some(why) => {
                at.error(format!("`{key}` `{url}` {why}"));
                None
            }
        }
    }

    /// The gateway's resource URL: absolute http(s), no fragment (RFC 8707 section 2).
    fn audience(&mut self, at: &Value<'_>) -> Option<String> {
        let text = self.string("gateway", at)?;
        let problem = match reqwest::Url::parse(&text) {
            Err(e) => Some(format!("is not a URL ({e})")),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => Some("must start with https:// or http://".to_owned()),
            Ok(u) if u.fragment().is_some() => Some("must not have a fragment (RFC 8707)".to_owned()),
            Ok(_) => None,
        };
        match problem {
            None => Some(text),
            Some(why) => {
                at.error(format!("`audience` `{text}` {why}"));
                None
            }
        }
    }

    fn agent_map(&mut self, at: &Value<'_>) -> Option<Vec<(String, String)>> {
        let map = at.object("an object of claim values and agent ids")?;
        let mut out = Vec::new();
        let mut ok = true;
        for f in map.fields() {
            let Some(agent) = self.string("gateway", f.value()) else {
                ok = false;
                continue;
            };
            if !is_valid_agent_id(&agent) {
                f.value().error(format!("`{agent}` is not a valid agent id"));
                ok = false;
                continue;
            }
            out.push((f.key().to_owned(), agent));
        }
        ok.then_some(out)
    }
}

/// Why `url` is no URL to fetch keys or metadata from, if it is not: it must be absolute
/// https, or http to a loopback host (a test or a sidecar on the same machine). A key set
/// fetched in the clear across a network could be swapped by anyone on the path.
pub fn fetch_url_problem(url: &str) -> Option<String> {
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("is not a URL ({e})")),
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => None,
        "http" if is_loopback(&parsed) => None,
        "http" => Some("uses plain http:// to a host that is not loopback; use https://".to_owned()),
        _ => Some("must start with https:// (or http:// to a loopback host)".to_owned()),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use crate::config::servers::parse_servers;

    fn parse(oauth: &str) -> Result<crate::config::servers::OAuthSettings, String> {
        let text = format!(r#"{{"mcpServers": {{}}, "gateway": {{"http": {{"oauth": {oauth}}}}}}}"#);
        match parse_servers(".mcp.json", &text, &|_| None) {
            Ok(c) => Ok(c.http.oauth.expect("an oauth section")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn reads_the_section_with_defaults() {
        let o = parse(r#"{"issuer": "https://auth.test", "audience": "https://gw.test/mcp"}"#).unwrap();
        assert_eq!(o.issuer, "https://auth.test");
        assert_eq!(o.audience, "https://gw.test/mcp");
        assert_eq!(o.agent_claim, "sub");
        assert_eq!((o.agents, o.jwks_uri), (None, None));
        let o = parse(
            r#"{"issuer": "http://127.0.0.1:9000", "audience": "http://127.0.0.1:8000/mcp", "agent_claim": "client_id",
                "agents": {"svc-1": "backend"}, "jwks_uri": "http://localhost:9000/jwks"}"#,
        )
        .unwrap();
        assert_eq!(o.agent_claim, "client_id");
        assert_eq!(o.agents, Some(vec![("svc-1".to_owned(), "backend".to_owned())]));
        assert_eq!(o.jwks_uri.as_deref(), Some("http://localhost:9000/jwks"));
    }

    #[test]
    fn refuses_unknown_keys_bad_urls_and_bad_agents_with_their_location() {
        let cases = [
            (r#"{"issuer": "https://a.test", "audience": "https://g.test", "agent": "sub"}"#, "unknown field `agent`"),
            (r#"{"audience": "https://g.test"}"#, "`issuer`"),
            (r#"{"issuer": "https://a.test"}"#, "`audience`"),
            (r#"{"issuer": "http://auth.example.com", "audience": "https://g.test"}"#, "plain http://"),
            (r#"{"issuer": "ftp://a.test", "audience": "https://g.test"}"#, "must start with https://"),
            (r#"{"issuer": "not a url", "audience": "https://g.test"}"#, "is not a URL"),
            (r#"{"issuer": "https://a.test", "audience": "https://g.test#x"}"#, "must not have a fragment"),
            (
                r#"{"issuer": "https://a.test", "audience": "https://g.test", "jwks_uri": "http://10.0.0.1/k"}"#,
                "plain http://",
            ),
            (
                r#"{"issuer": "https://a.test", "audience": "https://g.test", "agents": {"x": "bad id!"}}"#,
                "not a valid agent id",
            ),
            (
                r#"{"issuer": "https://a.test", "audience": "https://g.test", "agent_claim": ""}"#,
                "`agent_claim` is empty",
            ),
        ];
        for (oauth, want) in cases {
            let e = parse(oauth).unwrap_err();
            assert!(e.contains(want), "{oauth}: {e}");
            assert!(e.contains(".mcp.json:1:"), "located: {e}");
        }
    }
}

//! DNS rebinding protection: a page that rebinds its own name to 127.0.0.1 must not reach the
//! gateway's `/mcp` or read its `/metrics`. `Host` must be one of the allowed hosts and
//! `Origin`, when a browser sends one, one of the allowed origins: an allowed host without a
//! port allows any port; an allowed origin ends in `:*` for any port, names its port, or
//! (without a port) matches any port. A request with two `Host` headers is refused rather than
//! judged by the first.

use axum::http::uri::{Authority, Uri};
use axum::http::{HeaderMap, header};

/// The `Host` and `Origin` values served.
#[derive(Debug, Clone, Default)]
pub struct AllowedPeers {
    /// Hosts, optionally with a port.
    pub hosts: Vec<String>,
    /// Origins, `scheme://host[:port|:*]`.
    pub origins: Vec<String>,
}

impl AllowedPeers {
    /// Why a request with these headers is refused, or `None` when it may be served. A missing
    /// `Origin` is fine (not a browser); a missing `Host` is not.
    pub fn refusal(&self, headers: &HeaderMap) -> Option<&'static str> {
        if headers.get_all(header::HOST).iter().nth(1).is_some() {
            return Some("more than one Host header");
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return Some("the Host header is missing or malformed");
        };
        let Some((host, port)) = authority(host) else {
            return Some("the Host header is malformed");
        };
        let host_ok = self
            .hosts
            .iter()
            .map(|a| authority(a).unwrap_or_else(|| (a.trim().to_ascii_lowercase(), None)))
            .any(|(allowed, allowed_port)| allowed == host && allowed_port.is_none_or(|p| Some(p) == port));
        if !host_ok {
            return Some("the Host header is not allowed");
        }
        let origin = headers.get(header::ORIGIN)?;
        let Some((scheme, host, port)) = origin.to_str().ok().and_then(parse_origin) else {
            return Some("the Origin header is malformed");
        };
        let port = port.or_else(|| default_port(&scheme));
        let origin_ok = self.origins.iter().any(|allowed| {
            let (base, any_port) = match allowed.trim().strip_suffix(":*") {
                Some(base) => (base, true),
                None => (allowed.trim(), false),
            };
            parse_origin(base).is_some_and(|(a_scheme, a_host, a_port)| {
                // A portless entry matches any port, as in rmcp (which warns about it).
                a_scheme == scheme && a_host == host && (any_port || a_port.is_none_or(|p| Some(p) == port))
            })
        });
        if origin_ok { None } else { Some("the Origin header is not allowed") }
    }
}

/// Host (lowercase, without IPv6 brackets) and port of an authority.
fn authority(text: &str) -> Option<(String, Option<u16>)> {
    let a = Authority::try_from(text.trim()).ok()?;
    Some((a.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase(), a.port_u16()))
}

/// Scheme, host and port of an origin (`null` and other opaque origins give `None`).
fn parse_origin(text: &str) -> Option<(String, String, Option<u16>)> {
    let uri = Uri::try_from(text.trim()).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let (host, port) = authority(uri.authority()?.as_str())?;
    Some((scheme, host, port))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn peers() -> AllowedPeers {
        AllowedPeers {
            hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into(), "gw.internal:8443".into()],
            origins: vec![
                "http://localhost:*".into(),
                "https://app.example.com".into(),
                "http://ui.example:3000".into(),
            ],
        }
    }

    fn check(host: Option<&str>, origin: Option<&str>) -> bool {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(v).unwrap());
        }
        peers().refusal(&h).is_none()
    }

    #[test]
    fn hosts() {
        assert!(check(Some("localhost:1234"), None));
        assert!(check(Some("LOCALHOST"), None));
        assert!(check(Some("127.0.0.1:9"), None));
        assert!(check(Some("[::1]:9"), None));
        assert!(check(Some("gw.internal:8443"), None));
        assert!(!check(Some("gw.internal:8444"), None));
        assert!(!check(Some("gw.internal"), None));
        assert!(!check(Some("evil.example"), None));
        assert!(!check(Some("127.0.0.1.evil.example"), None));
        assert!(!check(None, None));
    }

    #[test]
    fn origins() {
        assert!(check(Some("localhost"), Some("http://localhost:5173")));
        assert!(check(Some("localhost"), Some("https://app.example.com")));
        assert!(check(Some("localhost"), Some("https://app.example.com:443")));
        assert!(check(Some("localhost"), Some("http://ui.example:3000")));
        assert!(!check(Some("localhost"), Some("http://ui.example:3001")));
        assert!(!check(Some("localhost"), Some("https://localhost:5173")));
        assert!(!check(Some("localhost"), Some("http://evil.example")));
        assert!(!check(Some("localhost"), Some("https://app.example.com.evil.example")));
        assert!(!check(Some("localhost"), Some("null")));
    }
}

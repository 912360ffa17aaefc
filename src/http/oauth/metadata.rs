//! Protected Resource Metadata (RFC 9728): how a client finds the authorization server to
//! get a token for this gateway.
//!
//! Served at `/.well-known/oauth-protected-resource` and at every path below it (the form
//! RFC 9728 section 3.1 builds from a resource URL with a path, such as
//! `/.well-known/oauth-protected-resource/mcp`, which the MCP authorization spec uses). Every
//! URL in it comes from the configuration, never from the request's `Host`, so a forged
//! `Host` cannot point a client at another authorization server.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::servers::OAuthSettings;
use crate::http::HttpState;

/// The well-known path of the metadata.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The metadata document for `settings`.
pub fn document(settings: &OAuthSettings) -> serde_json::Value {
    serde_json::json!({
        "resource": settings.audience,
        "authorization_servers": [settings.issuer],
        "bearer_methods_supported": ["header"],
    })
}

/// Where the metadata of the resource `audience` is (RFC 9728 section 3.1): the well-known
/// path between its host and its path.
pub fn url(audience: &str) -> String {
    match reqwest::Url::parse(audience) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            format!("{}{WELL_KNOWN}{path}", u.origin().ascii_serialization())
        }
        Err(_) => WELL_KNOWN.to_owned(),
    }
}

/// `GET /.well-known/oauth-protected-resource[/...]`: the metadata, or 404 without OAuth.
pub async fn serve(State(st): State<Arc<HttpState>>) -> Response {
    let settings = st.gw.http();
    let Some(oauth) = &settings.oauth else {
        return (StatusCode::NOT_FOUND, "Not Found: this gateway does not accept OAuth access tokens").into_response();
    };
    let mut resp = (StatusCode::OK, document(oauth).to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_the_well_known_path_between_host_and_path() {
        assert_eq!(url("https://gw.test/mcp"), "https://gw.test/.well-known/oauth-protected-resource/mcp");
        assert_eq!(url("https://gw.test"), "https://gw.test/.well-known/oauth-protected-resource");
        assert_eq!(url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/.well-known/oauth-protected-resource");
    }
}

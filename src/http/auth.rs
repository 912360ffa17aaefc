//! Who a request is from: the agent its bearer token names, an operator, or nobody.
//!
//! `Authorization` is read strictly: the scheme `Bearer` in any case (schemes are
//! case-insensitive, RFC 9110 section 11.1), one space, and the token with no whitespace
//! around it. Anything else is refused as malformed rather than guessed at. Tokens are kept
//! as SHA-256 hashes and compared in constant time.
//!
//! With `gateway.http.oauth`, a bearer that is no static token and looks like a JWT is an
//! access token for [`crate::http::oauth`] to judge; the 401 then names the Protected
//! Resource Metadata, and says `invalid_token` when a token was refused. What was wrong with
//! a refused access token goes to the log only: the client learns that it was invalid.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::servers::HttpSettings;
use crate::http::oauth::validate::TokenError;

/// The credential a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A valid agent token: the agent it names.
    Agent(String),
    /// A valid operator token (`gateway.http.admin_tokens`).
    Operator,
    /// No token (on a gateway without tokens).
    Anonymous,
}

/// Why a request's credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("malformed Authorization header: expected `Bearer <token>`")]
    Malformed,
    /// A token no agent or operator has.
    #[error("unknown bearer token")]
    Unknown,
    /// Tokens were configured at startup and a reload removed them all.
    #[error("no bearer tokens are configured")]
    NoneConfigured,
    /// An OAuth access token that was refused.
    #[error("refused an access token: {0}")]
    Token(TokenError),
}

impl Refusal {
    /// What the client is told: never why an access token failed (that would help whoever
    /// forges one), only that it did.
    fn client_message(&self) -> String {
        match self {
            Refusal::Token(_) => "invalid access token".to_owned(),
            other => other.to_string(),
        }
    }

    /// The RFC 6750 `error` of the challenge, when a token was presented and refused.
    fn error_code(&self) -> Option<&'static str> {
        match self {
            Refusal::Token(_) | Refusal::Unknown => Some("invalid_token"),
            Refusal::Malformed => Some("invalid_request"),
            Refusal::Missing | Refusal::NoneConfigured => None,
        }
    }
}

/// The token of `headers`, read strictly.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Refusal::Malformed);
    }
    let text = value.to_str().map_err(|_| Refusal::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(Refusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Refusal::Malformed);
    }
    Ok(Some(token))
}

/// The credential of a request, judged against the current settings. `required`: the
/// gateway started with tokens, so that a reload that removes every token refuses everyone
/// rather than turning authentication off.
pub fn credential(headers: &HeaderMap, settings: &HttpSettings, required: bool) -> Result<Credential, Refusal> {
    let token = bearer(headers)?;
    // Agent tokens decide whether `/mcp` needs one; operator tokens only guard the operator's
    // detail (`is_operator`), so configuring them alone does not lock every agent out.
    let agents_need_tokens = settings.agents_authenticate();
    let Some(token) = token else {
        return match (agents_need_tokens, required) {
            (false, false) => Ok(Credential::Anonymous),
            (false, true) => Err(Refusal::NoneConfigured),
            (true, _) => Err(Refusal::Missing),
        };
    };
    if !agents_need_tokens && settings.admin_tokens.is_empty() {
        return if required { Err(Refusal::NoneConfigured) } else { Ok(Credential::Anonymous) };
    }
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(t) = settings.tokens.iter().find(|t| bool::from(t.sha256.ct_eq(&digest))) {
        return Ok(Credential::Agent(t.agent.clone()));
    }
    if settings.admin_tokens.iter().any(|t| bool::from(t.ct_eq(&digest))) {
        return Ok(Credential::Operator);
    }
    Err(Refusal::Unknown)
}

/// 401 with the reason and a `WWW-Authenticate` challenge. `resource_metadata`: with OAuth,
/// where the Protected Resource Metadata is (RFC 9728 section 5.1); then the challenge also
/// carries the RFC 6750 `error` code.
pub fn unauthorized(why: &Refusal, resource_metadata: Option<&str>) -> Response {
    let body = serde_json::json!({"error": {"code": "UNAUTHORIZED", "message": why.client_message()}}).to_string();
    let mut resp = (StatusCode::UNAUTHORIZED, body).into_response();
    let challenge = match (resource_metadata, why.error_code()) {
        (Some(url), Some(code)) => format!("Bearer resource_metadata=\"{url}\", error=\"{code}\""),
        (Some(url), None) => format!("Bearer resource_metadata=\"{url}\""),
        (None, _) => "Bearer".to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::servers::TokenEntry;

    fn headers(auth: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for a in auth {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn reads_tokens_strictly() {
        let settings = HttpSettings {
            tokens: vec![TokenEntry { agent: "alice".into(), sha256: Sha256::digest(b"tok-a").into() }],
            admin_tokens: vec![Sha256::digest(b"tok-admin").into()],
            ..Default::default()
        };
        let c = |a: &[&str]| credential(&headers(a), &settings, true);
        assert_eq!(c(&["Bearer tok-a"]), Ok(Credential::Agent("alice".into())));
        assert_eq!(c(&["bearer tok-a"]), Ok(Credential::Agent("alice".into())), "schemes are case-insensitive");
        assert_eq!(c(&["Bearer tok-admin"]), Ok(Credential::Operator));
        for bad in ["Bearer  tok-a", "Bearer tok-a ", "Basic tok-a", "Bearer", "Bearer "] {
            assert_eq!(c(&[bad]), Err(Refusal::Malformed), "{bad:?}");
        }
        assert_eq!(c(&["Bearer tok-a", "Bearer tok-a"]), Err(Refusal::Malformed), "two headers");
        assert_eq!(c(&["Bearer nope"]), Err(Refusal::Unknown));
        assert_eq!(c(&[]), Err(Refusal::Missing));
        let open = HttpSettings::default();
        assert_eq!(credential(&headers(&[]), &open, false), Ok(Credential::Anonymous));
        assert_eq!(credential(&headers(&[]), &open, true), Err(Refusal::NoneConfigured));
    }
}

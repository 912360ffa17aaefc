//! Judging one JWT access token: its header first (what algorithm, which key), then, with
//! the issuer's key, its signature and claims, then the agent it names.
//!
//! The header is read here rather than by `jsonwebtoken`, so that `alg: none` and the
//! symmetric algorithms are refused by name before any key is looked at: a token "signed"
//! with HMAC over the issuer's public key (key confusion) never reaches a verifier.
//! Signature and the registered claims are `jsonwebtoken`'s.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::config::servers::OAuthSettings;
use crate::http::oauth::jwks::{Key, KeyError};
use crate::logging::escape::Escaped;
use crate::policy::is_valid_agent_id;

/// Seconds of clock difference allowed between the issuer and the gateway for `exp` and
/// `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// The asymmetric algorithms accepted, each as the key says.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an access token was refused. The log gets this; the client only `invalid_token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg: none`: no signature at all.
    #[error("unsigned token (`alg: none`)")]
    AlgNone,
    /// An HMAC algorithm: the issuer's keys are public, so an HMAC "signature" proves
    /// nothing (the key-confusion attack).
    #[error("token uses the symmetric algorithm `{0}`; only the issuer's asymmetric keys are accepted")]
    Symmetric(String),
    /// An algorithm this gateway does not accept.
    #[error("token uses the unsupported algorithm `{0}`")]
    UnsupportedAlg(String),
    /// No key of the issuer (even after fetching the keys again) fits the token.
    #[error("no key {} for `{alg:?}` in the issuer's key set, even after fetching it again", match kid { Some(k) => format!("`{k}`"), None => "(the token names none)".to_owned() })]
    UnknownKey {
        /// The token's `kid`, escaped.
        kid: Option<String>,
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// The issuer's keys could not be had.
    #[error("cannot check the token: {0}")]
    NoKeys(KeyError),
    /// The signature does not verify.
    #[error("bad signature (kid `{0}`)")]
    BadSignature(String),
    /// `exp` has passed.
    #[error("expired token")]
    Expired,
    /// `nbf` is still to come.
    #[error("token not yet valid (`nbf` is in the future)")]
    NotYetValid,
    /// `aud` does not name this gateway.
    #[error("token for another audience: `aud` is `{found}`, not `{expected}`")]
    WrongAudience {
        /// The token's `aud`, escaped.
        found: String,
        /// The configured audience.
        expected: String,
    },
    /// `iss` is another issuer.
    #[error("token from another issuer: `iss` is `{found}`, not `{expected}`")]
    WrongIssuer {
        /// The token's `iss`, escaped.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// A claim this gateway requires is missing.
    #[error("token lacks the `{0}` claim")]
    MissingClaim(String),
    /// A claim is of the wrong type, or the payload is not a JSON object.
    #[error("malformed claims: {0}")]
    BadClaims(String),
    /// The agent claim is missing or not a string.
    #[error("token has no string claim `{0}` to name the agent")]
    NoAgentClaim(String),
    /// The agent claim's value is not in `agents`.
    #[error("`{claim}` `{value}` is not in `gateway.http.oauth.agents`")]
    UnmappedAgent {
        /// The claim.
        claim: String,
        /// Its value, escaped.
        value: String,
    },
    /// The agent claim's value is no agent id.
    #[error("`{claim}` `{value}` is not a valid agent id (map it through `gateway.http.oauth.agents`)")]
    InvalidAgent {
        /// The claim.
        claim: String,
        /// Its value, escaped.
        value: String,
    },
}

impl TokenError {
    /// Whether this is the gateway's trouble (the keys), not the token's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, TokenError::NoKeys(_))
    }
}

/// What the header says: the algorithm and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// An accepted asymmetric algorithm.
    pub alg: Algorithm,
    /// `kid`, if the token names its key.
    pub kid: Option<String>,
}

/// Whether a bearer token looks like a JWS (so that OAuth, not a static token, judges it).
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

/// Reads a token's header, refusing `alg: none`, HMAC and anything not accepted.
pub fn header(token: &str) -> Result<Header, TokenError> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed(if token.split('.').count() == 5 {
            "encrypted tokens (JWE) are not accepted"
        } else {
            "not three dot-separated parts"
        }));
    };
    let bytes = URL_SAFE_NO_PAD.decode(head).map_err(|_| TokenError::Malformed("the header is not base64url"))?;
    let json: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed("the header is not a JSON object"))?;
    if json.contains_key("crit") {
        // RFC 7515 section 4.1.11: extensions the recipient does not understand must fail.
        return Err(TokenError::Malformed("the header has critical extensions (`crit`)"));
    }
    let alg = json.get("alg").and_then(Value::as_str).ok_or(TokenError::Malformed("the header has no `alg`"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgNone);
    }
    if alg.starts_with("HS") {
        return Err(TokenError::Symmetric(Escaped::new(alg).to_string()));
    }
    let parsed = Algorithm::from_str(alg)
        .ok()
        .filter(|a| ACCEPTED.contains(a))
        .ok_or_else(|| TokenError::UnsupportedAlg(Escaped::new(alg).to_string()))?;
    let kid = match json.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(TokenError::Malformed("`kid` is not a string")),
    };
    Ok(Header { alg: parsed, kid })
}

/// The key among `keys` that `header` names and that fits its algorithm. A token without
/// a `kid` may use the one key that fits, if there is exactly one.
pub fn find_key<'k>(keys: &'k [Key], header: &Header) -> Option<&'k Key> {
    let mut fitting = keys.iter().filter(|k| k.fits(header.alg));
    match &header.kid {
        Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
        None => {
            let first = fitting.next()?;
            fitting.next().is_none().then_some(first)
        }
    }
}

/// Checks the signature with `key`, then `iss`, `aud`, `exp` and `nbf`, and returns the
/// agent the token names.
pub fn check(token: &str, header: &Header, key: &Key, settings: &OAuthSettings) -> Result<String, TokenError> {
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation) {
        Ok(data) => data.claims,
        Err(e) => return Err(refusal(e.into_kind(), token, header, settings)),
    };
    agent(&claims, settings)
}

fn refusal(kind: ErrorKind, token: &str, header: &Header, settings: &OAuthSettings) -> TokenError {
    // Only for the log: the claim as the (verified) token has it.
    let claim = |name: &str| {
        let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap_or_default();
        let shown = match claims.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "(none)".to_owned(),
        };
        Escaped::new(&shown).to_string()
    };
    match kind {
        ErrorKind::InvalidSignature => {
            TokenError::BadSignature(Escaped::new(header.kid.as_deref().unwrap_or("(none)")).to_string())
        }
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidAudience => {
            TokenError::WrongAudience { found: claim("aud"), expected: settings.audience.clone() }
        }
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer { found: claim("iss"), expected: settings.issuer.clone() },
        ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(Escaped::new(&c).to_string()),
        ErrorKind::InvalidClaimFormat(c) => TokenError::BadClaims(format!("`{}` has the wrong type", Escaped::new(&c))),
        ErrorKind::Json(_) => TokenError::BadClaims("the payload is not a JSON object".to_owned()),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            TokenError::Malformed("a part is not base64url JSON")
        }
        _ => TokenError::Malformed("the signature cannot be checked with the issuer's key"),
    }
}

/// The agent the verified `claims` name: the configured claim, through `agents` when given.
fn agent(claims: &Map<String, Value>, settings: &OAuthSettings) -> Result<String, TokenError> {
    let claim = &settings.agent_claim;
    let value = claims.get(claim).and_then(Value::as_str).ok_or_else(|| TokenError::NoAgentClaim(claim.clone()))?;
    let agent = match &settings.agents {
        Some(map) => match map.iter().find(|(v, _)| v == value) {
            Some((_, agent)) => agent.clone(),
            None => {
                return Err(TokenError::UnmappedAgent { claim: claim.clone(), value: Escaped::new(value).to_string() });
            }
        },
        None => value.to_owned(),
    };
    if !is_valid_agent_id(&agent) {
        return Err(TokenError::InvalidAgent { claim: claim.clone(), value: Escaped::new(&agent).to_string() });
    }
    Ok(agent)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

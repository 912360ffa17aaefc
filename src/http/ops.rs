//! The operator's endpoints: `/health` (the process is up), `/ready` (a policy is loaded and
//! every server is reachable or not yet needed) and `/metrics` (Prometheus text).
//!
//! `/health` tells nothing else. `/ready` tells anyone whether the gateway is ready, but its
//! detail (server names, the policy snapshot) only an operator: the operator's listener, an
//! operator token, or anyone on a gateway without tokens. `/metrics` lists every agent's
//! series, so with tokens it needs an operator token.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::servers::HttpSettings;
use crate::downstream::Status;
use crate::http::HttpState;
use crate::http::auth::{Credential, credential};
use crate::telemetry::prometheus::render;

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Whether the request may see the operator's detail.
fn is_operator(st: &HttpState, req: &Request) -> bool {
    if st.operator {
        return true;
    }
    let settings = st.gw.http();
    match req.extensions().get::<Credential>().cloned() {
        Some(c) => c == Credential::Operator || (c == Credential::Anonymous && open(&settings)),
        // `/ready` is not behind the guard: judge the credential here.
        None => match credential(req.headers(), &settings, st.required) {
            Ok(Credential::Operator) => true,
            // Without tokens, detail goes only to a request that passes the DNS rebinding
            // check, as `/metrics` does behind the guard.
            Ok(Credential::Anonymous) => open(&settings) && !st.required && st.peers.refusal(req.headers()).is_none(),
            _ => false,
        },
    }
}

/// Whether the gateway has no tokens at all, so that anyone who may reach it is its operator.
fn open(settings: &HttpSettings) -> bool {
    !settings.agents_authenticate() && settings.admin_tokens.is_empty()
}

/// Liveness: the process answers.
pub async fn health() -> Response {
    json_response(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// Readiness: a policy is loaded and every server is reachable or not yet needed.
///
/// A failed or dead server is restarted in the background (with the usual backoff) when
/// readiness is probed, so a gateway taken out of rotation, and so receiving no calls, can
/// still become ready again.
pub async fn ready(State(st): State<Arc<HttpState>>, req: Request) -> Response {
    let servers = st.gw.servers();
    let mut ok = true;
    let list: Vec<serde_json::Value> = servers
        .iter()
        .map(|d| {
            let status = d.status().status;
            let healthy = matches!(status, Status::Ready | Status::NotStarted);
            ok &= healthy;
            if !healthy {
                d.start_in_background();
            }
            serde_json::json!({"name": d.name(), "status": status})
        })
        .collect();
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    if !is_operator(&st, &req) {
        return json_response(code, serde_json::json!({"ready": ok}));
    }
    let body = serde_json::json!({
        "ready": ok,
        "policy": st.gw.policy().table.snapshot_id(),
        "servers": list,
        "sessions": st.sessions.len(),
    });
    let mut body = body;
    if let Some(redis) = st.gw.limits().redis() {
        // Falling back to per-replica limits keeps serving, so it does not make `/ready` fail.
        body["shared_limits"] = serde_json::json!({
            "redis": redis.url(),
            "state": if redis.in_fallback() { "fallback" } else { "shared" },
            "fallback_checks": redis.fallbacks(),
        });
    }
    json_response(code, body)
}

/// Prometheus text, for operators.
pub async fn metrics(State(st): State<Arc<HttpState>>, req: Request) -> Response {
    if !is_operator(&st, &req) {
        return (StatusCode::FORBIDDEN, "Forbidden: /metrics needs an operator token (gateway.http.admin_tokens)")
            .into_response();
    }
    let text = render(st.gw.scrape());
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::telemetry::prometheus::CONTENT_TYPE));
    resp
}

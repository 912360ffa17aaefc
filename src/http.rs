//! Serving over MCP streamable HTTP: `/mcp`, plus `/health`, `/ready` and `/metrics`.
//!
//! The same [`GatewayHandler`] serves every session; the shared [`Gateway`] holds all state,
//! so stateless (2026-07-28) clients, whose handler is created per request, see the same
//! downstream connections as session clients. With bearer tokens configured, a request's
//! agent is the token's agent and a missing or unknown token gets 401. Without tokens the
//! gateway only listens on loopback, unless `--allow-unauthenticated` says otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::downstream::Status;
use crate::gateway::handler::GatewayHandler;
use crate::gateway::tools::AgentParam;
use crate::gateway::{Gateway, Identity};
use crate::serve::shutdown_signal;
use crate::transport::DEFAULT_MAX_MESSAGE_BYTES;

/// How long in-flight HTTP requests may run on after a shutdown signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The agent a valid bearer token authenticates, put in the request's extensions by the auth
/// middleware and read by the handler.
#[derive(Debug, Clone)]
pub struct AuthenticatedAgent(pub String);

/// Serves the gateway over HTTP until a shutdown signal.
pub async fn serve_http(gw: Arc<Gateway>, args: &ServeArgs) -> Result<(), String> {
    let addr = args.listen;
    let authenticated = !gw.http.load().tokens.is_empty();
    if !authenticated && !addr.ip().is_loopback() && !args.allow_unauthenticated {
        return Err(format!(
            "refusing to serve {addr} without authentication: configure `gateway.http.tokens` in the MCP config, \
             listen on a loopback address, or pass --allow-unauthenticated"
        ));
    }
    let stop = CancellationToken::new();
    let config = server_config(&gw, addr, stop.child_token());
    let has_default = gw.policy.load().table.default_agent().is_some();
    let identity = Identity { bound: args.agent.clone(), has_default };
    let schema = if authenticated { AgentParam::Absent } else { identity.agent_param() };
    let mcp = {
        let gw = gw.clone();
        StreamableHttpService::new(
            move || Ok(GatewayHandler::with_schema(gw.clone(), identity.clone(), schema)),
            Arc::new(LocalSessionManager::default()),
            config,
        )
    };
    let app = Router::new()
        .nest_service("/mcp", mcp)
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(gw.clone(), authenticate))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(gw.clone());
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("Gateway is ready on http://{bound}/mcp (health: /health, readiness: /ready, metrics: /metrics)");

    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let graceful = {
        let stop = stop.clone();
        async move {
            let signal = shutdown_signal().await;
            tracing::info!("{signal}; no new connections, finishing requests in flight");
            stop.cancel();
            let _ = signalled_tx.send(());
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    tokio::select! {
        r = server => r.map_err(|e| format!("HTTP server failed: {e}")),
        () = async {
            let _ = signalled_rx.await;
            tokio::time::sleep(DRAIN_LIMIT).await;
        } => {
            tracing::warn!("requests still running after {} s; stopping anyway", DRAIN_LIMIT.as_secs());
            Ok(())
        }
    }
}

fn server_config(gw: &Gateway, addr: SocketAddr, stop: CancellationToken) -> StreamableHttpServerConfig {
    let http = gw.http.load();
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !addr.ip().is_unspecified() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(http.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> =
        vec!["http://localhost:*".into(), "http://127.0.0.1:*".into(), "http://[::1]:*".into()];
    origins.extend(http.allowed_origins.iter().cloned());
    StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .with_max_request_body_bytes(DEFAULT_MAX_MESSAGE_BYTES)
        .with_cancellation_token(stop)
}

/// Checks the bearer token on `/mcp` and `/metrics` when tokens are configured.
async fn authenticate(State(gw): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    let settings = gw.http.load();
    if settings.tokens.is_empty() {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token else {
        return unauthorized("missing bearer token");
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let agent = settings.tokens.iter().find(|t| constant_time_eq(&t.sha256, &digest)).map(|t| t.agent.clone());
    match agent {
        Some(agent) => {
            req.extensions_mut().insert(AuthenticatedAgent(agent));
            next.run(req).await
        }
        None => {
            tracing::warn!("refused a request with an unknown bearer token");
            unauthorized("unknown bearer token")
        }
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized(why: &str) -> Response {
    let body = serde_json::json!({"error": {"code": "UNAUTHORIZED", "message": why}}).to_string();
    let mut resp = (StatusCode::UNAUTHORIZED, body).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Liveness: the process answers.
async fn health() -> Response {
    json_response(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// Readiness: a policy is loaded and every server is reachable or not yet needed.
async fn ready(State(gw): State<Arc<Gateway>>) -> Response {
    let servers = gw.servers.load();
    let mut ok = true;
    let list: Vec<serde_json::Value> = servers
        .iter()
        .map(|d| {
            let status = d.status().status;
            ok &= matches!(status, Status::Ready | Status::NotStarted);
            serde_json::json!({"name": d.name(), "status": status})
        })
        .collect();
    let body = serde_json::json!({
        "ready": ok,
        "policy": gw.policy.load().table.snapshot_id(),
        "servers": list,
    });
    json_response(if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let text = crate::metrics::prometheus::render(&gw);
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

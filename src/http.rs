//! Serving over MCP streamable HTTP: `/mcp`, plus `/health`, `/ready` and `/metrics`.
//!
//! The same [`GatewayHandler`] serves every session; the shared [`Gateway`] holds all state,
//! so stateless (2026-07-28) clients, whose handler is created per request, see the same
//! downstream connections as session clients. With bearer tokens configured, a request's
//! agent is the token's agent and a missing or unknown token gets 401. Without tokens the
//! gateway only listens on loopback, unless `--allow-unauthenticated` says otherwise.
//!
//! `Host` and `Origin` are checked on `/mcp` by rmcp and on `/metrics` (without tokens) by
//! [`rebinding`], so a page that rebinds its name to loopback can read neither. `/health` and
//! `/ready` stay open for probes, which address the pod by IP.
//!
//! Shutdown: a signal stops the listener; the requests in flight get [`DRAIN_LIMIT`] to
//! finish (after which the downstreams are stopped, which ends their calls with an error the
//! callers still receive); then the sessions end, closing their event streams, and the server
//! returns.

mod in_flight;
mod rebinding;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
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
use in_flight::InFlight;
use rebinding::AllowedPeers;

/// How long the requests in flight may run on after a shutdown signal.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// How long connections get to close once the sessions have ended.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// What the auth middleware needs.
#[derive(Clone)]
struct AuthState {
    gw: Arc<Gateway>,
    /// Whether the gateway started with tokens: a reload that removes every token then
    /// refuses everyone rather than turning authentication off.
    required: bool,
    /// The `Host`/`Origin` values `/metrics` serves when no token protects it.
    peers: Arc<AllowedPeers>,
}

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
    let peers = Arc::new(allowed_peers(&gw, addr));
    let config = server_config(&peers, stop.child_token());
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
    let auth = AuthState { gw: gw.clone(), required: authenticated, peers };
    let in_flight = Arc::new(InFlight::default());
    let app = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(in_flight.clone(), in_flight::track))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(auth, authenticate))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(gw.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("Gateway is ready on http://{bound}/mcp (health: /health, readiness: /ready, metrics: /metrics)");

    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    // Resolving this future makes axum stop accepting and wait for the open connections.
    let graceful = async move {
        let signal = shutdown_signal().await;
        tracing::info!("{signal}; no new connections, finishing the requests in flight");
        let _ = signalled_tx.send(());
    };
    // The sessions' event streams stay open until the sessions end, so end them once the
    // requests in flight are done (or the drain limit has passed).
    let drain = {
        let gw = gw.clone();
        async move {
            if signalled_rx.await.is_err() {
                return std::future::pending().await;
            }
            if !in_flight.drained(DRAIN_LIMIT).await {
                // Stopping the downstreams ends their calls with an error, which the callers
                // still receive before their sessions end.
                tracing::warn!(
                    "{} request(s) still running after {} s; stopping the servers",
                    in_flight.count(),
                    DRAIN_LIMIT.as_secs()
                );
                crate::serve::shutdown(&gw).await;
                in_flight.drained(CLOSE_LIMIT).await;
            }
            stop.cancel();
            tokio::time::sleep(CLOSE_LIMIT).await;
        }
    };
    // Send each write at once: without TCP_NODELAY the small writes of an SSE response wait
    // for the client's delayed ACK, about 40 ms per call on a kept-alive connection.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY on a connection: {e}");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    tokio::select! {
        r = server => r.map_err(|e| format!("HTTP server failed: {e}")),
        () = drain => {
            tracing::warn!("connections still open {} s after the sessions ended; stopping anyway", CLOSE_LIMIT.as_secs());
            Ok(())
        }
    }
}

/// The `Host` and `Origin` values served: loopback names, the listen address, and the
/// configured ones.
fn allowed_peers(gw: &Gateway, addr: SocketAddr) -> AllowedPeers {
    let http = gw.http.load();
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !addr.ip().is_unspecified() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(http.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> =
        vec!["http://localhost:*".into(), "http://127.0.0.1:*".into(), "http://[::1]:*".into()];
    origins.extend(http.allowed_origins.iter().cloned());
    AllowedPeers { hosts, origins }
}

fn server_config(peers: &AllowedPeers, stop: CancellationToken) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .with_allowed_hosts(peers.hosts.clone())
        .with_allowed_origins(peers.origins.clone())
        .with_max_request_body_bytes(DEFAULT_MAX_MESSAGE_BYTES)
        .with_cancellation_token(stop)
}

/// Checks the bearer token on `/mcp` and `/metrics` when tokens are configured (or were at
/// startup), and guards `/metrics` against DNS rebinding when they are not.
async fn authenticate(State(auth): State<AuthState>, mut req: Request, next: Next) -> Response {
    let settings = auth.gw.http.load();
    if settings.tokens.is_empty() && !auth.required {
        if req.uri().path() == "/metrics"
            && let Some(why) = auth.peers.refusal(req.headers())
        {
            tracing::warn!("refused a /metrics request: {why} (possible DNS rebinding)");
            return (StatusCode::FORBIDDEN, format!("Forbidden: {why}")).into_response();
        }
        return next.run(req).await;
    }
    if settings.tokens.is_empty() {
        tracing::warn!("refused a request: the gateway started with bearer tokens and a reload removed them all");
        return unauthorized("no bearer tokens are configured");
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
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
///
/// A failed or dead server is restarted in the background (with the usual backoff) when
/// readiness is probed, so a gateway taken out of rotation, and so receiving no calls, can
/// still become ready again.
async fn ready(State(gw): State<Arc<Gateway>>) -> Response {
    let servers = gw.servers.load();
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

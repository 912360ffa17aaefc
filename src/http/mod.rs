//! Serving over MCP streamable HTTP: `/mcp`, plus `/health`, `/ready` and `/metrics`.
//!
//! Every client shares the one [`Gateway`]. With bearer tokens configured, a request's agent
//! is its token's agent and a missing or unknown token gets 401 (with `gateway.http.oauth`, a
//! JWT access token names the agent too: [`oauth`]); without tokens the gateway
//! only listens on loopback, unless `--allow-unauthenticated` says otherwise. `Host` and
//! `Origin` are checked on `/mcp` and, without tokens, on `/metrics` ([`rebinding`]).
//!
//! What a client can make the gateway hold is bounded: connections (past the cap, a
//! connection is answered at once: `/health` still says the process is up, anything else
//! gets 503), the time to send request headers, (all in `gateway.http.limits`, read at startup) request-body bytes in flight ([`budget`]),
//! and sessions ([`sessions`]).
//!
//! The operator's endpoints tell more than an agent should know (every agent's metrics, every
//! server's name): `/metrics` and the detail of `/ready` need an operator token
//! (`gateway.http.admin_tokens`), or are served on a separate `--admin-listen` address.
//! `/health` says only that the process is up.
//!
//! Shutdown: a signal stops the listeners; the requests in flight get [`DRAIN_LIMIT`] to
//! finish (after which the downstreams are stopped, which ends their calls with an error the
//! callers still receive); then the event streams end and the server returns.

mod auth;
mod budget;
mod headers;
mod in_flight;
mod mcp;
pub mod oauth;
mod ops;
mod overflow;
mod rebinding;
mod sessions;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::config::servers::HttpLimits;
use crate::gateway::Gateway;
use crate::gateway::subscriptions::{Wants, notification_bytes};
use crate::wire::build;
use auth::{Credential, Refusal, credential, unauthorized};
use budget::{BodyBudget, BudgetLimits};
use in_flight::InFlight;
use oauth::OAuth;
use oauth::validate::looks_like_jwt;
use rebinding::AllowedPeers;
use sessions::{SessionLimits, Sessions};

/// How long the requests in flight may run on after a shutdown signal.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// How long connections get to close once the streams have ended.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);
/// How often idle sessions are looked for.
const EXPIRY_SWEEP: Duration = Duration::from_secs(30);

/// What the HTTP handlers share.
pub struct HttpState {
    gw: Arc<Gateway>,
    sessions: Arc<Sessions>,
    budget: BodyBudget,
    peers: AllowedPeers,
    /// Whether the gateway started with tokens: a reload that removes every token then
    /// refuses everyone rather than turning authentication off.
    required: bool,
    /// Cancelled at shutdown: ends every event stream.
    stop: CancellationToken,
    /// Whether this is the operator's own listener (`--admin-listen`).
    operator: bool,
    /// The access-token verifier of the current `gateway.http.oauth`, with its key cache.
    oauth: OAuth,
}

/// Why the gateway cannot serve HTTP.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No tokens and a non-loopback address.
    #[error(
        "refusing to serve {0} without authentication: configure `gateway.http.tokens` or `gateway.http.oauth` in the MCP config, \
         listen on a loopback address, or pass --allow-unauthenticated"
    )]
    Unauthenticated(SocketAddr),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves the gateway over HTTP until a shutdown signal.
pub async fn serve_http(gw: Arc<Gateway>, args: &ServeArgs) -> Result<(), HttpError> {
    let addr = args.listen;
    let http = gw.http();
    let authenticated = http.agents_authenticate();
    if !authenticated && !addr.ip().is_loopback() && !args.allow_unauthenticated {
        return Err(HttpError::Unauthenticated(addr));
    }
    let stop = CancellationToken::new();
    let limits = http.limits;
    let sessions = Arc::new(Sessions::new(SessionLimits {
        per_agent: limits.sessions_per_agent,
        total: limits.sessions_total,
        idle: limits.session_idle,
    }));
    let budget = BudgetLimits { per_agent: limits.body_bytes_per_agent, total: limits.body_bytes_total };
    let state = Arc::new(HttpState {
        gw: gw.clone(),
        sessions: sessions.clone(),
        budget: BodyBudget::new(budget),
        peers: allowed_peers(&gw, addr),
        required: authenticated,
        stop: stop.clone(),
        operator: false,
        oauth: OAuth::default(),
    });
    let in_flight = Arc::new(InFlight::default());
    let app = Router::new()
        .route("/mcp", axum::routing::post(mcp::post).get(mcp::get).delete(mcp::delete))
        .layer(middleware::from_fn_with_state(in_flight.clone(), in_flight::track))
        .route("/metrics", get(ops::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route(oauth::metadata::WELL_KNOWN, get(oauth::metadata::serve))
        .route(&format!("{}/{{*resource}}", oauth::metadata::WELL_KNOWN), get(oauth::metadata::serve))
        .with_state(state.clone());
    let listener = TcpListener::bind(addr).await.map_err(|source| HttpError::Listen { addr, source })?;
    let bound = listener.local_addr().map_err(|source| HttpError::Listen { addr, source })?;
    let admin = match args.admin_listen {
        Some(admin_addr) => {
            let listen = |source| HttpError::Listen { addr: admin_addr, source };
            let l = TcpListener::bind(admin_addr).await.map_err(listen)?;
            let admin_bound = l.local_addr().map_err(listen)?;
            let admin_state = Arc::new(HttpState {
                gw: gw.clone(),
                sessions: sessions.clone(),
                budget: BodyBudget::new(budget),
                peers: AllowedPeers::default(),
                required: false,
                stop: stop.clone(),
                operator: true,
                oauth: OAuth::default(),
            });
            let admin_app = Router::new()
                .route("/metrics", get(ops::metrics))
                .route("/health", get(ops::health))
                .route("/ready", get(ops::ready))
                .with_state(admin_state);
            eprintln!("Operator endpoints on http://{admin_bound} (/metrics, /ready, /health)");
            Some((l, admin_app))
        }
        None => None,
    };
    eprintln!("Gateway is ready on http://{bound}/mcp (health: /health, readiness: /ready, metrics: /metrics)");

    // Direct mode: every session with a GET stream hears that its tool list changed.
    let announcer = gw.settings().expose.direct().then(|| {
        let (sessions, mut changes) = (sessions.clone(), gw.downstream_settings().catalogue.subscribe());
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                sessions.push_all(&build::notification("notifications/tools/list_changed", None));
            }
        })
    });
    // Prompt and resource notices: every session with a GET stream whose agent may see them
    // (and, for updates, that subscribed to the resource).
    let relay = {
        let (gw, sessions) = (gw.clone(), sessions.clone());
        let bound = gw.identity().bound.clone();
        let mut heard = gw.downstream_settings().notices.subscribe();
        tokio::spawn(async move {
            while let Some(got) = crate::downstream::notices::next(&mut heard).await {
                for notice in got {
                    sessions.push_each(|session| {
                        let agent = session.agent.as_deref().or(bound.as_deref());
                        let wants = Wants::legacy(&session.client.subscriptions);
                        gw.notice_for(agent, &wants, &notice).map(notification_bytes)
                    });
                }
            }
        })
    };
    let sweeper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_SWEEP);
            loop {
                tick.tick().await;
                let n = state.sessions.expire();
                if n > 0 {
                    tracing::info!("{n} idle session(s) expired");
                }
            }
        })
    };
    let accepting = CancellationToken::new();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let serving = accept_loop(listener, app, accepting.clone(), &graceful, &limits);
    let admin_serving = async {
        if let Some((l, admin_app)) = admin {
            accept_loop(l, admin_app, accepting.clone(), &graceful, &limits).await;
        }
    };
    let signal = async {
        let signal = crate::signals::shutdown_signal().await;
        tracing::info!("{signal}; no new connections, finishing the requests in flight");
        accepting.cancel();
    };
    tokio::join!(serving, admin_serving, signal);
    sweeper.abort();
    relay.abort();
    if let Some(announcer) = announcer {
        announcer.abort();
    }
    if !in_flight.drained(DRAIN_LIMIT).await {
        // Stopping the downstreams ends their calls with an error, which the callers still
        // receive before their streams end.
        tracing::warn!(
            "{} request(s) still running after {} s; stopping the servers",
            in_flight.count(),
            DRAIN_LIMIT.as_secs()
        );
        gw.shutdown().await;
        in_flight.drained(CLOSE_LIMIT).await;
    }
    stop.cancel();
    state.sessions.clear();
    if tokio::time::timeout(CLOSE_LIMIT, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open {} s after the streams ended; stopping anyway", CLOSE_LIMIT.as_secs());
    }
    Ok(())
}

/// Accepts connections until `accepting` is cancelled, each served by `app` with a header
/// timeout and counted against the connection cap.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    accepting: CancellationToken,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    limits: &HttpLimits,
) {
    let slots = Arc::new(Semaphore::new(limits.connections));
    let overflow = Arc::new(Semaphore::new(overflow::MAX_OVERFLOW));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = accepting.cancelled() => return,
        };
        let (tcp, _peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Send each write at once: without TCP_NODELAY the small writes of an event stream
        // wait for the client's delayed ACK, about 40 ms per call on a kept-alive connection.
        let _ = tcp.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            overflow::answer(tcp, &overflow);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }
}

/// The `Host` and `Origin` values served: loopback names, the listen address, and the
/// configured ones.
fn allowed_peers(gw: &Gateway, addr: SocketAddr) -> AllowedPeers {
    let http = gw.http();
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

/// Guards `/mcp` and `/metrics`: DNS rebinding (`/mcp` always, `/metrics` without tokens),
/// then the credential, which the handlers read from the request's extensions.
async fn guard(State(st): State<Arc<HttpState>>, mut req: Request, next: Next) -> Response {
    let settings = st.gw.http();
    let is_mcp = req.uri().path() == "/mcp";
    if (is_mcp || (!settings.agents_authenticate() && !st.required))
        && let Some(why) = st.peers.refusal(req.headers())
    {
        tracing::warn!("refused a request to {}: {why} (possible DNS rebinding)", req.uri().path());
        return (StatusCode::FORBIDDEN, format!("Forbidden: {why}")).into_response();
    }
    let judged = match credential(req.headers(), &settings, st.required) {
        Err(Refusal::Unknown) => match (&settings.oauth, auth::bearer(req.headers())) {
            (Some(oauth), Ok(Some(token))) if looks_like_jwt(token) => {
                let verifier = match st.oauth.verifier(oauth) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::error!("cannot check access tokens: {e}");
                        return unavailable();
                    }
                };
                match verifier.verify(token).await {
                    Ok(agent) => Ok(Credential::Agent(agent)),
                    Err(e) if e.is_unavailable() => {
                        tracing::error!("refused a request: {e}");
                        return unavailable();
                    }
                    Err(e) => Err(Refusal::Token(e)),
                }
            }
            _ => Err(Refusal::Unknown),
        },
        other => other,
    };
    match judged {
        Ok(Credential::Operator) if is_mcp => {
            (StatusCode::FORBIDDEN, "Forbidden: an operator token cannot act as an agent").into_response()
        }
        Ok(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Err(why) => {
            tracing::warn!("refused a request: {why}");
            let metadata = settings.oauth.as_ref().map(|o| oauth::metadata::url(&o.audience));
            unauthorized(&why, metadata.as_deref())
        }
    }
}

/// 503: the issuer's keys cannot be had, so no access token can be checked; the client's
/// token may well be fine, so it is not told to get another.
fn unavailable() -> Response {
    let body = serde_json::json!({"error": {"code": "UNAVAILABLE", "message": "cannot check access tokens now; try again later"}});
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("10"));
    resp.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    resp
}

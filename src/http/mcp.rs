//! The MCP endpoint: `POST`, `GET` and `DELETE` on `/mcp`, for every revision.
//!
//! - A 2026-07-28 request (its `_meta` names the revision) is served statelessly: its
//!   standard headers are checked against the body, and it needs no session, so any replica
//!   can serve it.
//! - `initialize` opens a session of the agent whose credential sent it; every later request,
//!   notification, answer, stream and delete of the session must come with that same
//!   credential, or it gets 404 as for an unknown session.
//! - A request's messages (progress, logs, the gateway's requests for input, then its
//!   response) come as an event stream; a client that does not accept event streams gets the
//!   response alone, as JSON.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::value::RawValue;

use crate::gateway::Identity;
use crate::http::auth::Credential;
use crate::http::budget::BodyPermit;
use crate::http::sessions::Session;
use crate::http::{HttpState, sse};
use crate::mcp::{RequestMeta, codes};
use crate::server::ClientState;
use crate::server::dispatch::{self, Request as McpRequest};
use crate::telemetry::otel::trace::TraceParent;
use crate::wire::envelope::Malformed;
use crate::wire::{Message, Sink, build};

/// The session header.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Messages a request's stream may hold before its producers wait.
const STREAM_QUEUE: usize = 64;

/// The agent a credential names.
fn agent_of(parts: &axum::http::request::Parts) -> Option<String> {
    match parts.extensions.get::<Credential>() {
        Some(Credential::Agent(a)) => Some(a.clone()),
        _ => None,
    }
}

/// How agent ids are taken from a request: the token's agent, else the gateway's identity.
fn identity(st: &HttpState, agent: Option<&String>) -> Identity {
    match agent {
        Some(a) => Identity { bound: Some(a.clone()), has_default: st.gw.identity().has_default },
        None => st.gw.identity().clone(),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

/// A JSON-RPC error as an HTTP response.
fn rpc_error(status: StatusCode, id: &str, code: i64, message: &str) -> Response {
    let mut resp = (status, build::error(id, code, message, None)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn accepts(headers: &HeaderMap, kind: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .any(|t| t == kind || t == "*/*" || (t.ends_with("/*") && kind.starts_with(t.trim_end_matches('*'))))
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
}

/// `POST /mcp`.
pub async fn post(State(st): State<Arc<HttpState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let agent = agent_of(&parts);
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    if !accepts(&parts.headers, "application/json") && !accepts(&parts.headers, "text/event-stream") {
        return plain(StatusCode::NOT_ACCEPTABLE, "Not Acceptable: accept application/json or text/event-stream");
    }
    let (bytes, permit) = match read_body(&st, body, agent.as_deref(), &parts.headers).await {
        Ok(read) => read,
        Err(resp) => return resp,
    };
    let sse = accepts(&parts.headers, "text/event-stream");
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let message = "invalid request: JSON-RPC batches are not supported; send one message per request";
        return rpc_error(StatusCode::BAD_REQUEST, "null", codes::INVALID_REQUEST, message);
    }
    if let Err(why) = crate::wire::envelope::check_limits(&bytes) {
        return rpc_error(StatusCode::BAD_REQUEST, "null", codes::PARSE_ERROR, &format!("parse error: {why}"));
    }
    let message = match crate::wire::parse(&bytes) {
        Ok(m) => m,
        Err(Malformed::Json(e)) => {
            return rpc_error(StatusCode::BAD_REQUEST, "null", codes::PARSE_ERROR, &format!("parse error: {e}"));
        }
        Err(Malformed::Invalid { why, id, .. }) => {
            let id = id.map_or_else(|| "null".to_owned(), |id| id.get().to_owned());
            return rpc_error(StatusCode::BAD_REQUEST, &id, codes::INVALID_REQUEST, &format!("invalid request: {why}"));
        }
    };
    let identity = identity(&st, agent.as_ref());
    match message {
        Message::Request { id, method, params } => {
            let meta = RequestMeta::of(params);
            if let Some(version) = meta.protocol_version.as_deref() {
                if let Err(e) = crate::http::headers::check(&parts.headers, &method, params, version) {
                    return rpc_error(StatusCode::BAD_REQUEST, id.get(), codes::HEADER_MISMATCH, &e.to_string());
                }
                let req = owned(id, &method, params, &parts.headers);
                return run(&st, None, identity, req, sse, permit, &[]).await;
            }
            if method == "initialize" {
                return initialize(&st, agent.as_deref(), identity, owned(id, &method, params, &parts.headers), permit)
                    .await;
            }
            let Some(session) = find_session(&st, &parts.headers, agent.as_deref()) else {
                return missing_session(&parts.headers);
            };
            let req = owned(id, &method, params, &parts.headers);
            run(&st, Some(session.client.clone()), identity, req, sse, permit, &[]).await
        }
        Message::Notification { method, params } => {
            if RequestMeta::of(params).protocol_version.is_some() || session_id(&parts.headers).is_none() {
                // 2026-07-28 has no client notifications over HTTP (closing a stream cancels);
                // one without a session has nothing to act on.
                return StatusCode::ACCEPTED.into_response();
            }
            let Some(session) = find_session(&st, &parts.headers, agent.as_deref()) else {
                return missing_session(&parts.headers);
            };
            dispatch::notification(&session.client, &method, params);
            StatusCode::ACCEPTED.into_response()
        }
        Message::Result { id, result } => answer(&st, &parts.headers, agent.as_deref(), id, Ok(result)),
        Message::Error { id, error } => answer(&st, &parts.headers, agent.as_deref(), id, Err(error)),
    }
}

/// The request, owned, with the W3C trace context of its HTTP headers (which its `_meta`
/// members, if any, override).
fn owned(id: &RawValue, method: &str, params: Option<&RawValue>, headers: &HeaderMap) -> McpRequest {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    McpRequest {
        id: id.to_owned(),
        method: method.to_owned(),
        params: params.map(ToOwned::to_owned),
        trace: TraceParent { traceparent: header("traceparent"), tracestate: header("tracestate") },
    }
}

fn find_session(st: &HttpState, headers: &HeaderMap, agent: Option<&str>) -> Option<Arc<Session>> {
    st.sessions.get(session_id(headers)?, agent)
}

/// 400 without a session id; 404 for a session that does not exist or is another agent's.
fn missing_session(headers: &HeaderMap) -> Response {
    match session_id(headers) {
        None => plain(
            StatusCode::BAD_REQUEST,
            "Bad Request: the Mcp-Session-Id header is required (send `initialize` first, or a 2026-07-28 request)",
        ),
        Some(_) => plain(StatusCode::NOT_FOUND, "Not Found: no such session"),
    }
}

/// A client's answer to one of the gateway's requests.
fn answer(
    st: &HttpState,
    headers: &HeaderMap,
    agent: Option<&str>,
    id: &RawValue,
    answer: Result<&RawValue, crate::wire::RpcError<'_>>,
) -> Response {
    let Some(session) = find_session(st, headers, agent) else { return missing_session(headers) };
    if !session.client.answer(id, answer) {
        tracing::debug!("an answer to no request of the gateway's");
    }
    StatusCode::ACCEPTED.into_response()
}

/// `initialize`: a new session of `agent`, answered with its id.
async fn initialize(
    st: &Arc<HttpState>,
    agent: Option<&str>,
    identity: Identity,
    req: McpRequest,
    permit: BodyPermit,
) -> Response {
    let session = match st.sessions.create(agent) {
        Ok(s) => s,
        Err(e) => return plain(StatusCode::SERVICE_UNAVAILABLE, &format!("Service Unavailable: {e}")),
    };
    tracing::debug!(session = %session.id, "new session");
    let header = HeaderValue::from_str(&session.id).ok();
    let extra: Vec<(&'static str, HeaderValue)> = header.into_iter().map(|h| (SESSION_HEADER, h)).collect();
    let resp = run(st, Some(session.client.clone()), identity, req, false, permit, &extra).await;
    if session.client.negotiated().is_none() {
        st.sessions.remove(&session.id, agent);
    }
    resp
}

/// Runs a request; its messages come as an event stream (`sse`) or its response alone as JSON.
async fn run(
    st: &Arc<HttpState>,
    client: Option<Arc<ClientState>>,
    identity: Identity,
    req: McpRequest,
    sse: bool,
    permit: BodyPermit,
    extra: &[(&'static str, HeaderValue)],
) -> Response {
    let (sink, mut rx) = Sink::channel(STREAM_QUEUE);
    let token = client.as_ref().map_or_else(tokio_util::sync::CancellationToken::new, |c| c.begin(&req.id));
    let (gw, watcher_sink, watched) = (st.gw.clone(), sink.clone(), token.clone());
    // A client that closes the stream cancels the request (2026-07-28's way to cancel).
    tokio::spawn(async move {
        watcher_sink.closed().await;
        watched.cancel();
    });
    tokio::spawn(async move {
        let id = req.id.clone();
        dispatch::handle(&gw, client.as_ref(), &identity, req, sink, token).await;
        if let Some(c) = &client {
            c.end(&id);
        }
        drop(permit);
    });
    if sse {
        return sse::response(rx, st.stop.clone(), extra);
    }
    // JSON: the response alone (what came before it cannot be delivered this way).
    let mut last = None;
    while let Some(message) = rx.recv().await {
        if message.last {
            last = Some(message.bytes);
            break;
        }
    }
    let Some(body) = last else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable: the gateway is shutting down");
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in extra {
        resp.headers_mut().insert(*name, value.clone());
    }
    resp
}

/// Reads a body within the size cap and the budget of bytes in flight.
async fn read_body(
    st: &HttpState,
    body: Body,
    agent: Option<&str>,
    headers: &HeaderMap,
) -> Result<(Vec<u8>, BodyPermit), Response> {
    let max = st.gw.downstream_settings().max_message;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(declared.unwrap_or(0), max));
    }
    let mut permit = st.budget.permit(agent);
    let mut chunks = body.into_data_stream();
    if let Some(n) = declared
        && let Err(e) = permit.grow(n)
    {
        return Err(over_budget(&mut chunks, e, max).await);
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(max));
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|e| plain(StatusCode::BAD_REQUEST, &format!("Bad Request: the body broke off: {e}")))?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large(bytes.len() + chunk.len(), max));
        }
        if declared.is_none()
            && let Err(e) = permit.grow(chunk.len())
        {
            return Err(over_budget(&mut chunks, e, max).await);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, permit))
}

/// How long a refused body may take to arrive (and be thrown away).
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// 503 for a body over the budget. The body is read and thrown away first (holding no
/// memory), so that the client, still sending it, gets the answer rather than a reset
/// connection.
async fn over_budget(
    chunks: &mut (impl futures::Stream<Item = Result<bytes::Bytes, axum::Error>> + Unpin),
    e: crate::http::budget::OverBudget,
    max: usize,
) -> Response {
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = chunks.next().await {
            seen += chunk.len();
            if seen > max {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_LIMIT, drain).await;
    plain(StatusCode::SERVICE_UNAVAILABLE, &format!("Service Unavailable: {e}"))
}

fn too_large(size: usize, max: usize) -> Response {
    let message = format!("message of at least {size} bytes from the client exceeds the limit of {max} bytes");
    rpc_error(StatusCode::PAYLOAD_TOO_LARGE, "null", codes::MESSAGE_TOO_LARGE, &message)
}

/// `GET /mcp`: the session's own event stream (list changes and other messages that belong
/// to no request). `Last-Event-ID` resumes nothing: streams are not replayed.
pub async fn get(State(st): State<Arc<HttpState>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let agent = agent_of(&parts);
    let Some(session) = find_session(&st, &parts.headers, agent.as_deref()) else {
        return match session_id(&parts.headers) {
            None => plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed: a GET stream needs a session (Mcp-Session-Id)",
            ),
            Some(_) => plain(StatusCode::NOT_FOUND, "Not Found: no such session"),
        };
    };
    if !accepts(&parts.headers, "text/event-stream") {
        return plain(StatusCode::NOT_ACCEPTABLE, "Not Acceptable: accept text/event-stream");
    }
    let (sink, rx) = Sink::channel(STREAM_QUEUE);
    *session.push.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    let stop = st.stop.child_token();
    // The stream ends with the session.
    let (client, ended) = (session.client.clone(), stop.clone());
    tokio::spawn(async move {
        client.gone().await;
        ended.cancel();
    });
    sse::response(rx, stop, &[])
}

/// `DELETE /mcp`: ends the session.
pub async fn delete(State(st): State<Arc<HttpState>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let agent = agent_of(&parts);
    match session_id(&parts.headers) {
        None => plain(StatusCode::BAD_REQUEST, "Bad Request: the Mcp-Session-Id header is required"),
        Some(id) if st.sessions.remove(id, agent.as_deref()) => StatusCode::OK.into_response(),
        Some(_) => plain(StatusCode::NOT_FOUND, "Not Found: no such session"),
    }
}

//! Answering one request, of any revision.
//!
//! A request with `io.modelcontextprotocol/protocolVersion` in its `_meta` is a 2026-07-28
//! request: its revision, capabilities and log level come with it, and it needs no
//! handshake. Any other request belongs to a client that ran `initialize` (a stdio
//! connection, an HTTP session), whose negotiated revision and capabilities apply.
//! Results are shaped for the request's revision ([`crate::mcp::shape`]).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::gateway::caller::{Asker, Caller, InputRetry};
use crate::gateway::expose::Expose;
use crate::gateway::instructions::with_servers;
use crate::gateway::lists::Listing;
use crate::gateway::offered::Offered;
use crate::gateway::operation::Operation;
use crate::gateway::{Gateway, Identity};
use crate::logging::bounded;
use crate::mcp::shape::{ResultKind, for_caller};
use crate::mcp::{ClientCaps, RequestMeta, Version, codes, meta};
use crate::server::client::{ClientAsker, ClientState, Negotiated, next_owner};
use crate::telemetry::otel::trace::TraceParent;
use crate::wire::object::Members;
use crate::wire::{Sink, build};

/// The instructions for `identity`: the gateway's own, and in direct mode (the agent known
/// without arguments) its servers' own after them.
async fn instructions_for(gw: &Arc<Gateway>, identity: &Identity) -> String {
    let expose = gw.settings().expose;
    let own = instructions(expose);
    if !expose.direct() || !identity.known_without_arguments() {
        return own.to_owned();
    }
    with_servers(own, &gw.server_instructions(identity).await, &gw.settings().separator)
}

/// The gateway's instructions to agents, for each exposure.
fn instructions(expose: Expose) -> &'static str {
    match expose {
        Expose::Meta => {
            "A gateway to many MCP servers. Find a tool with search_tools (or list_servers, then \
             get_server_tools), then call it with execute_tool. Only what your policy allows is listed."
        }
        Expose::Direct => {
            "A gateway to many MCP servers. Each tool is named SERVER__TOOL after the server that has it. Only \
             what your policy allows is listed."
        }
        Expose::Both => {
            "A gateway to many MCP servers. Their tools are listed as SERVER__TOOL; search_tools, \
             list_servers, get_server_tools and execute_tool reach them too. Only what your policy allows is \
             listed."
        }
    }
}

/// One request, owned (it outlives the buffer it was read from).
#[derive(Debug)]
pub struct Request {
    /// Its id, as written.
    pub id: Box<RawValue>,
    /// Its method.
    pub method: String,
    /// Its params, as written.
    pub params: Option<Box<RawValue>>,
    /// The trace context its transport carried (HTTP headers); its `_meta` overrides it.
    pub trace: TraceParent,
}

/// A request's failure as a JSON-RPC error.
struct Failure {
    code: i64,
    message: String,
    data: Option<String>,
}

impl Failure {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Failure { code, message: message.into(), data: None }
    }
}

/// The revision and capabilities a request is served with.
struct Era {
    version: Version,
    caps: ClientCaps,
    /// Whether the request is a 2026-07-28 one (no session state applies).
    modern: bool,
}

/// Answers `req` from `client` (`None`: a stateless HTTP request) as `identity`, writing the
/// response (and any messages before it) to `sink`.
pub async fn handle(
    gw: &Arc<Gateway>,
    client: Option<&Arc<ClientState>>,
    identity: &Identity,
    req: Request,
    sink: Sink,
    cancel: CancellationToken,
) {
    let response = match answer(gw, client, identity, &req, &sink, cancel).await {
        Ok(result) => build::result(req.id.get(), result.as_bytes()),
        Err(f) => {
            let data = f.data.as_deref().and_then(|d| RawValue::from_string(d.to_owned()).ok());
            build::error(req.id.get(), f.code, &f.message, data.as_deref())
        }
    };
    let _ = sink.finish(response).await;
}

async fn answer(
    gw: &Arc<Gateway>,
    client: Option<&Arc<ClientState>>,
    identity: &Identity,
    req: &Request,
    sink: &Sink,
    cancel: CancellationToken,
) -> Result<String, Failure> {
    let params = req.params.as_deref();
    let mut meta = RequestMeta::of(params);
    if meta.traceparent.is_none() {
        meta.traceparent = req.trace.traceparent.as_deref().map(Cow::Borrowed);
        meta.tracestate = req.trace.tracestate.as_deref().map(Cow::Borrowed);
    }
    if meta.protocol_version.is_none() {
        match req.method.as_str() {
            "initialize" => {
                let text = instructions_for(gw, identity).await;
                return initialize(client, params, gw.settings().expose, offered(gw, identity), &text);
            }
            // A 2025 client may ping at any time, before `initialize` too.
            "ping" => return Ok("{}".to_owned()),
            _ => {}
        }
    }
    let era = era(client, &meta)?;
    let shaped = |json: &str, kind| for_caller(json, era.version, kind).into_owned();
    match req.method.as_str() {
        "server/discover" => {
            let text = instructions_for(gw, identity).await;
            Ok(discover(gw.settings().expose, offered(gw, identity), &text))
        }
        "tools/list" => Ok(shaped(&tools_list(gw, identity, params).await?, ResultKind::Cacheable)),
        "resources/list" => {
            Ok(shaped(&aggregated(gw, identity, Listing::Resources, params).await?, ResultKind::Cacheable))
        }
        "resources/templates/list" => {
            Ok(shaped(&aggregated(gw, identity, Listing::Templates, params).await?, ResultKind::Cacheable))
        }
        "prompts/list" => Ok(shaped(&aggregated(gw, identity, Listing::Prompts, params).await?, ResultKind::Cacheable)),
        "resources/read" | "prompts/get" | "completion/complete" => {
            known_agent(identity, &req.method)?;
            let caller = caller(client, identity, &era, &meta, sink, cancel);
            let answered = match req.method.as_str() {
                "resources/read" => gw.read_resource(&caller, params).await,
                "prompts/get" => gw.get_prompt(&caller, params).await,
                _ => gw.complete(&caller, params).await,
            };
            match answered {
                Ok(json) => Ok(shaped(
                    &json,
                    if req.method == "resources/read" { ResultKind::Cacheable } else { ResultKind::Plain },
                )),
                Err(e) => Err(Failure::new(e.code, e.message)),
            }
        }
        "resources/subscribe" | "resources/unsubscribe" if !era.modern => {
            known_agent(identity, &req.method)?;
            let Some(client) = client else {
                return Err(Failure::new(codes::INVALID_PARAMS, "resource subscriptions need a session"));
            };
            let uri = crate::gateway::lists::required_string(params, &req.method, "uri")
                .map_err(|e| Failure::new(e.code, e.message))?;
            let subscriptions = client.subscriptions.clone();
            let answered = if req.method == "resources/subscribe" {
                let caller = caller(Some(client), identity, &era, &meta, sink, cancel);
                gw.subscribe(&caller, &uri, &subscriptions).await
            } else {
                gw.unsubscribe(&uri, &subscriptions)
            };
            answered.map(|()| "{}".to_owned()).map_err(|e| Failure::new(e.code, e.message))
        }
        "subscriptions/listen" if era.modern => {
            let caller = caller(client, identity, &era, &meta, sink, cancel.clone());
            match crate::server::listen::listen(gw, identity, &caller, params, sink, cancel, req.id.get()).await {
                Ok(json) => Ok(shaped(&json, ResultKind::Plain)),
                Err((code, message)) => Err(Failure::new(code, message)),
            }
        }
        "tools/call" => {
            let call = tool_call(params)?;
            let mut caller = caller(client, identity, &era, &meta, sink, cancel);
            caller.retry = call.retry;
            caller.task = call.task;
            match gw.call_tool(&caller, &call.name, call.arguments).await {
                Ok(reply) => Ok(shaped(&reply.json(), ResultKind::Plain)),
                Err(e) => Err(Failure::new(e.code, e.message)),
            }
        }
        "tasks/get" | "tasks/result" | "tasks/list" | "tasks/cancel" | "tasks/update" => {
            let caller = caller(client, identity, &era, &meta, sink, cancel);
            match gw.task_request(&caller, &req.method, params).await {
                Ok(json) => Ok(shaped(&json, ResultKind::Plain)),
                Err(e) => Err(Failure::new(e.code, e.message)),
            }
        }
        "logging/setLevel" if !era.modern => {
            let level = params
                .and_then(|p| Members::of(p).ok())
                .and_then(|m| m.get("level").and_then(|l| serde_json::from_str::<String>(l.get()).ok()));
            match (client, level) {
                (Some(c), Some(level)) if c.set_log_level(&level) => Ok("{}".to_owned()),
                (_, level) => Err(Failure::new(
                    codes::INVALID_PARAMS,
                    format!("invalid log level `{}`", bounded(level.as_deref().unwrap_or(""))),
                )),
            }
        }
        other => Err(Failure::new(codes::METHOD_NOT_FOUND, format!("method not found: `{}`", bounded(other)))),
    }
}

/// The caller of a request that may reach a server: who asks, in which revision, and where
/// its answer, progress and logs go.
fn caller(
    client: Option<&Arc<ClientState>>,
    identity: &Identity,
    era: &Era,
    meta: &RequestMeta<'_>,
    sink: &Sink,
    cancel: CancellationToken,
) -> Caller {
    Caller {
        owner: client.map_or_else(next_owner, |c| c.owner()),
        stateless: client.is_none(),
        identity: identity.clone(),
        version: era.version,
        caps: era.caps,
        sink: sink.clone(),
        progress: meta.progress_token.map(ToOwned::to_owned),
        log_min: log_min(client, meta, era.modern),
        cancel,
        asker: match (era.modern, client) {
            (false, Some(c)) => Some(Arc::new(ClientAsker(c.clone())) as Arc<dyn Asker>),
            _ => None,
        },
        trace: TraceParent {
            traceparent: meta.traceparent.as_deref().map(str::to_owned),
            tracestate: meta.tracestate.as_deref().map(str::to_owned),
        },
        retry: None,
        task: None,
    }
}

/// The revision and capabilities of a request: its own (2026-07-28), else its client's.
fn era(client: Option<&Arc<ClientState>>, meta: &RequestMeta<'_>) -> Result<Era, Failure> {
    if let Some(requested) = &meta.protocol_version {
        let version = Version::parse(requested).filter(|v| !v.has_initialize()).ok_or_else(|| {
            let supported: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
            Failure {
                code: codes::UNSUPPORTED_PROTOCOL_VERSION,
                message: format!("unsupported protocol version `{}`", bounded(requested)),
                data: Some(serde_json::json!({"supported": supported, "requested": requested}).to_string()),
            }
        })?;
        let Some(caps) = meta.client_capabilities else {
            return Err(Failure::new(
                codes::INVALID_PARAMS,
                format!("a {version} request needs `_meta` `{}`", meta::CLIENT_CAPABILITIES),
            ));
        };
        return Ok(Era { version, caps: ClientCaps::parse(Some(caps)), modern: true });
    }
    match client.and_then(|c| c.negotiated()) {
        Some(n) => Ok(Era { version: n.version, caps: n.caps, modern: false }),
        None => Err(Failure::new(
            codes::INVALID_REQUEST,
            "send `initialize` first, or a 2026-07-28 request with its `_meta` (`io.modelcontextprotocol/protocolVersion`)",
        )),
    }
}

/// The lowest log level a request wants: its own (2026-07-28: none unless it asks), else its
/// client's `logging/setLevel`.
fn log_min(client: Option<&Arc<ClientState>>, meta: &RequestMeta<'_>, modern: bool) -> Option<u8> {
    if modern {
        return meta.log_level.as_deref().and_then(meta::log_level_rank);
    }
    client.map(|c| c.log_min())
}

fn initialize(
    client: Option<&Arc<ClientState>>,
    params: Option<&RawValue>,
    expose: Expose,
    items: Option<Offered>,
    instructions: &str,
) -> Result<String, Failure> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Init<'a> {
        protocol_version: String,
        #[serde(default, borrow)]
        capabilities: Option<&'a RawValue>,
    }
    let init: Init<'_> = params.and_then(|p| serde_json::from_str(p.get()).ok()).ok_or_else(|| {
        Failure::new(codes::INVALID_PARAMS, "invalid parameters for `initialize`: malformed parameters")
    })?;
    let version = Version::negotiate_initialize(&init.protocol_version);
    let Some(client) = client else {
        return Err(Failure::new(codes::INVALID_REQUEST, "`initialize` needs a session"));
    };
    if !client.negotiate(Negotiated { version, caps: ClientCaps::parse(init.capabilities) }) {
        return Err(Failure::new(codes::INVALID_REQUEST, "the client is initialized already"));
    }
    Ok(format!(
        r#"{{"protocolVersion":"{version}","capabilities":{},"serverInfo":{},"instructions":{}}}"#,
        capabilities(version, expose, items),
        server_info(),
        build::json_string(instructions)
    ))
}

/// `server/discover`'s result: every revision, the capabilities, and the cache hints (the
/// gateway's answers depend on the caller's policy: private, and stale at once).
fn discover(expose: Expose, items: Option<Offered>, instructions: &str) -> String {
    let versions: Vec<String> = Version::ALL.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        r#"{{"resultType":"complete","supportedVersions":[{}],"capabilities":{},"instructions":{},"ttlMs":0,"cacheScope":"private","_meta":{{"{}":{}}}}}"#,
        versions.join(","),
        capabilities(Version::LATEST, expose, items),
        build::json_string(instructions),
        meta::SERVER_INFO,
        server_info()
    )
}

/// What the gateway offers its clients: tasks in the form of their revision (a capability
/// of its own in 2025-11-25, an extension in 2026-07-28).
/// `items`: what of resources, prompts and completions is served (`None`: none, the agent is
/// not known without arguments).
fn capabilities(version: Version, expose: Expose, items: Option<Offered>) -> String {
    let mut caps = base_capabilities(version).to_owned();
    // Direct mode's list follows the policy and the servers: it announces its changes.
    if expose.direct() {
        caps = caps.replacen(r#""tools":{}"#, r#""tools":{"listChanged":true}"#, 1);
    }
    let Some(offered) = items else { return caps };
    let mut more = String::new();
    if offered.completions {
        more.push_str(r#""completions":{},"#);
    }
    if offered.resources {
        // The gateway's own reloads change the lists too: it always announces changes.
        more.push_str(if offered.subscribe {
            r#""resources":{"subscribe":true,"listChanged":true},"#
        } else {
            r#""resources":{"listChanged":true},"#
        });
    }
    if offered.prompts {
        more.push_str(r#""prompts":{"listChanged":true},"#);
    }
    more.push_str(r#""tools":"#);
    caps.replacen(r#""tools":"#, &more, 1)
}

/// What the handshake declares of resources, prompts and completions for `identity`.
fn offered(gw: &Gateway, identity: &Identity) -> Option<Offered> {
    identity.known_without_arguments().then(|| gw.offered(identity))
}

fn base_capabilities(version: Version) -> &'static str {
    match version {
        Version::V2026_07_28 => r#"{"logging":{},"tools":{},"extensions":{"io.modelcontextprotocol/tasks":{}}}"#,
        Version::V2025_11_25 => {
            r#"{"logging":{},"tools":{},"tasks":{"list":{},"cancel":{},"requests":{"tools":{"call":{}}}}}"#
        }
        _ => r#"{"logging":{},"tools":{}}"#,
    }
}

/// Items per page of the gateway's own lists (direct-mode tools, resources, prompts): large
/// enough that real catalogues fit in one (some clients read only the first page), bounded so
/// a huge one cannot make one reply huge.
const PAGE: usize = 1000;

/// The cursor of the page starting at item `offset`.
fn cursor_at(offset: usize) -> String {
    format!("mcpgw-page-{offset}")
}

/// Where the page a request asks for starts (`None`: its cursor is not the gateway's).
fn requested_offset(params: Option<&RawValue>) -> Result<usize, Failure> {
    let cursor = params
        .and_then(|p| Members::of(p).ok())
        .and_then(|m| m.get("cursor").filter(|c| c.get() != "null").map(|c| c.get().to_owned()));
    let Some(c) = cursor else { return Ok(0) };
    serde_json::from_str::<String>(&c)
        .ok()
        .and_then(|s| s.strip_prefix("mcpgw-page-").and_then(|n| n.parse::<usize>().ok()))
        .ok_or_else(|| Failure::new(codes::INVALID_PARAMS, format!("invalid cursor `{}`", bounded(&c))))
}

/// One page of `items` under `member`, with `first` ahead of them on the first page.
fn page(member: &str, first: Vec<String>, items: &[String], offset: usize) -> Result<String, Failure> {
    if offset > items.len() || (offset > 0 && items.is_empty()) {
        return Err(Failure::new(codes::INVALID_PARAMS, format!("invalid cursor: the list has {} items", items.len())));
    }
    let end = items.len().min(offset + PAGE);
    let mut all = if offset == 0 { first } else { Vec::new() };
    all.extend_from_slice(&items[offset..end]);
    let mut out = format!(r#"{{{}:[{}]"#, build::json_string(member), all.join(","));
    if end < items.len() {
        out.push_str(&format!(r#","nextCursor":{}"#, build::json_string(&cursor_at(end))));
    }
    out.push('}');
    Ok(out)
}

/// `tools/list`: the meta-tools, the agent's downstream tools (direct mode), or both.
async fn tools_list(gw: &Arc<Gateway>, identity: &Identity, params: Option<&RawValue>) -> Result<String, Failure> {
    let offset = requested_offset(params)?;
    let expose = gw.settings().expose;
    let mut meta = Vec::new();
    if expose.meta()
        && let serde_json::Value::Array(tools) = Operation::list(identity.agent_param())
    {
        meta.extend(tools.iter().map(serde_json::Value::to_string));
    }
    let direct = if expose.direct() { gw.direct_tools(identity).await } else { Vec::new() };
    page("tools", meta, &direct, offset)
}

/// An aggregated resource or prompt list, for a caller whose agent is known without
/// arguments.
async fn aggregated(
    gw: &Arc<Gateway>,
    identity: &Identity,
    listing: Listing,
    params: Option<&RawValue>,
) -> Result<String, Failure> {
    known_agent(identity, listing.method())?;
    let offset = requested_offset(params)?;
    page(listing.member(), Vec::new(), &gw.aggregate(identity, listing).await, offset)
}

/// Resources and prompts are served at the protocol level only when the agent is known
/// without arguments (those requests carry no `agent_id`).
fn known_agent(identity: &Identity, method: &str) -> Result<(), Failure> {
    if identity.known_without_arguments() {
        return Ok(());
    }
    Err(Failure::new(
        codes::METHOD_NOT_FOUND,
        format!(
            "`{method}` needs the agent without arguments (--agent, a default agent or an HTTP token); use the \
             read_resource tool instead"
        ),
    ))
}

fn server_info() -> String {
    format!(r#"{{"name":"mcpgw","version":"{}"}}"#, env!("CARGO_PKG_VERSION"))
}

/// The name and arguments of a `tools/call`, and the answers of the input round it
/// retries, if any.
struct ToolCall<'a> {
    name: String,
    arguments: Option<&'a RawValue>,
    retry: Option<InputRetry>,
    task: Option<Box<RawValue>>,
}

fn tool_call(params: Option<&RawValue>) -> Result<ToolCall<'_>, Failure> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct P<'a> {
        name: String,
        #[serde(default, borrow)]
        arguments: Option<&'a RawValue>,
        #[serde(default, borrow)]
        input_responses: Option<&'a RawValue>,
        #[serde(default)]
        request_state: Option<String>,
        #[serde(default, borrow)]
        task: Option<&'a RawValue>,
    }
    let invalid =
        |detail: String| Failure::new(codes::INVALID_PARAMS, format!("invalid parameters for `tools/call`: {detail}"));
    let params = params.ok_or_else(|| invalid("`params` is required".to_owned()))?;
    let p: P<'_> = serde_json::from_str(params.get()).map_err(|e| invalid(e.to_string()))?;
    if let Some(args) = p.arguments
        && !matches!(crate::wire::envelope::first_byte(args), Some(b'{'))
        && args.get() != "null"
    {
        return Err(invalid("`arguments` must be an object".to_owned()));
    }
    let retry = (p.input_responses.is_some() || p.request_state.is_some())
        .then(|| InputRetry { responses: p.input_responses.map(ToOwned::to_owned), state: p.request_state });
    Ok(ToolCall { name: p.name, arguments: p.arguments, retry, task: p.task.map(ToOwned::to_owned) })
}

/// Handles a notification from `client`.
pub fn notification(client: &ClientState, method: &str, params: Option<&RawValue>) {
    match method {
        "notifications/cancelled" => {
            if let Some(id) = params.and_then(|p| Members::of(p).ok()).and_then(|m| m.get("requestId")) {
                client.cancel(id);
            }
        }
        "notifications/initialized" | "notifications/roots/list_changed" | "notifications/progress" => {}
        other => tracing::debug!(method = %crate::logging::Escaped::new(other), "ignoring a notification"),
    }
}

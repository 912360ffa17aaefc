//! The MCP server handler: `tools/list` answers with the four meta-tools, `tools/call`
//! dispatches to them, and every call is audited and measured.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditEvent;
use crate::downstream::Downstream;
use crate::downstream::rpc::CallRoute;
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::identity::{Identity, SpoofAttempt};
use crate::gateway::params::Params;
use crate::gateway::{Gateway, Judged, PolicySnapshot, execute, list_servers, server_tools, status, tools};
use crate::http::AuthenticatedAgent;
use crate::limits::ConcurrencyPermit;
use crate::logging::Escaped;
use crate::wire::Sink;

/// One connection's handler: the shared gateway plus the identity of its caller.
#[derive(Clone)]
pub struct GatewayHandler {
    gw: Arc<Gateway>,
    identity: Identity,
    tools: Arc<Vec<Tool>>,
    owner: u64,
}

/// Ids of handlers (connections, sessions), for the downstreams to tell callers apart.
static NEXT_OWNER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl GatewayHandler {
    /// A handler for callers with `identity`.
    pub fn new(gw: Arc<Gateway>, identity: Identity) -> Self {
        let schema = identity.agent_param();
        Self::with_schema(gw, identity, schema)
    }

    /// A handler whose tool schemas treat `agent_id` as `schema` says (over authenticated
    /// HTTP the token names the agent, so the parameter is absent).
    pub fn with_schema(gw: Arc<Gateway>, identity: Identity, schema: tools::AgentParam) -> Self {
        let owner = NEXT_OWNER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        GatewayHandler { gw, identity, tools: Arc::new(tools::definitions(schema)), owner }
    }

    /// The identity of one request: the bearer token's agent over authenticated HTTP, else
    /// the connection's.
    fn request_identity(&self, context: &RequestContext<RoleServer>) -> std::borrow::Cow<'_, Identity> {
        let token_agent = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<AuthenticatedAgent>());
        match token_agent {
            Some(AuthenticatedAgent(agent)) => {
                std::borrow::Cow::Owned(Identity { bound: Some(agent.clone()), has_default: self.identity.has_default })
            }
            None => std::borrow::Cow::Borrowed(&self.identity),
        }
    }
}

/// What the audit record of one call needs beyond its outcome.
#[derive(Default)]
pub(crate) struct Record {
    pub server: Option<String>,
    pub tool: Option<String>,
    pub judged: Option<Judged>,
    /// The snapshot that served a call that made no single decision (`list_servers`,
    /// `get_gateway_status`), so its audit line still says which policy answered.
    pub snapshot: Option<String>,
    pub args: Option<Value>,
}

/// One gateway tool call in progress.
pub(crate) struct Call<'a> {
    pub gw: &'a Gateway,
    pub agent: Option<&'a str>,
    pub params: Params<'a>,
    pub record: &'a mut Record,
    pub cancel: CancellationToken,
    pub context: &'a RequestContext<RoleServer>,
    pub identity: &'a Identity,
    /// The connection's id, which the downstream uses to tell callers apart.
    pub owner: u64,
}

impl Call<'_> {
    /// Fails with `INVALID_AGENT_ID` when the agent cannot be resolved at all.
    pub fn check_agent(&mut self, snapshot: &Arc<PolicySnapshot>) -> Result<(), GatewayError> {
        if snapshot.table.agent_is_resolvable(self.agent) {
            self.record.snapshot = Some(snapshot.table.snapshot_id().to_owned());
            return Ok(());
        }
        let (judged, result) = self.gw.judge(snapshot, self.agent, "", None);
        self.record.judged = Some(judged);
        result
    }

    /// Decides, records the decision, and turns a denial into its error.
    pub fn judge(
        &mut self,
        snapshot: &Arc<PolicySnapshot>,
        server: &str,
        tool: Option<&str>,
    ) -> Result<(), GatewayError> {
        let (judged, result) = self.gw.judge(snapshot, self.agent, server, tool);
        self.record.judged = Some(judged);
        result
    }

    /// The configured server, or `UNKNOWN_SERVER`.
    pub fn server(&self, name: &str) -> Result<Arc<Downstream>, GatewayError> {
        self.gw.servers.load().get(name).cloned().ok_or_else(|| {
            GatewayError::new(
                ErrorCode::UnknownServer,
                format!(
                    "server `{name}` is not configured (the policy allows it, but the MCP config has no such server)"
                ),
            )
            .server(name)
        })
    }

    /// The route of this call's messages, and the task that forwards its progress to the
    /// client (done once the route is dropped and every notification is out).
    pub fn route(&self) -> (Arc<CallRoute>, Option<tokio::task::JoinHandle<()>>) {
        let Some(token) = self.context.meta.get_progress_token() else {
            return (Arc::new(CallRoute::quiet(self.owner)), None);
        };
        let (sink, mut rx) = Sink::channel(1024);
        let peer = self.context.peer.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(out) = rx.recv().await {
                #[derive(serde::Deserialize)]
                struct Note {
                    params: rmcp::model::ProgressNotificationParam,
                }
                if let Ok(note) = serde_json::from_slice::<Note>(&out.bytes) {
                    let _ = peer.notify_progress(note.params).await;
                }
            }
        });
        let raw = serde_json::value::RawValue::from_string(serde_json::to_string(&token).unwrap_or_default())
            .unwrap_or_else(|_| Box::<serde_json::value::RawValue>::default());
        let route = CallRoute {
            owner: self.owner,
            progress: Some((raw, sink)),
            log: None,
            input: None,
            last_progress: std::sync::Mutex::new(None),
        };
        (Arc::new(route), Some(forwarder))
    }

    /// A slot under the agent's concurrency limit, or `RATE_LIMITED`.
    pub fn concurrency_permit(&self) -> Result<ConcurrencyPermit, GatewayError> {
        let snapshot = self.gw.policy.load();
        let limits = snapshot.table.limits_for(self.agent);
        self.gw.limits.acquire_concurrency(self.agent, limits.max_concurrent_calls)
    }
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcpgw", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "A gateway to many MCP servers. Call list_servers, then get_server_tools for a server, \
                 then execute_tool. Only what your policy allows is listed.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    /// rmcp hands over a request it could not parse into its typed model as a custom request,
    /// and answers those "method not found". For a method the gateway does serve, the real
    /// problem is its parameters (`tools/call` with a numeric `name`, say), so say so: a
    /// client author then looks at the right thing.
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        let method = request.method.as_str();
        let problem = match method {
            "tools/call" => request.params_as::<CallToolRequestParams>().err().map(|e| e.to_string()),
            "tools/list" => request.params_as::<PaginatedRequestParams>().err().map(|e| e.to_string()),
            "initialize" | "ping" => Some("malformed parameters".to_owned()),
            _ => {
                let message = format!("method not found: `{method}`");
                return Err(ErrorData::new(rmcp::model::ErrorCode::METHOD_NOT_FOUND, message, None));
            }
        };
        let detail = match (request.params.is_none(), problem) {
            (true, _) if method == "tools/call" => "`params` is required".to_owned(),
            (_, Some(problem)) => problem,
            (_, None) => "malformed parameters".to_owned(),
        };
        Err(ErrorData::invalid_params(format!("invalid parameters for `{method}`: {detail}"), None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let ts = SystemTime::now();
        let operation: &'static str = match request.name.as_ref() {
            "list_servers" => "list_servers",
            "get_server_tools" => "get_server_tools",
            "execute_tool" => "execute_tool",
            "get_gateway_status" => "get_gateway_status",
            other => return Err(ErrorData::invalid_params(format!("unknown tool `{other}`"), None)),
        };
        let args: JsonObject = request.arguments.unwrap_or_default();
        let mut record = Record::default();
        let identity = self.request_identity(&context);
        let given = args.get("agent_id");
        let (agent, spoof, result) = match given {
            Some(v) if !v.is_string() && !v.is_null() => {
                (None, None, Err(GatewayError::new(ErrorCode::InvalidArgument, "`agent_id` must be a string")))
            }
            _ => {
                let given = given.and_then(Value::as_str);
                match identity.resolve(given) {
                    Ok(agent) => {
                        let result = self.dispatch(operation, agent, &identity, &args, &mut record, &context).await;
                        (agent.map(str::to_owned), None, result)
                    }
                    Err(spoof) => {
                        let e = spoof_error(&spoof);
                        (Some(spoof.bound.clone()), Some(spoof.claimed), Err(e))
                    }
                }
            }
        };
        let latency = started.elapsed();
        let outcome = result.as_ref().err().map(|e| e.code);
        self.gw.metrics.record(agent.as_deref(), &self.gw.policy.load().table, operation, outcome, latency);
        self.gw
            .audit
            .record(AuditEvent {
                ts,
                operation,
                agent,
                claimed_agent: spoof,
                server: record.server,
                tool: record.tool,
                judged: record.judged,
                snapshot: record.snapshot,
                outcome,
                latency,
                args: record.args,
            })
            .await;
        let result = result.unwrap_or_else(|e| e.to_result());
        Ok(result.into())
    }
}

impl GatewayHandler {
    async fn dispatch(
        &self,
        operation: &'static str,
        agent: Option<&str>,
        identity: &Identity,
        args: &JsonObject,
        record: &mut Record,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, GatewayError> {
        let allowed: &[&str] = match operation {
            "list_servers" => &["include_metadata"],
            "get_server_tools" => &["server", "names", "pattern", "max_schema_tokens"],
            "execute_tool" => &["server", "tool", "args", "timeout_ms"],
            _ => &[],
        };
        let params = Params::new(args, operation, allowed)?;
        self.gw.limits.check_rate(agent, &self.gw.policy.load().table)?;
        let mut call = Call {
            gw: &self.gw,
            agent,
            params,
            record,
            cancel: context.ct.clone(),
            context,
            identity,
            owner: self.owner,
        };
        match operation {
            "list_servers" => list_servers::run(&mut call),
            "get_server_tools" => server_tools::run(&mut call).await,
            "execute_tool" => execute::run(&mut call).await,
            _ => status::run(&mut call),
        }
    }
}

fn spoof_error(spoof: &SpoofAttempt) -> GatewayError {
    tracing::warn!(claimed = %Escaped::new(&spoof.claimed), bound = %spoof.bound, "refused a request naming another agent");
    GatewayError::new(
        ErrorCode::InvalidAgentId,
        format!(
            "this gateway is bound to agent `{}` and cannot act as `{}`",
            spoof.bound,
            spoof.claimed.escape_debug()
        ),
    )
}

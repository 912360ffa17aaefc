//! One gateway tool call, from its arguments to its audit line, under one snapshot.
//!
//! [`Gateway::call_tool`] loads the policy snapshot and the server set once, when the call
//! starts. The rate limit, the policy decision, the concurrency limit, the metrics key and the
//! audit record all use that one load, so a reload in the middle of a call cannot judge one
//! call under two policies.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::config::PolicySnapshot;
use crate::downstream::rpc::{CallRoute, InputAsk, OutRequest, RawResult};
use crate::downstream::{Budget, Downstream};
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::caller::Caller;
use crate::gateway::expose::split;
use crate::gateway::identity::SpoofAttempt;
use crate::gateway::operation::Operation;
use crate::gateway::params::Params;
use crate::gateway::pins::Pins;
use crate::gateway::reply::ToolReply;
use crate::gateway::servers::ServerSet;
use crate::gateway::state::Gateway;
use crate::gateway::{
    complete, execute_tool, get_gateway_status, get_prompt, get_server_tools, list_servers, read_resource,
    search_tools, subscriptions,
};
use crate::limits::ConcurrencyPermit;
use crate::logging::{Escaped, bounded};
use crate::mcp::codes;
use crate::policy::{Item, Reason, Request};
use crate::telemetry::audit::{AuditEvent, Decided};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::otel::trace::CallTrace;
use crate::wire::build::json_string;
use opentelemetry::KeyValue;

/// A tool call that is no gateway tool: the protocol error to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchTool {
    /// The JSON-RPC error code.
    pub code: i64,
    /// The message.
    pub message: String,
}

/// What the audit record of one call needs beyond its outcome.
#[derive(Default)]
pub(crate) struct Record {
    pub server: Option<String>,
    pub tool: Option<String>,
    pub decided: Option<Decided>,
    pub args: Option<Value>,
}

/// What a call loads once, when it starts.
pub(crate) struct Loaded {
    pub started: Instant,
    pub ts: SystemTime,
    pub snapshot: Arc<PolicySnapshot>,
    pub servers: Arc<ServerSet>,
}

impl Loaded {
    /// The loads of a call starting now.
    pub fn now(gw: &Gateway) -> Loaded {
        Loaded { started: Instant::now(), ts: SystemTime::now(), snapshot: gw.policy(), servers: gw.servers() }
    }
}

/// One gateway tool call in progress.
pub(crate) struct Call<'a> {
    pub gw: &'a Arc<Gateway>,
    pub caller: &'a Caller,
    /// The policy this call is judged by, loaded once.
    pub snapshot: Arc<PolicySnapshot>,
    /// The servers this call sees, loaded once.
    pub servers: Arc<ServerSet>,
    /// The lock this call judges tool definitions by, loaded once.
    pub pins: Arc<Pins>,
    /// The agent the call is judged as (as given; default resolution is the policy's).
    pub agent: Option<&'a str>,
    pub params: Params<'a>,
    pub record: Record,
    /// The call's span; requests to servers are its children.
    pub trace: &'a CallTrace,
}

impl Gateway {
    /// Runs the tool `name` for `caller`: a gateway tool, or (direct mode) a downstream tool
    /// by its namespaced name, which runs as `execute_tool` does. Judged, limited, measured
    /// and audited; the audit's `operation` is `direct` for a direct call.
    pub async fn call_tool(
        self: &Arc<Self>,
        caller: &Caller,
        name: &str,
        arguments: Option<&RawValue>,
    ) -> Result<ToolReply, NoSuchTool> {
        let started = Instant::now();
        let ts = SystemTime::now();
        let snapshot = self.policy();
        let servers = self.servers();
        let expose = self.settings().expose;
        let (op, label, direct) = match Operation::named(name).filter(|_| expose.meta()) {
            Some(op) => (op, op.name(), None),
            None => match expose.direct().then(|| split(name, &self.settings().separator, &servers)).flatten() {
                Some((server, tool)) => {
                    (Operation::ExecuteTool, DIRECT, Some(direct_arguments(server, tool, arguments)))
                }
                None => {
                    return Err(NoSuchTool {
                        code: codes::INVALID_PARAMS,
                        message: format!("unknown tool `{}`", bounded(name)),
                    });
                }
            },
        };
        let arguments = direct.as_deref().or(arguments);
        // A direct call's arguments are the downstream tool's own: an `agent_id` among them is
        // not the gateway's to read (direct mode knows the agent without arguments).
        let loaded = Loaded { started, ts, snapshot, servers };
        Ok(self.run_operation(caller, op, label, arguments, direct.is_none(), loaded).await)
    }

    /// Runs `op` on `arguments` for `caller` under the loads of `loaded`: the agent resolved
    /// (from `agent_id` when `agent_from_arguments`), judged, limited, measured and audited
    /// under `label`. Gateway tools, direct calls and the protocol's `resources/read` and
    /// `prompts/get` all come here.
    pub(crate) async fn run_operation(
        self: &Arc<Self>,
        caller: &Caller,
        op: Operation,
        label: &'static str,
        arguments: Option<&RawValue>,
        agent_from_arguments: bool,
        loaded: Loaded,
    ) -> ToolReply {
        let Loaded { started, ts, snapshot, servers } = loaded;
        let trace = self.otel().call(label, caller.trace.clone());
        let pins = self.pins();
        let mut record = Record::default();
        let given = arguments
            .filter(|_| agent_from_arguments)
            .and_then(|a| crate::wire::object::Members::of(a).ok())
            .and_then(|m| m.get("agent_id").map(|v| serde_json::from_str::<Value>(v.get()).unwrap_or(Value::Null)));
        let (agent, spoof, reply): (Option<String>, Option<String>, ToolReply) = match given {
            Some(v) if !v.is_string() && !v.is_null() => {
                let e = GatewayError::new(ErrorCode::InvalidArgument, "`agent_id` must be a string");
                (None, None, ToolReply::Error(e))
            }
            given => match caller.identity.resolve(given.as_ref().and_then(Value::as_str)) {
                Ok(agent) => {
                    let agent = agent.map(str::to_owned);
                    let reply = match Params::new(arguments, op.name(), op.params()) {
                        Ok(params) => {
                            let mut call = Call {
                                gw: self,
                                caller,
                                snapshot: snapshot.clone(),
                                servers,
                                pins,
                                agent: agent.as_deref(),
                                params,
                                record: Record::default(),
                                trace: &trace,
                            };
                            let reply = call.run(op).await;
                            record = call.record;
                            reply
                        }
                        Err(e) => ToolReply::Error(e),
                    };
                    (agent, None, reply)
                }
                Err(spoof) => {
                    let e = spoof_error(&spoof);
                    (Some(spoof.bound.clone()), Some(spoof.claimed), ToolReply::Error(e))
                }
            },
        };
        let latency = started.elapsed();
        let outcome = reply.error().map(|e| e.code);
        let key = Metrics::agent_key(agent.as_deref(), &snapshot.table);
        let otel = self.otel();
        if otel.is_on() {
            otel.record_call(&key, label, latency);
            trace.end(span_attributes(agent.as_deref(), &record, outcome), outcome.map(ErrorCode::as_str));
        }
        self.metrics().record(key, label, outcome, latency);
        self.audit()
            .record(AuditEvent {
                ts,
                operation: label,
                agent,
                claimed_agent: spoof,
                server: record.server.map(|s| bounded(&s).into_owned()),
                tool: record.tool.map(|t| bounded(&t).into_owned()),
                snapshot: record.decided.is_none().then(|| snapshot.table.snapshot_id().to_owned()),
                decided: record.decided,
                outcome,
                latency,
                args: record.args,
                detail: None,
                trace: trace.span_context(),
            })
            .await;
        reply
    }
}

impl Call<'_> {
    async fn run(&mut self, op: Operation) -> ToolReply {
        if let Err(e) = self.gw.limits().check_rate(self.agent, &self.snapshot.table).await {
            return ToolReply::Error(e);
        }
        let result = match op {
            Operation::ListServers => list_servers::run(self),
            Operation::GetServerTools => get_server_tools::run(self).await,
            Operation::ExecuteTool => execute_tool::run(self).await,
            Operation::GetGatewayStatus => get_gateway_status::run(self),
            Operation::ReadResource => read_resource::run(self).await,
            Operation::SearchTools => search_tools::run(self).await,
            Operation::GetPrompt => get_prompt::run(self).await,
            Operation::Complete => complete::run(self).await,
            Operation::Subscribe => subscriptions::run(self).await,
        };
        result.into()
    }

    /// Fails with `INVALID_AGENT_ID` when the agent cannot be resolved at all.
    pub fn check_agent(&mut self) -> Result<(), GatewayError> {
        if self.snapshot.table.agent_is_resolvable(self.agent) {
            return Ok(());
        }
        self.judge("", None)
    }

    /// Decides under this call's snapshot, records the decision, and turns a denial into
    /// its error: `INVALID_AGENT_ID` for agent problems, `DENIED_BY_POLICY` (with the
    /// determining rule) otherwise.
    pub fn judge(&mut self, server: &str, tool: Option<&str>) -> Result<(), GatewayError> {
        self.judge_item(server, tool.map(Item::Tool))
    }

    /// [`Call::judge`] for any item: a tool, a resource URI or a prompt name.
    pub fn judge_item(&mut self, server: &str, item: Option<Item<'_>>) -> Result<(), GatewayError> {
        let req = Request { agent: self.agent, server, item };
        let table = &self.snapshot.table;
        let decision = table.decide(&req);
        // A resource or prompt is named in the audit line's `tool` field, as a tool is.
        if let Some(Item::Resource(name) | Item::Prompt(name)) = item {
            self.record.tool.get_or_insert_with(|| name.to_owned());
        }
        self.record.decided = Some(Decided {
            snapshot: self.snapshot.clone(),
            agent: self.agent.map(str::to_owned),
            server: server.to_owned(),
            item: item.map(|i| (i.kind(), i.name().to_owned())),
        });
        if decision.is_allowed() {
            return Ok(());
        }
        if matches!(decision.reason, Reason::UnknownAgent | Reason::InvalidAgent) {
            return Err(GatewayError::new(ErrorCode::InvalidAgentId, agent_problem(decision.reason, self.agent)));
        }
        let why = table.explain(&req);
        let (server_shown, item_shown) = (bounded(server), item.map(|i| bounded(i.name())));
        let target = match (item, &item_shown) {
            (Some(Item::Tool(_)), Some(t)) => format!("call tool `{t}` on server `{server_shown}`"),
            (Some(Item::Resource(_)), Some(u)) => format!("read resource `{u}` on server `{server_shown}`"),
            (Some(Item::Prompt(_)), Some(p)) => format!("get prompt `{p}` on server `{server_shown}`"),
            _ => format!("use server `{server_shown}`"),
        };
        let who = match (self.agent.filter(|a| !a.is_empty()), why.judged_as.as_deref()) {
            (_, Some(d)) => format!("agent `{d}` (the default agent)"),
            (Some(a), None) => format!("agent `{}`", bounded(a)),
            (None, None) => "this agent".to_owned(),
        };
        let rule = why.determining_rules.first().map(|r| format!("deny `{}` at {}", r.pattern, r.location));
        let because = match &rule {
            Some(r) => format!("denied by rule {r}"),
            None => "no allow rule grants it".to_owned(),
        };
        let mut e = GatewayError::new(ErrorCode::DeniedByPolicy, format!("{who} may not {target}: {because}"))
            .rule(rule)
            .server(&server_shown);
        if let (Some(Item::Tool(_)), Some(t)) = (item, &item_shown) {
            e = e.tool(t);
        }
        Err(e)
    }

    /// Whether this call's agent may use `server` (for listings: no decision recorded).
    pub fn may_use(&self, server: &str) -> bool {
        self.snapshot.table.decide(&Request::server(self.agent, server)).is_allowed()
    }

    /// Whether this call's agent may call `tool` on `server` (for listings).
    pub fn may_call(&self, server: &str, tool: &str) -> bool {
        self.snapshot.table.decide(&Request::tool(self.agent, server, tool)).is_allowed()
    }

    /// The configured server, or `UNKNOWN_SERVER`.
    pub fn server(&self, name: &str) -> Result<Arc<Downstream>, GatewayError> {
        self.servers.get(name).cloned().ok_or_else(|| {
            let shown = bounded(name);
            GatewayError::new(
                ErrorCode::UnknownServer,
                format!(
                    "server `{shown}` is not configured (the policy allows it, but the MCP config has no such server)"
                ),
            )
            .server(&shown)
        })
    }

    /// A slot under the agent's concurrency limit (from this call's snapshot), or
    /// `RATE_LIMITED`.
    pub async fn concurrency_permit(&self) -> Result<ConcurrencyPermit, GatewayError> {
        let limits = self.snapshot.table.limits_for(self.agent);
        self.gw.limits().acquire_concurrency(self.agent, limits.max_concurrent_calls).await
    }

    /// Sends `req` to `downstream` (the server `server`) under a span of its own, with this
    /// call's route and cancellation.
    pub async fn send(
        &self,
        downstream: &Downstream,
        server: &str,
        req: OutRequest<'_>,
        budget: Budget,
    ) -> Result<RawResult, GatewayError> {
        let span = self.trace.downstream(req.method, server);
        let req = OutRequest { meta: span.meta(), ..req };
        let result = downstream.send(req, self.route(None), budget, self.caller.cancel.clone()).await;
        span.end(result.as_ref().err().map(|e| e.message.as_str().into()));
        result
    }

    /// Where this call's messages go downstream: progress with the caller's token, log
    /// messages at the caller's level, requests for input to `input`.
    pub fn route(&self, input: Option<mpsc::Sender<InputAsk>>) -> Arc<CallRoute> {
        Arc::new(CallRoute::new(self.caller.owner, self.caller.delivery(), input))
    }
}

/// What the span of a call says of it: the agent, the server and tool, and the outcome.
fn span_attributes(agent: Option<&str>, record: &Record, outcome: Option<ErrorCode>) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(4);
    let fields =
        [("mcpgw.agent", agent), ("mcpgw.server", record.server.as_deref()), ("mcpgw.tool", record.tool.as_deref())];
    out.extend(fields.into_iter().filter_map(|(k, v)| Some(KeyValue::new(k, bounded(v?).into_owned()))));
    out.push(KeyValue::new("mcpgw.outcome", outcome.map_or("ok", ErrorCode::as_str)));
    out
}

/// The audit and metrics name of a direct-mode call.
const DIRECT: &str = "direct";

/// A direct call as `execute_tool` arguments: the server, the tool, and the caller's own
/// arguments as `args`, unparsed.
fn direct_arguments(server: &str, tool: &str, arguments: Option<&RawValue>) -> Box<RawValue> {
    let args = arguments.map_or("{}", RawValue::get);
    let json = format!(r#"{{"server":{},"tool":{},"args":{args}}}"#, json_string(server), json_string(tool));
    // `args` is valid JSON (it was parsed as a value), so the whole is too.
    RawValue::from_string(json).unwrap_or_else(|_| Box::<RawValue>::default())
}

fn agent_problem(reason: Reason, agent: Option<&str>) -> String {
    match (reason, agent.filter(|a| !a.is_empty())) {
        (Reason::UnknownAgent, Some(a)) => format!("agent `{}` is not in the policy", bounded(a)),
        (Reason::UnknownAgent, None) => "the default agent is not in the policy".to_owned(),
        (_, Some(a)) => format!(
            "agent id `{}` is malformed: use letters, digits, `_`, `.` and `-`",
            a.chars().take(64).collect::<String>().escape_debug()
        ),
        (_, None) => "`agent_id` is required: this gateway has no default agent".to_owned(),
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

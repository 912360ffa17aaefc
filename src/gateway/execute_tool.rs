//! `execute_tool`: one downstream call, forwarded and returned unchanged, with the input
//! rounds of both protocol eras translated on the way.
//!
//! While a call runs, its server may need the caller: an elicitation, a sampling, the roots.
//! A 2025 server asks with a request during the call; a 2026-07-28 server answers the call
//! with an `InputRequiredResult` and expects the call again with the answers. The caller may
//! be of either era too:
//!
//! | server asks by | 2025 caller (takes requests)      | 2026-07-28 caller (retries)              |
//! |----------------|-----------------------------------|------------------------------------------|
//! | request        | forwarded as a request            | the call is parked; `InputRequiredResult` |
//! | input round    | the gateway asks, then retries    | passed through, its state sealed         |
//!
//! A caller that lacks the capability a request needs makes the server get the error a
//! client without it would give. The gateway's `requestState` is sealed ([`crate::gateway::seal`]).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::downstream::rpc::{AskReply, InputAsk, RawResult};
use crate::downstream::{Budget, Downstream, ToolCall, not_found};
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::call::Call;
use crate::gateway::caller::{AskError, Caller};
use crate::gateway::parked::{Parked, Running};
use crate::gateway::pins::Pin;
use crate::gateway::reply::ToolReply;
use crate::gateway::seal::{Round, Sealer, State};
use crate::gateway::tasks::{TaskEntry, created_task, creation_for_caller};
use crate::limits::ConcurrencyPermit;
use crate::mcp::codes;
use crate::mcp::shape::result_type;
use crate::wire::build::json_string;
use crate::wire::object::Members;

/// Requests for input a call may have waiting at once.
const ASKS_QUEUED: usize = 8;
/// The most input rounds the gateway runs with a 2026-07-28 server for a 2025 caller.
const MAX_ROUNDS: usize = 10;

/// What is being called.
struct Target<'a> {
    downstream: Arc<Downstream>,
    server: &'a str,
    tool: &'a str,
    args: Option<Box<RawValue>>,
    budget: Budget,
    task_mode: TaskMode,
}

/// Whether a call may become a task, and whose it is then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskMode {
    /// The call runs to its result (the server is not offered tasks).
    None,
    /// The caller takes tasks: the handle goes back to it, under the gateway's id.
    Caller,
    /// The tool runs only as a task and the caller takes none: the gateway waits for the
    /// task's outcome and answers the call with it.
    Awaited,
}

impl TaskMode {
    fn of(caller: &Caller, requires_task: bool) -> TaskMode {
        let takes = caller.task.is_some() || (!caller.version.has_initialize() && caller.caps.tasks);
        match (takes, requires_task) {
            (true, _) => TaskMode::Caller,
            (false, true) => TaskMode::Awaited,
            (false, false) => TaskMode::None,
        }
    }
}

/// Checks the policy, finds the server and tool, and forwards the call with progress,
/// logs, requests for input and cancellation. The downstream's result, `isError` included,
/// comes back as the server wrote it.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let tool = call.params.req_str("tool")?;
    call.record.server = Some(server.to_string());
    call.record.tool = Some(tool.to_string());
    let args = call.params.object_or_json("args")?.map(|a| a.into_owned());
    let timeout = call.params.opt_positive("timeout_ms")?.map(Duration::from_millis);
    if call.gw.settings().audit_args {
        call.record.args = args.as_ref().and_then(|a| serde_json::from_str(a.get()).ok());
    }
    call.judge(&server, Some(&tool))?;
    let downstream = call.server(&server)?;
    // One budget for the whole call: starting the server, listing its tools and the call.
    let budget = Budget::new(downstream.timeout(timeout));
    let tools = downstream.tools(budget.remaining()).await?;
    let def = tools.iter().find(|t| t.name == *tool).ok_or_else(|| not_found(&server, &tool))?;
    if let Pin::Quarantined(e) = call.pin(&downstream, def).await {
        return Err(e);
    }
    let task_only = def.requires_task();
    let task_mode = TaskMode::of(call.caller, task_only);
    let legacy_server = downstream.connection(budget.remaining()).await?.info().version.has_initialize();
    let target = Target { downstream, server: &server, tool: &tool, args, budget, task_mode };
    match call.caller.retry.clone() {
        Some(retry) => resume(call, target, retry.state.as_deref(), retry.responses.as_deref()).await,
        None => {
            let permit = call.concurrency_permit().await?;
            // A 2025-11-25 task request goes to the server as it came; a tool that runs only
            // as a task is asked for one from a 2025 server (a 2026-07-28 server decides
            // itself, seeing the extension among the gateway's capabilities).
            let extra = match (&call.caller.task, target.task_mode) {
                (Some(t), _) => format!(r#""task":{}"#, t.get()),
                (None, TaskMode::Awaited) if legacy_server && task_only => r#""task":{}"#.to_owned(),
                (None, TaskMode::Caller) if legacy_server && task_only => r#""task":{}"#.to_owned(),
                _ => String::new(),
            };
            let running = start(call, &target, extra, permit);
            drive(call, &target, running).await
        }
    }
}

/// Starts the downstream call in a task of its own (it may outlive this request, parked
/// between input rounds), with `extra` params members (`inputResponses`, `requestState`).
fn start(call: &Call<'_>, t: &Target<'_>, extra: String, permit: ConcurrencyPermit) -> Running {
    let (asks_tx, asks) = mpsc::channel::<InputAsk>(ASKS_QUEUED);
    let route = call.route(Some(asks_tx));
    let (downstream, tool, args, budget) = (t.downstream.clone(), t.tool.to_owned(), t.args.clone(), t.budget);
    let task_route = route.clone();
    let tasks = t.task_mode != TaskMode::None;
    let span = call.trace.downstream("tools/call", t.server);
    // The call does not take its caller's cancellation: it may outlive the request that
    // started it (parked, over HTTP, after that response is sent). Whoever ends it aborts
    // the task (a cancelled caller in `drive`, an expired park), and dropping the request
    // cancels it at the server.
    let task = tokio::spawn(async move {
        let _permit = permit;
        let request = ToolCall { tool: &tool, arguments: args.as_deref(), extra: &extra, tasks, meta: span.meta() };
        let result = downstream.call(&request, task_route, budget, CancellationToken::new()).await;
        span.end(result.as_ref().err().map(|e| e.message.as_str().into()));
        result
    });
    Running { task, asks, route }
}

/// Waits for the call's result, answering (or parking on) the server's requests for input,
/// and running a 2026-07-28 server's input rounds for a caller that cannot.
async fn drive(call: &Call<'_>, t: &Target<'_>, mut running: Running) -> Result<ToolReply, GatewayError> {
    let caller = call.caller;
    let mut rounds = 0;
    loop {
        tokio::select! {
            biased;
            joined = &mut running.task => {
                let result = joined.map_err(|_| cancelled(t))??;
                if let Some((remote, modern)) = created_task(result.json()) {
                    if t.task_mode == TaskMode::Awaited {
                        let entry = TaskEntry::unlisted(t.server, &remote, modern);
                        return call.gw.await_task(caller, &entry).await.map(ToolReply::Json).map_err(|e| downstream_error(t, e.message));
                    }
                    let owner = (!caller.stateless).then_some(caller.owner);
                    let id = call.gw.tasks().add(t.server, &remote, call.agent, owner, modern);
                    return Ok(ToolReply::Json(creation_for_caller(result.json(), &id, !caller.version.has_initialize())));
                }
                if result_type(result.json()) != "input_required" {
                    call.gw.links().note(call.agent, t.server, result.json());
                    return Ok(ToolReply::Forwarded(result));
                }
                // A 2026-07-28 server's input round.
                if !caller.version.has_initialize() {
                    return Ok(ToolReply::Json(pass_through(call, t, &result)));
                }
                rounds += 1;
                if rounds > MAX_ROUNDS {
                    return Err(downstream_error(t, format!("asked for input more than {MAX_ROUNDS} times in one call")));
                }
                let extra = fulfil(caller, t, &result).await?;
                let permit = call.concurrency_permit().await?;
                running = start(call, t, extra, permit);
            }
            Some(ask) = running.asks.recv() => {
                if caller.asker.is_some() || !caller.caps.can_answer(&ask.method, ask.params.as_deref()) {
                    answer(caller, ask, t.budget).await;
                    continue;
                }
                // A 2026-07-28 caller: park the call and ask with an input round.
                return Ok(ToolReply::Json(park(call, t, running, ask)));
            }
            () = caller.cancel.cancelled() => {
                return Err(cancelled(t));
            }
        }
    }
}

fn cancelled(t: &Target<'_>) -> GatewayError {
    GatewayError::new(ErrorCode::Cancelled, "the call was cancelled by the client").server(t.server).tool(t.tool)
}

fn downstream_error(t: &Target<'_>, what: String) -> GatewayError {
    GatewayError::new(ErrorCode::DownstreamError, format!("server `{}` {what}", t.server)).server(t.server).tool(t.tool)
}

/// Puts a server's request for input to a 2025 caller and sends the answer back. A caller
/// without the capability makes the server get the error a client without it would give.
pub(crate) async fn answer(caller: &Caller, ask: InputAsk, budget: Budget) {
    let params = ask.params.as_deref();
    let reply = match &caller.asker {
        Some(asker) if caller.caps.can_answer(&ask.method, params) => {
            match asker.ask(&caller.sink, &ask.method, params, budget.remaining()).await {
                Ok(result) => AskReply::Result(result),
                Err(AskError::Rejected { code, message }) => AskReply::Error { code, message },
                Err(e) => AskReply::Error { code: codes::INTERNAL_ERROR, message: e.to_string() },
            }
        }
        _ => AskReply::Error {
            code: codes::METHOD_NOT_FOUND,
            message: format!("the client does not support `{}`", ask.method),
        },
    };
    let _ = ask.reply.send(reply);
}

/// Parks the call and answers the caller with an input round: the request `first` and any
/// others already waiting, keyed, with the gateway's sealed state.
fn park(call: &Call<'_>, t: &Target<'_>, mut running: Running, first: InputAsk) -> String {
    let mut asks = vec![first];
    while let Ok(more) = running.asks.try_recv() {
        asks.push(more);
    }
    let mut requests = Vec::new();
    let mut waiting = Vec::new();
    for (i, ask) in asks.into_iter().enumerate() {
        let key = format!("mcpgw-{i}");
        let params = ask.params.as_deref().map_or(String::new(), |p| format!(r#","params":{}"#, p.get()));
        requests.push(format!(r#"{}:{{"method":{}{params}}}"#, json_string(&key), json_string(&ask.method)));
        waiting.push((key, ask.reply));
    }
    let ttl = t.budget.remaining();
    let parked = Parked {
        agent: call.agent.map(str::to_owned),
        server: t.server.to_owned(),
        tool: t.tool.to_owned(),
        running,
        waiting,
    };
    let id = call.gw.parked().park(parked, ttl);
    let state = seal(call, t, Round::Parked { id }, ttl);
    format!(
        r#"{{"resultType":"input_required","inputRequests":{{{}}},"requestState":{}}}"#,
        requests.join(","),
        json_string(&state)
    )
}

fn seal(call: &Call<'_>, t: &Target<'_>, round: Round, ttl: Duration) -> String {
    call.gw.sealer().seal(&State {
        agent: call.agent.map(str::to_owned),
        server: t.server.to_owned(),
        tool: t.tool.to_owned(),
        exp: Sealer::expiry(ttl),
        round,
    })
}

/// A 2026-07-28 server's input round for a 2026-07-28 caller: its requests as they are, its
/// state sealed inside the gateway's (so that the retry comes back to this server and tool,
/// for this agent).
fn pass_through(call: &Call<'_>, t: &Target<'_>, result: &RawResult) -> String {
    let members = Members::parse(result.json()).unwrap_or_default();
    let state = members.get("requestState").and_then(|s| serde_json::from_str::<String>(s.get()).ok());
    let sealed = seal(call, t, Round::Passed { state }, t.budget.remaining().max(Duration::from_secs(60)));
    let mut out = crate::wire::object::Rewrite::new(&members);
    out.set("requestState", json_string(&sealed));
    out.finish()
}

/// Runs a 2026-07-28 server's input round with a 2025 caller: asks it each request, and
/// returns the params members of the retry (`inputResponses` and the server's state).
async fn fulfil(caller: &Caller, t: &Target<'_>, result: &RawResult) -> Result<String, GatewayError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Round<'a> {
        #[serde(default, borrow)]
        input_requests: Option<&'a RawValue>,
        #[serde(default)]
        request_state: Option<String>,
    }
    let round: Round<'_> = serde_json::from_str(result.json())
        .map_err(|e| downstream_error(t, format!("answered with a malformed input round: {e}")))?;
    let responses =
        ask_for_input(caller, round.input_requests, t.budget).await.map_err(|e| downstream_error(t, e.to_string()))?;
    let mut extra = format!(r#""inputResponses":{responses}"#);
    if let Some(state) = round.request_state {
        extra.push_str(&format!(r#","requestState":{}"#, json_string(&state)));
    }
    Ok(extra)
}

/// Why a server's input round could not be answered for a 2025 caller. Each message reads
/// after "server `s` ", which the caller puts in front.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputRoundError {
    /// A request of `inputRequests` is no `{method, params?}` object.
    #[error("asked for input malformed: {0}")]
    Malformed(serde_json::Error),
    /// The caller cannot answer the method.
    #[error("needs `{0}`, which the client does not support")]
    Unsupported(String),
    /// The caller was asked and gave no result.
    #[error("asked for `{method}`, and {source}")]
    Unanswered {
        /// The method asked.
        method: String,
        /// Why there is no answer.
        source: AskError,
    },
}

/// Puts each of a server's `inputRequests` to a 2025 caller and returns the answers as an
/// `inputResponses` object.
pub(crate) async fn ask_for_input(
    caller: &Caller,
    requests: Option<&RawValue>,
    budget: Budget,
) -> Result<String, InputRoundError> {
    #[derive(Deserialize)]
    struct Request<'a> {
        method: String,
        #[serde(default, borrow)]
        params: Option<&'a RawValue>,
    }
    let mut responses = Vec::new();
    let requests = requests.and_then(|r| Members::of(r).ok()).unwrap_or_default();
    for (key, request) in requests.0 {
        let request: Request<'_> = serde_json::from_str(request.get()).map_err(InputRoundError::Malformed)?;
        let asker = caller.asker.as_ref().filter(|_| caller.caps.can_answer(&request.method, request.params));
        let Some(asker) = asker else {
            return Err(InputRoundError::Unsupported(request.method));
        };
        let answer = asker
            .ask(&caller.sink, &request.method, request.params, budget.remaining())
            .await
            .map_err(|source| InputRoundError::Unanswered { method: request.method.clone(), source })?;
        responses.push(format!("{}:{}", json_string(&key), answer.get()));
    }
    Ok(format!("{{{}}}", responses.join(",")))
}

/// The retry of an input round: the gateway's state opened and checked, then the parked
/// call resumed with the answers, or the server's own round continued.
async fn resume(
    call: &Call<'_>,
    t: Target<'_>,
    state: Option<&str>,
    responses: Option<&RawValue>,
) -> Result<ToolReply, GatewayError> {
    let invalid = |why: String| GatewayError::new(ErrorCode::InvalidArgument, why).server(t.server).tool(t.tool);
    let state = state.ok_or_else(|| invalid("`inputResponses` without the `requestState` they answer".to_owned()))?;
    let state = call.gw.sealer().open(state, call.agent).map_err(|e| invalid(e.to_string()))?;
    if state.server != t.server || state.tool != t.tool {
        return Err(invalid(format!(
            "`requestState` belongs to a call of tool `{}` on server `{}`",
            state.tool, state.server
        )));
    }
    let answers = responses.and_then(|r| Members::of(r).ok()).unwrap_or_default();
    match state.round {
        Round::Parked { id } => {
            let parked = call.gw.parked().take(&id).ok_or_else(|| {
                invalid(
                    "the call this `requestState` answers is no longer waiting (answered already, or expired)"
                        .to_owned(),
                )
            })?;
            let Parked { running, waiting, .. } = parked;
            running.route.redirect(call.caller.delivery());
            let mut unanswered = Vec::new();
            for (key, reply) in waiting {
                match answers.get(&key) {
                    Some(answer) => {
                        let _ = reply.send(AskReply::Result(answer.to_owned()));
                    }
                    None => unanswered.push(key),
                }
            }
            if !unanswered.is_empty() {
                return Err(invalid(format!("`inputResponses` has no answer for `{}`", unanswered.join("`, `"))));
            }
            drive(call, &t, running).await
        }
        Round::Passed { state } => {
            let mut extra = format!(r#""inputResponses":{}"#, responses.map_or("{}", RawValue::get));
            if let Some(state) = state {
                extra.push_str(&format!(r#","requestState":{}"#, json_string(&state)));
            }
            let permit = call.concurrency_permit().await?;
            let running = start(call, &t, extra, permit);
            drive(call, &t, running).await
        }
    }
}

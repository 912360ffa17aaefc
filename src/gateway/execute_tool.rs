//! `execute_tool`: one downstream call, forwarded and returned unchanged.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::downstream::rpc::{AskReply, InputAsk};
use crate::downstream::{Budget, not_found};
use crate::error::GatewayError;
use crate::gateway::call::Call;
use crate::gateway::caller::{AskError, Caller};
use crate::gateway::reply::ToolReply;
use crate::mcp::codes;

/// Requests for input a call may have waiting at once.
const ASKS_QUEUED: usize = 8;

/// Checks the policy, finds the server and tool, and forwards the call with progress,
/// logs, requests for input and cancellation. The downstream's result, `isError` included,
/// comes back as the server wrote it.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let tool = call.params.req_str("tool")?;
    call.record.server = Some(server.to_string());
    call.record.tool = Some(tool.to_string());
    let args = call.params.object_or_json("args")?;
    let timeout = call.params.opt_positive("timeout_ms")?.map(Duration::from_millis);
    if call.gw.settings().audit_args {
        call.record.args = args.as_ref().and_then(|a| serde_json::from_str(a.get()).ok());
    }
    call.judge(&server, Some(&tool))?;
    let downstream = call.server(&server)?;
    // One budget for the whole call: starting the server, listing its tools and the call.
    let budget = Budget::new(downstream.timeout(timeout));
    let tools = downstream.tools(budget.remaining()).await?;
    if !tools.iter().any(|t| t.name == *tool) {
        return Err(not_found(&server, &tool));
    }
    let _limit = call.concurrency_permit()?;
    let (asks_tx, mut asks) = mpsc::channel::<InputAsk>(ASKS_QUEUED);
    let route = call.route(call.caller.asker.is_some().then_some(asks_tx));
    let forwarded = downstream.call(&tool, args.as_deref(), route, budget, call.caller.cancel.clone());
    tokio::pin!(forwarded);
    let result = loop {
        tokio::select! {
            biased;
            result = &mut forwarded => break result,
            Some(ask) = asks.recv() => answer(call.caller, ask, budget).await,
        }
    };
    Ok(ToolReply::Forwarded(result?))
}

/// Puts a server's request for input to the caller and sends the answer back. A caller
/// without the capability makes the server get the error a client without it would give.
async fn answer(caller: &Caller, ask: InputAsk, budget: Budget) {
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

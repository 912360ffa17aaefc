//! `execute_tool`: one downstream call, forwarded and returned unchanged.

use std::time::Duration;

use rmcp::model::CallToolResult;
use serde_json::value::RawValue;

use crate::downstream::{Budget, not_found};
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::handler::Call;

/// Checks the policy, finds the server and tool, and forwards the call with progress and
/// cancellation. The downstream's result, `isError` included, comes back as it is.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<CallToolResult, GatewayError> {
    let server = call.params.req_str("server")?;
    let tool = call.params.req_str("tool")?;
    call.record.server = Some(server.to_owned());
    call.record.tool = Some(tool.to_owned());
    let args = call.params.object_or_json("args")?;
    let timeout = call.params.opt_positive("timeout_ms")?.map(Duration::from_millis);
    if call.gw.settings.audit_args {
        call.record.args = args.clone().map(serde_json::Value::Object);
    }
    let snapshot = call.gw.policy.load_full();
    call.judge(&snapshot, server, Some(tool))?;
    let downstream = call.server(server)?;
    // One budget for the whole call: starting the server, listing its tools and the call.
    let budget = Budget::new(downstream.timeout(timeout));
    let tools = downstream.tools(budget.remaining()).await?;
    if !tools.iter().any(|t| t.name == tool) {
        return Err(not_found(server, tool));
    }
    let args = match args {
        Some(a) => Some(
            RawValue::from_string(serde_json::Value::Object(a).to_string())
                .map_err(|e| GatewayError::new(ErrorCode::InvalidArgument, format!("`args`: {e}")))?,
        ),
        None => None,
    };
    let _limit = call.concurrency_permit()?;
    let (route, forwarded) = call.route();
    let result = downstream.call(tool, args.as_deref(), route, budget, call.cancel.clone()).await;
    if let Some(forwarded) = forwarded {
        // Every progress notification of the call reaches the client before its result.
        let _ = forwarded.await;
    }
    let result = result?;
    serde_json::from_str::<CallToolResult>(result.json()).map_err(|e| {
        GatewayError::new(
            ErrorCode::DownstreamError,
            format!("server `{server}` answered `tools/call` with a malformed result: {e}"),
        )
        .server(server)
        .tool(tool)
    })
}

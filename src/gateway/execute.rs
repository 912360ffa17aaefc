//! `execute_tool`: one downstream call, forwarded and returned unchanged.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};

use crate::downstream::Budget;
use crate::error::GatewayError;
use crate::gateway::handler::Call;
use crate::gateway::server_tools::not_found;

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
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = args;
    let _limit = call.concurrency_permit()?;
    downstream.call(params, budget, call.progress_route(), call.cancel.clone()).await
}

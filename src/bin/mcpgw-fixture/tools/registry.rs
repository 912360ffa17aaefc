//! `add_tool`: changes the tool list at runtime, to test that a client refreshes its cached
//! catalogue on `notifications/tools/list_changed`.

use rmcp::{
    ErrorData, RoleServer,
    model::{CallToolResult, ContentBlock},
    service::RequestContext,
};
use serde::Deserialize;

use super::text;
use crate::state::State;

#[derive(Deserialize)]
pub struct AddToolArgs {
    name: String,
}

/// Registers the tool first and notifies second, so a client that re-lists on the
/// notification always sees the new tool.
pub async fn add_tool(
    state: &State,
    args: AddToolArgs,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    if args.name.is_empty() {
        return Err(ErrorData::invalid_params("the tool name must not be empty", None));
    }
    if !state.add_dynamic_tool(&args.name) {
        return Ok(CallToolResult::error(vec![ContentBlock::text(format!("tool `{}` already exists", args.name))]));
    }
    state.log.record(format_args!("added tool {}", args.name));
    context
        .peer
        .notify_tool_list_changed()
        .await
        .map_err(|error| ErrorData::internal_error(format!("cannot send tools/list_changed: {error}"), None))?;
    Ok(text(format!("added {}", args.name)))
}

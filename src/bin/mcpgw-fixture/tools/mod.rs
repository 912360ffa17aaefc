//! Tool behaviour, grouped by what it exercises:
//! - `content`: result shapes (text, numbers, media, structured content, errors, size);
//! - `timing`: waiting, progress, notification storms, cancellation;
//! - `faults`: process-level misbehaviour (crash, stderr floods, garbage, closed stdout);
//! - `registry`: changing the tool list at runtime.

mod content;
mod faults;
mod registry;
mod timing;

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer,
    model::{CallToolRequestParams, CallToolResult, ContentBlock, JsonObject},
    service::RequestContext,
};
use serde::de::DeserializeOwned;

use crate::state::State;

/// Runs one `tools/call`. Bad arguments and unknown tools are protocol errors (`-32602`), as
/// the MCP spec asks; a tool that runs and fails returns `isError: true` instead.
pub async fn call(
    state: &Arc<State>,
    request: CallToolRequestParams,
    context: RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let args = request.arguments.unwrap_or_default();
    match request.name.as_ref() {
        "echo" => Ok(content::echo(parse(args)?)),
        "add" => Ok(content::add(parse(args)?)),
        "image" => Ok(content::image()),
        "structured" => Ok(content::structured(parse(args)?)),
        "fail" => Ok(content::fail(parse(args)?)),
        "big" => content::big(parse(args)?),
        "pid" => Ok(content::pid(state)),
        "sleep" => Ok(timing::sleep(state, parse(args)?, &context).await),
        "progress" => timing::progress(state, parse(args)?, &context).await,
        "storm" => timing::storm(parse(args)?, &context).await,
        "hang" => timing::hang().await,
        "crash" => faults::crash(state, parse(args)?),
        "stderr" => Ok(faults::stderr(parse(args)?).await),
        "garbage" => Ok(faults::garbage(state)),
        "close_stdout" => Ok(faults::close_stdout(state).await),
        "add_tool" => registry::add_tool(state, parse(args)?, &context).await,
        name if state.is_dynamic(name) => Ok(content::echo(parse(args)?)),
        name if state.is_extra(name) => Ok(text(name)),
        name => Err(ErrorData::invalid_params(format!("unknown tool `{name}`"), None)),
    }
}

/// Deserialises the arguments object into the tool's argument struct.
fn parse<T: DeserializeOwned>(args: JsonObject) -> Result<T, ErrorData> {
    serde_json::from_value(serde_json::Value::Object(args))
        .map_err(|error| ErrorData::invalid_params(format!("invalid arguments: {error}"), None))
}

/// A successful result with one text block.
fn text(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

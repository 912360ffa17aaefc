//! `search_tools`: the tools an agent may call, across all its servers, ranked by relevance
//! to a question ([`crate::search`]), each with its full definition and its server, ready for
//! `execute_tool`, within a token budget.
//!
//! The index is built per search from the tools the agent may call, so a denied tool is
//! neither found nor counted and takes no part in any score. Building over 1,000 tools takes
//! about 13 ms (docs/PERFORMANCE.md), well under a listing's own cost; servers not started yet
//! are started for the search, concurrently, within a deadline.

use crate::error::GatewayError;
use crate::gateway::call::Call;
use crate::gateway::direct::Callable;
use crate::gateway::get_server_tools::{Budgeted, shown};
use crate::gateway::reply::{ToolReply, structured};
use crate::search::ToolIndex;
use crate::wire::build::json_string;

/// Results when the caller names no `limit`.
const DEFAULT_LIMIT: u64 = 5;
/// The most results one search returns.
const MAX_LIMIT: u64 = 50;

/// Ranks the agent's tools (of `server` alone, when given) by `query`.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let query = call.params.req_str("query")?;
    let only = call.params.opt_str("server")?;
    let limit = call.params.opt_positive("limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let budget = call.params.opt_positive("max_schema_tokens")?;
    if let Some(server) = &only {
        call.record.server = Some(server.to_string());
        // A server the agent may not see is refused as it is everywhere, whether it exists or not.
        call.judge(server, None)?;
        call.server(server)?;
    }
    let callable = call.gw.callable_tools(call.agent, &call.snapshot, &call.servers, &call.pins, only.as_deref()).await;
    let entries: Vec<(&str, &crate::downstream::catalog::ToolDef)> =
        callable.iter().flat_map(|Callable { server, tools }| tools.iter().map(move |t| (server.name(), t))).collect();
    let definitions: Vec<serde_json::Value> =
        entries.iter().map(|(_, t)| serde_json::from_str(t.raw.get()).unwrap_or_default()).collect();
    let index = ToolIndex::build(entries.iter().zip(&definitions).map(|((s, _), d)| (*s, d)));
    let hits = index.search(&query, usize::try_from(limit).unwrap_or(usize::MAX), |_, _| true);
    let found = hits.iter().filter_map(|hit| entries.get(hit.position)).map(|(server, tool)| {
        let (text, tokens) = shown(tool);
        // The server first, then the definition's own members.
        (format!(r#"{{"server":{},{}"#, json_string(server), &text[1..]), tokens)
    });
    let within = Budgeted::take(found, budget);
    let body = format!(
        r#"{{"query":{},"tools":[{}],{}}}"#,
        json_string(&crate::logging::bounded(&query)),
        within.tools.join(","),
        within.counts()
    );
    Ok(ToolReply::Json(structured(&body)))
}

//! `read_resource`: a server's resource, judged by the policy, as embedded resources in a
//! tool result, so that an agent can follow a `resource_link` a tool returned. Also behind
//! the protocol's `resources/read` ([`crate::gateway::lists`]).

use serde_json::Value;

use crate::downstream::Budget;
use crate::downstream::rpc::{OutRequest, RequestHead};
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::call::Call;
use crate::gateway::namespace::parse_uri;
use crate::gateway::reply::ToolReply;
use crate::logging::bounded;
use crate::policy::Item;
use crate::wire::build::json_string;

/// Reads `uri` (the server's own, or the gateway's `mcpgw://SERVER/...`) from `server`.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let given = call.params.req_str("uri")?;
    call.record.server = Some(server.to_string());
    let uri = match parse_uri(&given) {
        Some((owner, inner)) if owner == server => inner.to_owned(),
        Some((owner, _)) => {
            return Err(GatewayError::new(
                ErrorCode::InvalidArgument,
                format!("the URI `{}` is one of server `{owner}`, not of `{}`", bounded(&given), bounded(&server)),
            ));
        }
        None => given.into_owned(),
    };
    call.judge_item(&server, Some(Item::Resource(&uri)))?;
    let downstream = call.server(&server)?;
    let budget = Budget::new(downstream.timeout(None));
    let members = format!(r#""uri":{}"#, json_string(&uri));
    let head = RequestHead { method: "resources/read".into(), name: Some(uri.clone()), params: Vec::new() };
    let req = OutRequest { method: "resources/read", members: &members, head, ..Default::default() };
    let result = call.send(&downstream, &server, req, budget).await?;
    let read: Value = serde_json::from_str(result.json()).map_err(|e| {
        GatewayError::new(
            ErrorCode::DownstreamError,
            format!("server `{server}` answered `resources/read` with malformed JSON: {e}"),
        )
        .server(&server)
    })?;
    let contents = read.get("contents").and_then(Value::as_array).cloned().unwrap_or_default();
    let blocks: Vec<Value> =
        contents.into_iter().map(|c| serde_json::json!({"type": "resource", "resource": c})).collect();
    Ok(ToolReply::Json(serde_json::json!({"content": blocks}).to_string()))
}

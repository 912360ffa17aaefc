//! `prompts/get` of a server's prompt, judged by the policy and audited like a tool call.
//! There is no tool for it: it is reached from the protocol's `prompts/get`
//! ([`crate::gateway::lists`]).

use crate::downstream::Budget;
use crate::downstream::rpc::{OutRequest, RequestHead};
use crate::error::GatewayError;
use crate::gateway::call::Call;
use crate::gateway::reply::ToolReply;
use crate::policy::Item;
use crate::wire::build::json_string;

/// Gets `prompt` of `server` with `arguments`; the server's result as it wrote it.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let prompt = call.params.req_str("prompt")?;
    let arguments = call.params.object_or_json("arguments")?.map(|a| a.into_owned());
    call.record.server = Some(server.to_string());
    call.judge_item(&server, Some(Item::Prompt(&prompt)))?;
    let downstream = call.server(&server)?;
    let budget = Budget::new(downstream.timeout(None));
    let mut members = format!(r#""name":{}"#, json_string(&prompt));
    if let Some(arguments) = &arguments {
        members.push_str(r#","arguments":"#);
        members.push_str(arguments.get());
    }
    let head = RequestHead { method: "prompts/get".into(), name: Some(prompt.to_string()), params: Vec::new() };
    let req = OutRequest { method: "prompts/get", members: &members, head, ..Default::default() };
    Ok(ToolReply::Forwarded(call.send(&downstream, &server, req, budget).await?))
}

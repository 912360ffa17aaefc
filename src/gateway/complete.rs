//! `completion/complete` of a server's prompt argument or resource-template variable, judged
//! by the policy as getting that prompt or reading that template is, and audited like a tool
//! call. There is no tool for it: it is reached from the protocol's `completion/complete`
//! ([`crate::gateway::lists`]), which names the prompt or template the gateway's way.

use crate::downstream::Budget;
use crate::downstream::rpc::{OutRequest, RequestHead};
use crate::error::{ErrorCode, GatewayError};
use crate::gateway::call::Call;
use crate::gateway::reply::ToolReply;
use crate::policy::Item;
use crate::wire::build::json_string;

/// What a completion is for: a prompt's argument, or a resource template's variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completing {
    /// `ref/prompt`.
    Prompt,
    /// `ref/resource` (a URI template).
    Template,
}

impl Completing {
    /// The kind of a `ref`'s `type`, if it is one the protocol defines.
    pub fn of(ref_type: &str) -> Option<Completing> {
        match ref_type {
            "ref/prompt" => Some(Completing::Prompt),
            "ref/resource" => Some(Completing::Template),
            _ => None,
        }
    }

    /// The `ref` member that names the target.
    pub fn key(self) -> &'static str {
        match self {
            Completing::Prompt => "name",
            Completing::Template => "uri",
        }
    }

    fn ref_type(self) -> &'static str {
        match self {
            Completing::Prompt => "ref/prompt",
            Completing::Template => "ref/resource",
        }
    }
}

/// Completes `argument` of `target` (the server's own prompt name or URI template) on
/// `server`; the server's result as it wrote it.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let kind = call.params.req_str("kind")?;
    let target = call.params.req_str("target")?;
    let argument = call.params.object_or_json("argument")?.ok_or_else(|| {
        GatewayError::new(ErrorCode::InvalidArgument, "`completion/complete` needs an `argument` object")
    })?;
    let context = call.params.object_or_json("context")?;
    let completing = Completing::of(&kind).ok_or_else(|| {
        GatewayError::new(ErrorCode::InvalidArgument, "a completion's `ref.type` is `ref/prompt` or `ref/resource`")
    })?;
    call.record.server = Some(server.to_string());
    let item = match completing {
        Completing::Prompt => Item::Prompt(&target),
        Completing::Template => Item::Resource(&target),
    };
    call.judge_item(&server, Some(item))?;
    let downstream = call.server(&server)?;
    let budget = Budget::new(downstream.timeout(None));
    let mut members = format!(
        r#""ref":{{"type":{},{}:{}}},"argument":{}"#,
        json_string(completing.ref_type()),
        json_string(completing.key()),
        json_string(&target),
        argument.get()
    );
    if let Some(context) = context {
        members.push_str(r#","context":"#);
        members.push_str(context.get());
    }
    let head = RequestHead { method: "completion/complete".into(), name: None, params: Vec::new() };
    let req = OutRequest { method: "completion/complete", members: &members, head, ..Default::default() };
    Ok(ToolReply::Forwarded(call.send(&downstream, &server, req, budget).await?))
}

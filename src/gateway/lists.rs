//! The protocol's resources and prompts (DESIGN section 12), when the caller's identity is
//! known without arguments: `resources/list`, `resources/templates/list` and `prompts/list`
//! aggregated over the agent's servers and filtered by the policy; `resources/read` and
//! `prompts/get` and `completion/complete` routed to the one server they name, judged and
//! audited as tool calls are.
//!
//! Names never collide across servers ([`crate::gateway::namespace`]). A list loads the
//! policy and the server set once; servers are asked at once ([`each_allowed`]), and one
//! that is late or lacks the capability is left out.

use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::downstream::Downstream;
use crate::gateway::call::{Loaded, NoSuchTool};
use crate::gateway::caller::Caller;
use crate::gateway::complete::Completing;
use crate::gateway::expose::{join, split_any};
use crate::gateway::fan_out::each_allowed;
use crate::gateway::identity::Identity;
use crate::gateway::namespace::{parse_uri, unwrap_uri, wrap_uri};
use crate::gateway::operation::Operation;
use crate::gateway::reply::ToolReply;
use crate::gateway::state::Gateway;
use crate::logging::bounded;
use crate::mcp::codes;
use crate::policy::{Item, ItemKind, Request};
use crate::wire::object::Members;

/// One of the aggregated lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `resources/list`.
    Resources,
    /// `resources/templates/list`.
    Templates,
    /// `prompts/list`.
    Prompts,
}

impl Listing {
    /// The method that asks for it.
    pub fn method(self) -> &'static str {
        match self {
            Listing::Resources => "resources/list",
            Listing::Templates => "resources/templates/list",
            Listing::Prompts => "prompts/list",
        }
    }

    /// The member of the result that holds the items.
    pub fn member(self) -> &'static str {
        match self {
            Listing::Resources => "resources",
            Listing::Templates => "resourceTemplates",
            Listing::Prompts => "prompts",
        }
    }

    /// The member of an item that names it.
    fn key(self) -> &'static str {
        match self {
            Listing::Resources => "uri",
            Listing::Templates => "uriTemplate",
            Listing::Prompts => "name",
        }
    }

    fn capability(self) -> &'static str {
        match self {
            Listing::Resources | Listing::Templates => "resources",
            Listing::Prompts => "prompts",
        }
    }

    fn kind(self) -> ItemKind {
        match self {
            Listing::Prompts => ItemKind::Prompt,
            Listing::Resources | Listing::Templates => ItemKind::Resource,
        }
    }
}

/// The string member `key` of a request's params, or the error saying `method` needs it.
pub(crate) fn required_string(params: Option<&RawValue>, method: &str, key: &str) -> Result<String, NoSuchTool> {
    params
        .and_then(|p| Members::of(p).ok())
        .and_then(|m| m.get(key).and_then(|v| serde_json::from_str(v.get()).ok()))
        .ok_or_else(|| NoSuchTool {
            code: codes::INVALID_PARAMS,
            message: format!("`{method}` needs a string `{key}`"),
        })
}

/// The strings of the array member `key` of `object` (none when it is missing), or the error
/// saying it must be an array of strings.
pub fn required_string_list(object: &Value, key: &str) -> Result<Vec<String>, NoSuchTool> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<Vec<String>>>().ok_or_else(|| {
                NoSuchTool { code: codes::INVALID_PARAMS, message: format!("`{key}` must be an array of strings") }
            })
        }
        Some(_) => {
            Err(NoSuchTool { code: codes::INVALID_PARAMS, message: format!("`{key}` must be an array of strings") })
        }
    }
}

/// A resource or prompt error at the protocol level: the gateway's error code leads the
/// message, so a denial reads the same as through the tools.
pub(crate) fn protocol_error(code: i64, e: &crate::error::GatewayError) -> NoSuchTool {
    NoSuchTool { code, message: format!("{}: {}", e.code.as_str(), e.message) }
}

impl Gateway {
    /// The agent's servers (config order), each with its items of `listing` as the server
    /// wrote them; `None` for a server that does not offer the capability, failed or was late.
    async fn listed(
        &self,
        agent: Option<&str>,
        loaded: &Loaded,
        listing: Listing,
    ) -> Vec<(Arc<Downstream>, Option<Vec<Value>>)> {
        let what = format!("`{}`", listing.method());
        let answers = each_allowed(agent, &loaded.snapshot, &loaded.servers, None, &what, |d, deadline| async move {
            if !d.offers(listing.capability(), deadline).await? {
                return Ok(None);
            }
            d.list_all(listing.method(), listing.member(), deadline).await.map(Some)
        })
        .await;
        answers.into_iter().map(|(d, items)| (d, items.flatten())).collect()
    }

    /// `listing` for `identity`'s agent: every item the policy allows, named for the gateway
    /// (`mcpgw://SERVER/URI`, `SERVER__PROMPT`), each otherwise as its server wrote it.
    pub async fn aggregate(&self, identity: &Identity, listing: Listing) -> Vec<String> {
        let agent = identity.resolve(None).ok().flatten();
        let loaded = Loaded::now(self);
        let separator = &self.settings().separator;
        let mut out = Vec::new();
        for (d, items) in self.listed(agent, &loaded, listing).await {
            for mut item in items.into_iter().flatten() {
                let Some(name) = item.get(listing.key()).and_then(Value::as_str).map(str::to_owned) else { continue };
                let asked = Request { agent, server: d.name(), item: Some(Item::new(listing.kind(), &name)) };
                if !loaded.snapshot.table.decide(&asked).is_allowed() {
                    continue;
                }
                let renamed = match listing {
                    Listing::Prompts => join(d.name(), separator, &name),
                    Listing::Resources | Listing::Templates => wrap_uri(d.name(), &name),
                };
                item[listing.key()] = Value::String(renamed);
                out.push(item.to_string());
            }
        }
        out
    }

    /// The server that owns `uri` and the server's own URI: named by a gateway URI, else the
    /// server whose tool result gave the agent that URI (unless only others list it), else
    /// the one of the agent's servers that lists it, else the one of the agent's servers that
    /// offers resources.
    pub(crate) async fn owner_of(
        &self,
        agent: Option<&str>,
        loaded: &Loaded,
        uri: &str,
    ) -> Result<(String, String), NoSuchTool> {
        if let Some((server, inner)) = unwrap_uri(uri, &loaded.servers) {
            return Ok((server.to_owned(), inner.to_owned()));
        }
        // The gateway's form, naming no configured server: never some server's own URI. The
        // read is judged as any other, so that a server the agent may not use and one that
        // does not exist are refused alike, and the error tells nothing about the config.
        if uri.starts_with(crate::gateway::namespace::SCHEME) {
            return match parse_uri(uri) {
                Some((server, inner)) => Ok((server.to_owned(), inner.to_owned())),
                None => Err(NoSuchTool {
                    code: codes::INVALID_PARAMS,
                    message: format!("malformed gateway URI `{}`: expected `mcpgw://SERVER/URI`", bounded(uri)),
                }),
            };
        }
        // A server whose result linked to the URI, if the agent may still use it.
        let linked = self.links().owner(agent, uri).filter(|s| {
            loaded.servers.get(s).is_some()
                && loaded.snapshot.table.decide(&crate::policy::Request::server(agent, s)).is_allowed()
        });
        let mut owners = Vec::new();
        let mut offering = Vec::new();
        for (d, items) in self.listed(agent, loaded, Listing::Resources).await {
            let Some(items) = items else { continue };
            if items.iter().any(|i| i.get("uri").and_then(Value::as_str) == Some(uri)) {
                owners.push(d.name().to_owned());
            }
            offering.push(d.name().to_owned());
        }
        // The link decides unless other servers list the URI and the linking one does not: a
        // server cannot capture the reads of another's listed resource by linking to it.
        if let Some(server) = linked
            && (owners.is_empty() || owners.contains(&server))
        {
            return Ok((server, uri.to_owned()));
        }
        // A URI no list holds (one of a template, say) belongs to the one server of the
        // agent's that has resources at all, if there is one.
        if owners.is_empty() && offering.len() == 1 {
            owners = offering;
        }
        match owners.as_slice() {
            [one] => Ok((one.clone(), uri.to_owned())),
            [] => Err(NoSuchTool {
                code: codes::RESOURCE_NOT_FOUND,
                message: format!("no server of yours lists the resource `{}`", bounded(uri)),
            }),
            _ => Err(NoSuchTool {
                code: codes::INVALID_PARAMS,
                message: format!(
                    "servers `{}` all list `{}`: read `mcpgw://SERVER/{}` to say which",
                    owners.join("`, `"),
                    bounded(uri),
                    bounded(uri)
                ),
            }),
        }
    }

    /// `resources/read` for `caller`: the server's contents, their URIs named for the gateway.
    pub async fn read_resource(
        self: &Arc<Self>,
        caller: &Caller,
        params: Option<&RawValue>,
    ) -> Result<String, NoSuchTool> {
        let uri = required_string(params, "resources/read", "uri")?;
        let agent = caller.identity.resolve(None).ok().flatten();
        let loaded = Loaded::now(self);
        let (server, inner) = self.owner_of(agent, &loaded, &uri).await?;
        let arguments = serde_json::json!({"server": server, "uri": inner}).to_string();
        let arguments = RawValue::from_string(arguments).ok();
        let reply = self
            .run_operation(caller, Operation::ReadResource, "resources/read", arguments.as_deref(), false, loaded)
            .await;
        let blocks: Value = match reply {
            ToolReply::Json(text) => serde_json::from_str(&text).unwrap_or_default(),
            ToolReply::Error(e) => return Err(protocol_error(codes::INVALID_PARAMS, &e)),
            other => serde_json::from_str(&other.json()).unwrap_or_default(),
        };
        let contents: Vec<Value> = blocks["content"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|block| {
                        let mut c = block["resource"].clone();
                        if let Some(u) = c.get("uri").and_then(Value::as_str).map(|u| wrap_uri(&server, u)) {
                            c["uri"] = Value::String(u);
                        }
                        c
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(serde_json::json!({"contents": contents}).to_string())
    }

    /// `completion/complete` for `caller`: the prompt or template named the gateway's way
    /// (`SERVER__PROMPT`, `mcpgw://SERVER/TEMPLATE`), completed by its server.
    pub async fn complete(self: &Arc<Self>, caller: &Caller, params: Option<&RawValue>) -> Result<String, NoSuchTool> {
        let invalid = |message: String| NoSuchTool { code: codes::INVALID_PARAMS, message };
        let members = params.and_then(|p| Members::of(p).ok()).unwrap_or_default();
        let reference = members.get("ref").and_then(|r| Members::of(r).ok()).unwrap_or_default();
        let kind: String = reference.get("type").and_then(|t| serde_json::from_str(t.get()).ok()).unwrap_or_default();
        let Some(completing) = Completing::of(&kind) else {
            return Err(invalid(format!(
                "`completion/complete` needs a `ref` of type `ref/prompt` or `ref/resource`, not `{}`",
                bounded(&kind)
            )));
        };
        let named: String =
            reference.get(completing.key()).and_then(|n| serde_json::from_str(n.get()).ok()).unwrap_or_default();
        let loaded = Loaded::now(self);
        let owner = match completing {
            Completing::Prompt => split_any(&named, &self.settings().separator, &loaded.servers),
            Completing::Template => parse_uri(&named),
        };
        let Some((server, target)) = owner else {
            return Err(invalid(format!(
                "unknown {} `{}`: the gateway names them {}",
                if completing == Completing::Prompt { "prompt" } else { "resource template" },
                bounded(&named),
                if completing == Completing::Prompt { "SERVER__PROMPT" } else { "mcpgw://SERVER/TEMPLATE" }
            )));
        };
        let mut arguments = serde_json::json!({"server": server, "kind": kind, "target": target});
        for key in ["argument", "context"] {
            if let Some(v) = members.get(key).and_then(|v| serde_json::from_str::<Value>(v.get()).ok()) {
                arguments[key] = v;
            }
        }
        let arguments = RawValue::from_string(arguments.to_string()).ok();
        let label = "completion/complete";
        match self.run_operation(caller, Operation::Complete, label, arguments.as_deref(), false, loaded).await {
            ToolReply::Error(e) => Err(protocol_error(codes::INVALID_PARAMS, &e)),
            reply => Ok(reply.json().into_owned()),
        }
    }

    /// `prompts/get` for `caller`: the server's messages as it wrote them.
    pub async fn get_prompt(
        self: &Arc<Self>,
        caller: &Caller,
        params: Option<&RawValue>,
    ) -> Result<String, NoSuchTool> {
        let name = required_string(params, "prompts/get", "name")?;
        let members = params.and_then(|p| Members::of(p).ok()).unwrap_or_default();
        let loaded = Loaded::now(self);
        let Some((server, prompt)) = split_any(&name, &self.settings().separator, &loaded.servers) else {
            return Err(NoSuchTool {
                code: codes::INVALID_PARAMS,
                message: format!("unknown prompt `{}`: prompts are named SERVER__PROMPT", bounded(&name)),
            });
        };
        let mut arguments = serde_json::json!({"server": server, "prompt": prompt});
        if let Some(a) = members.get("arguments").and_then(|a| serde_json::from_str::<Value>(a.get()).ok()) {
            arguments["arguments"] = a;
        }
        let arguments = RawValue::from_string(arguments.to_string()).ok();
        match self.run_operation(caller, Operation::GetPrompt, "prompts/get", arguments.as_deref(), false, loaded).await
        {
            ToolReply::Error(e) => Err(protocol_error(codes::INVALID_PARAMS, &e)),
            reply => Ok(reply.json().into_owned()),
        }
    }
}

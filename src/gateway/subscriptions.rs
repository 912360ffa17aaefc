//! Resource subscriptions and change notices, per client (DESIGN section 12): a legacy
//! client's `resources/subscribe` / `resources/unsubscribe`, and the filter of a 2026-07-28
//! `subscriptions/listen` stream. The gateway subscribes at the server once per URI
//! ([`crate::downstream::Downstream::subscribe`]); what each client hears is decided here, on
//! every notice, against the policy of that moment: a server's notices reach only agents that
//! may use it, and an update reaches only the clients that subscribed to that resource.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use crate::downstream::notices::{Notice, NoticeKind};
use crate::error::GatewayError;
use crate::gateway::call::{Call, Loaded, NoSuchTool};
use crate::gateway::caller::Caller;
use crate::gateway::lists::protocol_error;
use crate::gateway::namespace::wrap_uri;
use crate::gateway::operation::Operation;
use crate::gateway::reply::ToolReply;
use crate::gateway::state::Gateway;
use crate::mcp::codes;
use crate::policy::{Item, Request};
use crate::wire::build::json_string;

/// The resources one client subscribed to, as `(server, the server's own URI)`.
#[derive(Debug, Default)]
pub struct Subscriptions(Mutex<BTreeSet<(String, String)>>);

impl Subscriptions {
    fn set(&self) -> std::sync::MutexGuard<'_, BTreeSet<(String, String)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one.
    pub fn add(&self, server: &str, uri: &str) {
        self.set().insert((server.to_owned(), uri.to_owned()));
    }

    /// Removes one; whether it was there.
    pub fn remove(&self, server: &str, uri: &str) -> bool {
        self.set().remove(&(server.to_owned(), uri.to_owned()))
    }

    /// Whether the client subscribed to `uri` of `server`.
    pub fn has(&self, server: &str, uri: &str) -> bool {
        self.set().iter().any(|(s, u)| s == server && u == uri)
    }
}

/// Which notices a client hears.
#[derive(Debug, Default)]
pub struct Wants {
    /// `notifications/prompts/list_changed`.
    pub prompts: bool,
    /// `notifications/resources/list_changed`.
    pub resources: bool,
    /// `notifications/resources/updated` of these.
    pub updates: Arc<Subscriptions>,
}

/// A notification for a client: its method and params.
pub type Notification = (&'static str, Option<String>);

/// Subscribes at `server` to its resource `uri`: the hidden operation behind
/// `resources/subscribe` and `subscriptions/listen`, judged as reading the resource is.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let uri = call.params.req_str("uri")?;
    call.record.server = Some(server.to_string());
    call.judge_item(&server, Some(Item::Resource(&uri)))?;
    let downstream = call.server(&server)?;
    downstream.subscribe(&uri, downstream.timeout(None)).await?;
    Ok(ToolReply::Json("{}".to_owned()))
}

impl Gateway {
    /// Subscribes `caller` to the resource `uri` (the gateway's `mcpgw://SERVER/...` or a
    /// server's own, as `resources/read` takes it), recording it in `subscriptions`.
    pub async fn subscribe(
        self: &Arc<Self>,
        caller: &Caller,
        uri: &str,
        subscriptions: &Subscriptions,
    ) -> Result<(), NoSuchTool> {
        let agent = caller.identity.resolve(None).ok().flatten();
        let loaded = Loaded::now(self);
        let (server, inner) = self.owner_of(agent, &loaded, uri).await?;
        let arguments = format!(r#"{{"server":{},"uri":{}}}"#, json_string(&server), json_string(&inner));
        let arguments = RawValue::from_string(arguments).ok();
        let label = "resources/subscribe";
        match self.run_operation(caller, Operation::Subscribe, label, arguments.as_deref(), false, loaded).await {
            ToolReply::Error(e) => Err(protocol_error(codes::INVALID_PARAMS, &e)),
            _ => {
                subscriptions.add(&server, &inner);
                Ok(())
            }
        }
    }

    /// Ends `caller`'s subscription to `uri`. Unknown subscriptions are an error, so that a
    /// client that misnames one hears so.
    pub fn unsubscribe(&self, uri: &str, subscriptions: &Subscriptions) -> Result<(), NoSuchTool> {
        let servers = self.servers();
        let (server, inner) = match crate::gateway::namespace::unwrap_uri(uri, &servers) {
            Some((s, u)) => (s.to_owned(), u.to_owned()),
            None => {
                let owners: Vec<String> =
                    servers.iter().map(|d| d.name().to_owned()).filter(|s| subscriptions.has(s, uri)).collect();
                match owners.as_slice() {
                    [one] => (one.clone(), uri.to_owned()),
                    _ => (String::new(), uri.to_owned()),
                }
            }
        };
        if subscriptions.remove(&server, &inner) {
            Ok(())
        } else {
            Err(NoSuchTool {
                code: codes::INVALID_PARAMS,
                message: format!("no subscription to `{}`", crate::logging::bounded(uri)),
            })
        }
    }

    /// What `notice` becomes for `agent`, a client that wants `wants`: nothing when the agent
    /// may not use the server (or read the resource) under the current policy, or the client
    /// did not ask for it.
    pub fn notice_for(&self, agent: Option<&str>, wants: &Wants, notice: &Notice) -> Option<Notification> {
        let snapshot = self.policy();
        let table = &snapshot.table;
        if let Some(server) = notice.server.as_deref()
            && !table.decide(&Request { agent, server, item: None }).is_allowed()
        {
            return None;
        }
        match &notice.kind {
            NoticeKind::PromptsChanged => wants.prompts.then_some(("notifications/prompts/list_changed", None)),
            NoticeKind::ResourcesChanged => wants.resources.then_some(("notifications/resources/list_changed", None)),
            NoticeKind::ResourceUpdated(uri) => {
                let server = notice.server.as_deref()?;
                let allowed = table.decide(&Request { agent, server, item: Some(Item::Resource(uri)) }).is_allowed();
                (allowed && wants.updates.has(server, uri)).then(|| {
                    let params = format!(r#"{{"uri":{}}}"#, json_string(&wrap_uri(server, uri)));
                    ("notifications/resources/updated", Some(params))
                })
            }
        }
    }
}

impl Wants {
    /// What a legacy client that may see prompts and resources wants: every list change, and
    /// the updates of the resources in `subscriptions`.
    pub fn legacy(subscriptions: &Arc<Subscriptions>) -> Wants {
        Wants { prompts: true, resources: true, updates: subscriptions.clone() }
    }
}

/// The bytes of `notification`.
pub fn notification_bytes((method, params): Notification) -> Vec<u8> {
    crate::wire::build::notification(method, params.as_deref().map(str::as_bytes))
}

//! `subscriptions/listen` (2026-07-28): one long-lived request that carries the notices a
//! client opted in to, each stamped with the request's id as its subscription id. It replaces
//! the legacy GET stream and `resources/subscribe`; the stream ends when the client cancels
//! it (over HTTP, by closing it).
//!
//! What is honored: tool-list changes in direct mode (the meta-tools never change), prompt
//! and resource notices when the agent is known without arguments, and each resource
//! subscription the policy allows (one it does not fails the whole request, as
//! `resources/subscribe` does).

use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::downstream::notices;
use crate::gateway::caller::Caller;
use crate::gateway::lists::required_string_list;
use crate::gateway::subscriptions::{Notification, Subscriptions, Wants};
use crate::gateway::{Gateway, Identity};
use crate::mcp::codes;
use crate::mcp::meta::SUBSCRIPTION_ID;
use crate::wire::object::Members;
use crate::wire::{Sink, build};

/// Why a listen request was refused: the JSON-RPC code and message.
pub type Refused = (i64, String);

/// Serves one `subscriptions/listen` request with id `id` (raw JSON) until `cancel`; its final
/// result.
pub async fn listen(
    gw: &Arc<Gateway>,
    identity: &Identity,
    caller: &Caller,
    params: Option<&RawValue>,
    sink: &Sink,
    cancel: CancellationToken,
    id: &str,
) -> Result<String, Refused> {
    let filter = params
        .and_then(|p| Members::of(p).ok())
        .and_then(|m| m.get("notifications").and_then(|n| serde_json::from_str::<Value>(n.get()).ok()))
        .filter(Value::is_object)
        .ok_or_else(|| (codes::INVALID_PARAMS, "`subscriptions/listen` needs a `notifications` object".to_owned()))?;
    let asked = |key: &str| filter.get(key).and_then(Value::as_bool).unwrap_or(false);
    let items = identity.known_without_arguments();
    let tools = asked("toolsListChanged") && gw.settings().expose.direct();
    let updates = Arc::new(Subscriptions::default());
    let wants = Wants {
        prompts: asked("promptsListChanged") && items,
        resources: asked("resourcesListChanged") && items,
        updates: updates.clone(),
    };
    let uris = required_string_list(&filter, "resourceSubscriptions").map_err(|e| (e.code, e.message))?;
    if !uris.is_empty() && !items {
        return Err((
            codes::INVALID_PARAMS,
            "resource subscriptions need an agent known without arguments (a bound agent, a default agent or an HTTP token)".to_owned(),
        ));
    }
    // Listen before subscribing, so that no notice sent meanwhile is missed.
    let mut heard = gw.downstream_settings().notices.subscribe();
    let mut catalogue = gw.downstream_settings().catalogue.subscribe();
    for uri in &uris {
        gw.subscribe(caller, uri, &updates).await.map_err(|e| (e.code, e.message))?;
    }
    let mut honored = serde_json::Map::new();
    for (key, on) in
        [("toolsListChanged", tools), ("promptsListChanged", wants.prompts), ("resourcesListChanged", wants.resources)]
    {
        if on {
            honored.insert(key.to_owned(), Value::Bool(true));
        }
    }
    if !uris.is_empty() {
        honored.insert("resourceSubscriptions".to_owned(), Value::from(uris));
    }
    let stamp = |params: Option<&str>| -> Vec<u8> {
        let mut p: Value =
            params.and_then(|p| serde_json::from_str(p).ok()).unwrap_or_else(|| Value::Object(Default::default()));
        p["_meta"] = serde_json::json!({SUBSCRIPTION_ID: serde_json::from_str::<Value>(id).unwrap_or(Value::Null)});
        p.to_string().into_bytes()
    };
    let ack = stamp(Some(&serde_json::json!({"notifications": honored}).to_string()));
    if sink.send(build::notification("notifications/subscriptions/acknowledged", Some(&ack))).await.is_err() {
        return Ok(final_result(id));
    }
    let agent = identity.resolve(None).ok().flatten().map(str::to_owned);
    let send = |(method, params): Notification| {
        let bytes = build::notification(method, Some(&stamp(params.as_deref())));
        async move { sink.send(bytes).await.is_ok() }
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            changed = catalogue.changed(), if tools => {
                if changed.is_err() || !send(("notifications/tools/list_changed", None)).await {
                    break;
                }
            }
            got = notices::next(&mut heard) => {
                let Some(got) = got else { break };
                for notice in got {
                    if let Some(n) = gw.notice_for(agent.as_deref(), &wants, &notice)
                        && !send(n).await
                    {
                        return Ok(final_result(id));
                    }
                }
            }
        }
    }
    Ok(final_result(id))
}

/// The result that ends a stream: its subscription id.
fn final_result(id: &str) -> String {
    format!(r#"{{"_meta":{{"{SUBSCRIPTION_ID}":{id}}}}}"#)
}

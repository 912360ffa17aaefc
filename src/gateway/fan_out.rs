//! Asking each of an agent's servers at once, within a deadline: what direct mode's
//! `tools/list`, `search_tools` and the aggregated resource and prompt lists all do.
//!
//! A server that fails or is late is left out with a warning and started in the background,
//! so a slow server never holds up the others, and its arrival is announced with
//! `notifications/tools/list_changed` (see [`crate::downstream::catalog::CatalogueChanges`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::config::PolicySnapshot;
use crate::downstream::Downstream;
use crate::error::GatewayError;
use crate::gateway::servers::ServerSet;
use crate::policy::Request;

/// How long one server may take to answer such a request (its start included).
pub const LIST_DEADLINE: Duration = Duration::from_secs(10);

/// The servers of `servers` (`only` that one, if given) that `agent` may use, in config order.
pub fn allowed(
    agent: Option<&str>,
    snapshot: &PolicySnapshot,
    servers: &ServerSet,
    only: Option<&str>,
) -> Vec<Arc<Downstream>> {
    servers
        .iter()
        .filter(|d| only.is_none_or(|o| o == d.name()))
        .filter(|d| snapshot.table.decide(&Request::server(agent, d.name())).is_allowed())
        .cloned()
        .collect()
}

/// Runs `ask` on each server of `servers` (`only` that one, if given) that `agent` may use,
/// all at once, each with the deadline it is given; returns each server in config order with
/// its answer, `None` for one that failed or was late (`what` names the request in the log).
pub async fn each_allowed<T, F, Fut>(
    agent: Option<&str>,
    snapshot: &PolicySnapshot,
    servers: &ServerSet,
    only: Option<&str>,
    what: &str,
    ask: F,
) -> Vec<(Arc<Downstream>, Option<T>)>
where
    F: Fn(Arc<Downstream>, Duration) -> Fut,
    Fut: Future<Output = Result<T, GatewayError>>,
{
    let allowed = allowed(agent, snapshot, servers, only);
    let answers = allowed.iter().map(|d| {
        let deadline = d.timeout(None).min(LIST_DEADLINE);
        let asked = ask(d.clone(), deadline);
        async move {
            match tokio::time::timeout(deadline, asked).await {
                Ok(Ok(answer)) => Some(answer),
                Ok(Err(e)) => {
                    tracing::warn!(server = %d.name(), "left out of {what}: {}", e.message);
                    d.start_in_background();
                    None
                }
                Err(_) => {
                    tracing::warn!(server = %d.name(), "left out of {what}: no answer within {} ms", deadline.as_millis());
                    d.start_in_background();
                    None
                }
            }
        }
    });
    let answers = futures::future::join_all(answers).await;
    allowed.into_iter().zip(answers).collect()
}

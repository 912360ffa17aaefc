//! Direct mode's `tools/list`: the agent's allowed downstream tools under namespaced names,
//! each definition the server's own bytes with only `name` replaced.
//!
//! One listing loads the policy snapshot, the server set and the lock once. The agent's
//! servers are listed at once, within a deadline ([`crate::gateway::fan_out`]).

use std::sync::Arc;

use crate::config::PolicySnapshot;
use crate::config::lock::PinnedServer;
use crate::downstream::catalog::ToolDef;
use crate::downstream::{Downstream, Status};
use crate::gateway::fan_out::each_allowed;
use crate::gateway::pins::Pins;
use crate::gateway::servers::ServerSet;

use crate::gateway::expose::join;
use crate::gateway::identity::Identity;
use crate::gateway::state::Gateway;
use crate::policy::Request;
use crate::wire::build::json_string;
use crate::wire::object::{Members, Rewrite};

/// The tools a lock pins for a server, as definitions (their pinned members), in name order.
fn pinned_tools(pinned: &PinnedServer) -> Vec<ToolDef> {
    pinned
        .tools
        .values()
        .filter_map(|t| serde_json::value::to_raw_value(&t.definition).ok())
        .filter_map(|raw| ToolDef::parse(&raw))
        .collect()
}

/// One server's tools that an agent may call (and the lock serves), in the server's order.
pub(crate) struct Callable {
    /// The server.
    pub server: Arc<Downstream>,
    /// Its tools, those the agent may call.
    pub tools: Vec<ToolDef>,
}

impl Gateway {
    /// The tools `agent` may call on each of its servers (config order) under these loads:
    /// servers listed at once ([`each_allowed`]), a late or failing one left out
    /// with a warning and started in the background. `only`: that server alone. Shared by
    /// direct mode's `tools/list` and `search_tools`.
    pub(crate) async fn callable_tools(
        &self,
        agent: Option<&str>,
        snapshot: &PolicySnapshot,
        servers: &ServerSet,
        pins: &Pins,
        only: Option<&str>,
    ) -> Vec<Callable> {
        let table = &snapshot.table;
        let listed = each_allowed(agent, snapshot, servers, only, "a tool listing", |d, deadline| async move {
            // A server not started yet whose tools the lock pins: the pins answer at once, and
            // the server starts meanwhile (its arrival is announced, and its live list then
            // replaces the pins, judged against them).
            if d.status().status == Status::NotStarted
                && let Some(pinned) = pins.lock.as_ref().and_then(|l| l.servers.get(d.name()))
            {
                d.start_in_background();
                return Ok(Arc::new(pinned_tools(pinned)));
            }
            d.tools(deadline).await
        })
        .await;
        let mut out = Vec::new();
        for (d, tools) in listed {
            let Some(tools) = tools else { continue };
            let mut callable = Vec::new();
            for tool in tools.iter() {
                if !table.decide(&Request::tool(agent, d.name(), &tool.name)).is_allowed() {
                    continue;
                }
                // A tool the lock does not pin (in `enforce` mode) is quarantined: not listed.
                if !self.judge_pin(pins, &d, tool, agent).await.serves() {
                    continue;
                }
                callable.push(tool.clone());
            }
            out.push(Callable { server: d, tools: callable });
        }
        out
    }

    /// The direct-mode definitions `identity`'s agent may call, servers in config order and
    /// each server's tools in its own order.
    pub async fn direct_tools(&self, identity: &Identity) -> Vec<String> {
        // A bound identity resolves without arguments; otherwise the default agent applies.
        let agent = identity.resolve(None).ok().flatten();
        let (snapshot, servers, pins) = (self.policy(), self.servers(), self.pins());
        let separator = &self.settings().separator;
        let mut out = Vec::new();
        for Callable { server, tools } in self.callable_tools(agent, &snapshot, &servers, &pins, None).await {
            for tool in &tools {
                let Ok(members) = Members::of(&tool.raw) else { continue };
                let name = json_string(&join(server.name(), separator, &tool.name));
                out.push(Rewrite::new(&members).set("name", name).finish());
            }
        }
        out
    }
}

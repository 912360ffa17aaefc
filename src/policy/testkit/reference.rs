//! A naive reference interpreter: DESIGN.md section 4 read literally, with the two-pointer
//! glob matcher and no automata, indexes or precomputation.
//!
//! It is deliberately slow and obvious. Property tests and fuzz targets check the compiled
//! [`DecisionTable`](crate::policy::DecisionTable) against it, and the benchmarks show the
//! speed-up side by side. It is public, behind the `testkit` feature, so that tests, benches
//! and fuzz targets outside the crate can use it; it is not meant for serving.

use crate::policy::ast::{Effect, ItemKind, PolicySet, RuleView};
use crate::policy::decide::{Decision, Reason, Request};
use crate::policy::glob::glob_match;
use crate::policy::validate::is_valid_agent_id;

/// The reference answer: a decision and the ids of its determining and overridden rules, in
/// [`PolicySet::rules`] numbering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceAnswer {
    /// The decision.
    pub decision: Decision,
    /// Every matching deny on deny, every matching allow on allow, none for a default deny.
    pub determining: Vec<u32>,
    /// Matching allows that a deny overrode.
    pub overridden: Vec<u32>,
}

/// Decides `req` against `policy` the slow, literal way. `default_agent` plays the part of
/// the `--default-agent` flag; when `None`, an agent named `default` stands in if present.
pub fn reference_decide(policy: &PolicySet, default_agent: Option<&str>, req: &Request<'_>) -> ReferenceAnswer {
    let default_agent =
        default_agent.or_else(|| policy.agents.iter().any(|a| a.key.text == "default").then_some("default"));
    let deny = |reason| ReferenceAnswer {
        decision: Decision { effect: Effect::Deny, reason },
        determining: Vec::new(),
        overridden: Vec::new(),
    };
    let given = req.agent.filter(|a| !a.is_empty());
    let (id, via_default) = match (given, default_agent) {
        (Some(a), _) => (a, false),
        (None, Some(d)) => (d, true),
        (None, None) => return deny(Reason::InvalidAgent),
    };
    if !is_valid_agent_id(id) {
        return deny(Reason::InvalidAgent);
    }
    let known = |id: &str| policy.agents.iter().any(|a| glob_match(&a.key.text, id));
    let id = if known(id) {
        id
    } else {
        match default_agent {
            Some(d) if !via_default && !policy.defaults.deny_on_missing_agent && known(d) => d,
            _ => return deny(Reason::UnknownAgent),
        }
    };

    // Every rule of every block whose key matches the id, numbered as PolicySet::rules does.
    let rules: Vec<(u32, RuleView<'_>)> =
        policy.rules().enumerate().map(|(i, r)| (i as u32, r)).filter(|(_, r)| glob_match(&r.agent.text, id)).collect();
    let server_rules = |effect| -> Vec<u32> {
        rules
            .iter()
            .filter(|(_, r)| r.effect == effect && r.item.is_none() && glob_match(&r.server.text, req.server))
            .map(|(i, _)| *i)
            .collect()
    };
    // The item's kind and name: tools, resources and prompts are each judged by their own rules.
    let item = req.item.map(|i| (i.kind(), i.name()));
    let tool_rules = |effect, (kind, name): (ItemKind, &str)| -> Vec<u32> {
        rules
            .iter()
            .filter(|(_, r)| r.effect == effect && glob_match(&r.server.text, req.server))
            .filter(|(_, r)| r.item_of(kind).is_some_and(|t| glob_match(&t.text, name)))
            .map(|(i, _)| *i)
            .collect()
    };
    let deny_server = server_rules(Effect::Deny);
    let allow_server = server_rules(Effect::Allow);
    let (deny_tool, allow_tool) = match item {
        Some(it) => (tool_rules(Effect::Deny, it), tool_rules(Effect::Allow, it)),
        None => (Vec::new(), Vec::new()),
    };
    let union = |a: &[u32], b: &[u32]| {
        let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let answer = |effect, reason, determining, overridden| ReferenceAnswer {
        decision: Decision { effect, reason },
        determining,
        overridden,
    };

    // Deny before allow, always.
    if !deny_server.is_empty() || !deny_tool.is_empty() {
        return answer(
            Effect::Deny,
            Reason::ExplicitDeny,
            union(&deny_server, &deny_tool),
            union(&allow_server, &allow_tool),
        );
    }
    if allow_server.is_empty() {
        let reason = if item.is_some() { Reason::ServerDenied } else { Reason::NoMatchingAllow };
        return deny(reason);
    }
    let Some((kind, _)) = item else {
        return answer(Effect::Allow, Reason::AllowedByRule, allow_server, Vec::new());
    };
    let any_allow_tools_for_server = rules
        .iter()
        .any(|(_, r)| r.effect == Effect::Allow && r.item_of(kind).is_some() && glob_match(&r.server.text, req.server));
    if !any_allow_tools_for_server {
        return answer(Effect::Allow, Reason::ImplicitGrant, allow_server, Vec::new());
    }
    if allow_tool.is_empty() {
        return deny(Reason::NoMatchingAllow);
    }
    answer(Effect::Allow, Reason::AllowedByRule, union(&allow_server, &allow_tool), Vec::new())
}

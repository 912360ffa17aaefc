//! Decisions: agent resolution, and the one verdict function that both the fast path and the
//! explain path run.
//!
//! [`judge`] is written once against the [`Facts`] trait. The fast path feeds it lazy facts
//! that stop at the first matching rule; the explain path feeds it facts that collect every
//! matching rule first. Since both go through the same function, they cannot disagree.

use std::borrow::Cow;

use crate::policy::ast::Effect;
use crate::policy::compile::fast::FastEntry;
use crate::policy::compile::unit::ServerView;
use crate::policy::table::DecisionTable;
use crate::policy::validate::is_valid_agent_id;

/// A question for the policy: may this agent reach this server (and this tool)?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request<'a> {
    /// The agent id as given; `None` or empty means "not given".
    pub agent: Option<&'a str>,
    /// The server name.
    pub server: &'a str,
    /// The tool name, for a tool decision; `None` asks about the server only.
    pub tool: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// May `agent` reach `server` at all (list it, see its tools)?
    pub fn server(agent: Option<&'a str>, server: &'a str) -> Self {
        Request { agent, server, tool: None }
    }

    /// May `agent` call `tool` on `server`?
    pub fn tool(agent: Option<&'a str>, server: &'a str, tool: &'a str) -> Self {
        Request { agent, server, tool: Some(tool) }
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A deny rule matched; it wins over every allow.
    ExplicitDeny,
    /// An allow rule matched and no deny did.
    AllowedByRule,
    /// The server is allowed and the agent has no allow-tool rules for it, so all its tools
    /// are allowed except denied ones.
    ImplicitGrant,
    /// No allow rule matched (the server, or the tool on a server with allow-tool rules).
    NoMatchingAllow,
    /// A tool was asked for on a server that no allow rule grants.
    ServerDenied,
    /// The agent id matches no key in the policy.
    UnknownAgent,
    /// The agent id is missing (with no default agent) or malformed.
    InvalidAgent,
}

impl Reason {
    /// The reason as written in audit records and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ExplicitDeny => "explicit_deny",
            Reason::AllowedByRule => "allowed_by_rule",
            Reason::ImplicitGrant => "implicit_grant",
            Reason::NoMatchingAllow => "no_matching_allow",
            Reason::ServerDenied => "server_denied",
            Reason::UnknownAgent => "unknown_agent",
            Reason::InvalidAgent => "invalid_agent",
        }
    }
}

/// The answer to a [`Request`]: allow or deny, and the kind of reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    fn allow(reason: Reason) -> Self {
        Decision { effect: Effect::Allow, reason }
    }

    fn deny(reason: Reason) -> Self {
        Decision { effect: Effect::Deny, reason }
    }

    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}

/// What the verdict depends on, for one request and the rules that apply to its agent.
pub(crate) trait Facts {
    /// Does a server rule of `effect` match the server?
    fn server_hit(&mut self, effect: Effect) -> bool;
    /// Does a tool rule of `effect`, keyed by a pattern matching the server, match the tool?
    fn tool_hit(&mut self, effect: Effect) -> bool;
    /// Is there any allow-tool rule keyed by a pattern matching the server?
    fn has_allow_tools(&mut self) -> bool;
}

/// The semantics of DESIGN.md section 4, in one place.
pub(crate) fn judge(facts: &mut impl Facts, tool_request: bool) -> Decision {
    if facts.server_hit(Effect::Deny) || (tool_request && facts.tool_hit(Effect::Deny)) {
        return Decision::deny(Reason::ExplicitDeny);
    }
    if !facts.server_hit(Effect::Allow) {
        return Decision::deny(if tool_request { Reason::ServerDenied } else { Reason::NoMatchingAllow });
    }
    if !tool_request {
        return Decision::allow(Reason::AllowedByRule);
    }
    if !facts.has_allow_tools() {
        return Decision::allow(Reason::ImplicitGrant);
    }
    if facts.tool_hit(Effect::Allow) {
        Decision::allow(Reason::AllowedByRule)
    } else {
        Decision::deny(Reason::NoMatchingAllow)
    }
}

/// Who a request is judged as.
#[derive(Debug, Clone)]
pub(crate) enum Resolution<'t> {
    /// These units apply. `via_default` is true when the default agent stands in.
    Units { id: &'t str, units: Cow<'t, [u32]>, via_default: bool },
    /// A well-formed id that no key matches (and no default stands in).
    Unknown,
    /// Missing with no default agent, or malformed.
    Invalid,
}

impl Resolution<'_> {
    pub(crate) fn units(&self) -> Option<&[u32]> {
        match self {
            Resolution::Units { units, .. } => Some(units),
            _ => None,
        }
    }
}

impl DecisionTable {
    /// Decides a request. This is the fast path: it stops at the first rule that settles the
    /// answer, and it agrees with [`explain`](DecisionTable::explain) by construction.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        // An exact agent key on a server its own blocks name: the flattened facts. A missing id is
        // judged as the default agent, as `resolve` does; an id found here is an exact key, so
        // it is well-formed and `resolve` would have found the same units.
        if let Some(entry) = self.requested_id(req.agent).and_then(|(id, _)| self.fast.get(id, req.server)) {
            return judge(&mut FastFacts { entry, tool: req.tool, tool_mask: None }, req.tool.is_some());
        }
        let units = match self.resolve(req.agent) {
            Resolution::Units { units, .. } => units,
            Resolution::Unknown => return Decision::deny(Reason::UnknownAgent),
            Resolution::Invalid => return Decision::deny(Reason::InvalidAgent),
        };
        let mut facts = LazyFacts { views: self.views(&units, req.server), server: req.server, tool: req.tool };
        judge(&mut facts, req.tool.is_some())
    }

    /// Whether requests from `agent` are judged by some rules at all (it is well formed and
    /// known, or the default agent stands in). When false, every decision for it is an
    /// `unknown_agent` or `invalid_agent` denial.
    pub fn agent_is_resolvable(&self, agent: Option<&str>) -> bool {
        matches!(self.resolve(agent), Resolution::Units { .. })
    }

    /// Resolves an agent id per DESIGN.md section 4 (default agent, unknown ids fail closed).
    pub(crate) fn resolve<'t>(&'t self, agent: Option<&'t str>) -> Resolution<'t> {
        let Some((id, via_default)) = self.requested_id(agent) else { return Resolution::Invalid };
        if !is_valid_agent_id(id) {
            return Resolution::Invalid;
        }
        if let Some(units) = self.lookup(id) {
            return Resolution::Units { id, units, via_default };
        }
        if !via_default
            && !self.defaults.deny_on_missing_agent
            && let Some(d) = self.default_agent.as_deref()
            && let Some(units) = self.lookup(d)
        {
            return Resolution::Units { id: d, units, via_default: true };
        }
        Resolution::Unknown
    }

    /// The id a request is judged by before any lookup: its own when it names one, else the
    /// default agent's (and whether it is that), else none.
    #[inline]
    fn requested_id<'t>(&'t self, agent: Option<&'t str>) -> Option<(&'t str, bool)> {
        match agent.filter(|a| !a.is_empty()) {
            Some(a) => Some((a, false)),
            None => self.default_agent.as_deref().map(|d| (d, true)),
        }
    }

    /// Each unit's view of `server`.
    pub(crate) fn views<'t>(&'t self, units: &[u32], server: &str) -> Views<'t> {
        let mut iter = units.iter().filter_map(|&u| self.units.get(u as usize)).map(|u| u.view(server));
        match (iter.next(), iter.next()) {
            (None, _) => Views::Many(Vec::new()),
            (Some(first), None) => Views::One(first),
            (Some(first), Some(second)) => {
                let mut all = vec![first, second];
                all.extend(iter);
                Views::Many(all)
            }
        }
    }
}

/// The views of every unit that applies; one unit is by far the common case.
#[derive(Debug, Clone)]
pub(crate) enum Views<'t> {
    One(ServerView<'t>),
    Many(Vec<ServerView<'t>>),
}

impl<'t> Views<'t> {
    #[inline]
    fn any(&self, f: impl Fn(&ServerView<'t>) -> bool) -> bool {
        match self {
            Views::One(v) => f(v),
            Views::Many(vs) => vs.iter().any(f),
        }
    }

    pub(crate) fn as_slice(&self) -> &[ServerView<'t>] {
        match self {
            Views::One(v) => std::slice::from_ref(v),
            Views::Many(vs) => vs,
        }
    }
}

/// Facts computed on demand, stopping at the first hit.
struct LazyFacts<'t, 'r> {
    views: Views<'t>,
    server: &'r str,
    tool: Option<&'r str>,
}

impl Facts for LazyFacts<'_, '_> {
    #[inline]
    fn server_hit(&mut self, effect: Effect) -> bool {
        self.views.any(|v| v.server_hit(effect, self.server))
    }

    #[inline]
    fn tool_hit(&mut self, effect: Effect) -> bool {
        match self.tool {
            Some(tool) => self.views.any(|v| v.tool_hit(effect, self.server, tool)),
            None => false,
        }
    }

    #[inline]
    fn has_allow_tools(&mut self) -> bool {
        self.views.any(|v| v.has_allow_tools(self.server))
    }
}

/// Facts read from the flattened table ([`FastEntry`]).
struct FastFacts<'t, 'r> {
    entry: FastEntry<'t>,
    tool: Option<&'r str>,
    /// The tool name's byte mask, computed at most once.
    tool_mask: Option<u64>,
}

impl Facts for FastFacts<'_, '_> {
    #[inline]
    fn server_hit(&mut self, effect: Effect) -> bool {
        self.entry.server_hit(effect)
    }

    #[inline]
    fn tool_hit(&mut self, effect: Effect) -> bool {
        self.tool.is_some_and(|tool| self.entry.tool_hit(effect, tool, &mut self.tool_mask))
    }

    #[inline]
    fn has_allow_tools(&mut self) -> bool {
        self.entry.has_allow_tools()
    }
}

//! Decisions: agent resolution, and the one verdict function that both the fast path and the
//! explain path run.
//!
//! [`judge`] is written once against the [`Facts`] trait. The fast path feeds it lazy facts
//! that stop at the first matching rule; the explain path feeds it facts that collect every
//! matching rule first. Since both go through the same function, they cannot disagree.

use std::borrow::Cow;

use crate::policy::ast::{Effect, ItemKind};
use crate::policy::compile::fast::FastEntry;
use crate::policy::compile::unit::ServerView;
use crate::policy::table::DecisionTable;
use crate::policy::validate::is_valid_agent_id;

/// A question for the policy: may this agent reach this server (and this item on it)?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request<'a> {
    /// The agent id as given; `None` or empty means "not given".
    pub agent: Option<&'a str>,
    /// The server name.
    pub server: &'a str,
    /// The tool, resource or prompt asked about; `None` asks about the server only.
    pub item: Option<Item<'a>>,
}

/// What on a server a request asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item<'a> {
    /// A tool, by name.
    Tool(&'a str),
    /// A resource, by URI.
    Resource(&'a str),
    /// A prompt, by name.
    Prompt(&'a str),
}

impl<'a> Item<'a> {
    /// An item of `kind` named `name`.
    pub fn new(kind: ItemKind, name: &'a str) -> Self {
        match kind {
            ItemKind::Tool => Item::Tool(name),
            ItemKind::Resource => Item::Resource(name),
            ItemKind::Prompt => Item::Prompt(name),
        }
    }

    /// Which kind of item this is.
    #[inline]
    pub fn kind(&self) -> ItemKind {
        match self {
            Item::Tool(_) => ItemKind::Tool,
            Item::Resource(_) => ItemKind::Resource,
            Item::Prompt(_) => ItemKind::Prompt,
        }
    }

    /// The tool name, resource URI or prompt name.
    #[inline]
    pub fn name(&self) -> &'a str {
        match self {
            Item::Tool(n) | Item::Resource(n) | Item::Prompt(n) => n,
        }
    }
}

impl<'a> Request<'a> {
    /// May `agent` reach `server` at all (list it, see its tools)?
    pub fn server(agent: Option<&'a str>, server: &'a str) -> Self {
        Request { agent, server, item: None }
    }

    /// May `agent` call `tool` on `server`?
    pub fn tool(agent: Option<&'a str>, server: &'a str, tool: &'a str) -> Self {
        Request { agent, server, item: Some(Item::Tool(tool)) }
    }

    /// May `agent` read the resource at `uri` on `server`?
    pub fn resource(agent: Option<&'a str>, server: &'a str, uri: &'a str) -> Self {
        Request { agent, server, item: Some(Item::Resource(uri)) }
    }

    /// May `agent` get `prompt` on `server`?
    pub fn prompt(agent: Option<&'a str>, server: &'a str, prompt: &'a str) -> Self {
        Request { agent, server, item: Some(Item::Prompt(prompt)) }
    }

    /// The tool name, for a tool request.
    pub fn tool_name(&self) -> Option<&'a str> {
        match self.item {
            Some(Item::Tool(t)) => Some(t),
            _ => None,
        }
    }

    /// The kind of item asked about; a server-only request is judged on the tool units,
    /// which hold the same server rules as every kind's.
    #[inline]
    pub(crate) fn kind(&self) -> ItemKind {
        self.item.map_or(ItemKind::Tool, |i| i.kind())
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
    /// The server is allowed and the agent has no allow rules of the item's kind for it, so
    /// all its items of that kind are allowed except denied ones.
    ImplicitGrant,
    /// No allow rule matched (the server, or the item on a server with allow rules of its kind).
    NoMatchingAllow,
    /// A tool, resource or prompt was asked for on a server that no allow rule grants.
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
    /// Does an item rule of `effect` (of the request's kind), keyed by a pattern matching the
    /// server, match the item?
    fn tool_hit(&mut self, effect: Effect) -> bool;
    /// Is there any allow rule of the request's kind keyed by a pattern matching the server?
    fn has_allow_tools(&mut self) -> bool;
}

/// The semantics of DESIGN.md section 4 (and 12, for resources and prompts), in one place.
/// `tool_request` is true for any item request; the facts are those of the item's kind.
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
        let (kind, name) = match req.item {
            None => (ItemKind::Tool, None),
            Some(Item::Tool(t)) => (ItemKind::Tool, Some(t)),
            Some(item) => (item.kind(), Some(item.name())),
        };
        if kind == ItemKind::Tool
            && let Some(entry) = self.requested_id(req.agent).and_then(|(id, _)| self.fast.get(id, req.server))
        {
            return judge(&mut FastFacts { entry, tool: name, tool_mask: None }, name.is_some());
        }
        let units = match self.resolve(req.agent) {
            Resolution::Units { units, .. } => units,
            Resolution::Unknown => return Decision::deny(Reason::UnknownAgent),
            Resolution::Invalid => return Decision::deny(Reason::InvalidAgent),
        };
        let mut facts = LazyFacts { views: self.views(kind, &units, req.server), server: req.server, tool: name };
        judge(&mut facts, name.is_some())
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

    /// Each unit's view of `server`, for items of `kind`.
    pub(crate) fn views<'t>(&'t self, kind: ItemKind, units: &[u32], server: &str) -> Views<'t> {
        let all = self.units_of(kind);
        let mut iter = units.iter().filter_map(|&u| all.get(u as usize)).map(|u| u.view(server));
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

#[cfg(test)]
mod kind_tests {
    use crate::policy::{DecisionTable, PolicySet, Request};

    fn table() -> DecisionTable {
        let p = PolicySet::from_json_str(
            "r.json",
            r#"{"agents": {"docs": {"allow": {"servers": ["files", "web"], "resources": {"files": ["file:///srv/docs/*"]},
                                             "prompts": {"*": ["review_*"]}, "tools": {"web": ["get"]}},
                                   "deny":  {"resources": {"*": ["*secret*"]}, "prompts": {"web": ["review_admin"]}}}}}"#,
        )
        .unwrap();
        DecisionTable::compile(&p).unwrap()
    }

    #[test]
    fn resources_and_prompts_follow_section_4_per_kind() {
        let t = table();
        let d = |r: Request<'_>| {
            let fast = t.decide(&r);
            assert_eq!(t.explain(&r).to_decision(), fast, "{r:?}");
            (fast.is_allowed(), fast.reason.as_str())
        };
        let a = Some("docs");
        assert_eq!(d(Request::resource(a, "files", "file:///srv/docs/a.md")), (true, "allowed_by_rule"));
        assert_eq!(d(Request::resource(a, "files", "file:///srv/other")), (false, "no_matching_allow"));
        assert_eq!(d(Request::resource(a, "files", "file:///srv/docs/secret.md")), (false, "explicit_deny"));
        // `web` has no allow-resource rules: the implicit grant, though it has allow-tool rules.
        assert_eq!(d(Request::resource(a, "web", "https://x/?q=1#f")), (true, "implicit_grant"));
        assert_eq!(d(Request::resource(a, "web", "https://x/secret")), (false, "explicit_deny"));
        assert_eq!(d(Request::resource(a, "db", "file:///srv/docs/a")), (false, "server_denied"));
        // `?` and `.` are literal.
        assert_eq!(d(Request::resource(a, "files", "file:///srv/docsXa")), (false, "no_matching_allow"));
        assert_eq!(d(Request::prompt(a, "files", "review_code")), (true, "allowed_by_rule"));
        assert_eq!(d(Request::prompt(a, "files", "summarize")), (false, "no_matching_allow"));
        assert_eq!(d(Request::prompt(a, "web", "review_admin")), (false, "explicit_deny"));
        // Tool rules are untouched by the other kinds.
        assert_eq!(d(Request::tool(a, "files", "review_code")), (true, "implicit_grant"));
        assert_eq!(d(Request::tool(a, "web", "get")), (true, "allowed_by_rule"));
        assert_eq!(d(Request::tool(a, "web", "secret")), (false, "no_matching_allow"));
        let why = t.explain(&Request::resource(a, "files", "file:///srv/docs/secret.md"));
        assert_eq!(why.determining_rules[0].location, "agents.docs.deny.resources[\"*\"][0]");
        let overridden: Vec<&str> = why.overridden_allows.iter().map(|r| r.location.as_str()).collect();
        assert_eq!(overridden, ["agents.docs.allow.servers[0]", "agents.docs.allow.resources.files[0]"]);
        assert_eq!(why.resource.as_deref(), Some("file:///srv/docs/secret.md"));
        assert!(why.summary.starts_with("resource `file:///srv/docs/secret.md` on server `files` is denied"));
    }
}

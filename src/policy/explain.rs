//! Explanations: a decision with the rules that determined it, for audits and for people.

use std::fmt;

use crate::policy::ast::{Effect, ItemKind};
use crate::policy::decide::{Decision, Facts, Reason, Request, Resolution, judge};
use crate::policy::table::{DecisionTable, RuleInfo};

/// A decision with everything needed to audit it.
///
/// `determining_rules` holds every matching deny rule when the decision is deny, every matching
/// allow rule when it is allow, and nothing for a default deny. `overridden_allows` holds the
/// allow rules that matched but lost to a deny.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// Allow or deny.
    pub decision: Effect,
    /// The kind of reason.
    pub reason: Reason,
    /// The agent id as given (`None` when missing).
    pub agent: Option<String>,
    /// The agent whose rules were applied, when that is the default agent standing in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_as: Option<String>,
    /// The server asked about.
    pub server: String,
    /// The tool asked about, for a tool decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The resource URI asked about, for a resource decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The prompt asked about, for a prompt decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The rules that decided, in source order.
    pub determining_rules: Vec<RuleRef>,
    /// Allow rules that matched but were overridden by a deny, in source order.
    pub overridden_allows: Vec<RuleRef>,
    /// The policy snapshot's content hash.
    pub snapshot: String,
    /// One sentence for people.
    pub summary: String,
}

/// One rule, as shown in explanations and audit records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleRef {
    /// The rule's number in [`PolicySet::rules`](crate::policy::PolicySet::rules) order.
    #[serde(skip)]
    pub id: u32,
    /// Allow or deny.
    pub effect: Effect,
    /// The agent key of the block the rule is in.
    pub agent: String,
    /// The server pattern (server rules) or server key (tool, resource and prompt rules).
    pub server: String,
    /// The tool pattern, for tool rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The resource URI pattern, for resource rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The prompt pattern, for prompt rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The pattern that matched: the item pattern for item rules, else the server pattern.
    pub pattern: String,
    /// Where it is written: a JSON path (`agents.backend.deny.tools.postgres[0]`) or a DSL
    /// location (`policy.mcpgw:12:5`).
    pub location: String,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}` at {}", self.effect.as_str(), self.pattern, self.location)
    }
}

impl Explanation {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == Effect::Allow
    }

    /// The decision alone.
    pub fn to_decision(&self) -> Decision {
        Decision { effect: self.decision, reason: self.reason }
    }
}

impl DecisionTable {
    /// Decides a request and says why. Gives the same decision as
    /// [`decide`](DecisionTable::decide), through the same verdict function.
    pub fn explain(&self, req: &Request<'_>) -> Explanation {
        let resolution = self.resolve(req.agent);
        let mut facts = EagerFacts::default();
        let (decision, judged_as) = match &resolution {
            Resolution::Units { id, units, via_default } => {
                facts.collect(self, units, req);
                let decision = judge(&mut facts, req.item.is_some());
                (decision, via_default.then(|| (*id).to_owned()))
            }
            Resolution::Unknown => (Decision { effect: Effect::Deny, reason: Reason::UnknownAgent }, None),
            Resolution::Invalid => (Decision { effect: Effect::Deny, reason: Reason::InvalidAgent }, None),
        };
        let (determining, overridden) = match (decision.effect, decision.reason) {
            (Effect::Deny, Reason::ExplicitDeny) => (facts.denies(), facts.allows()),
            (Effect::Deny, _) => (Vec::new(), Vec::new()),
            (Effect::Allow, _) => (facts.allows(), Vec::new()),
        };
        let determining_rules: Vec<RuleRef> = determining.iter().filter_map(|&id| self.rule_ref(id)).collect();
        let summary = summarize(decision.reason, req, determining_rules.first(), judged_as.as_deref());
        Explanation {
            decision: decision.effect,
            reason: decision.reason,
            agent: req.agent.filter(|a| !a.is_empty()).map(str::to_owned),
            judged_as,
            server: req.server.to_owned(),
            tool: req.tool_name().map(str::to_owned),
            resource: item_name(req, ItemKind::Resource),
            prompt: item_name(req, ItemKind::Prompt),
            determining_rules,
            overridden_allows: overridden.iter().filter_map(|&id| self.rule_ref(id)).collect(),
            snapshot: self.snapshot.to_string(),
            summary,
        }
    }

    fn rule_ref(&self, id: u32) -> Option<RuleRef> {
        let rule: &RuleInfo = self.rules.get(id as usize)?;
        let location = match &rule.source.path {
            Some(path) => path.clone(),
            None => format!("{}:{}:{}", self.source_name, rule.source.span.line, rule.source.span.column),
        };
        let of = |kind: ItemKind| rule.item.as_ref().filter(|(k, _)| *k == kind).map(|(_, p)| p.to_string());
        Some(RuleRef {
            id,
            effect: rule.effect,
            agent: rule.agent.to_string(),
            server: rule.server.to_string(),
            tool: of(ItemKind::Tool),
            resource: of(ItemKind::Resource),
            prompt: of(ItemKind::Prompt),
            pattern: rule.item.as_ref().map_or(&rule.server, |(_, p)| p).to_string(),
            location,
        })
    }
}

fn item_name(req: &Request<'_>, kind: ItemKind) -> Option<String> {
    req.item.filter(|i| i.kind() == kind).map(|i| i.name().to_owned())
}

fn summarize(reason: Reason, req: &Request<'_>, first: Option<&RuleRef>, judged_as: Option<&str>) -> String {
    let target = match req.item {
        Some(item) => format!("{} `{}` on server `{}`", item.kind().as_str(), item.name(), req.server),
        None => format!("server `{}`", req.server),
    };
    let rule = first.map(|r| format!(" (rule `{}` at {})", r.pattern, r.location)).unwrap_or_default();
    let as_default = judged_as.map(|d| format!(", judged as default agent `{d}`")).unwrap_or_default();
    match reason {
        Reason::ExplicitDeny => format!("{target} is denied by a deny rule{rule}{as_default}"),
        Reason::AllowedByRule => format!("{target} is allowed by an allow rule{rule}{as_default}"),
        Reason::ImplicitGrant => {
            let kinds = req.kind().plural();
            format!(
                "{target} is allowed: access to the server grants its {kinds} that are not denied{rule}{as_default}"
            )
        }
        Reason::NoMatchingAllow => format!("{target} is denied: no allow rule matches{as_default}"),
        Reason::ServerDenied => {
            format!("{target} is denied: no allow rule grants server `{}`{as_default}", req.server)
        }
        Reason::UnknownAgent => {
            format!("{target} is denied: agent `{}` is not in the policy", req.agent.unwrap_or_default())
        }
        Reason::InvalidAgent => match req.agent.filter(|a| !a.is_empty()) {
            Some(a) => format!(
                "{target} is denied: agent id `{}` is malformed (use letters, digits, `_`, `.` and `-`)",
                a.escape_debug()
            ),
            None => format!("{target} is denied: no agent id was given and there is no default agent"),
        },
    }
}

/// Facts collected in full: every matching rule of each kind.
#[derive(Debug, Default)]
struct EagerFacts {
    deny_server: Vec<u32>,
    allow_server: Vec<u32>,
    deny_tool: Vec<u32>,
    allow_tool: Vec<u32>,
    has_allow_tools: bool,
}

impl EagerFacts {
    fn collect(&mut self, table: &DecisionTable, units: &[u32], req: &Request<'_>) {
        let views = table.views(req.kind(), units, req.server);
        for v in views.as_slice() {
            v.collect_server(Effect::Deny, req.server, &mut self.deny_server);
            v.collect_server(Effect::Allow, req.server, &mut self.allow_server);
            if let Some(tool) = req.item.map(|i| i.name()) {
                v.collect_tool(Effect::Deny, req.server, tool, &mut self.deny_tool);
                v.collect_tool(Effect::Allow, req.server, tool, &mut self.allow_tool);
                self.has_allow_tools |= v.has_allow_tools(req.server);
            }
        }
    }

    fn denies(&self) -> Vec<u32> {
        sorted_union(&self.deny_server, &self.deny_tool)
    }

    fn allows(&self) -> Vec<u32> {
        sorted_union(&self.allow_server, &self.allow_tool)
    }
}

fn sorted_union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut all: Vec<u32> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl Facts for EagerFacts {
    fn server_hit(&mut self, effect: Effect) -> bool {
        match effect {
            Effect::Deny => !self.deny_server.is_empty(),
            Effect::Allow => !self.allow_server.is_empty(),
        }
    }

    fn tool_hit(&mut self, effect: Effect) -> bool {
        match effect {
            Effect::Deny => !self.deny_tool.is_empty(),
            Effect::Allow => !self.allow_tool.is_empty(),
        }
    }

    fn has_allow_tools(&mut self) -> bool {
        self.has_allow_tools
    }
}

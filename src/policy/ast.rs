//! The policy's abstract syntax: what both the JSON rules and the `.mcpgw` language lower into.
//!
//! Nothing after this module knows which syntax a rule came from. A rule only carries a
//! [`RuleSource`], which is a JSON path for JSON files and a bare span for DSL files.

use crate::located::Span;

/// A parsed policy: agent blocks and defaults, with every rule's source location.
///
/// Build one with [`PolicySet::from_json_str`], then compile it with
/// [`DecisionTable::compile`](crate::policy::DecisionTable::compile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySet {
    /// The file (or other source name) the policy came from, used in locations.
    pub source_name: String,
    /// Agent blocks in source order. Several blocks may match one agent id.
    pub agents: Vec<AgentPolicy>,
    /// Policy-wide settings.
    pub defaults: Defaults,
}

/// The rules under one key of `agents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPolicy {
    /// An agent id, or an id pattern such as `backend.*`.
    pub key: Pattern,
    /// What the matching agents may reach.
    pub allow: RuleBlock,
    /// What the matching agents may never reach; wins over every allow.
    pub deny: RuleBlock,
    /// Rate limits for the matching agents; enforced by the gateway, not by decisions.
    pub limits: AgentLimits,
}

/// Per-agent rate limits. `None` means unlimited.
///
/// Limits are not part of the allow/deny decision: the gateway enforces them around calls,
/// and they reload with the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AgentLimits {
    /// Gateway tool calls per second (a token bucket with this rate and burst).
    pub requests_per_second: Option<u32>,
    /// Downstream `execute_tool` calls in flight at once.
    pub max_concurrent_calls: Option<u32>,
}

impl AgentLimits {
    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_second.is_none() && self.max_concurrent_calls.is_none()
    }
}

/// The server and tool rules on one side (allow or deny) of an agent block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleBlock {
    /// Server-name patterns.
    pub servers: Vec<Pattern>,
    /// Tool-name patterns grouped by a server-name pattern.
    pub tools: Vec<ToolRules>,
}

/// Tool patterns that apply to every server whose name matches `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRules {
    /// A server-name pattern; `*` applies the tool patterns to every server.
    pub server: Pattern,
    /// Tool-name patterns.
    pub tools: Vec<Pattern>,
}

/// A glob (`*` matches any run of characters, everything else is literal) and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern text, exactly as written.
    pub text: String,
    /// Where it was written.
    pub source: RuleSource,
}

/// Where a pattern was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RuleSource {
    /// The JSON path (`agents.backend.deny.tools.postgres[0]`), for JSON sources.
    pub path: Option<String>,
    /// Line and column in the source file.
    pub span: Span,
}

/// Policy-wide settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// Deny an agent id that no key matches (the default). When false, such an id is judged by
    /// the default agent's rules, and still denied if there is no default agent.
    pub deny_on_missing_agent: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { deny_on_missing_agent: true }
    }
}

/// Whether a rule grants or forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The rule grants access.
    Allow,
    /// The rule forbids access.
    Deny,
}

impl Effect {
    /// The effect as policies, explanations and audit lines write it: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// One rule of a policy, seen through its agent block.
///
/// [`PolicySet::rules`] numbers rules in a fixed order; the compiled table and the reference
/// interpreter both use those numbers, so their explanations can be compared rule by rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleView<'p> {
    /// Index of the agent block in [`PolicySet::agents`].
    pub agent_index: usize,
    /// The agent block's key.
    pub agent: &'p Pattern,
    /// Allow or deny.
    pub effect: Effect,
    /// The server pattern (for a server rule) or the server key (for a tool rule).
    pub server: &'p Pattern,
    /// The tool pattern, for a tool rule.
    pub tool: Option<&'p Pattern>,
}

impl RuleView<'_> {
    /// The pattern this rule contributes: the tool pattern for tool rules, else the server pattern.
    pub fn pattern(&self) -> &Pattern {
        self.tool.unwrap_or(self.server)
    }
}

impl PolicySet {
    /// An empty policy: every agent is unknown, so everything is denied.
    pub fn empty(source_name: &str) -> Self {
        PolicySet { source_name: source_name.to_owned(), agents: Vec::new(), defaults: Defaults::default() }
    }

    /// Every rule, numbered by position: per agent block, allow before deny, servers before tools.
    pub fn rules(&self) -> impl Iterator<Item = RuleView<'_>> {
        self.agents.iter().enumerate().flat_map(|(agent_index, a)| {
            [(Effect::Allow, &a.allow), (Effect::Deny, &a.deny)].into_iter().flat_map(move |(effect, block)| {
                let servers = block.servers.iter().map(move |server| RuleView {
                    agent_index,
                    agent: &a.key,
                    effect,
                    server,
                    tool: None,
                });
                let tools = block.tools.iter().flat_map(move |tr| {
                    tr.tools.iter().map(move |tool| RuleView {
                        agent_index,
                        agent: &a.key,
                        effect,
                        server: &tr.server,
                        tool: Some(tool),
                    })
                });
                servers.chain(tools)
            })
        })
    }
}

impl RuleBlock {
    /// The tool rules grouped by server pattern, in first-seen order, with empty groups left
    /// out: the shape both printers write (JSON objects cannot repeat a key).
    pub fn tools_by_server(&self) -> Vec<(&Pattern, Vec<&Pattern>)> {
        let mut groups: Vec<(&Pattern, Vec<&Pattern>)> = Vec::new();
        let mut index: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
        for rules in &self.tools {
            match index.get(rules.server.text.as_str()).and_then(|&i| groups.get_mut(i)) {
                Some((_, tools)) => tools.extend(&rules.tools),
                None => {
                    index.insert(&rules.server.text, groups.len());
                    groups.push((&rules.server, rules.tools.iter().collect()));
                }
            }
        }
        groups.retain(|(_, tools)| !tools.is_empty());
        groups
    }

    /// Whether the block holds no rules at all.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.tools.iter().all(|t| t.tools.is_empty())
    }
}

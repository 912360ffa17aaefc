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

/// The server, tool, resource and prompt rules on one side (allow or deny) of an agent block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleBlock {
    /// Server-name patterns.
    pub servers: Vec<Pattern>,
    /// Tool-name patterns grouped by a server-name pattern.
    pub tools: Vec<ToolRules>,
    /// Resource-URI patterns grouped by a server-name pattern.
    pub resources: Vec<ToolRules>,
    /// Prompt-name patterns grouped by a server-name pattern.
    pub prompts: Vec<ToolRules>,
}

/// Item patterns (tool names, resource URIs or prompt names, by the list that holds them)
/// that apply to every server whose name matches `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRules {
    /// A server-name pattern; `*` applies the patterns to every server.
    pub server: Pattern,
    /// The item patterns (named `tools` for the kind that came first).
    pub tools: Vec<Pattern>,
}

/// What a rule under a server key is about: each kind is judged on its own, with the same
/// semantics (DESIGN.md sections 4 and 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A tool name.
    Tool,
    /// A resource URI.
    Resource,
    /// A prompt name.
    Prompt,
}

impl ItemKind {
    /// Every kind, in the order rules are numbered and printed.
    pub const ALL: [ItemKind; 3] = [ItemKind::Tool, ItemKind::Resource, ItemKind::Prompt];

    /// The singular word: `tool`, `resource` or `prompt`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Tool => "tool",
            ItemKind::Resource => "resource",
            ItemKind::Prompt => "prompt",
        }
    }

    /// The word both syntaxes use for the rules: `tools`, `resources` or `prompts`.
    pub fn plural(self) -> &'static str {
        match self {
            ItemKind::Tool => "tools",
            ItemKind::Resource => "resources",
            ItemKind::Prompt => "prompts",
        }
    }

    /// What one pattern of this kind is called in messages.
    pub fn pattern_what(self) -> &'static str {
        match self {
            ItemKind::Tool => "tool pattern",
            ItemKind::Resource => "resource uri pattern",
            ItemKind::Prompt => "prompt pattern",
        }
    }
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
    /// The server pattern (for a server rule) or the server key (for a tool, resource or
    /// prompt rule).
    pub server: &'p Pattern,
    /// The kind and pattern of an item rule; `None` for a server rule.
    pub item: Option<(ItemKind, &'p Pattern)>,
}

impl<'p> RuleView<'p> {
    /// The pattern this rule contributes: the item pattern for item rules, else the server pattern.
    pub fn pattern(&self) -> &'p Pattern {
        self.item.map_or(self.server, |(_, p)| p)
    }

    /// The tool pattern, for a tool rule.
    pub fn tool(&self) -> Option<&'p Pattern> {
        self.item_of(ItemKind::Tool)
    }

    /// The item pattern, for a rule of `kind`.
    pub fn item_of(&self, kind: ItemKind) -> Option<&'p Pattern> {
        self.item.filter(|(k, _)| *k == kind).map(|(_, p)| p)
    }
}

impl PolicySet {
    /// An empty policy: every agent is unknown, so everything is denied.
    pub fn empty(source_name: &str) -> Self {
        PolicySet { source_name: source_name.to_owned(), agents: Vec::new(), defaults: Defaults::default() }
    }

    /// Every rule, numbered by position: per agent block, allow before deny, then servers,
    /// tools, resources and prompts.
    pub fn rules(&self) -> impl Iterator<Item = RuleView<'_>> {
        self.agents.iter().enumerate().flat_map(|(agent_index, a)| {
            [(Effect::Allow, &a.allow), (Effect::Deny, &a.deny)].into_iter().flat_map(move |(effect, block)| {
                let servers = block.servers.iter().map(move |server| RuleView {
                    agent_index,
                    agent: &a.key,
                    effect,
                    server,
                    item: None,
                });
                let items = ItemKind::ALL.into_iter().flat_map(move |kind| {
                    block.items(kind).iter().flat_map(move |tr| {
                        tr.tools.iter().map(move |p| RuleView {
                            agent_index,
                            agent: &a.key,
                            effect,
                            server: &tr.server,
                            item: Some((kind, p)),
                        })
                    })
                });
                servers.chain(items)
            })
        })
    }
}

impl RuleBlock {
    /// The tool rules grouped by server pattern, in first-seen order, with empty groups left
    /// out: the shape both printers write (JSON objects cannot repeat a key).
    pub fn tools_by_server(&self) -> Vec<(&Pattern, Vec<&Pattern>)> {
        self.items_by_server(ItemKind::Tool)
    }

    /// The rules of `kind` grouped by server pattern, as [`tools_by_server`](Self::tools_by_server).
    pub fn items_by_server(&self, kind: ItemKind) -> Vec<(&Pattern, Vec<&Pattern>)> {
        let mut groups: Vec<(&Pattern, Vec<&Pattern>)> = Vec::new();
        let mut index: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
        for rules in self.items(kind) {
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
        self.servers.is_empty() && ItemKind::ALL.iter().all(|&k| self.items(k).iter().all(|t| t.tools.is_empty()))
    }

    /// The rules of one kind.
    pub fn items(&self, kind: ItemKind) -> &[ToolRules] {
        match kind {
            ItemKind::Tool => &self.tools,
            ItemKind::Resource => &self.resources,
            ItemKind::Prompt => &self.prompts,
        }
    }

    /// The rules of one kind, to add to.
    pub fn items_mut(&mut self, kind: ItemKind) -> &mut Vec<ToolRules> {
        match kind {
            ItemKind::Tool => &mut self.tools,
            ItemKind::Resource => &mut self.resources,
            ItemKind::Prompt => &mut self.prompts,
        }
    }
}

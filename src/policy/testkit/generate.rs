//! The random-policy generator: one algorithm for the property tests, the fuzz targets and
//! the benchmarks, shaped by a [`Shape`] (how many of everything, how often each choice goes
//! which way) and a [`Vocabulary`] (the names it writes).
//!
//! Each agent block draws its server names from the vocabulary, shuffles them, allows the
//! first few (sometimes through `*` instead), denies one of the others, leaves one allowed
//! server without allow-tool rules (so that it is reached through the implicit grant), and
//! then writes tool rules one at a time: allow or deny, keyed mostly by an allowed server,
//! sometimes by another one or by `*`, the tool pattern from the vocabulary (some of them
//! resource or prompt rules instead, when the shape asks for them). Rules keyed by
//! the same server within a block share one group, as both syntaxes write them.

use crate::policy::ast::{
    AgentLimits, AgentPolicy, Defaults, ItemKind, Pattern, PolicySet, RuleBlock, RuleSource, ToolRules,
};
use crate::policy::decide::{Item, Request};
use crate::policy::testkit::choices::Choices;

/// The names a generated policy is written in.
pub trait Vocabulary {
    /// The server names one block's rules are about, before the block picks which it allows.
    fn servers(&mut self, c: &mut Choices<'_>) -> Vec<String>;
    /// The key of block `block` of `blocks`.
    fn agent_key(&mut self, c: &mut Choices<'_>, block: usize, blocks: usize) -> String;
    /// The pattern of one tool rule.
    fn tool_pattern(&mut self, c: &mut Choices<'_>) -> String;
    /// The pattern of one rule of `kind`; tool patterns unless the vocabulary has better words.
    fn item_pattern(&mut self, c: &mut Choices<'_>, kind: ItemKind) -> String {
        let _ = kind;
        self.tool_pattern(c)
    }
}

/// How many of something: a fixed number, or one drawn below a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Exactly this many (no draw).
    Exactly(usize),
    /// A number in `0..n`.
    Below(usize),
}

impl Count {
    fn draw(self, c: &mut Choices<'_>) -> usize {
        match self {
            Count::Exactly(n) => n,
            Count::Below(n) => c.below(n),
        }
    }
}

/// How a generated policy is shaped. Percentages are chances out of 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The policy's source name.
    pub source_name: &'static str,
    /// Agent blocks.
    pub blocks: Count,
    /// Keep only the first block of each key (both syntaxes require unique keys; the AST
    /// does not).
    pub unique_keys: bool,
    /// Rules per block: with `Exactly`, server rules included; with `Below`, tool rules only.
    pub rules: Count,
    /// Servers a block allows: `allowed.0` plus a number below `allowed.1`.
    pub allowed: (usize, usize),
    /// A block allows `*` in place of its first allowed server.
    pub allow_any_server: u64,
    /// A block denies one server it does not allow (or, when it allows all, one it does).
    pub deny_server: u64,
    /// A block leaves one allowed server without allow-tool rules.
    pub open_server: u64,
    /// A tool rule is a deny rule.
    pub deny_rule: u64,
    /// A tool rule is keyed by `*`: for allow rules, for deny rules.
    pub any_server_key: [u64; 2],
    /// A tool rule not keyed by `*` is keyed by a server the block does not allow when its
    /// draw (out of 100) is below this.
    pub other_server_key_below: u64,
    /// An item rule is a resource rule, or else a prompt rule, rather than a tool rule. Zero
    /// draws nothing, so shapes without them generate what they did before these kinds.
    pub item_kinds: [u64; 2],
    /// A block has limits.
    pub limits: u64,
    /// `defaults.deny_on_missing_agent` is false.
    pub allow_missing_agent: u64,
}

/// A pattern with no source location.
pub fn pattern(text: impl Into<String>) -> Pattern {
    Pattern { text: text.into(), source: RuleSource::default() }
}

/// A policy of the given shape, in the given words.
pub fn policy(c: &mut Choices<'_>, shape: &Shape, words: &mut dyn Vocabulary) -> PolicySet {
    let blocks = shape.blocks.draw(c);
    let mut agents: Vec<AgentPolicy> = Vec::with_capacity(blocks);
    for i in 0..blocks {
        let key = words.agent_key(c, i, blocks);
        let block = agent(c, shape, words, key);
        if !(shape.unique_keys && agents.iter().any(|a| a.key.text == block.key.text)) {
            agents.push(block);
        }
    }
    let defaults = Defaults { deny_on_missing_agent: !c.chance(shape.allow_missing_agent) };
    PolicySet { source_name: shape.source_name.to_owned(), agents, defaults }
}

/// One agent block keyed `key`, in the shape the module documentation describes.
pub fn agent(c: &mut Choices<'_>, shape: &Shape, words: &mut dyn Vocabulary, key: String) -> AgentPolicy {
    let mut servers = words.servers(c);
    // Shuffle, then take the first few as allowed.
    for i in (1..servers.len()).rev() {
        let j = c.below(i + 1);
        servers.swap(i, j);
    }
    let n_allowed = (shape.allowed.0 + c.below(shape.allowed.1)).min(servers.len());
    let (allowed, others) = servers.split_at(n_allowed);
    let mut allow = RuleBlock { servers: allowed.iter().map(pattern).collect(), ..RuleBlock::default() };
    let mut deny = RuleBlock::default();
    if c.chance(shape.allow_any_server) {
        match allow.servers.first_mut() {
            Some(first) => *first = pattern("*"),
            None => allow.servers.push(pattern("*")),
        }
    }
    if c.chance(shape.deny_server)
        && let Some(denied) = others.first().or(allowed.first())
    {
        deny.servers.push(pattern(denied));
    }
    let open_server = if c.chance(shape.open_server) { c.pick(allowed) } else { None };
    let mut remaining = match shape.rules {
        Count::Exactly(n) => n.saturating_sub(allow.servers.len() + deny.servers.len()),
        Count::Below(n) => c.below(n),
    };
    while remaining > 0 {
        let is_deny = c.chance(shape.deny_rule);
        let draw = c.below(100) as u64;
        let any = shape.any_server_key.get(usize::from(is_deny)).copied().unwrap_or(0);
        let key = if draw < any {
            "*"
        } else if draw < shape.other_server_key_below && !others.is_empty() {
            c.pick(others).map_or("*", String::as_str)
        } else {
            c.pick(allowed).or(others.first()).map_or("*", String::as_str)
        };
        if !is_deny && open_server.is_some_and(|open| open == key) {
            continue;
        }
        let side = if is_deny { &mut deny } else { &mut allow };
        let [resource, prompt] = shape.item_kinds;
        let kind = if c.chance(resource) {
            ItemKind::Resource
        } else if c.chance(prompt) {
            ItemKind::Prompt
        } else {
            ItemKind::Tool
        };
        let tool = pattern(match kind {
            ItemKind::Tool => words.tool_pattern(c),
            kind => words.item_pattern(c, kind),
        });
        let items = side.items_mut(kind);
        match items.iter_mut().find(|t| t.server.text == key) {
            Some(group) => group.tools.push(tool),
            None => items.push(ToolRules { server: pattern(key), tools: vec![tool] }),
        }
        remaining -= 1;
    }
    let limits = if c.chance(shape.limits) { limits(c) } else { AgentLimits::default() };
    AgentPolicy { key: pattern(key), allow, deny, limits }
}

fn limits(c: &mut Choices<'_>) -> AgentLimits {
    let value = |c: &mut Choices<'_>| {
        c.chance(50).then(|| match c.below(4) {
            0 => u32::MAX,
            1 => 1,
            _ => c.word().max(1),
        })
    };
    AgentLimits { requests_per_second: value(c), max_concurrent_calls: value(c) }
}

/// A name that `glob` matches: each `*` filled with one of `fills`.
pub fn matching_name(c: &mut Choices<'_>, glob: &str, fills: &[&str]) -> String {
    let mut out = String::with_capacity(glob.len());
    for (i, part) in glob.split('*').enumerate() {
        if i > 0 {
            out.push_str(c.pick_or(fills, ""));
        }
        out.push_str(part);
    }
    out
}

/// A request with owned strings, so that batches can be built once and borrowed by every
/// check or benchmark iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRequest {
    /// The agent id as given; `None` for a request without one.
    pub agent: Option<String>,
    /// The server.
    pub server: String,
    /// The item's name (a tool name, resource URI or prompt name), for an item request.
    pub tool: Option<String>,
    /// What kind of item `tool` names.
    pub kind: ItemKind,
}

impl OwnedRequest {
    /// A tool request by a named agent.
    pub fn tool(agent: &str, server: &str, tool: &str) -> Self {
        OwnedRequest {
            agent: Some(agent.to_owned()),
            server: server.to_owned(),
            tool: Some(tool.to_owned()),
            kind: ItemKind::Tool,
        }
    }

    /// Borrows it as a [`Request`].
    pub fn as_request(&self) -> Request<'_> {
        Request {
            agent: self.agent.as_deref(),
            server: &self.server,
            item: self.tool.as_deref().map(|name| Item::new(self.kind, name)),
        }
    }

    /// The agent id, empty when there is none.
    pub fn agent_id(&self) -> &str {
        self.agent.as_deref().unwrap_or_default()
    }

    /// The tool name, empty for a server request.
    pub fn tool_name(&self) -> &str {
        self.tool.as_deref().unwrap_or_default()
    }
}

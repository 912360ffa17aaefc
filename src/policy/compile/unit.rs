//! The compiled rules of one agent block, indexed by server.
//!
//! Every server name that the block writes exactly gets a [`ServerEntry`] with everything
//! precomputed: which server rules match it and one tool set per effect that merges every tool
//! rule whose server key matches it (including keys like `*`). A tool decision on such a server
//! is one hash lookup plus one or two tool-set probes. Names the block never writes can only be
//! matched by server globs, which [`OtherServers`] evaluates directly.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::policy::ast::{Effect, RuleView};
use crate::policy::compile::pattern_set::{GlobChecks, GlobTooComplex, IdList, PatternSet, PatternSetBuilder};
use crate::policy::glob::{GlobKind, classify, glob_match};

/// One agent block, compiled.
#[derive(Debug, Clone)]
pub(crate) struct AgentUnit {
    servers: FxHashMap<Box<str>, ServerEntry>,
    other: OtherServers,
}

/// Everything about one exactly named server, precomputed.
#[derive(Debug, Clone)]
pub(crate) struct ServerEntry {
    deny_server: IdList,
    allow_server: IdList,
    deny_tools: PatternSet,
    allow_tools: PatternSet,
}

/// The rules that can apply to server names the block does not write exactly.
#[derive(Debug, Clone)]
pub(crate) struct OtherServers {
    deny_servers: PatternSet,
    allow_servers: PatternSet,
    groups: Vec<ToolGroup>,
}

/// Tool rules under one non-exact server key.
#[derive(Debug, Clone)]
struct ToolGroup {
    server: PatternSet,
    deny: PatternSet,
    allow: PatternSet,
}

/// A unit seen from one server: the precomputed entry, or the general rules.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ServerView<'u> {
    /// The server is named exactly in the block.
    Entry(&'u ServerEntry),
    /// It is not; only server globs can match it.
    Other(&'u OtherServers),
}

impl AgentUnit {
    /// The view of this unit's rules that applies to `server`.
    #[inline]
    pub(crate) fn view(&self, server: &str) -> ServerView<'_> {
        match self.servers.get(server) {
            Some(entry) => ServerView::Entry(entry),
            None => ServerView::Other(&self.other),
        }
    }

    /// The server names this block writes exactly.
    pub(crate) fn server_names(&self) -> impl Iterator<Item = &str> {
        self.servers.keys().map(|k| &**k)
    }

    /// Approximate heap bytes used.
    pub(crate) fn memory_usage(&self) -> usize {
        let entries: usize = self
            .servers
            .iter()
            .map(|(k, e)| {
                k.len()
                    + 64
                    + (e.deny_server.len() + e.allow_server.len()) * 4
                    + e.deny_tools.memory_usage()
                    + e.allow_tools.memory_usage()
            })
            .sum();
        let other = self.other.deny_servers.memory_usage()
            + self.other.allow_servers.memory_usage()
            + self
                .other
                .groups
                .iter()
                .map(|g| g.server.memory_usage() + g.deny.memory_usage() + g.allow.memory_usage())
                .sum::<usize>();
        entries + other
    }
}

impl ServerView<'_> {
    /// Whether a server rule of `effect` matches `server`.
    #[inline]
    pub(crate) fn server_hit(&self, effect: Effect, server: &str) -> bool {
        match (self, effect) {
            (ServerView::Entry(e), Effect::Deny) => !e.deny_server.is_empty(),
            (ServerView::Entry(e), Effect::Allow) => !e.allow_server.is_empty(),
            (ServerView::Other(o), Effect::Deny) => o.deny_servers.is_match(server),
            (ServerView::Other(o), Effect::Allow) => o.allow_servers.is_match(server),
        }
    }

    /// Whether a tool rule of `effect` whose server key matches `server` matches `tool`.
    #[inline]
    pub(crate) fn tool_hit(&self, effect: Effect, server: &str, tool: &str) -> bool {
        match self {
            ServerView::Entry(e) => e.tools(effect).is_match(tool),
            ServerView::Other(o) => o.groups_for(server).any(|g| g.tools(effect).is_match(tool)),
        }
    }

    /// Whether any allow tool rule has a server key that matches `server` (if none does, the
    /// server's access grants all its tools but the denied ones).
    #[inline]
    pub(crate) fn has_allow_tools(&self, server: &str) -> bool {
        match self {
            ServerView::Entry(e) => !e.allow_tools.is_empty(),
            ServerView::Other(o) => o.groups_for(server).any(|g| !g.allow.is_empty()),
        }
    }

    /// Calls `f` with every tool set of `effect` whose server key matches `server`: the sets
    /// that [`tool_hit`](Self::tool_hit) probes.
    pub(crate) fn for_each_tool_set(&self, effect: Effect, server: &str, mut f: impl FnMut(&PatternSet)) {
        match self {
            ServerView::Entry(e) => f(e.tools(effect)),
            ServerView::Other(o) => o.groups_for(server).for_each(|g| f(g.tools(effect))),
        }
    }

    /// Appends the ids of the server rules of `effect` that match `server`.
    pub(crate) fn collect_server(&self, effect: Effect, server: &str, out: &mut Vec<u32>) {
        match (self, effect) {
            (ServerView::Entry(e), Effect::Deny) => out.extend_from_slice(&e.deny_server),
            (ServerView::Entry(e), Effect::Allow) => out.extend_from_slice(&e.allow_server),
            (ServerView::Other(o), Effect::Deny) => o.deny_servers.collect(server, out),
            (ServerView::Other(o), Effect::Allow) => o.allow_servers.collect(server, out),
        }
    }

    /// Appends the ids of the tool rules of `effect` that match `server` and `tool`.
    pub(crate) fn collect_tool(&self, effect: Effect, server: &str, tool: &str, out: &mut Vec<u32>) {
        match self {
            ServerView::Entry(e) => e.tools(effect).collect(tool, out),
            ServerView::Other(o) => {
                for g in o.groups_for(server) {
                    g.tools(effect).collect(tool, out);
                }
            }
        }
    }
}

impl ServerEntry {
    fn tools(&self, effect: Effect) -> &PatternSet {
        match effect {
            Effect::Allow => &self.allow_tools,
            Effect::Deny => &self.deny_tools,
        }
    }
}

impl ToolGroup {
    fn tools(&self, effect: Effect) -> &PatternSet {
        match effect {
            Effect::Allow => &self.allow,
            Effect::Deny => &self.deny,
        }
    }
}

impl OtherServers {
    fn groups_for<'a>(&'a self, server: &'a str) -> impl Iterator<Item = &'a ToolGroup> {
        self.groups.iter().filter(move |g| g.server.is_match(server))
    }
}

/// Compiles the rules of one agent block. `rules` pairs each rule with its id; it holds the
/// block's server rules and its item rules of one kind (the unit of that kind), and every
/// "tool" below stands for an item of that kind.
pub(crate) fn build_unit(rules: &[(u32, RuleView<'_>)], checks: &mut GlobChecks) -> Result<AgentUnit, GlobTooComplex> {
    let mut names: Vec<&str> = Vec::new();
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    // Rules whose server pattern is exact, by name; and the others, to be matched by glob.
    let mut exact_rules: FxHashMap<&str, Vec<(u32, RuleView<'_>)>> = FxHashMap::default();
    let mut glob_rules: Vec<(u32, RuleView<'_>)> = Vec::new();
    for &(id, rule) in rules {
        let server = rule.server.text.as_str();
        if let GlobKind::Exact(name) = classify(server) {
            if seen.insert(name) {
                names.push(name);
            }
            exact_rules.entry(name).or_default().push((id, rule));
        } else {
            glob_rules.push((id, rule));
        }
    }

    let mut servers = FxHashMap::default();
    for name in names {
        let applicable = exact_rules
            .get(name)
            .into_iter()
            .flatten()
            .chain(glob_rules.iter().filter(|(_, r)| glob_match(&r.server.text, name)));
        let mut entry = EntryBuilder::default();
        for &(id, rule) in applicable {
            entry.push(id, rule);
        }
        servers.insert(Box::from(name), entry.build(checks)?);
    }
    Ok(AgentUnit { servers, other: build_other(&glob_rules, checks)? })
}

/// Collects the rules that apply to one exactly named server.
#[derive(Default)]
struct EntryBuilder<'p> {
    deny_server: Vec<u32>,
    allow_server: Vec<u32>,
    deny_tools: PatternSetBuilder<'p>,
    allow_tools: PatternSetBuilder<'p>,
}

impl<'p> EntryBuilder<'p> {
    fn push(&mut self, id: u32, rule: RuleView<'p>) {
        match (rule.item.map(|(_, p)| p), rule.effect) {
            (None, Effect::Deny) => self.deny_server.push(id),
            (None, Effect::Allow) => self.allow_server.push(id),
            (Some(tool), Effect::Deny) => self.deny_tools.push(&tool.text, id),
            (Some(tool), Effect::Allow) => self.allow_tools.push(&tool.text, id),
        }
    }

    fn build(mut self, checks: &mut GlobChecks) -> Result<ServerEntry, GlobTooComplex> {
        self.deny_server.sort_unstable();
        self.allow_server.sort_unstable();
        Ok(ServerEntry {
            deny_server: self.deny_server.into_boxed_slice(),
            allow_server: self.allow_server.into_boxed_slice(),
            deny_tools: self.deny_tools.build(checks)?,
            allow_tools: self.allow_tools.build(checks)?,
        })
    }
}

fn build_other(glob_rules: &[(u32, RuleView<'_>)], checks: &mut GlobChecks) -> Result<OtherServers, GlobTooComplex> {
    let mut deny_servers = PatternSetBuilder::default();
    let mut allow_servers = PatternSetBuilder::default();
    let mut groups: Vec<(&str, u32, PatternSetBuilder<'_>, PatternSetBuilder<'_>)> = Vec::new();
    let mut group_index: FxHashMap<&str, usize> = FxHashMap::default();
    for &(id, rule) in glob_rules {
        let server = rule.server.text.as_str();
        let Some((_, tool)) = rule.item else {
            match rule.effect {
                Effect::Deny => deny_servers.push(server, id),
                Effect::Allow => allow_servers.push(server, id),
            }
            continue;
        };
        let i = *group_index.entry(server).or_insert_with(|| {
            groups.push((server, id, PatternSetBuilder::default(), PatternSetBuilder::default()));
            groups.len() - 1
        });
        if let Some((_, _, deny, allow)) = groups.get_mut(i) {
            match rule.effect {
                Effect::Deny => deny.push(&tool.text, id),
                Effect::Allow => allow.push(&tool.text, id),
            }
        }
    }
    let groups = groups
        .into_iter()
        .map(|(server, first_id, deny, allow)| {
            let mut key = PatternSetBuilder::default();
            key.push(server, first_id);
            Ok(ToolGroup { server: key.build(checks)?, deny: deny.build(checks)?, allow: allow.build(checks)? })
        })
        .collect::<Result<Vec<_>, GlobTooComplex>>()?;
    Ok(OtherServers { deny_servers: deny_servers.build(checks)?, allow_servers: allow_servers.build(checks)?, groups })
}

//! The benchmarks' vocabulary: large realistic policies (`backend-0042` allowed 3 to 5 of
//! ten real servers, 50 rules per block, tool names like `list_tables_by_date`) and the
//! request batches that measure them. Used by `benches/policy.rs`, the memory example
//! (`examples/policy_compile_mem.rs`) and the Cedar comparison (`bench/cedar`).
//!
//! Every choice comes from [`Choices::seeded`], so the same seed always gives the same policy
//! and the same requests.

use crate::policy::ast::{AgentPolicy, PolicySet};
use crate::policy::testkit::choices::Choices;
use crate::policy::testkit::generate::{self, Count, OwnedRequest, Shape, Vocabulary, matching_name};

/// Rules per agent block.
pub const RULES_PER_AGENT: usize = 50;

/// The ten downstream servers every policy talks about.
pub const SERVERS: [&str; 10] =
    ["postgres", "github", "slack", "jira", "s3", "search", "filesystem", "kubernetes", "stripe", "sentry"];

const VERBS: [&str; 12] =
    ["get", "list", "create", "update", "delete", "drop", "query", "search", "read", "write", "run", "export"];
const NOUNS: [&str; 12] = [
    "user",
    "table",
    "record",
    "issue",
    "file",
    "bucket",
    "pod",
    "payment",
    "admin_user",
    "secret",
    "log",
    "admin_role",
];
const FIELDS: [&str; 4] = ["id", "name", "email", "date"];
const INFIXES: [&str; 6] = ["admin", "secret", "user", "payment", "token", "log"];
const ROLES: [&str; 6] = ["backend", "frontend", "research", "ops", "data", "billing"];

/// The kinds of tool pattern the generator writes, with their share of tool rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `query_user` (40%)
    Exact,
    /// `list_*` (20%)
    Prefix,
    /// `*_user`, `*_by_email` (15%)
    Suffix,
    /// `*admin*` (15%)
    Infix,
    /// `get*_by_*`, `delete_*secret` (10%)
    General,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 5] = [Kind::Exact, Kind::Prefix, Kind::Suffix, Kind::Infix, Kind::General];

    /// The kind of a pattern the generator wrote.
    pub fn of(pattern: &str) -> Kind {
        let stars = pattern.matches('*').count();
        match (stars, pattern.starts_with('*'), pattern.ends_with('*')) {
            (0, _, _) => Kind::Exact,
            (1, false, true) => Kind::Prefix,
            (1, true, false) => Kind::Suffix,
            (2, true, true) => Kind::Infix,
            _ => Kind::General,
        }
    }

    /// Its name in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exact => "exact",
            Kind::Prefix => "prefix",
            Kind::Suffix => "suffix",
            Kind::Infix => "infix",
            Kind::General => "general",
        }
    }

    fn pick(c: &mut Choices<'_>) -> Kind {
        match c.below(100) {
            0..40 => Kind::Exact,
            40..60 => Kind::Prefix,
            60..75 => Kind::Suffix,
            75..90 => Kind::Infix,
            _ => Kind::General,
        }
    }
}

fn word(c: &mut Choices<'_>, words: &[&'static str]) -> &'static str {
    c.pick_or(words, "")
}

/// A realistic tool name: `verb_noun` or `verb_noun_by_field`.
pub fn tool_name(c: &mut Choices<'_>) -> String {
    let (v, n) = (word(c, &VERBS), word(c, &NOUNS));
    if c.chance(25) { format!("{v}_{n}_by_{}", word(c, &FIELDS)) } else { format!("{v}_{n}") }
}

fn tool_pattern(c: &mut Choices<'_>, kind: Kind, unique: Option<usize>) -> String {
    if let (Some(n), Kind::Infix | Kind::General) = (unique, kind) {
        // A literal no other rule uses, so that no two general globs are alike.
        return match kind {
            Kind::Infix => format!("*{}{n}*", word(c, &INFIXES)),
            _ => format!("{}*_by{n}_*", word(c, &VERBS)),
        };
    }
    match kind {
        Kind::Exact => tool_name(c),
        Kind::Prefix => format!("{}_*", word(c, &VERBS)),
        Kind::Suffix if c.chance(70) => format!("*_{}", word(c, &NOUNS)),
        Kind::Suffix => format!("*_by_{}", word(c, &FIELDS)),
        Kind::Infix => format!("*{}*", word(c, &INFIXES)),
        Kind::General if c.chance(50) => format!("{}*_by_*", word(c, &VERBS)),
        Kind::General => format!("{}_*{}", word(c, &VERBS), word(c, &INFIXES)),
    }
}

/// The agent key of block `i` of `blocks`: 2% are team patterns (`team03.*`), 2% are exact
/// team leads (`team03.lead`, which a team pattern also matches), the rest exact ids
/// (`backend-0042`).
pub fn agent_key(i: usize, blocks: usize) -> String {
    let teams = (blocks / 50).max(1);
    if i < teams {
        format!("team{i:02}.*")
    } else if i < 2 * teams {
        format!("team{:02}.lead", i - teams)
    } else {
        exact_id(i)
    }
}

/// The exact id of block `i`: `backend-0042`.
pub fn exact_id(i: usize) -> String {
    format!("{}-{i:04}", ROLES.get(i % ROLES.len()).copied().unwrap_or("agent"))
}

/// The realistic vocabulary: the ten servers, [`agent_key`]s, and tool patterns of every
/// [`Kind`] in its share.
#[derive(Debug, Clone, Default)]
pub struct Realistic {
    /// Every infix and general glob gets a literal of its own (`*admin1234*`).
    pub unique_globs: bool,
    written: usize,
}

impl Vocabulary for Realistic {
    fn servers(&mut self, _: &mut Choices<'_>) -> Vec<String> {
        SERVERS.map(str::to_owned).to_vec()
    }

    fn agent_key(&mut self, _: &mut Choices<'_>, block: usize, blocks: usize) -> String {
        agent_key(block, blocks)
    }

    fn tool_pattern(&mut self, c: &mut Choices<'_>) -> String {
        let kind = Kind::pick(c);
        self.written += 1;
        tool_pattern(c, kind, self.unique_globs.then_some(self.written))
    }
}

/// The shape of `blocks` realistic blocks of exactly `rules` rules each (at least 12).
///
/// Each block allows 3 to 5 of the ten servers (5% of blocks allow `*`), denies one other
/// server in 30% of blocks, and spends the rest of its rules on tool rules: 65% allow, 35%
/// deny; deny rules keyed 10% by `*`, allow rules 1% by `*` and 3% by a server the block
/// does not allow, the rest by an allowed server. Half the blocks leave one allowed server
/// without allow-tool rules, so the implicit grant happens too.
pub fn shape(blocks: usize, rules: usize) -> Shape {
    Shape {
        source_name: "generated.json",
        blocks: Count::Exactly(blocks),
        unique_keys: false,
        rules: Count::Exactly(rules),
        allowed: (3, 3),
        allow_any_server: 5,
        deny_server: 30,
        open_server: 50,
        deny_rule: 35,
        any_server_key: [1, 10],
        other_server_key_below: 4,
        item_kinds: [0, 0],
        limits: 0,
        allow_missing_agent: 0,
    }
}

/// A policy of `blocks` agent blocks with exactly [`RULES_PER_AGENT`] rules each, tool
/// patterns 40% exact names, 20% prefix, 15% suffix, 15% infix and 10% general globs.
pub fn policy(blocks: usize, seed: u64) -> PolicySet {
    policy_with(blocks, seed, false)
}

/// As [`policy`]; with `unique_globs`, every infix and general glob gets a literal of its own
/// (`*admin1234*`), the worst case for compile time, since no glob is checked twice.
pub fn policy_with(blocks: usize, seed: u64, unique_globs: bool) -> PolicySet {
    let words = &mut Realistic { unique_globs, written: 0 };
    generate::policy(&mut Choices::seeded(seed), &shape(blocks, RULES_PER_AGENT), words)
}

/// A name that `glob` matches, filling each `*` with a plausible piece of a tool name.
pub fn name_matching(c: &mut Choices<'_>, glob: &str) -> String {
    matching_name(c, glob, &["", "all", "user", "tables", "v2", "by"])
}

fn exact_block<'p>(c: &mut Choices<'_>, policy: &'p PolicySet) -> Option<&'p AgentPolicy> {
    if !policy.agents.iter().any(|a| !a.key.text.contains('*')) {
        return None;
    }
    loop {
        match c.pick(&policy.agents) {
            Some(a) if !a.key.text.contains('*') => return Some(a),
            Some(_) => {}
            None => return None,
        }
    }
}

/// One of the servers `a` allows (a real one when it allows `*`).
pub fn allowed_server(c: &mut Choices<'_>, a: &AgentPolicy) -> String {
    match c.pick(&a.allow.servers).map(|p| p.text.as_str()) {
        Some("*") | None => word(c, &SERVERS).to_owned(),
        Some(s) => s.to_owned(),
    }
}

/// `n` requests made by `one`, from a generator seeded with `seed`; none when `one` cannot
/// make any.
fn batch(n: usize, seed: u64, mut one: impl FnMut(&mut Choices<'_>) -> Option<OwnedRequest>) -> Vec<OwnedRequest> {
    let mut c = Choices::seeded(seed);
    (0..n).map_while(|_| one(&mut c)).collect()
}

/// Requests by exact agents whose tool name matches one of the agent's tool rules of `kind`
/// (allow or deny), on a server that rule applies to.
pub fn hits(policy: &PolicySet, kind: Kind, n: usize, seed: u64) -> Vec<OwnedRequest> {
    let has_kind = policy.rules().any(|r| r.tool().is_some_and(|t| Kind::of(&t.text) == kind));
    if !has_kind {
        return Vec::new();
    }
    batch(n, seed, |c| {
        loop {
            let a = exact_block(c, policy)?;
            let side = if c.chance(35) { &a.deny } else { &a.allow };
            let candidates: Vec<(&str, &str)> = side
                .tools
                .iter()
                .flat_map(|t| t.tools.iter().map(move |p| (t.server.text.as_str(), p.text.as_str())))
                .filter(|(_, p)| Kind::of(p) == kind)
                .collect();
            let Some(&(server, glob)) = c.pick(&candidates) else { continue };
            let server = if server == "*" { allowed_server(c, a) } else { server.to_owned() };
            return Some(OwnedRequest::tool(&a.key.text, &server, &name_matching(c, glob)));
        }
    })
}

/// Realistic traffic: exact agents, 90% on a server they are allowed, tool names drawn from
/// the same vocabulary as the rules (so some match, some do not).
pub fn mixed(policy: &PolicySet, n: usize, seed: u64) -> Vec<OwnedRequest> {
    batch(n, seed, |c| {
        let a = exact_block(c, policy)?;
        let server = if c.chance(90) { allowed_server(c, a) } else { word(c, &SERVERS).to_owned() };
        Some(OwnedRequest::tool(&a.key.text, &server, &tool_name(c)))
    })
}

/// Tool names that no rule of the generator can match (`*`-free misses), on allowed servers.
pub fn misses(policy: &PolicySet, n: usize, seed: u64) -> Vec<OwnedRequest> {
    batch(n, seed, |c| {
        let a = exact_block(c, policy)?;
        let server = allowed_server(c, a);
        Some(OwnedRequest::tool(&a.key.text, &server, &format!("frobnicate_widget_{}", c.below(1000))))
    })
}

/// Agents that only a team pattern (`team03.*`) matches, with realistic tool names.
pub fn pattern_agents(policy: &PolicySet, n: usize, seed: u64) -> Vec<OwnedRequest> {
    let teams: Vec<&AgentPolicy> = policy.agents.iter().filter(|a| a.key.text.contains('*')).collect();
    batch(n, seed, |c| {
        let a = *c.pick(&teams)?;
        let team = a.key.text.trim_end_matches(".*");
        let server = if c.chance(90) { allowed_server(c, a) } else { word(c, &SERVERS).to_owned() };
        Some(OwnedRequest::tool(&format!("{team}.worker-{}", c.below(100)), &server, &tool_name(c)))
    })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::policy::json::print::to_json_string;

    /// The recorded results in docs/PERFORMANCE.md were measured on this workload (the value
    /// is what `benches/support/policy_gen.rs` gave before issue 11 moved it here); a change
    /// of the generator that changes it makes them incomparable, so it must be deliberate.
    #[test]
    fn the_workload_is_the_one_the_results_were_measured_on() {
        let mut h = Sha256::new();
        for unique in [false, true] {
            let p = policy_with(60, 2, unique);
            h.update(to_json_string(&p));
            let mut reqs = mixed(&p, 100, 10);
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                reqs.extend(hits(&p, kind, 50, 20 + i as u64));
            }
            reqs.extend(misses(&p, 50, 30));
            reqs.extend(pattern_agents(&p, 50, 40));
            for r in &reqs {
                h.update(format!("{}|{}|{}\n", r.agent_id(), r.server, r.tool_name()));
            }
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "13ccae33f5ec0524a0eb776dacf6dbc40d76f124afbbca097b9c2617b97f2265");
    }
}

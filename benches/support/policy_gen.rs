//! A deterministic generator of realistic policies and requests, shared by the policy
//! benchmark (`benches/policy.rs`) and the memory example (`examples/policy_compile_mem.rs`).
//!
//! No `rand`: a 64-bit LCG (Knuth's MMIX constants) drives every choice, so the same seed
//! always gives the same policy and the same requests.

#![allow(dead_code)]

use mcpgw::policy::{
    AgentLimits, AgentPolicy, Defaults, Pattern, PolicySet, Request, RuleBlock, RuleSource, ToolRules,
};

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

/// A 64-bit linear congruential generator.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Lcg(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 31 well-mixed bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

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
}

/// A realistic tool name: `verb_noun` or `verb_noun_by_field`.
pub fn tool_name(rng: &mut Lcg) -> String {
    let (v, n) = (rng.pick(&VERBS), rng.pick(&NOUNS));
    if rng.chance(25) { format!("{v}_{n}_by_{}", rng.pick(&FIELDS)) } else { format!("{v}_{n}") }
}

fn tool_pattern(rng: &mut Lcg, kind: Kind, unique: Option<usize>) -> String {
    if let (Some(n), Kind::Infix | Kind::General) = (unique, kind) {
        // A literal no other rule uses, so that no two general globs are alike.
        return match kind {
            Kind::Infix => format!("*{}{n}*", rng.pick(&INFIXES)),
            _ => format!("{}*_by{n}_*", rng.pick(&VERBS)),
        };
    }
    match kind {
        Kind::Exact => tool_name(rng),
        Kind::Prefix => format!("{}_*", rng.pick(&VERBS)),
        Kind::Suffix if rng.chance(70) => format!("*_{}", rng.pick(&NOUNS)),
        Kind::Suffix => format!("*_by_{}", rng.pick(&FIELDS)),
        Kind::Infix => format!("*{}*", rng.pick(&INFIXES)),
        Kind::General if rng.chance(50) => format!("{}*_by_*", rng.pick(&VERBS)),
        Kind::General => format!("{}_*{}", rng.pick(&VERBS), rng.pick(&INFIXES)),
    }
}

fn pick_kind(rng: &mut Lcg) -> Kind {
    match rng.below(100) {
        0..40 => Kind::Exact,
        40..60 => Kind::Prefix,
        60..75 => Kind::Suffix,
        75..90 => Kind::Infix,
        _ => Kind::General,
    }
}

fn pat(text: impl Into<String>) -> Pattern {
    Pattern { text: text.into(), source: RuleSource::default() }
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
        format!("{}-{i:04}", ROLES[i % ROLES.len()])
    }
}

/// A policy of `blocks` agent blocks with exactly [`RULES_PER_AGENT`] rules each.
///
/// Each block allows 3 to 5 of the ten servers (5% of blocks allow `*`), denies one other
/// server in 30% of blocks, and spends the rest of its 50 rules on tool rules: 65% allow,
/// 35% deny; keyed 87% by an allowed server, 3% by some other server, and 10% by `*` (deny
/// rules) or 1% (allow rules); 40% exact names, 20% prefix, 15% suffix, 15% infix and 10%
/// general globs. Half the blocks leave one allowed server without allow-tool rules, so the
/// implicit grant happens too.
pub fn policy(blocks: usize, seed: u64) -> PolicySet {
    policy_with(blocks, seed, false)
}

/// As [`policy`]; with `unique_globs`, every infix and general glob gets a literal of its own
/// (`*admin1234*`), the worst case for compile time, since no glob is checked twice.
pub fn policy_with(blocks: usize, seed: u64, unique_globs: bool) -> PolicySet {
    let mut rng = Lcg::new(seed);
    let mut counter = 0;
    let agents = (0..blocks)
        .map(|i| {
            block(&mut rng, agent_key(i, blocks), RULES_PER_AGENT, &mut |rng| {
                let kind = pick_kind(rng);
                counter += 1;
                tool_pattern(rng, kind, unique_globs.then_some(counter))
            })
        })
        .collect();
    PolicySet { source_name: "generated.json".into(), agents, defaults: Defaults::default() }
}

/// One agent block keyed `key` with exactly `rules` rules (at least 12), in the shape that
/// [`policy`] describes; `pick_pattern` picks the text of each tool rule, so that other
/// workloads (the Cedar comparison's exact names and prefix globs) share the rest.
pub fn block(
    rng: &mut Lcg,
    key: String,
    rules: usize,
    pick_pattern: &mut dyn FnMut(&mut Lcg) -> String,
) -> AgentPolicy {
    let mut servers: Vec<&str> = SERVERS.to_vec();
    // Shuffle, then take the first few as allowed.
    for i in (1..servers.len()).rev() {
        let j = rng.below(i + 1);
        servers.swap(i, j);
    }
    let n_allowed = 3 + rng.below(3);
    let allowed: Vec<&str> = servers[..n_allowed].to_vec();
    let mut allow = RuleBlock::default();
    let mut deny = RuleBlock::default();
    allow.servers = allowed.iter().map(|s| pat(*s)).collect();
    if rng.chance(5) {
        allow.servers[0] = pat("*");
    }
    if rng.chance(30) {
        deny.servers.push(pat(servers[n_allowed]));
    }
    let open_server = rng.chance(50).then(|| allowed[rng.below(allowed.len())]);
    let mut remaining = rules.saturating_sub(allow.servers.len() + deny.servers.len());
    while remaining > 0 {
        let is_deny = rng.chance(35);
        let key = match rng.below(100) {
            0..10 if is_deny => "*",
            0..1 => "*",
            1..4 => servers[n_allowed + rng.below(servers.len() - n_allowed)],
            _ => allowed[rng.below(allowed.len())],
        };
        if !is_deny && Some(key) == open_server {
            continue;
        }
        let side = if is_deny { &mut deny } else { &mut allow };
        let text = pick_pattern(rng);
        match side.tools.iter_mut().find(|t| t.server.text == key) {
            Some(t) => t.tools.push(pat(text)),
            None => side.tools.push(ToolRules { server: pat(key), tools: vec![pat(text)] }),
        }
        remaining -= 1;
    }
    AgentPolicy { key: pat(key), allow, deny, limits: AgentLimits::default() }
}

/// A name that `glob` matches, filling each `*` with a plausible piece of a tool name.
pub fn name_matching(rng: &mut Lcg, glob: &str) -> String {
    const FILL: [&str; 6] = ["", "all", "user", "tables", "v2", "by"];
    let mut out = String::new();
    for (i, part) in glob.split('*').enumerate() {
        if i > 0 {
            out.push_str(rng.pick::<&str>(&FILL));
        }
        out.push_str(part);
    }
    out
}

/// An owned request, so that batches can be built once and borrowed by every iteration.
#[derive(Debug, Clone)]
pub struct Req {
    /// The agent id.
    pub agent: String,
    /// The server.
    pub server: String,
    /// The tool.
    pub tool: String,
}

impl Req {
    /// The borrowed request.
    pub fn as_request(&self) -> Request<'_> {
        Request::tool(Some(&self.agent), &self.server, &self.tool)
    }
}

fn exact_block<'p>(rng: &mut Lcg, policy: &'p PolicySet) -> &'p AgentPolicy {
    loop {
        let a = rng.pick(&policy.agents);
        if !a.key.text.contains('*') {
            return a;
        }
    }
}

fn allowed_server(rng: &mut Lcg, a: &AgentPolicy) -> String {
    let s = &rng.pick(&a.allow.servers).text;
    if s == "*" { rng.pick(&SERVERS).to_string() } else { s.clone() }
}

/// Requests by exact agents whose tool name matches one of the agent's tool rules of `kind`
/// (allow or deny), on a server that rule applies to.
pub fn hits(policy: &PolicySet, kind: Kind, n: usize, seed: u64) -> Vec<Req> {
    let mut rng = Lcg::new(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let a = exact_block(&mut rng, policy);
        let side = if rng.chance(35) { &a.deny } else { &a.allow };
        let candidates: Vec<(&str, &str)> = side
            .tools
            .iter()
            .flat_map(|t| t.tools.iter().map(move |p| (t.server.text.as_str(), p.text.as_str())))
            .filter(|(_, p)| Kind::of(p) == kind)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let (server, glob) = *rng.pick(&candidates);
        let server = if server == "*" { allowed_server(&mut rng, a) } else { server.to_owned() };
        out.push(Req { agent: a.key.text.clone(), server, tool: name_matching(&mut rng, glob) });
    }
    out
}

/// Realistic traffic: exact agents, 90% on a server they are allowed, tool names drawn from
/// the same vocabulary as the rules (so some match, some do not).
pub fn mixed(policy: &PolicySet, n: usize, seed: u64) -> Vec<Req> {
    let mut rng = Lcg::new(seed);
    (0..n)
        .map(|_| {
            let a = exact_block(&mut rng, policy);
            let server = if rng.chance(90) { allowed_server(&mut rng, a) } else { rng.pick(&SERVERS).to_string() };
            Req { agent: a.key.text.clone(), server, tool: tool_name(&mut rng) }
        })
        .collect()
}

/// Tool names that no rule of the generator can match (`*`-free misses), on allowed servers.
pub fn misses(policy: &PolicySet, n: usize, seed: u64) -> Vec<Req> {
    let mut rng = Lcg::new(seed);
    (0..n)
        .map(|_| {
            let a = exact_block(&mut rng, policy);
            let server = allowed_server(&mut rng, a);
            Req { agent: a.key.text.clone(), server, tool: format!("frobnicate_widget_{}", rng.below(1000)) }
        })
        .collect()
}

/// Agents that only a team pattern (`team03.*`) matches, with realistic tool names.
pub fn pattern_agents(policy: &PolicySet, n: usize, seed: u64) -> Vec<Req> {
    let mut rng = Lcg::new(seed);
    let teams: Vec<&AgentPolicy> = policy.agents.iter().filter(|a| a.key.text.contains('*')).collect();
    (0..n)
        .map(|_| {
            let a = *rng.pick(&teams);
            let team = a.key.text.trim_end_matches(".*");
            let server = if rng.chance(90) { allowed_server(&mut rng, a) } else { rng.pick(&SERVERS).to_string() };
            Req { agent: format!("{team}.worker-{}", rng.below(100)), server, tool: tool_name(&mut rng) }
        })
        .collect()
}

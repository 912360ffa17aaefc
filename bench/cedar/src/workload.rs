//! The policy and the requests: the generator of the policy benchmark
//! (`mcpgw::policy::testkit::workload`), restricted to what issue 7 asks to compare with Cedar
//! ("exact names and prefix globs").
//!
//! Same shape as `workload::policy` (same servers, vocabulary, allow/deny mix, server keys,
//! deny-server rules and implicit grants), with three differences:
//! - every agent key is an exact id (`backend-0042`), no team patterns, so one block applies
//!   to an agent and a Cedar `principal == Agent::"id"` scope says the same thing;
//! - every tool pattern is an exact name (2/3 of tool rules, the generator's 40:20 ratio of
//!   exact to prefix) or a prefix glob cut at an `_` of a real tool name (`list_*`,
//!   `delete_admin_*`, `get_user_by_*`); no suffix, infix or general globs;
//! - the number of rules per block is a parameter (20 or 50 here).
//!
//! Server patterns are exact names or `*` (5% of blocks allow `*`; 10% of deny-tool rules and 1%
//! of allow-tool rules are keyed by `*`), as in the original.

use mcpgw::policy::testkit::choices::Choices;
use mcpgw::policy::testkit::generate::{self, OwnedRequest as Req, Shape, Vocabulary};
use mcpgw::policy::testkit::workload::{self, Kind, SERVERS, tool_name};
use mcpgw::policy::{AgentPolicy, PolicySet};

/// A prefix glob cut at one of the `_` of a realistic tool name: `list_*`, `get_user_by_*`.
fn prefix_glob(rng: &mut Choices<'_>) -> String {
    let name = tool_name(rng);
    let cuts: Vec<usize> = name.match_indices('_').map(|(i, _)| i).collect();
    // 70% cut after the verb, else at a later `_`.
    let cut = if rng.chance(70) { cuts[0] } else { rng.pick_or(&cuts, cuts[0]) };
    format!("{}*", &name[..=cut])
}

/// The benchmark's servers, exact ids, and exact tool names and prefix globs.
struct ExactAndPrefix;

impl Vocabulary for ExactAndPrefix {
    fn servers(&mut self, _: &mut Choices<'_>) -> Vec<String> {
        SERVERS.map(str::to_owned).to_vec()
    }

    fn agent_key(&mut self, _: &mut Choices<'_>, block: usize, _: usize) -> String {
        workload::exact_id(block)
    }

    fn tool_pattern(&mut self, rng: &mut Choices<'_>) -> String {
        // Two exact names for every prefix glob, the generator's 40:20.
        if rng.below(3) < 2 { tool_name(rng) } else { prefix_glob(rng) }
    }
}

/// `agents` exact-id blocks of exactly `rules` rules each (`rules` >= 12).
pub fn policy(agents: usize, rules: usize, seed: u64) -> PolicySet {
    assert!(rules >= 12, "a block needs room for its server rules");
    let shape = Shape { source_name: "generated-exact-prefix.json", ..workload::shape(agents, rules) };
    generate::policy(&mut Choices::seeded(seed), &shape, &mut ExactAndPrefix)
}

/// The batch the engines are timed on: realistic mixed traffic, as `decide/mixed` in
/// `benches/policy.rs` (same generator function, same seed).
pub fn timed_batch(policy: &PolicySet) -> Vec<Req> {
    workload::mixed(policy, 1000, 10)
}

/// One of `items` (not empty).
fn pick<'t, T>(rng: &mut Choices<'_>, items: &'t [T]) -> &'t T {
    &items[rng.below(items.len())]
}

/// The equivalence sample, by name: every kind of request that can tell two engines apart.
pub fn check_sample(policy: &PolicySet) -> Vec<(&'static str, Vec<Req>)> {
    let mut rng = Choices::seeded(77);
    let mut out = vec![
        ("mixed", workload::mixed(policy, 3000, 11)),
        ("hit_exact", workload::hits(policy, Kind::Exact, 1500, 21)),
        ("hit_prefix", workload::hits(policy, Kind::Prefix, 1500, 22)),
        ("miss", workload::misses(policy, 500, 31)),
    ];
    // Near misses around each kind of rule: a literal one character short or one too long, a
    // prefix without its last character, an upper-cased first letter, the exact literal of a
    // prefix glob (which it matches), on the rule's server or on another.
    let mut near = Vec::new();
    while near.len() < 1500 {
        let a = pick(&mut rng, &policy.agents);
        let side = if rng.chance(40) { &a.deny } else { &a.allow };
        let Some(group) = (!side.tools.is_empty()).then(|| pick(&mut rng, &side.tools)) else { continue };
        let glob = &pick(&mut rng, &group.tools).text;
        let lit = glob.trim_end_matches('*');
        let tool = match rng.below(5) {
            0 => lit[..lit.len() - 1].to_owned(),
            1 => format!("{lit}s"),
            2 => {
                let mut c = lit.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }
            3 => lit.to_owned(),
            _ => format!("{lit}_v2"),
        };
        let server = if group.server.text == "*" || rng.chance(20) {
            pick(&mut rng, &SERVERS).to_string()
        } else {
            group.server.text.clone()
        };
        near.push(Req::tool(&a.key.text, &server, &tool));
    }
    out.push(("near_miss", near));
    // Requests on a server the block denies outright.
    let denying: Vec<&AgentPolicy> = policy.agents.iter().filter(|a| !a.deny.servers.is_empty()).collect();
    let denied_server = (0..300)
        .map(|_| {
            let a = *pick(&mut rng, &denying);
            Req::tool(&a.key.text, &a.deny.servers[0].text, &tool_name(&mut rng))
        })
        .collect();
    out.push(("denied_server", denied_server));
    // Ids that no key matches, and ids one character away from a real one.
    let unknown = (0..200)
        .map(|i| {
            let a = pick(&mut rng, &policy.agents);
            let agent = if i % 2 == 0 { format!("ghost-{i}") } else { format!("{}x", a.key.text) };
            Req::tool(&agent, pick::<&str>(&mut rng, &SERVERS), &tool_name(&mut rng))
        })
        .collect();
    out.push(("unknown_agent", unknown));
    out
}

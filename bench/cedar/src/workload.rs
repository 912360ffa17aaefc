//! The policy and the requests: the generator of `benches/support/policy_gen.rs`, restricted to
//! what issue 7 asks to compare with Cedar ("exact names and prefix globs").
//!
//! Same shape as `policy_gen::policy` (same servers, vocabulary, allow/deny mix, server keys,
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

use mcpgw::policy::{AgentPolicy, Defaults, PolicySet};

use crate::policy_gen::{self, Kind, Lcg, Req, SERVERS, tool_name};

const ROLES: [&str; 6] = ["backend", "frontend", "research", "ops", "data", "billing"];

/// A prefix glob cut at one of the `_` of a realistic tool name: `list_*`, `get_user_by_*`.
fn prefix_glob(rng: &mut Lcg) -> String {
    let name = tool_name(rng);
    let cuts: Vec<usize> = name.match_indices('_').map(|(i, _)| i).collect();
    // 70% cut after the verb, else at a later `_`.
    let cut = if rng.chance(70) { cuts[0] } else { *rng.pick(&cuts) };
    format!("{}*", &name[..=cut])
}

/// `agents` exact-id blocks of exactly `rules` rules each (`rules` >= 12).
pub fn policy(agents: usize, rules: usize, seed: u64) -> PolicySet {
    assert!(rules >= 12, "a block needs room for its server rules");
    let mut rng = Lcg::new(seed);
    let agents = (0..agents)
        .map(|i| {
            let key = format!("{}-{i:04}", ROLES[i % ROLES.len()]);
            // Two exact names for every prefix glob, the generator's 40:20.
            policy_gen::block(&mut rng, key, rules, &mut |rng| {
                if rng.below(3) < 2 { tool_name(rng) } else { prefix_glob(rng) }
            })
        })
        .collect();
    PolicySet { source_name: "generated-exact-prefix.json".into(), agents, defaults: Defaults::default() }
}

/// The batch the engines are timed on: realistic mixed traffic, as `decide/mixed` in
/// `benches/policy.rs` (same generator function, same seed).
pub fn timed_batch(policy: &PolicySet) -> Vec<Req> {
    policy_gen::mixed(policy, 1000, 10)
}

/// The equivalence sample, by name: every kind of request that can tell two engines apart.
pub fn check_sample(policy: &PolicySet) -> Vec<(&'static str, Vec<Req>)> {
    let mut rng = Lcg::new(77);
    let mut out = vec![
        ("mixed", policy_gen::mixed(policy, 3000, 11)),
        ("hit_exact", policy_gen::hits(policy, Kind::Exact, 1500, 21)),
        ("hit_prefix", policy_gen::hits(policy, Kind::Prefix, 1500, 22)),
        ("miss", policy_gen::misses(policy, 500, 31)),
    ];
    // Near misses around each kind of rule: a literal one character short or one too long, a
    // prefix without its last character, an upper-cased first letter, the exact literal of a
    // prefix glob (which it matches), on the rule's server or on another.
    let mut near = Vec::new();
    while near.len() < 1500 {
        let a = rng.pick(&policy.agents);
        let side = if rng.chance(40) { &a.deny } else { &a.allow };
        let Some(group) = (!side.tools.is_empty()).then(|| rng.pick(&side.tools)) else { continue };
        let glob = &rng.pick(&group.tools).text;
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
            rng.pick(&SERVERS).to_string()
        } else {
            group.server.text.clone()
        };
        near.push(Req { agent: a.key.text.clone(), server, tool });
    }
    out.push(("near_miss", near));
    // Requests on a server the block denies outright.
    let denying: Vec<&AgentPolicy> = policy.agents.iter().filter(|a| !a.deny.servers.is_empty()).collect();
    let denied_server = (0..300)
        .map(|_| {
            let a = *rng.pick(&denying);
            Req { agent: a.key.text.clone(), server: a.deny.servers[0].text.clone(), tool: tool_name(&mut rng) }
        })
        .collect();
    out.push(("denied_server", denied_server));
    // Ids that no key matches, and ids one character away from a real one.
    let unknown = (0..200)
        .map(|i| {
            let a = rng.pick(&policy.agents);
            let agent = if i % 2 == 0 { format!("ghost-{i}") } else { format!("{}x", a.key.text) };
            Req { agent, server: rng.pick(&SERVERS).to_string(), tool: tool_name(&mut rng) }
        })
        .collect();
    out.push(("unknown_agent", unknown));
    out
}

//! Property tests: the compiled table against the naive reference interpreter, and the
//! precedence invariants of DESIGN.md section 4.

use mcpgw::policy::glob::glob_match;
use mcpgw::policy::reference::reference_decide;
use mcpgw::policy::{
    AgentLimits, AgentPolicy, CompileOptions, DecisionTable, Defaults, Pattern, PolicySet, Request, RuleBlock,
    RuleSource, ToolRules,
};
use proptest::prelude::*;

fn pat(text: &str) -> Pattern {
    Pattern { text: text.to_owned(), source: RuleSource::default() }
}

/// Names drawn from a small alphabet, so patterns and names collide often, including the
/// characters that would be special in a regex.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", ".", "+", "é", "(", "A"]), 0..4).prop_map(|v| v.concat())
}

fn glob() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", ".", "*", "*", "é", "+"]), 1..5).prop_map(|v| v.concat())
}

fn agent_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "a.b", "default", "*", "a.*", "*b"]).prop_map(str::to_owned),
        prop::collection::vec(prop::sample::select(vec!["a", "b", ".", "*", "-"]), 1..4).prop_map(|v| v.concat()),
    ]
}

fn block() -> impl Strategy<Value = RuleBlock> {
    (prop::collection::vec(glob(), 0..3), prop::collection::vec((glob(), prop::collection::vec(glob(), 0..3)), 0..3))
        .prop_map(|(servers, tools)| RuleBlock {
            servers: servers.iter().map(|s| pat(s)).collect(),
            tools: tools
                .iter()
                .map(|(s, ts)| ToolRules { server: pat(s), tools: ts.iter().map(|t| pat(t)).collect() })
                .collect(),
        })
}

fn policy() -> impl Strategy<Value = PolicySet> {
    (prop::collection::vec((agent_key(), block(), block()), 0..5), any::<bool>()).prop_map(|(agents, deny_missing)| {
        PolicySet {
            source_name: "gen.json".into(),
            agents: agents
                .into_iter()
                .map(|(key, allow, deny)| AgentPolicy { key: pat(&key), allow, deny, limits: AgentLimits::default() })
                .collect(),
            defaults: Defaults { deny_on_missing_agent: deny_missing },
        }
    })
}

#[derive(Debug, Clone)]
struct Req {
    agent: Option<String>,
    server: String,
    tool: Option<String>,
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::option::of(prop::sample::select(vec!["a", "b", "a.b", "ab", "default", "", "x y", "a-b", "ba"])),
        name(),
        prop::option::of(name()),
    )
        .prop_map(|(agent, server, tool)| Req { agent: agent.map(str::to_owned), server, tool })
}

fn default_agent() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec!["a", "default", "ghost"]))
}

impl Req {
    fn as_request(&self) -> Request<'_> {
        Request { agent: self.agent.as_deref(), server: &self.server, tool: self.tool.as_deref() }
    }
}

fn compile(policy: &PolicySet, default_agent: Option<&str>) -> DecisionTable {
    let options = CompileOptions { default_agent: default_agent.map(str::to_owned) };
    DecisionTable::compile_with(policy, &options).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn compiled_table_agrees_with_the_reference(
        policy in policy(), default_agent in default_agent(), reqs in prop::collection::vec(request(), 1..16)
    ) {
        let table = compile(&policy, default_agent);
        let rules: Vec<_> = policy.rules().collect();
        for r in &reqs {
            let req = r.as_request();
            let fast = table.decide(&req);
            let why = table.explain(&req);
            let reference = reference_decide(&policy, default_agent, &req);
            prop_assert_eq!(fast, reference.decision, "decide vs reference on {:?}", r);
            prop_assert_eq!(why.to_decision(), fast, "explain vs decide on {:?}", r);
            let determining: Vec<u32> = why.determining_rules.iter().map(|x| x.id).collect();
            prop_assert_eq!(&determining, &reference.determining, "determining rules on {:?}", r);
            let overridden: Vec<u32> = why.overridden_allows.iter().map(|x| x.id).collect();
            prop_assert_eq!(&overridden, &reference.overridden, "overridden allows on {:?}", r);

            // Every determining rule matches the request and has the decision's effect.
            let judged = why.judged_as.as_deref().or(req.agent.filter(|a| !a.is_empty())).or(default_agent);
            for rule in &why.determining_rules {
                let view = rules[rule.id as usize];
                prop_assert_eq!(view.effect, fast.effect);
                prop_assert!(glob_match(&view.agent.text, judged.unwrap_or_default()));
                prop_assert!(glob_match(&view.server.text, req.server));
                if let Some(t) = view.tool {
                    prop_assert!(glob_match(&t.text, req.tool.unwrap_or_default()));
                }
            }
        }
    }

    #[test]
    fn adding_a_deny_never_grants(
        policy in policy(), default_agent in default_agent(), reqs in prop::collection::vec(request(), 1..16),
        new_block in any::<bool>(), key in agent_key(), extra in block(), target in any::<prop::sample::Index>()
    ) {
        // A new block named `default` would not add a rule but appoint the default agent,
        // which changes who an id-less request is judged as; that is identity, not precedence.
        prop_assume!(key != "default" || !(new_block || policy.agents.is_empty()));
        let before = compile(&policy, default_agent);
        let mut more = policy.clone();
        if new_block || more.agents.is_empty() {
            more.agents.push(AgentPolicy { key: pat(&key), allow: RuleBlock::default(), deny: extra, limits: AgentLimits::default() });
        } else {
            let i = target.index(more.agents.len());
            let deny = &mut more.agents[i].deny;
            deny.servers.extend(extra.servers);
            deny.tools.extend(extra.tools);
        }
        let after = compile(&more, default_agent);
        for r in &reqs {
            let req = r.as_request();
            if !before.decide(&req).is_allowed() {
                prop_assert!(!after.decide(&req).is_allowed(), "a deny granted {:?}", r);
            }
        }
    }

    /// Adding an allow rule to an agent never revokes anything, with the one exception that
    /// DESIGN.md section 4 builds in: the first allow-tool rule for a server ends that
    /// server's implicit grant. So: allow-server rules never revoke, and allow-tool rules never
    /// revoke a decision that was not an implicit grant.
    #[test]
    fn adding_an_allow_never_revokes(
        policy in policy(), default_agent in default_agent(), reqs in prop::collection::vec(request(), 1..16),
        extra in block(), target in any::<prop::sample::Index>()
    ) {
        prop_assume!(!policy.agents.is_empty());
        let before = compile(&policy, default_agent);
        let i = target.index(policy.agents.len());
        let mut servers_only = policy.clone();
        servers_only.agents[i].allow.servers.extend(extra.servers.clone());
        let mut with_tools = servers_only.clone();
        with_tools.agents[i].allow.tools.extend(extra.tools);
        let servers_only = compile(&servers_only, default_agent);
        let with_tools = compile(&with_tools, default_agent);
        for r in &reqs {
            let req = r.as_request();
            let was = before.decide(&req);
            if was.is_allowed() {
                prop_assert!(servers_only.decide(&req).is_allowed(), "an allow-server rule revoked {:?}", r);
                if was.reason != mcpgw::policy::Reason::ImplicitGrant {
                    prop_assert!(with_tools.decide(&req).is_allowed(), "an allow-tool rule revoked {:?}", r);
                }
            }
        }
    }

    #[test]
    fn order_and_duplicates_do_not_matter(
        policy in policy(), default_agent in default_agent(), reqs in prop::collection::vec(request(), 1..16),
        seed in any::<u64>()
    ) {
        let mut shuffled = policy.clone();
        let mut rng = seed;
        let mut next = move |n: usize| { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (rng >> 33) as usize % n.max(1) };
        for agent in &mut shuffled.agents {
            for block in [&mut agent.allow, &mut agent.deny] {
                if let Some(first) = block.servers.first().cloned() { block.servers.push(first); }
                let len = block.servers.len();
                if len > 1 { block.servers.swap(0, next(len)); }
                for rules in &mut block.tools {
                    if let Some(first) = rules.tools.first().cloned() { rules.tools.insert(0, first); }
                    let len = rules.tools.len();
                    if len > 1 { rules.tools.swap(len - 1, next(len)); }
                }
                block.tools.reverse();
            }
        }
        shuffled.agents.reverse();
        let a = compile(&policy, default_agent);
        let b = compile(&shuffled, default_agent);
        prop_assert_eq!(a.snapshot_id(), b.snapshot_id());
        for r in &reqs {
            let req = r.as_request();
            prop_assert_eq!(a.decide(&req), b.decide(&req), "{:?}", r);
            let mut pa: Vec<String> = a.explain(&req).determining_rules.into_iter().map(|x| x.pattern).collect();
            let mut pb: Vec<String> = b.explain(&req).determining_rules.into_iter().map(|x| x.pattern).collect();
            pa.sort(); pa.dedup(); pb.sort(); pb.dedup();
            prop_assert_eq!(pa, pb);
        }
    }
}

//! Policy engine benchmarks (issue 2, "Speed"); results and commands in `docs/PERFORMANCE.md`.
//!
//! Groups, all on a generated policy of 1,000 agent blocks x 50 rules over 10 servers
//! (see `mcpgw::policy::testkit::workload`):
//! - `decide/*`: `DecisionTable::decide` on batches of 1,000 tool requests: realistic mixed
//!   traffic, hits on each pattern kind, misses, and agents matched only by a `team.*` key.
//!   Each batch reports its throughput; time per decision = batch time / 1,000.
//! - `baseline/*`: the floor the issue names, "a single hash lookup plus the automata run on
//!   the tool name", built two ways with `regex-automata` directly (the engine's pieces are
//!   crate-private). `agent_dfa/*`: an `FxHashMap<String, dense::DFA>` lookup of the agent id,
//!   then an anchored earliest-match search of the tool name in one dense DFA over all of that
//!   agent's tool globs. `pair_dfa/*`: one `FxHashMap<u64, _>` lookup of the hash of (agent,
//!   server), a key check, then the same search in a dense DFA over only the tool globs that
//!   apply to that server (keyed by it or by `*`): smaller automata, so a lower floor.
//! - `side_by_side/*`: the same 32 mixed requests through `decide` and through the naive
//!   `reference_decide`.
//! - `compile/*`: `DecisionTable::compile` for 1k, 10k and 50k rules.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use mcpgw::policy::testkit::generate::OwnedRequest;
use mcpgw::policy::testkit::reference::reference_decide;
use mcpgw::policy::testkit::workload::{self, Kind};
use mcpgw::policy::{DecisionTable, PolicySet};
use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchKind};
use rustc_hash::{FxHashMap, FxHashSet};

const SEED: u64 = 2;
const AGENTS: usize = 1000;
const BATCH: usize = 1000;

fn compiled(policy: &PolicySet) -> DecisionTable {
    match DecisionTable::compile(policy) {
        Ok(t) => t,
        Err(e) => panic!("generated policy does not compile: {e:?}"),
    }
}

/// The request batches, by benchmark name.
fn batches(policy: &PolicySet) -> Vec<(String, Vec<OwnedRequest>)> {
    let mut out = vec![("mixed".to_owned(), workload::mixed(policy, BATCH, 10))];
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        out.push((format!("hit_{}", kind.name()), workload::hits(policy, kind, BATCH, 20 + i as u64)));
    }
    out.push(("miss".to_owned(), workload::misses(policy, BATCH, 30)));
    out
}

/// Prints what a batch decides, so the reader knows what was measured.
fn describe(table: &DecisionTable, name: &str, reqs: &[OwnedRequest]) {
    let mut reasons: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut allowed = 0;
    for r in reqs {
        let d = table.decide(&r.as_request());
        allowed += usize::from(d.is_allowed());
        *reasons.entry(d.reason.as_str()).or_default() += 1;
    }
    eprintln!("batch {name}: {} requests, {allowed} allowed; reasons {reasons:?}", reqs.len());
}

fn decide(c: &mut Criterion) {
    let policy = workload::policy(AGENTS, SEED);
    let table = compiled(&policy);
    eprintln!(
        "policy: {} agent blocks, {} rules, table memory_usage {:.1} MB",
        table.agent_count(),
        table.rule_count(),
        table.memory_usage() as f64 / 1e6
    );
    let mut all = batches(&policy);
    all.push(("pattern_agent".to_owned(), workload::pattern_agents(&policy, BATCH, 40)));
    let mut group = c.benchmark_group("decide");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(50);
    for (name, reqs) in &all {
        describe(&table, name, reqs);
        group.throughput(Throughput::Elements(reqs.len() as u64));
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                for r in reqs {
                    black_box(table.decide(black_box(&r.as_request())));
                }
            })
        });
    }
    group.finish();
}

/// `glob` as an anchored regex, the way the engine's DFAs see it: escaped literals joined by
/// "any bytes", a trailing `*` dropped (an earliest match already proves it), else an end anchor.
fn glob_regex(glob: &str) -> String {
    let open_end = glob.ends_with('*');
    let body = glob.trim_end_matches('*');
    let mut re = body.split('*').map(regex_syntax::escape).collect::<Vec<_>>().join("(?s-u:.)*");
    if !open_end {
        re.push_str(r"\z");
    }
    re
}

/// One dense DFA over every distinct tool glob of one agent block.
fn agent_dfa(globs: &[String]) -> dense::DFA<Vec<u32>> {
    let res: Vec<String> = globs.iter().map(|g| glob_regex(g)).collect();
    let built = dense::Builder::new()
        .syntax(regex_automata::util::syntax::Config::new().unicode(false).utf8(false))
        .thompson(thompson::Config::new().utf8(false))
        .configure(dense::Config::new().match_kind(MatchKind::All).start_kind(StartKind::Anchored).minimize(false))
        .build_many(&res);
    match built {
        Ok(dfa) => dfa,
        Err(e) => panic!("baseline DFA: {e}"),
    }
}

/// The hash of an (agent, server) pair, for the pair baseline.
fn pair_hash(agent: &str, server: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(agent.as_bytes());
    h.write_u8(0xff);
    h.write(server.as_bytes());
    h.finish()
}

type PairMap = FxHashMap<u64, Vec<(String, String, dense::DFA<Vec<u32>>)>>;

/// One DFA per (exact agent, exact server named in its block), over the tool globs that apply.
fn pair_dfas(policy: &PolicySet) -> (PairMap, usize) {
    let mut map: PairMap = FxHashMap::default();
    let mut bytes = 0;
    for a in policy.agents.iter().filter(|a| !a.key.text.contains('*')) {
        let blocks = [&a.allow, &a.deny];
        let mut servers: Vec<&str> = blocks
            .iter()
            .flat_map(|b| {
                b.servers.iter().map(|p| p.text.as_str()).chain(b.tools.iter().map(|t| t.server.text.as_str()))
            })
            .filter(|s| *s != "*")
            .collect();
        servers.sort_unstable();
        servers.dedup();
        for server in servers {
            let mut seen = FxHashSet::default();
            let globs: Vec<String> = blocks
                .iter()
                .flat_map(|b| b.tools.iter())
                .filter(|t| t.server.text == server || t.server.text == "*")
                .flat_map(|t| t.tools.iter().map(|p| p.text.clone()))
                .filter(|g| seen.insert(g.clone()))
                .collect();
            if globs.is_empty() {
                continue;
            }
            let dfa = agent_dfa(&globs);
            bytes += dfa.memory_usage();
            map.entry(pair_hash(&a.key.text, server)).or_default().push((a.key.text.clone(), server.to_owned(), dfa));
        }
    }
    (map, bytes)
}

fn baseline(c: &mut Criterion) {
    let policy = workload::policy(AGENTS, SEED);
    let mut map: FxHashMap<String, dense::DFA<Vec<u32>>> = FxHashMap::default();
    let mut bytes = 0;
    for a in policy.agents.iter().filter(|a| !a.key.text.contains('*')) {
        let mut seen = FxHashSet::default();
        let globs: Vec<String> = [&a.allow, &a.deny]
            .into_iter()
            .flat_map(|b| b.tools.iter().flat_map(|t| t.tools.iter().map(|p| p.text.clone())))
            .filter(|g| seen.insert(g.clone()))
            .collect();
        let dfa = agent_dfa(&globs);
        bytes += dfa.memory_usage();
        map.insert(a.key.text.clone(), dfa);
    }
    eprintln!("baseline agent_dfa: {} agent DFAs, {:.1} MB", map.len(), bytes as f64 / 1e6);
    let (pairs, pair_bytes) = pair_dfas(&policy);
    eprintln!(
        "baseline pair_dfa: {} pair DFAs, {:.1} MB",
        pairs.values().map(Vec::len).sum::<usize>(),
        pair_bytes as f64 / 1e6
    );
    let mut group = c.benchmark_group("baseline");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(50);
    for (name, reqs) in batches(&policy) {
        group.throughput(Throughput::Elements(reqs.len() as u64));
        group.bench_function(format!("pair_dfa/{name}"), |b| {
            b.iter(|| {
                for r in &reqs {
                    let r = black_box(r);
                    let found = pairs.get(&pair_hash(r.agent_id(), &r.server)).and_then(|list| {
                        list.iter().find(|(a, s, _)| a == r.agent_id() && *s == r.server).map(|(_, _, dfa)| dfa)
                    });
                    let hit = found.is_some_and(|dfa| {
                        let input = Input::new(r.tool_name()).anchored(Anchored::Yes).earliest(true);
                        matches!(dfa.try_search_fwd(&input), Ok(Some(_)))
                    });
                    black_box(hit);
                }
            })
        });
        group.bench_function(format!("agent_dfa/{name}"), |b| {
            b.iter(|| {
                for r in &reqs {
                    let r = black_box(r);
                    let hit = map.get(r.agent_id()).is_some_and(|dfa| {
                        let input = Input::new(r.tool_name()).anchored(Anchored::Yes).earliest(true);
                        matches!(dfa.try_search_fwd(&input), Ok(Some(_)))
                    });
                    black_box(hit);
                }
            })
        });
    }
    group.finish();
}

fn side_by_side(c: &mut Criterion) {
    let policy = workload::policy(AGENTS, SEED);
    let table = compiled(&policy);
    let reqs = workload::mixed(&policy, 32, 50);
    for r in &reqs {
        let req = r.as_request();
        assert_eq!(table.decide(&req), reference_decide(&policy, None, &req).decision, "{r:?}");
    }
    let mut group = c.benchmark_group("side_by_side");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(10);
    group.throughput(Throughput::Elements(reqs.len() as u64));
    group.bench_function("decide", |b| {
        b.iter(|| {
            for r in &reqs {
                black_box(table.decide(black_box(&r.as_request())));
            }
        })
    });
    group.bench_function("reference", |b| {
        b.iter(|| {
            for r in &reqs {
                black_box(reference_decide(&policy, None, black_box(&r.as_request())));
            }
        })
    });
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(8)).sample_size(10);
    for agents in [20, 200, 1000] {
        let policy = workload::policy(agents, SEED);
        let table = compiled(&policy);
        let rules = table.rule_count();
        eprintln!("compile {rules} rules: table memory_usage {:.1} MB", table.memory_usage() as f64 / 1e6);
        drop(table);
        group.throughput(Throughput::Elements(rules as u64));
        group.bench_with_input(BenchmarkId::from_parameter(rules), &policy, |b, p| {
            b.iter_with_large_drop(|| compiled(black_box(p)))
        });
    }
    group.finish();
}

/// `criterion_group!` makes an undocumented `pub fn`; keep it in a module that allows that.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::decide, super::baseline, super::side_by_side, super::compile);
}

criterion_main!(group::benches);

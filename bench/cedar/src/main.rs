//! mcpgw's compiled policy table against its reference interpreter and against `cedar-policy`
//! on an equivalent policy (issue 7, "Policy decisions"). Run through `bench/cedar.sh`; the
//! results and how to read them are in docs/PERFORMANCE.md, "Policy decisions against Cedar".
//!
//! For each policy size (agents x rules per agent):
//! 1. generate the policy (`workload.rs`: exact ids, exact tool names and prefix globs), compile it
//!    with mcpgw, translate it to Cedar (`to_cedar.rs`) in two encodings and parse those;
//! 2. check equivalence on a large sample of requests of every kind (`workload::check_sample`):
//!    `DecisionTable::decide` and `Authorizer::is_authorized` (every Cedar setup) must give the
//!    same allow/deny on every request, with no Cedar evaluation error, and
//!    `reference_decide` must agree too (on every request for the small size, every 10th for
//!    the big one). Any mismatch aborts the program before anything is timed;
//! 3. time every engine on the same 1,000 mixed requests, in alternating rounds.
//!
//! Timing: hand-timed with `Instant`, not criterion, because the engines differ by four to
//! five orders of magnitude (100 ns to 15 ms per decision). Each sample times passes over the
//! batch (the whole batch, repeated until the sample lasts `--sample-ms`; or, for an engine
//! whose one pass would be longer than that, its first n requests, n fixed by a calibration
//! run and never below 10). Every round takes one sample of every engine, in a rotating order,
//! so that changes in the machine's load hit all engines alike. Reported: the median sample
//! (ns per decision), the fastest, and decisions per second (1e9 / median).

mod cedar_setup;
mod timing;
mod to_cedar;
mod workload;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cedar_policy::{Decision as CedarDecision, Entities, Request as CedarRequest};
use cedar_setup::{CedarEnv, CedarSetup};
use mcpgw::policy::testkit::generate::OwnedRequest as Req;
use mcpgw::policy::testkit::reference::reference_decide;
use mcpgw::policy::{DecisionTable, PolicySet};
use timing::{Engine, calibrate, fmt_ns, fmt_rate, fmt_ratio, median, time_once};
use to_cedar::Encoding;

const SEED: u64 = 2;

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("[load {}] {msg}", loadavg());
}

struct Args {
    sizes: Vec<(usize, usize)>,
    rounds: usize,
    sample_ms: u64,
}

fn args() -> Args {
    let mut a = Args { sizes: vec![(100, 20), (1000, 50)], rounds: 11, sample_ms: 40 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| die(format!("{flag} needs a value")));
        match flag.as_str() {
            "--sizes" => {
                a.sizes = value()
                    .split(',')
                    .map(|s| {
                        let (x, y) = s.split_once('x').unwrap_or_else(|| die("--sizes AGENTSxRULES,..."));
                        (x.parse().unwrap_or_else(|e| die(e)), y.parse().unwrap_or_else(|e| die(e)))
                    })
                    .collect()
            }
            "--rounds" => a.rounds = value().parse().unwrap_or_else(|e| die(e)),
            "--sample-ms" => a.sample_ms = value().parse().unwrap_or_else(|e| die(e)),
            "-h" | "--help" => {
                println!("usage: mcpgw-cedar-bench [--sizes 100x20,1000x50] [--rounds 11] [--sample-ms 40]");
                std::process::exit(0)
            }
            other => die(format!("unknown argument {other}")),
        }
    }
    a
}

/// Step 2: every engine must agree with `decide` on every request of the sample.
fn check(
    policy: &PolicySet,
    table: &DecisionTable,
    env: &CedarEnv,
    setups: &[CedarSetup],
    sample: &[(&str, Vec<Req>)],
) {
    let reference_every = if table.rule_count() <= 10_000 { 1 } else { 10 };
    let t = Instant::now();
    let mut mismatches = Vec::new();
    let (mut total, mut reference_checked) = (0, 0);
    println!(
        "| requests | n | allowed | denied | decided by an exact tool rule | by a prefix tool rule | by a server rule (incl. implicit grant) | default deny / unknown agent |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (kind, reqs) in sample {
        let mut tally = [0usize; 6];
        for r in reqs {
            let req = r.as_request();
            let ours = table.decide(&req);
            let why = table.explain(&req);
            tally[usize::from(!ours.is_allowed())] += 1;
            let by = match why.determining_rules.iter().find_map(|d| d.tool.as_deref()) {
                Some(t) if t.contains('*') => 3,
                Some(_) => 2,
                None if why.determining_rules.is_empty() => 5,
                None => 4,
            };
            tally[by] += 1;
            if total % reference_every == 0 {
                reference_checked += 1;
                let answer = reference_decide(policy, None, &req);
                if answer.decision != ours {
                    mismatches.push(format!("reference_decide {:?} vs decide {ours:?} on {r:?}", answer.decision));
                }
            }
            let creq = env.request(r);
            for s in setups {
                let resp = s.decide(env, &creq, r.agent_id());
                let errors: Vec<String> = resp.diagnostics().errors().map(|e| e.to_string()).collect();
                if !errors.is_empty() {
                    mismatches.push(format!("{}: evaluation errors {errors:?} on {r:?}", s.name));
                }
                let cedar_allows = resp.decision() == CedarDecision::Allow;
                if cedar_allows != ours.is_allowed() {
                    let ids: Vec<String> = resp.diagnostics().reason().map(|p| p.to_string()).collect();
                    mismatches.push(format!(
                        "{}: cedar {:?} (policies {ids:?}) vs decide {ours:?} on {r:?}",
                        s.name,
                        resp.decision()
                    ));
                }
            }
            total += 1;
        }
        let [allowed, denied, exact, prefix, server, none] = tally;
        println!("| {kind} | {} | {allowed} | {denied} | {exact} | {prefix} | {server} | {none} |", reqs.len());
    }
    println!();
    if !mismatches.is_empty() {
        for m in mismatches.iter().take(20) {
            eprintln!("MISMATCH {m}");
        }
        die(format!("{} mismatches out of {total} requests; nothing timed", mismatches.len()));
    }
    println!(
        "Equivalence: {total} requests, `decide` = Cedar ({}) on every one, no Cedar evaluation error; `reference_decide` agreed on {reference_checked} ({}). {:.1} s.\n",
        setups.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        if reference_every == 1 { "all".to_owned() } else { format!("every {reference_every}th") },
        t.elapsed().as_secs_f64()
    );
}

fn run_size(agents: usize, rules: usize, a: &Args) {
    println!("## {agents} agents x {rules} rules\n");
    let policy = workload::policy(agents, rules, SEED);
    to_cedar::check_shape(&policy);
    let t = Instant::now();
    let table = DecisionTable::compile(&policy).unwrap_or_else(|e| die(format!("{e:?}")));
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let batch = workload::timed_batch(&policy);
    let sample = workload::check_sample(&policy);
    let all: Vec<&Req> = batch.iter().chain(sample.iter().flat_map(|(_, v)| v)).collect();
    let env = CedarEnv::new(&all);
    log(format!("{agents}x{rules}: translating and parsing the Cedar policy sets"));
    let setups = [
        CedarSetup::build("per-rule", &policy, Encoding::PerRule, false),
        CedarSetup::build("per-agent", &policy, Encoding::PerAgent, false),
        CedarSetup::build("per-rule sliced", &policy, Encoding::PerRule, true),
        CedarSetup::build("per-agent sliced", &policy, Encoding::PerAgent, true),
    ];
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for ag in &policy.agents {
        for side in [&ag.allow, &ag.deny] {
            for g in &side.tools {
                for t in &g.tools {
                    *kinds.entry(if t.text.contains('*') { "prefix" } else { "exact" }).or_default() += 1;
                }
            }
        }
    }
    println!(
        "Policy: {} agent blocks, {} rules ({} exact tool rules, {} prefix tool rules, the rest server rules). \
         mcpgw `DecisionTable::compile`: {compile_ms:.1} ms. Cedar (`PolicySet::from_str`): {}.\n",
        table.agent_count(),
        table.rule_count(),
        kinds.get("exact").unwrap_or(&0),
        kinds.get("prefix").unwrap_or(&0),
        setups
            .iter()
            .map(|s| format!("{} {} policies, {:.0} ms", s.name, s.policies, s.parse_ms))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if let Some(a0) = policy.agents.first() {
        eprintln!("-- Cedar, per rule, first agent block --\n{}", to_cedar::agent_policies(a0, Encoding::PerRule));
        eprintln!("-- Cedar, per agent, first agent block --\n{}", to_cedar::agent_policies(a0, Encoding::PerAgent));
    }

    log(format!("{agents}x{rules}: equivalence check"));
    check(&policy, &table, &env, &setups, &sample);

    // Step 3: timing, on the mixed batch.
    let creqs: Vec<CedarRequest> = batch.iter().map(|r| env.request(r)).collect();
    let decided: Vec<bool> = batch.iter().map(|r| table.decide(&r.as_request()).is_allowed()).collect();
    log(format!(
        "{agents}x{rules}: timing on {} mixed requests ({} allowed)",
        batch.len(),
        decided.iter().filter(|d| **d).count()
    ));
    let (table, policy, env, batch, creqs) = (&table, &policy, &env, &batch, &creqs);
    let mut engines: Vec<Engine<'_>> = Vec::new();
    fn engine<'a>(name: String, run: Box<dyn Fn(usize) -> usize + 'a>) -> Engine<'a> {
        Engine { name, run, n: 0, reps: 0, samples: Vec::new() }
    }
    engines.push(engine(
        "mcpgw `DecisionTable::decide`".into(),
        Box::new(move |n| batch[..n].iter().filter(|r| table.decide(&r.as_request()).is_allowed()).count()),
    ));
    engines.push(engine(
        "mcpgw `reference_decide`".into(),
        Box::new(move |n| {
            batch[..n].iter().filter(|r| reference_decide(policy, None, &r.as_request()).decision.is_allowed()).count()
        }),
    ));
    for s in &setups {
        engines.push(engine(
            format!("Cedar `is_authorized`, {}", s.name),
            Box::new(move |n| {
                batch[..n]
                    .iter()
                    .zip(creqs)
                    .filter(|(r, q)| s.decide(env, q, r.agent_id()).decision() == CedarDecision::Allow)
                    .count()
            }),
        ));
    }
    let best = &setups[3];
    engines.push(engine(
        format!("Cedar, {} + building the `Request`", best.name),
        Box::new(move |n| {
            batch[..n]
                .iter()
                .filter(|r| best.decide(env, &env.request(r), r.agent_id()).decision() == CedarDecision::Allow)
                .count()
        }),
    ));
    engines.push(engine(
        format!("Cedar, {} + building the `Request` and a one-entity `Entities`", best.name),
        Box::new(move |n| {
            batch[..n]
                .iter()
                .filter(|r| {
                    let entities = Entities::from_entities([env.tool_entity(r)], None).unwrap_or_else(|e| die(e));
                    let q = env.request(r);
                    env.authorizer.is_authorized(&q, best.set_for(r.agent_id()), &entities).decision()
                        == CedarDecision::Allow
                })
                .count()
        }),
    ));
    // Every engine must also agree on the timed batch itself.
    for e in &engines {
        let expect = decided.iter().filter(|d| **d).count();
        let n = if e.name.contains("reference") { 0 } else { batch.len() };
        if n > 0 && (e.run)(n) != expect {
            die(format!("{} allows a different number of the timed requests", e.name));
        }
    }
    let sample_time = Duration::from_millis(a.sample_ms);
    for e in engines.iter_mut() {
        calibrate(e, batch.len(), sample_time);
    }
    let load_before = loadavg();
    let started = Instant::now();
    for round in 0..a.rounds {
        let k = engines.len();
        for i in 0..k {
            let e = &mut engines[(i + round) % k];
            let ns = time_once(e);
            e.samples.push(ns);
        }
    }
    let load_after = loadavg();
    let base = median(&engines[0].samples);
    println!(
        "Timing: {} rounds in {:.0} s, load average {load_before} at the start, {load_after} at the end.\n",
        a.rounds,
        started.elapsed().as_secs_f64()
    );
    println!(
        "| engine | requests per sample | ns per decision, median | fastest sample | decisions/s | time vs `decide` |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for e in &engines {
        let m = median(&e.samples);
        let min = e.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let per_sample = if e.reps > 1 { format!("{} x {}", e.n, e.reps) } else { e.n.to_string() };
        println!(
            "| {} | {per_sample} | {} | {} | {} | {} |",
            e.name,
            fmt_ns(m),
            fmt_ns(min),
            fmt_rate(1e9 / m),
            if std::ptr::eq(e, &engines[0]) { "1x".to_owned() } else { format!("{}x", fmt_ratio(m / base)) }
        );
    }
    println!();
}

fn main() {
    let a = args();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("# mcpgw policy decisions against Cedar\n");
    println!(
        "cedar-policy 4.14.1 (default features off); {cores} cores, {cpu}; load average {} at the start; \
         {} rounds, samples of about {} ms.\n",
        loadavg(),
        a.rounds,
        a.sample_ms
    );
    for &(agents, rules) in &a.sizes {
        run_size(agents, rules, &a);
    }
    log("done");
}

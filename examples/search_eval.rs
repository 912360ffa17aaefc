//! Retrieval quality of the tool search (issue 16, "Measured: retrieval quality"): recall@1,
//! @3 and @5 of `bench/search/queries.json` over `bench/search/catalogue.json`, overall, per
//! server, and for the tuning and held-out thirds separately.
//!
//! `cargo run --example search_eval [-- --misses]`, or `bench/search/eval.sh`. `--misses`
//! lists the tuning queries whose answer is not first, with what came first. Held-out misses
//! are never printed, so that tuning cannot look at them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use mcpgw::search::testkit::{Labeled, Recall, rank};

fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/search");
    let labeled = match Labeled::load(&dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("search_eval: {e}");
            return ExitCode::FAILURE;
        }
    };
    let misses = std::env::args().any(|a| a == "--misses");
    let index = labeled.index();
    let servers = labeled.tools.iter().map(|(s, _)| s.as_str()).collect::<std::collections::BTreeSet<_>>().len();
    println!("catalogue: {} tools from {} servers; {} queries", index.len(), servers, labeled.queries.len());

    let (mut all, mut tuning, mut held_out) = (Recall::default(), Recall::default(), Recall::default());
    let mut per_server: BTreeMap<String, Recall> = BTreeMap::new();
    for q in &labeled.queries {
        let r = rank(&index, q, 5);
        all.add(r);
        if q.held_out {
            held_out.add(r)
        } else {
            tuning.add(r)
        }
        let server = q.answers.first().and_then(|a| a.split_once('/')).map_or("?", |(s, _)| s);
        per_server.entry(server.to_owned()).or_default().add(r);
        if misses && !q.held_out && r != Some(1) {
            let got: Vec<String> =
                index.search(&q.query, 3, |_, _| true).iter().map(|h| format!("{}/{}", h.server, h.tool)).collect();
            println!("miss (rank {r:?}): {:?} wants {:?}, got {:?}", q.query, q.answers, got);
        }
    }
    println!();
    println!("| set | queries | recall@1 | recall@3 | recall@5 |");
    println!("|---|---:|---:|---:|---:|");
    let row =
        |name: &str, r: &Recall| println!("| {name} | {} | {:.3} | {:.3} | {:.3} |", r.n, r.at(0), r.at(1), r.at(2));
    row("all", &all);
    row("tuning", &tuning);
    row("held-out", &held_out);
    println!();
    println!("| server (of the first answer) | queries | recall@1 | recall@3 | recall@5 |");
    println!("|---|---:|---:|---:|---:|");
    for (server, r) in &per_server {
        row(server, r);
    }
    ExitCode::SUCCESS
}

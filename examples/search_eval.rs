//! Retrieval quality of the tool search (issue 16, "Measured: retrieval quality"): recall@1,
//! @3 and @5 of `bench/search/queries.json` over `bench/search/catalogue.json`, overall, per
//! server, and for the tuning and held-out thirds separately; and, for comparison, the same
//! figures for a plain BM25 over names and descriptions (the baseline).
//!
//! `cargo run --example search_eval [-- --misses]`, or `bench/search/eval.sh`. `--misses`
//! lists the tuning queries whose answer is not first, with what came first. Held-out misses
//! are never printed, so that tuning cannot look at them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use mcpgw::search::testkit::{Labeled, Query, Recall, rank};
use serde_json::Value;

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
    let (mut plain_tuning, mut plain_held_out) = (Recall::default(), Recall::default());
    let plain = Plain::build(&labeled.tools);
    for q in &labeled.queries {
        let r = plain.rank(q);
        if q.held_out { plain_held_out.add(r) } else { plain_tuning.add(r) }
    }
    row("baseline, tuning", &plain_tuning);
    row("baseline, held-out", &plain_held_out);
    println!();
    println!("| server (of the first answer) | queries | recall@1 | recall@3 | recall@5 |");
    println!("|---|---:|---:|---:|---:|");
    for (server, r) in &per_server {
        row(server, r);
    }
    ExitCode::SUCCESS
}

/// The baseline the issue names: plain BM25 (k1 1.2, b 0.75) over the name and description as
/// one text, split at white space and punctuation only (so `git_log` stays one word),
/// lower-cased, no stemming, no stop words, no synonyms, no parameters.
struct Plain {
    docs: Vec<(String, Vec<String>)>,
    avg: f64,
}

impl Plain {
    fn words(s: &str) -> Vec<String> {
        s.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    fn build(tools: &[(String, Value)]) -> Plain {
        let docs: Vec<(String, Vec<String>)> = tools
            .iter()
            .map(|(s, d)| {
                let name = d["name"].as_str().unwrap_or("");
                let text = format!("{name} {}", d["description"].as_str().unwrap_or(""));
                (format!("{s}/{name}"), Plain::words(&text))
            })
            .collect();
        let avg = docs.iter().map(|(_, w)| w.len() as f64).sum::<f64>() / docs.len().max(1) as f64;
        Plain { docs, avg }
    }

    fn rank(&self, q: &Query) -> Option<usize> {
        let n = self.docs.len() as f64;
        let mut terms = Plain::words(&q.query);
        terms.sort();
        terms.dedup();
        let mut scored: Vec<(usize, f64)> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, (_, words))| {
                let score = terms
                    .iter()
                    .map(|t| {
                        let tf = words.iter().filter(|w| *w == t).count() as f64;
                        let df = self.docs.iter().filter(|(_, w)| w.contains(t)).count() as f64;
                        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                        idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * words.len() as f64 / self.avg))
                    })
                    .sum::<f64>();
                (i, score)
            })
            .filter(|(_, s)| *s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.iter().take(5).position(|(i, _)| q.answers.contains(&self.docs[*i].0)).map(|p| p + 1)
    }
}

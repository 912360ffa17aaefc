//! Retrieval quality of the tool search must not regress: recall on the held-out third of
//! `bench/search/queries.json` (the queries never looked at while tuning) stays above floors
//! set a little below what was measured (docs/PERFORMANCE.md, "Tool search"), so a change to
//! the ranking that loses answers fails here. `bench/search/eval.sh` prints the full tables.

use std::path::Path;

use mcpgw::search::testkit::{Labeled, Recall, rank};

/// Floors for the held-out set, about three queries below the measured values (recall@1 0.736,
/// recall@3 0.917, recall@5 0.958 on 72 queries when these were set).
const FLOOR_AT_1: f64 = 0.69;
const FLOOR_AT_3: f64 = 0.87;
const FLOOR_AT_5: f64 = 0.91;

#[test]
fn search_quality_held_out_recall_stays_above_floor() {
    let labeled = Labeled::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/search")).unwrap();
    assert!(labeled.tools.len() >= 150, "catalogue too small: {}", labeled.tools.len());
    assert!(labeled.queries.len() >= 200, "too few queries: {}", labeled.queries.len());
    let index = labeled.index();
    let mut held_out = Recall::default();
    for q in labeled.queries.iter().filter(|q| q.held_out) {
        held_out.add(rank(&index, q, 5));
    }
    assert!(held_out.n * 3 >= labeled.queries.len() - 2, "the held-out set is not a third");
    let got = (held_out.at(0), held_out.at(1), held_out.at(2));
    assert!(
        got.0 >= FLOOR_AT_1 && got.1 >= FLOOR_AT_3 && got.2 >= FLOOR_AT_5,
        "held-out recall@1/@3/@5 {got:?} fell below ({FLOOR_AT_1}, {FLOOR_AT_3}, {FLOOR_AT_5})"
    );
}

#[test]
fn search_quality_every_label_names_a_catalogue_tool() {
    let labeled = Labeled::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/search")).unwrap();
    for q in &labeled.queries {
        for a in &q.answers {
            let (server, tool) = a.split_once('/').unwrap();
            assert!(labeled.tools.iter().any(|(s, d)| s == server && d["name"] == tool), "{:?}: no tool {a}", q.query);
        }
    }
}

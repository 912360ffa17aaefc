//! Tool search latency (issue 16, "Measured: search latency"); results and commands in
//! `docs/PERFORMANCE.md`, "Tool search".
//!
//! The index holds 1,000 tools: the real catalogue of `bench/search/catalogue.json` (163
//! tools) repeated with renamed servers (`github-2`, ...) and cut at 1,000, so that every
//! term has several times the real document frequency, as in a large deployment with many
//! similar servers. Each iteration runs one query of `bench/search/queries.json`, in turn,
//! with `limit` 5 and a filter that admits every tool (the filter is one call per tool, so
//! a real policy check adds its own cost once per tool). `build/1000` is the index build.
//! Before the criterion groups, 20,000 searches are timed one by one for p50 and p99.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_main};
use mcpgw::search::ToolIndex;
use mcpgw::search::testkit::Labeled;
use serde_json::Value;

fn thousand() -> (Vec<(String, Value)>, Vec<String>) {
    let labeled = Labeled::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/search")).unwrap();
    let tools: Vec<(String, Value)> = (1..)
        .flat_map(|round| {
            labeled
                .tools
                .iter()
                .map(move |(s, d)| (if round == 1 { s.clone() } else { format!("{s}-{round}") }, d.clone()))
        })
        .take(1000)
        .collect();
    (tools, labeled.queries.into_iter().map(|q| q.query).collect())
}

/// Criterion reports a mean and its confidence interval, not a tail: time 20,000 single
/// searches (every query in turn) one by one and print their p50 and p99.
fn percentiles(index: &ToolIndex, queries: &[String]) {
    let mut samples: Vec<Duration> = (0..20_000)
        .map(|i| {
            let start = std::time::Instant::now();
            black_box(index.search(black_box(&queries[i % queries.len()]), 5, |_, _| true).len());
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "search/1000 tools, {} single searches: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn search(c: &mut Criterion) {
    let (tools, queries) = thousand();
    let index = ToolIndex::build(tools.iter().map(|(s, d)| (s.as_str(), d)));
    assert_eq!(index.len(), 1000);
    percentiles(&index, &queries);
    let mut group = c.benchmark_group("search");
    group.measurement_time(Duration::from_secs(5));
    let mut i = 0;
    group.bench_function("query/1000", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            black_box(index.search(black_box(&queries[i]), 5, |_, _| true).len())
        })
    });
    group.bench_function("build/1000", |b| {
        b.iter(|| black_box(ToolIndex::build(tools.iter().map(|(s, d)| (s.as_str(), d))).len()))
    });
    group.finish();
}

/// `criterion_group!` makes an undocumented `pub fn`; keep it in a module that allows that.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::search);
}

criterion_main!(group::benches);
